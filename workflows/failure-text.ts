/** Turns whatever ended a job into the text saliweb stores in `failure`. */
import { ApplicationFailure, TemporalFailure } from '@temporalio/workflow';

function rootCause(error: unknown): unknown {
  let current = error;
  while (current instanceof TemporalFailure && current.cause) current = current.cause;
  return current;
}

export function failureText(error: unknown): string {
  const cause = rootCause(error);
  if (cause instanceof ApplicationFailure) {
    const type = cause.type ?? 'Error';
    const stack = cause.stack && !cause.stack.startsWith('ApplicationFailure') ? `\n${cause.stack}` : '';
    return `${type}: ${cause.message}${stack}`;
  }
  if (cause instanceof Error) return `${cause.name}: ${cause.message}\n${cause.stack ?? ''}`.trimEnd();
  return String(cause);
}
