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
