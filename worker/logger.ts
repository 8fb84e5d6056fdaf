/**
 * The worker's log: pino JSON lines on stdout (one object per line, with
 * `service` and, for anything about a job, `job`, `state`, `step`,
 * `activity`, `attempt`), or a short readable line per entry when stdout is
 * a terminal. Installed as the Temporal Runtime's logger, so the SDK's own
 * lines, activity `log` calls, workflow `log` calls (through the SDK's sink)
 * and forwarded Core lines all come out the same way.
 *
 * No line carries unbounded input: messages and every string field are cut
 * to a fixed length (a failure's stack, a service's `job.log` text).
 */
import type { Writable } from 'node:stream';
import { pino, type Logger as Pino } from 'pino';
import type { LogLevel, LogMetadata, Logger } from '@temporalio/common';
import type { ActivityInterceptorsFactory } from '@temporalio/worker';
import { currentLogContext, jobFromWorkflowId, loggerFrom, withLogContext } from '../engine/log-context.js';
import type { LogLevelName } from '../core/config/index.js';

export const MAX_MESSAGE_CHARS = 2000;
export const MAX_FIELD_CHARS = 1000;

/** The workflows whose ID names a job (`<service>/<job>`). */
const JOB_WORKFLOW_TYPES = new Set(['jobWorkflow', 'archiveJobWorkflow', 'expireJobWorkflow']);

export function truncate(text: string, max: number): string {
  return text.length <= max ? text : `${text.slice(0, max)}… (${text.length - max} more characters)`;
}

/** A log field, bounded: strings cut, errors as type/message/stack, objects as bounded JSON. */
function boundedValue(value: unknown): unknown {
  if (typeof value === 'string') return truncate(value, MAX_FIELD_CHARS);
  if (value === null || typeof value !== 'object') return typeof value === 'bigint' ? String(value) : value;
  if (value instanceof Error) {
    return {
      type: value.name,
      message: truncate(value.message, MAX_FIELD_CHARS),
      ...(value.stack ? { stack: truncate(value.stack, MAX_MESSAGE_CHARS) } : {}),
    };
  }
  let json: string;
  try {
    json = JSON.stringify(value) ?? '';
  } catch {
    return '[unserializable]';
  }
  return json.length <= MAX_FIELD_CHARS ? value : truncate(json, MAX_FIELD_CHARS);
}

/** SDK metadata we do not repeat on every line (long, or the same for the whole worker). */
const DROPPED = new Set(['taskToken', 'namespace', 'taskQueue', 'workflowRunId', 'activityId', 'isLocal']);
const RENAMED: Record<string, string> = {
  activityType: 'activity',
  sdkComponent: 'component',
  workflowType: 'workflow',
};

/** The Temporal SDK's log metadata as our fields: `job` from a job workflow's ID, bounded values. */
export function logFields(meta: LogMetadata | undefined): Record<string, unknown> {
  const fields: Record<string, unknown> = {};
  if (!meta) return fields;
  for (const [key, value] of Object.entries(meta)) {
    if (DROPPED.has(key) || value === undefined) continue;
    fields[RENAMED[key] ?? key] = boundedValue(value);
  }
  // The SDK's own `state` (of a worker, not in any activity or workflow) is not a job's state.
  if (meta.sdkComponent !== undefined && meta.workflowId === undefined && 'state' in fields) {
    fields.workerState = fields.state;
    delete fields.state;
  }
  const workflowType = meta.workflowType as string | undefined;
  const workflowId = meta.workflowId as string | undefined;
  if (workflowId !== undefined && workflowType !== undefined && JOB_WORKFLOW_TYPES.has(workflowType)) {
    fields.job ??= jobFromWorkflowId(workflowId);
  }
  return fields;
}

const LEVEL_OF: Record<LogLevel, LogLevelName> = {
  TRACE: 'trace',
  DEBUG: 'debug',
  INFO: 'info',
  WARN: 'warn',
  ERROR: 'error',
};

/** The Temporal SDK's Logger interface over pino. */
/**
 * The SDK's lines that are expected here and say nothing to an operator: the run-waiting task
 * queues of a worker (worker/create-worker.ts) have activities only, by design, and saliflow
 * registers no Nexus services (one line per SDK Worker, three per service, at each start).
 */
export const EXPECTED_SDK_LINES = new Set([
  'No workflows registered, not polling for workflow tasks',
  'No Nexus services registered, not polling for Nexus tasks',
]);

