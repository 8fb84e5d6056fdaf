/** How every job workflow ends when something went wrong. */
import { ApplicationFailure, log, setCurrentDetails, upsertSearchAttributes } from '@temporalio/workflow';
import { JOB_STATE } from '../core/job-workflow-contract.js';
import { firstLine } from '../core/text.js';
import { WORKFLOW_FAILURE } from '../core/errors.js';
import { local, mail } from './activity-options.js';
import { failureText } from './failure-text.js';

/**
 * Records the failure (row FAILED, directory in FAILED's folder), e-mails
 * the admin, and ends the workflow as Failed so the Web UI shows it red.
 * `finished`: the failure is the finished job's own (its `complete`, the
 * completion e-mail, `archive`, `expire`), which fails it as saliweb does;
 * otherwise a job found finished (a cancel that raced its completion) keeps
 * its state, and the admin is told what failed.
 */
export async function endAsFailed(job: string, error: unknown, options: { finished?: boolean } = {}): Promise<never> {
  let failure = typeof error === 'string' ? error : failureText(error);
  try {
    const { failed, state } = await local.failJob({ job, failure, ...(options.finished ? { finished: true } : {}) });
    if (failed) {
      upsertSearchAttributes([{ key: JOB_STATE, value: 'FAILED' }]);
      setCurrentDetails(`FAILED: ${firstLine(failure)}`);
    } else {
      failure = `${failure}\n(the job stays ${state}: a finished job is never failed)`;
      setCurrentDetails(`${state}, but: ${firstLine(failure)}`);
    }
  } catch (recordError) {
    // The row could not be failed (deleted?): the admin still hears of it.
    failure = `${failure}\n(could not record the failure in the jobs table: ${failureText(recordError)})`;
  }
  try {
    await mail.notifyAdminOfFailure({ job, failure });
  } catch (mailError) {
    // The job is FAILED either way; the Web UI and the row still tell.
    log.error('could not e-mail the admin about a failed job', { job, error: String(mailError) });
  }
  throw ApplicationFailure.nonRetryable(firstLine(failure), WORKFLOW_FAILURE.jobFailed);
}
