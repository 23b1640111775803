/** Runs the built credentials CLI (`npm run credentials`) as a child process, as an operator would. */
import { spawn } from 'node:child_process';
import { fileURLToPath } from 'node:url';

const CLI = fileURLToPath(new URL('../../src/cli/credentials.js', import.meta.url));

export interface CliResult {
  code: number | null;
  stdout: string;
  stderr: string;
}

export interface CliOptions {
  /** Working directory (a relative CREDENTIALS_FILE is resolved against it). */
  cwd: string;
  /** Added to an environment cleared of every store setting the test machine might have. */
  env?: Record<string, string>;
  /** Written to standard input, which is then closed. */
  stdin?: string;
}

export function runCredentialsCli(args: string[], options: CliOptions): Promise<CliResult> {
  const env: NodeJS.ProcessEnv = { ...process.env };
  for (const name of ['CREDENTIALS_FILE', 'REDIS_URL', 'REDIS_ADDR', 'NATS_URL', 'POD_ID', 'CONFIG_DIR', 'APP_PROFILE']) delete env[name];
  Object.assign(env, options.env);
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, [CLI, ...args], { cwd: options.cwd, env, stdio: ['pipe', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (chunk) => {
      stdout += chunk;
    });
    child.stderr.on('data', (chunk) => {
      stderr += chunk;
    });
    child.on('error', reject);
    child.on('close', (code) => resolve({ code, stdout, stderr }));
    child.stdin.on('error', () => {});
    child.stdin.end(options.stdin ?? '');
  });
}