export function temporalLogger(base: Pino): Logger {
  return loggerFrom((level, message, meta) => {
    if (EXPECTED_SDK_LINES.has(String(message))) return;
    const name = LEVEL_OF[level] ?? 'info';
    if (!base.isLevelEnabled(name)) return;
    base[name](logFields(meta), truncate(String(message), MAX_MESSAGE_CHARS));
  });
}

const LEVEL_LABELS: Record<number, string> = {
  10: 'TRACE',
  20: 'DEBUG',
  30: 'INFO',
  40: 'WARN',
  50: 'ERROR',
  60: 'FATAL',
};
const CONTEXT_KEYS = ['job', 'state', 'step', 'activity', 'attempt'];
const HIDDEN_ON_TERMINAL = new Set(['level', 'time', 'msg', 'service', 'pid', 'host', ...CONTEXT_KEYS]);

/** Control characters shown escaped, so a terminal line cannot be forged or garbled. */
// eslint-disable-next-line no-control-regex -- matching control characters is the point
const CONTROL = /[\u0000-\u0009\u000b-\u001f\u007f]/g;
const visible = (text: string) => text.replace(CONTROL, (c) => JSON.stringify(c).slice(1, -1));

/** One JSON line as `12:00:01.234 INFO  [job state step] message key=value …` (stacks on the following lines). */
export function formatForTerminal(line: string): string {
  let entry: Record<string, unknown>;
  try {
    entry = JSON.parse(line) as Record<string, unknown>;
  } catch {
    return line;
  }
  const stamp = new Date(typeof entry.time === 'number' ? entry.time : String(entry.time));
  const time = Number.isNaN(stamp.getTime()) ? String(entry.time) : stamp.toISOString().slice(11, 23);
  const level = (LEVEL_LABELS[Number(entry.level)] ?? String(entry.level)).padEnd(5);
  const context = CONTEXT_KEYS.filter((key) => entry[key] !== undefined).map((key) =>
    key === 'attempt' ? `#${String(entry[key])}` : String(entry[key]),
  );
  const extras = Object.entries(entry)
    .filter(([key]) => !HIDDEN_ON_TERMINAL.has(key))
    .map(([key, value]) => `${key}=${typeof value === 'string' ? value : JSON.stringify(value)}`);
  const text = [`${time} ${level}`, context.length ? `[${context.join(' ')}]` : '', String(entry.msg ?? ''), ...extras]
    .filter((part) => part !== '')
    .join(' ');
  return `${visible(text).replace(/\n/g, '\n    ')}\n`;
}

export interface WorkerLoggerOptions {
  /** The `service` field of every line; none for the lines of a process hosting several services. */
  service?: string;
  level: LogLevelName;
  /** @defaultValue process.stdout */
  stream?: Writable & { isTTY?: boolean };
  /** Readable lines instead of JSON. @defaultValue whether `stream` is a terminal */
  pretty?: boolean;
}

/** The worker's logger, as the Temporal SDK's Logger (every line goes through its bounds). */
export function createWorkerLogger(options: WorkerLoggerOptions): { temporal: Logger } {
  const stream = options.stream ?? process.stdout;
  const pretty = options.pretty ?? stream.isTTY === true;
  const destination = pretty ? { write: (line: string) => stream.write(formatForTerminal(line)) } : stream;
  const base = pino(
    {
      level: options.level,
      base: { ...(options.service !== undefined ? { service: options.service } : {}), pid: process.pid },
      timestamp: pino.stdTimeFunctions.isoTime,
    },
    destination,
  );
  return { temporal: temporalLogger(base) };
}

/**
 * Puts every activity's job, type and attempt in the log context (see
 * engine/log-context.ts), and the context (state, step) on the SDK's
 * own lines about the activity.
 */
export const activityLogContext: ActivityInterceptorsFactory = (context) => ({
  outbound: {
    getLogAttributes: (input, next) => ({ ...currentLogContext(), ...next(input) }),
  },
  inbound: {
    execute: (input, next) => {
      const { info } = context;
      const workflowId = info.workflowExecution?.workflowId;
      const job =
        workflowId !== undefined && info.workflowType !== undefined && JOB_WORKFLOW_TYPES.has(info.workflowType)
          ? jobFromWorkflowId(workflowId)
          : undefined;
      return withLogContext(
        { ...(job !== undefined ? { job } : {}), activity: info.activityType, attempt: info.attempt },
        () => next(input),
      );
    },
  },
});
