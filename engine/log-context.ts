/**
 * The job a piece of worker code is working on, for the worker's log lines:
 * set for every activity by the worker's interceptor (job, activity,
 * attempt), refined by `advanceJob` (state) and by step calls (step), and
 * added to every line at the moment it is logged (the Temporal Runtime may
 * emit it later, after sorting it among the Core's lines), so a line logged
 * anywhere below (a runner, `job.log`, the SDK's own activity logs) says
 * which job it is about.
 */
import { AsyncLocalStorage } from 'node:async_hooks';
import type { LogLevel, LogMetadata, Logger } from '@temporalio/common';

export interface LogContext {
  job?: string;
  state?: string;
  step?: string;
  activity?: string;
  attempt?: number;
}

const storage = new AsyncLocalStorage<LogContext>();

export function currentLogContext(): LogContext | undefined {
  return storage.getStore();
}

/** Runs `fn` with `fields` added to the current context (a fresh object: callers outside keep theirs). */
export function withLogContext<T>(fields: LogContext, fn: () => T): T {
  return storage.run({ ...storage.getStore(), ...fields }, fn);
}

/** The job moved on (a new state) within the current context. */
export function updateLogContext(fields: LogContext): void {
  const store = storage.getStore();
  if (store) Object.assign(store, fields);
}

/** Job workflow IDs are `<service>/<job>`; job names never contain a slash. */
export function jobFromWorkflowId(workflowId: string): string | undefined {
  const slash = workflowId.lastIndexOf('/');
  return slash >= 0 ? workflowId.slice(slash + 1) : undefined;
}

/** The Temporal SDK's Logger interface around one function that logs at a given level. */
export function loggerFrom(log: (level: LogLevel, message: string, meta?: LogMetadata) => void): Logger {
  return {
    log,
    trace: (message, meta) => log('TRACE', message, meta),
    debug: (message, meta) => log('DEBUG', message, meta),
    info: (message, meta) => log('INFO', message, meta),
    warn: (message, meta) => log('WARN', message, meta),
    error: (message, meta) => log('ERROR', message, meta),
  };
}

/** `logger`, with the current context added to each line as it is logged (the caller's fields win). */
export function contextLogger(logger: Logger): Logger {
  return loggerFrom((level, message, meta) => logger.log(level, message, { ...storage.getStore(), ...meta }));
}
