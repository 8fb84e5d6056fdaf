/**
 * One call at a time per job in this process. A workflow task that timed out
 * (a loaded machine, MySQL gone while a step ran) is retried on the same
 * worker while its first local activity is still running; two calls moving
 * the same job's directory at once could leave the row naming a directory
 * the other had already moved. A later call waits for the earlier one, then
 * starts from the row like any other.
 */
export type PerJob = <T>(job: string, call: () => Promise<T>) => Promise<T>;

export function oneAtATimePerJob(): PerJob {
  const inProgress = new Map<string, Promise<unknown>>();
  return async function perJob<T>(job: string, call: () => Promise<T>): Promise<T> {
    const current = (inProgress.get(job) ?? Promise.resolve()).catch(() => undefined).then(call);
    inProgress.set(job, current);
    try {
      return await current;
    } finally {
      if (inProgress.get(job) === current) inProgress.delete(job);
    }
  };
}
