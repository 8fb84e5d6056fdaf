/** Job names as saliweb's frontend makes them. */
import { randomBytes } from 'node:crypto';

const ALPHABET = 'abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789';

export function randomToken(length: number): string {
  const bytes = randomBytes(length);
  return Array.from(bytes, (byte) => ALPHABET[byte % ALPHABET.length]).join('');
}

/** Keeps `[A-Za-z0-9_-]`, at most 30 characters; an empty result becomes `job`. */
export function sanitizeJobName(requested: string): string {
  const cleaned = requested.replace(/[^A-Za-z0-9_-]/g, '').slice(0, 30);
  return cleaned === '' ? 'job' : cleaned;
}

/** The name to try on attempt `n` (0 = the sanitised name itself). */
export function candidateJobName(base: string, attempt: number): string {
  return attempt === 0 ? base : `${base}_${randomToken(7)}`;
}
