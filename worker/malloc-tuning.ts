/**
 * glibc's malloc gives each thread that allocates its own arena, and a
 * non-main arena is only shrunk from its top. The Temporal core's threads
 * allocate and free large buffers in bursts (thousands of workflow tasks
 * at once); with glibc's sliding mmap threshold those land in the arenas,
 * and what they free stays resident. Measured in a 2,000-job burst:
 * 275 MB held by the arenas, 12.5 MB of it in use (malloc_stats), and the
 * worker's peak RSS 641 MiB; with the threshold fixed at 128 KiB, 462 MiB
 * at the same throughput (bench/results/scale.md). Capping the arenas
 * (MALLOC_ARENA_MAX=2) changed nothing.
 *
 * The setting is read when the process starts, so it is passed to the
 * worker's process by whoever starts it (bin/saliflow.js, the test and
 * benchmark harnesses, docker-compose.yml); the worker warns without it.
 */
export const MALLOC_TUNING: Readonly<Record<string, string>> = { MALLOC_MMAP_THRESHOLD_: '131072' };

/** Whether this process started with a fixed mmap threshold (ours, the admin's, or through GLIBC_TUNABLES). */
export function mallocTuned(env: NodeJS.ProcessEnv = process.env): boolean {
  return env.MALLOC_MMAP_THRESHOLD_ !== undefined || /glibc\.malloc\.mmap_threshold=/.test(env.GLIBC_TUNABLES ?? '');
}

/** `env` with the tuning added; a value the admin set wins. */
export function withMallocTuning(env: NodeJS.ProcessEnv = process.env): NodeJS.ProcessEnv {
  return mallocTuned(env) ? env : { ...env, ...MALLOC_TUNING };
}

export const UNTUNED_WARNING =
  'MALLOC_MMAP_THRESHOLD_ is not set: glibc keeps memory freed by the Temporal core after a burst of jobs ' +
  '(hundreds of MiB at thousands of jobs). Start the worker with `saliflow worker` (bin/saliflow.js sets it) ' +
  `or set MALLOC_MMAP_THRESHOLD_=${MALLOC_TUNING.MALLOC_MMAP_THRESHOLD_} in its environment.`;
