/**
 * `saliflow show NAME`: everything about one job in one place: its row,
 * its workflow, what the workflow says now (state, the step running with
 * its start and limit, cycle, run, why it waits), its failure, and when it
 * entered each state.
 */
import path from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import type mysql from 'mysql2/promise';
import type { Client } from '@temporalio/client';
import type { ServiceConfig } from '../core/config/index.js';
import { describeStep, jobWorkflowId, type JobStatus } from '../core/job-workflow-contract.js';
import { NoSuchJobError } from '../core/errors.js';
import { formatTime, workflowLink } from './format.js';
import { waitingReasons } from '../store/waiting-line.js';
import { readWholeRow } from '../store/job-listing.js';
import { pausedBecause, readServiceControl } from '../store/service-control.js';
import { describeJobWorkflow, queryJobStatus } from './job-workflows.js';
import { readCycleRecord } from '../engine/run-cycle-record.js';
import { needsOperator } from '../engine/operator-attention.js';
import { describeRetries, type RetryState } from '../core/retry-policy.js';

/** The row's timestamps, in the order a job meets them (archive/expire are due times until reached). */
const TIMELINE: [column: string, label: string][] = [
  ['submit_time', 'submitted (INCOMING)'],
  ['preprocess_time', 'PREPROCESSING'],
  ['run_time', 'RUNNING'],
  ['postprocess_time', 'POSTPROCESSING'],
  ['finalize_time', 'FINALIZING'],
  ['end_time', 'COMPLETED'],
  ['archive_time', 'ARCHIVED (or due)'],
  ['expire_time', 'EXPIRED (or due)'],
];

export interface JobDetails {
  name: string;
  /** Every column, as MySQL returned it (dates in UTC). */
  row: Record<string, unknown>;
  workflow:
    | { id: string; runId: string; status: string; started: Date; closed?: Date; link?: string }
    | { id: string; status: 'none'; link?: string };
  /** The workflow's `jobStatus` answer, or why there is none. */
  now: JobStatus | { unavailable: string };
  /** For an INCOMING job: why it waits, computed now from MySQL (the workflow's account may be coarser). */
  waiting?: string;
  timeline: { state: string; at: Date }[];
  /** The retries by run cause so far (`retryOn`), from the job's cycle record. */
  retries?: RetryState;
  /** A RUNNING job saliweb left without a run record: what the operator may do (engine/operator-attention.ts). */
  needsOperator?: string;
}

export async function showJob(options: {
  config: ServiceConfig;
  db: Pick<mysql.Pool, 'query'>;
  client: Client;
  job: string;
}): Promise<JobDetails> {
  const { config, db, client, job } = options;
  const row = await readWholeRow(db, job);
  if (!row) throw new NoSuchJobError(job, config.general.serviceName);
  const id = jobWorkflowId(config.general.serviceName, job);
  const link = workflowLink(config, id);
  const description = await describeJobWorkflow(client, config, job);
  const workflow: JobDetails['workflow'] = description
    ? {
        id,
        runId: description.runId,
        status: description.status.name,
        started: description.startTime,
        ...(description.closeTime ? { closed: description.closeTime } : {}),
        ...(link ? { link } : {}),
      }
    : { id, status: 'none', ...(link ? { link } : {}) };
  let now: JobDetails['now'];
  if (!description) now = { unavailable: 'no workflow (the reconcile schedule starts one for an unfinished job)' };
  else if (description.status.name !== 'RUNNING') now = { unavailable: `its workflow is ${description.status.name}` };
  else {
    const answer = await queryJobStatus(client, config, job);
    now = 'status' in answer ? answer.status : answer;
  }
  const timeline = TIMELINE.filter(([column]) => row[column] instanceof Date).map(([column, state]) => ({
    state,
    at: row[column] as Date,
  }));
  const control = row.state === 'INCOMING' ? await readServiceControl(db, config) : undefined;
  const [line] = control ? await waitingReasons(db, control.limits, { names: [job] }, pausedBecause(control)) : [];
  const record =
    typeof row.directory === 'string' ? await readCycleRecord(row.directory).catch(() => undefined) : undefined;
  const operator = await needsOperator(config, {
    name: job,
    state: String(row.state),
    runnerId: typeof row.runner_id === 'string' ? row.runner_id : null,
    directory: typeof row.directory === 'string' ? row.directory : null,
  });
  return {
    name: job,
    row: { ...row },
    workflow,
    now,
    ...(line ? { waiting: line.reason } : {}),
    timeline,
    ...(record?.retry ? { retries: record.retry } : {}),
    ...(operator ? { needsOperator: operator } : {}),
  };
}

