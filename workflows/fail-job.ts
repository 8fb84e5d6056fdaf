/** How every job workflow ends when something went wrong. */
import { ApplicationFailure, log, setCurrentDetails, upsertSearchAttributes } from '@temporalio/workflow';
import { mail, store } from './activity-options.js';
import { failureText } from './failure-text.js';
import { JOB_STATE } from './search-attributes.js';
import { countState } from './job-metrics.js';

/**
 * Records the failure (row FAILED, directory in FAILED's folder), e-mails
 * the admin, and ends the workflow as Failed so the Web UI shows it red.
 */
export async function endAsFailed(job: string, error: unknown): Promise<never> {
  const failure = typeof error === 'string' ? error : failureText(error);
  await store.failJob({ job, failure });
  upsertSearchAttributes([{ key: JOB_STATE, value: 'FAILED' }]);
  countState('FAILED');
  setCurrentDetails(`FAILED: ${failure.split('\n')[0] ?? failure}`);
  try {
    await mail.notifyAdminOfFailure({ job, failure });
  } catch (mailError) {
    // The job is FAILED either way; the Web UI and the row still tell.
    log.error('could not e-mail the admin about a failed job', { job, error: String(mailError) });
  }
  throw ApplicationFailure.nonRetryable(failure.split('\n')[0] ?? failure, 'JobFailed');
}
