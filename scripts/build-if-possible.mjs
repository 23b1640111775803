// Runs before `npm start`: compiles when the TypeScript compiler is installed (a development checkout), and on a
// deployed package installed with `npm ci --omit=dev` starts the build that was shipped with it instead.
import { spawnSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import { createRequire } from 'node:module';

const require = createRequire(import.meta.url);
let compiler;
try {
  compiler = require.resolve('typescript/bin/tsc');
} catch {
  compiler = undefined;
}
if (compiler !== undefined) {
  const build = spawnSync(process.execPath, [compiler, '-p', 'tsconfig.json'], { stdio: 'inherit' });
  process.exit(build.status ?? 1);
}
if (!existsSync('dist/src/main.js')) {
  process.stderr.write('gateway: no build found (dist/src/main.js) and no TypeScript compiler installed: run `npm ci && npm run build` first\n');
  process.exit(1);
}
