import { type ChildProcess, spawn } from 'node:child_process';
import { fileURLToPath } from 'node:url';

/** The raw ws baseline responder, started as a real process for simulator tests. */
const RESPONDER = fileURLToPath(new URL('../../bench/baseline/responder.js', import.meta.url));

/** Starts the baseline responder on a free port; resolves once it prints `listening <port>`. */
export function startResponder(): Promise<{ child: ChildProcess; port: number }> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, [RESPONDER, '--port', '0'], { stdio: ['ignore', 'pipe', 'inherit'] });
    if (!child.stdout) return reject(new Error('the responder has no stdout'));
    let out = '';
    child.stdout.on('data', (chunk: Buffer) => {
      out += chunk.toString();
      const m = /listening (\d+)/.exec(out);
      if (m) resolve({ child, port: Number(m[1]) });
    });
    child.once('error', reject);
    child.once('exit', (code) => reject(new Error(`responder exited early (${code})`)));
  });
}

export function stopChild(child: ChildProcess): Promise<void> {
  return new Promise((resolve) => {
    if (child.exitCode !== null || child.signalCode !== null) return resolve();
    child.once('exit', () => resolve());
    child.kill('SIGTERM');
  });
}
