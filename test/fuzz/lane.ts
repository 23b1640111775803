/**
 * What every lane of the fuzz campaign shares: the failure type, the tallies of expected answers, the record of
 * recent inputs printed when the process dies, and the lane's shape.
 */
import type fc from 'fast-check';

export class FuzzFailure extends Error {
  override name = 'FuzzFailure';
}

const RECENT = 6;

/** How many inputs got each kind of expected answer: shows the oracle was exercised, not only consulted. */
export class Tally {
  readonly counts = new Map<string, number>();
  add(key: string): void {
    this.counts.set(key, (this.counts.get(key) ?? 0) + 1);
  }
  toString(): string {
    return [...this.counts]
      .sort((a, b) => b[1] - a[1])
      .map(([k, n]) => `${k} ${n}`)
      .join(', ');
  }
}

/** A lane's last few inputs, printed when the process dies (the culprit may be another lane's current input). */
export class Recent {
  private readonly items: string[] = [];
  add(text: string): void {
    this.items.push(text);
    if (this.items.length > RECENT) this.items.shift();
  }
  toString(): string {
    return this.items.join('\n    ');
  }
}

export function describeInput(value: unknown): string {
  return JSON.stringify(value, (_k, v: unknown) => {
    if (v && typeof v === 'object' && (v as { type?: string }).type === 'Buffer' && Array.isArray((v as { data?: unknown }).data)) {
      const b = Buffer.from((v as { data: number[] }).data);
      return b.length > 400
        ? `<${b.length} bytes: ${JSON.stringify(b.subarray(0, 200).toString('latin1'))}...>`
        : `<bytes base64:${b.toString('base64')} text:${JSON.stringify(b.toString('latin1'))}>`;
    }
    return v;
  });
}

export function sleep(ms: number): Promise<void> {
  return new Promise((r) => setTimeout(r, ms));
}

export async function within<T>(p: Promise<T>, ms: number, what: string): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  try {
    return await Promise.race([p, new Promise<never>((_, rej) => (timer = setTimeout(() => rej(new FuzzFailure(`${what}: no outcome within ${ms} ms`)), ms)))]);
  } finally {
    clearTimeout(timer);
  }
}

export interface Lane<T> {
  name: string;
  arb: fc.Arbitrary<T>;
  run(input: T): Promise<void>;
  recent: Recent;
  close(): Promise<void>;
}
