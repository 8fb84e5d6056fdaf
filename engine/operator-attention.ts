/**
 * A RUNNING job with no saliflow run record is one saliweb left in its
 * crash window (it commits RUNNING before it calls `run()`, so its cluster
 * job may or may not exist; then `runner_id` is NULL). saliflow never
 * submits it again and never fails it on its own: it stays RUNNING,
 * untouched, until an operator chooses (what `saliflow adopt` reports).
 * `list`, `show` and `status` name such jobs with the commands to choose
 * from; the reconcile schedule does not start their workflows.
 */
import type { ServiceConfig } from '../core/config/index.js';
import { readCycleRecord } from './run-cycle-record.js';
import { checkJobDirectory } from './job-directory.js';

/** What the operator may do; `job` is the job's name. */
export function operatorChoices(job: string): string {
  return (
    `find its run on the cluster (qstat -j ${job} / squeue --name ${job}); if it is there, watch it: ` +
    `\`saliflow adopt --apply --runner-id ${job}=NAME:ID\`; if it has ended, check its outputs, then ` +
    `\`saliflow failjob --reason '…' ${job}\` and \`saliflow resubmit ${job}\` to run it again; ` +
    `or just \`saliflow failjob --reason '…' ${job}\``
  );
}

export function needsOperatorText(job: string, runnerId: string | null): string {
  const left =
    runnerId === null
      ? 'RUNNING without a run id or a saliflow run record (saliweb stopped between its RUNNING commit and its submission; its run may still exist)'
      : `RUNNING with saliweb's run ${runnerId} but no saliflow run record (not adopted)`;
  return `needs an operator: ${left}; saliflow never submits it again nor fails it by itself: ${operatorChoices(job)}`;
}

/** Why the RUNNING job needs an operator, or undefined (another state, or saliflow's own run record is there). */
export async function needsOperator(
  config: Pick<ServiceConfig, 'directories'>,
  row: { name: string; state: string; runnerId: string | null; directory: string | null },
): Promise<string | undefined> {
  if (row.state !== 'RUNNING' || row.directory === null) return undefined;
  let directory: string;
  try {
    directory = await checkJobDirectory(config, row.name, row.directory);
  } catch {
    return undefined; // A bad or missing directory fails the job when its workflow runs: not this case.
  }
  // An unreadable record is not a missing one: the worker's advance reports that.
  if ((await readCycleRecord(directory).catch(() => ({ cycle: 0 }))) !== undefined) return undefined;
  return needsOperatorText(row.name, row.runnerId);
}
