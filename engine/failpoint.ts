/**
 * Named places where a test can make the worker die (SIGKILL) with
 * `SALIFLOW_FAILPOINT=<name>`: the instants a crash is hardest to survive.
 * Unset, a failpoint costs one comparison.
 */
export type Failpoint =
  | 'before-completed-commit'
  | 'in-completed-commit'
  | 'after-completed-commit'
  | 'after-complete-step'
  | 'after-completion-email';

export function failpoint(name: Failpoint): void {
  if (process.env.SALIFLOW_FAILPOINT === name) process.kill(process.pid, 'SIGKILL');
}

/** Named places where a test can freeze the worker (SIGSTOP) with `SALIFLOW_STOPPOINT=<name>`, once per process. */
export type Stoppoint = 'admission-lease-held';

const stopped = new Set<Stoppoint>();

/** The test resumes the process with SIGCONT; the process then goes on from here as a stalled one would. */
export function stoppoint(name: Stoppoint): void {
  if (process.env.SALIFLOW_STOPPOINT !== name || stopped.has(name)) return;
  stopped.add(name);
  process.kill(process.pid, 'SIGSTOP');
}