/**
 * The workflow's account: its state, the step it runs (name, start, limit), its cycle and run; its reason for
 * waiting only where it differs from the one computed now. The row is the truth: should the workflow's last
 * report be of another state (a state change made in the few milliseconds before the advance reports it), the
 * line says so rather than claim the older state.
 */
function describeNow(now: JobDetails['now'], waiting: string | undefined, rowState: unknown): string {
  if ('unavailable' in now) return now.unavailable;
  const parts: string[] = [
    now.state === rowState ? now.state : `${String(rowState)} (the row; its workflow last reported ${now.state})`,
  ];
  if (now.step && now.state === rowState) parts.push(describeStep(now.step));
  if (now.cycle > 0) parts.push(`cycle ${now.cycle}`);
  if (now.run) parts.push(`run ${now.run}`);
  if (now.waiting && now.waiting !== waiting) parts.push(`its workflow was told: ${now.waiting}`);
  if (now.retry) parts.push(now.retry);
  if (now.unknown) parts.push(`status unknown: ${now.unknown}`);
  return parts.join(', ');
}

function cell(value: unknown): string {
  if (value === null || value === undefined) return '-';
  if (value instanceof Date) return `${formatTime(value)} UTC`;
  if (Buffer.isBuffer(value)) return value.toString('utf8');
  return String(value);
}

/** saliflow's own folder (the checkout, or the package's dist/): its stack frames say nothing to an operator. */
const SALIFLOW_ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..') + path.sep;

/**
 * A failure text without the stack frames of saliflow itself, Node's internals and other packages: what is
 * left is the message and the service's own frames. The failure column and the admin's e-mail keep all of it.
 */
export function withoutInternalFrames(text: string, root = SALIFLOW_ROOT): string {
  const lines = text.split('\n');
  const kept = lines.filter((line) => {
    if (!/^\s+at /.test(line)) return true;
    return !(
      /\(node:|\bat node:|\/node_modules\//.test(line) ||
      line.includes(root) ||
      line.includes(pathToFileURL(root).href)
    );
  });
  const dropped = lines.length - kept.length;
  return dropped === 0
    ? text
    : `${kept.join('\n')}\n(${dropped} stack frame(s) of saliflow and Node left out; the failure column has them)`;
}

export function formatJobDetails(details: JobDetails): string {
  const { row, workflow } = details;
  const lines = [`job ${details.name}: ${cell(row.state)}`, ''];
  lines.push(
    !('runId' in workflow)
      ? `workflow  ${workflow.id}: none`
      : `workflow  ${workflow.id}: ${workflow.status} (run ${workflow.runId}, started ${formatTime(workflow.started)} UTC${workflow.closed ? `, closed ${formatTime(workflow.closed)} UTC` : ''})`,
  );
  lines.push(`now       ${describeNow(details.now, details.waiting, row.state)}`);
  if (details.waiting) lines.push(`waiting   ${details.waiting}`);
  if (details.needsOperator) lines.push(`operator  ${details.needsOperator}`);
  const retries = describeRetries(details.retries, undefined);
  if (retries)
    lines.push(
      `retries   ${retries.replace(/^retries: /, '')}; the last retry followed ${details.retries?.after ?? '?'}`,
    );
  if (workflow.link) lines.push(`Web UI    ${workflow.link}`);
  lines.push('', 'entered:');
  for (const { state, at } of details.timeline) lines.push(`  ${state.padEnd(22)} ${formatTime(at)} UTC`);
  const failure = row.failure;
  if (failure)
    lines.push(
      '',
      // A job on its way carries a reason here only while it waits (disk-wait.ts: no space for its directory).
      row.state === 'FAILED' ? 'failure:' : 'why it waits:',
      ...withoutInternalFrames(cell(failure))
        .split('\n')
        .map((line) => `  ${line}`),
    );
  lines.push('', 'row:');
  const width = Math.max(...Object.keys(row).map((key) => key.length));
  for (const [key, value] of Object.entries(row)) {
    if (key === 'failure') continue;
    lines.push(`  ${key.padEnd(width)}  ${cell(value)}`);
  }
  return lines.join('\n');
}
