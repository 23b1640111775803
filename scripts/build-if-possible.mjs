// Runs before `npm start` (and `npm run credentials`): compiles when the TypeScript compiler is installed (a development
// checkout), and on a deployed package installed with `npm ci --omit=dev` starts the build that was shipped with it instead.
//   --entry FILE   the compiled file the command runs (default dist/src/main.js)
//   --if-stale     compile only when FILE is missing or older than a source file (a CLI should not wait for a build)
import { spawnSync } from 'node:child_process';
import { existsSync, readdirSync, statSync } from 'node:fs';
import { createRequire } from 'node:module';
import { dirname, join } from 'node:path';

const args = process.argv.slice(2);
const entryAt = args.indexOf('--entry');
const entry = entryAt === -1 ? 'dist/src/main.js' : args[entryAt + 1];
const onlyIfStale = args.includes('--if-stale');

/** Newest modification time of the sources the build reads. */
function newestSource() {
  let newest = statSync('tsconfig.json').mtimeMs;
  const walk = (dir) => {
    for (const item of readdirSync(dir, { withFileTypes: true })) {
      const file = join(dir, item.name);
      if (item.isDirectory()) walk(file);
      else if (item.name.endsWith('.ts')) newest = Math.max(newest, statSync(file).mtimeMs);
    }
  };
  for (const dir of ['src', 'test', 'bench']) if (existsSync(dir)) walk(dir);
  return newest;
}

const require = createRequire(import.meta.url);

/** Bundles ui/ into dist/ui with Vite; without Vite (a deployed package) the shipped dist/ui stays. */
function bundleDashboard() {
  let vite;
  try {
    vite = join(dirname(require.resolve('vite/package.json')), 'bin', 'vite.js');
  } catch {
    return 0;
  }
  return spawnSync(process.execPath, [vite, 'build', '-c', 'ui/vite.config.ts'], { stdio: 'inherit' }).status ?? 1;
}

/** The TypeScript compiler's entry; its package exports no `bin/tsc`, so it is found beside package.json. */
function typescriptCompiler() {
  try {
    return join(dirname(require.resolve('typescript/package.json')), 'bin', 'tsc');
  } catch {
    return undefined;
  }
}

const compiler = typescriptCompiler();
const upToDate = onlyIfStale && existsSync(entry) && statSync(entry).mtimeMs >= newestSource();
if (compiler !== undefined && !upToDate) {
  const build = spawnSync(process.execPath, [compiler, '-p', 'tsconfig.json'], { stdio: 'inherit' });
  if (build.status !== 0) process.exit(build.status ?? 1);
}
// The gateway serves the dashboard page from dist/ui: bundle it too when Vite is installed (the CLIs need no page).
if (!onlyIfStale) {
  const status = bundleDashboard();
  if (status !== 0) process.exit(status);
}
if (!existsSync(entry)) {
  process.stderr.write(`gateway: no build found (${entry}) and no TypeScript compiler installed: run \`npm ci && npm run build\` first\n`);
  process.exit(1);
}
