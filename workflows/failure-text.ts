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
    const headline = `${cause.type ?? 'Error'}: ${cause.message}`;
    const stack = cause.stack && !cause.stack.startsWith('ApplicationFailure') ? cause.stack : '';
    // An activity's error arrives with its own stack, which already starts with the headline.
    if (stack.startsWith(headline)) return stack;
    return stack ? `${headline}\n${stack}` : headline;
  }
  if (cause instanceof Error) return `${cause.name}: ${cause.message}\n${cause.stack ?? ''}`.trimEnd();
  return String(cause);
}
