/**
 * How submissions arrive, the same for saliflow jobs and floor workflows:
 * a burst (all at once, `concurrency` submitters back to back, like that
 * many frontend requests in parallel) or a fixed offered rate (submission i
 * starts at t0 + i/rate, whatever the earlier ones are doing).
 */
import { mapConcurrently, nowMs, sleep } from './stats.js';

export type OfferedLoad = { kind: 'burst'; concurrency: number } | { kind: 'rate'; perSecond: number };

export function describeLoad(load: OfferedLoad): string {
  return load.kind === 'burst' ? 'burst' : `${load.perSecond}/s`;
}

/** Calls `submit(i)` for i in 0..n-1 as `load` says; resolves when all have returned. */
export async function offer(n: number, load: OfferedLoad, submit: (index: number) => Promise<void>): Promise<void> {
  const indexes = Array.from({ length: n }, (_, index) => index);
  if (load.kind === 'burst') {
    await mapConcurrently(indexes, load.concurrency, submit);
    return;
  }
  const start = nowMs();
  const pending: Promise<void>[] = [];
  for (const index of indexes) {
    const wait = start + (index * 1000) / load.perSecond - nowMs();
    if (wait > 0) await sleep(wait);
    const submitted = submit(index);
    submitted.catch(() => undefined); // reported by Promise.all below, not as an unhandled rejection meanwhile
    pending.push(submitted);
  }
  await Promise.all(pending);
}
