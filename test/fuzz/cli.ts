/**
 * `npm run fuzz -- --duration 600 [--seed N]`: the fuzz campaign for as long as asked. The seed is printed first,
 * so a failing run can be replayed with the same inputs.
 */
import { parseArgs } from 'node:util';
import { runCampaign } from './campaign.js';

const { values } = parseArgs({
  options: {
    duration: { type: 'string', default: '60' },
    seed: { type: 'string' },
    exclude: { type: 'string', default: '' },
    help: { type: 'boolean', default: false },
  },
});

if (values.help) {
  process.stdout.write('usage: npm run fuzz -- [--duration SECONDS] [--seed N] [--exclude kind,kind]\n');
  process.exit(0);
}

const duration = Number(values.duration);
const seed = values.seed !== undefined ? Number(values.seed) : Math.floor(Math.random() * 2 ** 31);
if (!Number.isFinite(duration) || duration <= 0 || !Number.isSafeInteger(seed)) {
  process.stderr.write('fuzz: --duration must be a positive number of seconds and --seed an integer\n');
  process.exit(2);
}

process.stdout.write(`fuzz: seed ${seed} (replay with --seed ${seed})\n`);
const exclude = values.exclude.split(',').filter((k) => k.length > 0);
if (exclude.length > 0) process.stdout.write(`fuzz: leaving out ${exclude.join(', ')}\n`);
runCampaign({ seed, durationMs: duration * 1000, exclude, log: (line) => process.stdout.write(`${line}\n`) }).then(
  () => process.exit(0),
  (err: unknown) => {
    process.stderr.write(`${err instanceof Error ? err.message : String(err)}\n`);
    process.exit(1);
  },
);
