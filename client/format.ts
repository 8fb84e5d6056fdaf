/**
 * How the operator's views (list, show, status) read and write what people
 * type and see: states as typed, times as saliweb stores them, aligned
 * columns, links into the Web UI.
 */
import type { ServiceConfig } from '../core/config/index.js';
import { isJobState, JOB_STATES, type JobState } from '../core/states.js';
import { UsageError } from '../core/errors.js';

/** A state name as typed (any case) to a JobState. */
export function parseState(text: string): JobState {
  const state = text.toUpperCase();
  if (!isJobState(state)) {
    throw new UsageError(`unknown state ${JSON.stringify(text)}; use one of ${JOB_STATES.join(', ')}`);
  }
  return state;
}

/** Where MySQL is, for messages. */
export function mysqlAddress(config: ServiceConfig): string {
  const { db, host, port, socket } = config.database;
  return `${socket ?? `${host}:${port}`}/${db}`;
}

/** The Web UI page of a job's workflow, when the config says where the UI is. */
export function workflowLink(config: ServiceConfig, workflowId: string): string | undefined {
  const { webUi, namespace } = config.temporal;
  return webUi && `${webUi}/namespaces/${encodeURIComponent(namespace)}/workflows/${encodeURIComponent(workflowId)}`;
}

/** The Web UI's list of a service's job workflows. */
export function serviceLink(config: ServiceConfig): string | undefined {
  const { webUi, namespace } = config.temporal;
  const query = `JobService="${config.general.serviceName}"`;
  return webUi && `${webUi}/namespaces/${encodeURIComponent(namespace)}/workflows?query=${encodeURIComponent(query)}`;
}

/** Aligned columns with a header, for people; scripts use --json. */
export function formatTable(header: readonly string[], rows: readonly (readonly string[])[]): string {
  const widths = header.map((title, column) =>
    Math.max(title.length, ...rows.map((row) => (row[column] ?? '').length)),
  );
  const line = (cells: readonly string[]) =>
    cells
      .map((cell, column) => (column === cells.length - 1 ? cell : cell.padEnd(widths[column]!)))
      .join('  ')
      .trimEnd();
  return [line(header), ...rows.map(line)].join('\n');
}

/** UTC, to the second, as saliweb stores times. */
export function formatTime(time: Date | null | undefined): string {
  return time ? time.toISOString().replace('T', ' ').slice(0, 19) : '-';
}
