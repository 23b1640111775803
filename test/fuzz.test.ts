/**
 * The fuzz campaign against the real gateway process, bounded to under a minute in the suite
 * (`npm run fuzz -- --duration 600` runs it longer). FUZZ_SEED replays a reported seed.
 */
import { it } from 'node:test';
import { runCampaign } from './fuzz/campaign.js';

const seed = process.env.FUZZ_SEED !== undefined ? Number(process.env.FUZZ_SEED) : Math.floor(Math.random() * 2 ** 31);

it(`the gateway survives 60 s of fuzzing, stays bounded, keeps serving and answers every input as OCPP-J says (seed ${seed})`, { timeout: 120_000 }, async () => {
  await runCampaign({ seed, durationMs: 60_000, log: (line) => console.log(line) });
});
