/**
 * The activities that end a job's life: failing it (with the admin's mail
 * apart, so a mail outage never holds up the state change), archiving and
 * expiring it.
 */
import type { ServiceConfig } from '../core/config/index.js';
import { FINAL_STATES } from '../core/states.js';
import { waitingSignal } from '../core/job-workflow-contract.js';
import type { SignalDefinition } from '@temporalio/common';
import type { Pool } from '../store/pool.js';
import { readJob } from '../store/job-row.js';
import { childrenReasons } from '../store/waiting-line.js';
import { pausedBecause, readServiceControl } from '../store/service-control.js';
import { jobFailedMessage, type Mailer } from '../engine/mail.js';
import type { Admitter } from '../engine/admission.js';
import type { createJobTransitions } from '../engine/job-transitions.js';
import type { StepCaller } from '../engine/service-steps.js';
import type { PerJob } from '../engine/one-at-a-time.js';
import { updateLogContext } from '../engine/log-context.js';
import { whileHeartbeating } from './heartbeat.js';

export interface JobEndDeps {
  config: ServiceConfig;
  pool: Pool;
  mailer: Mailer;
  steps: StepCaller;
  admitter: Pick<Admitter, 'wake'>;
  transitionJob: ReturnType<typeof createJobTransitions>['transitionJob'];
  oneAtATime: PerJob;
  /** Signals a job's workflow (paced and retried by the caller). */
  signalJob: <Args extends unknown[]>(job: string, signal: SignalDefinition<Args>, ...args: Args) => Promise<boolean>;
}

export function createJobEndActivities({
  config,
  pool,
  mailer,
  steps,
  admitter,
  transitionJob,
  oneAtATime,
  signalJob,
}: JobEndDeps) {
  return {
    /**
     * Moves the job to FAILED with its error, frees its slot. A finished job
     * (COMPLETED, ARCHIVED, EXPIRED) is failed only when `finished` says the
     * failure is its own end step's (saliweb: a failing `complete`, completion
     * e-mail, `archive` or `expire` fails the job); otherwise its row stays,
     * and the answer says so.
     */
    failJob(input: { job: string; failure: string; finished?: boolean }): Promise<{ failed: boolean; state: string }> {
      return oneAtATime(input.job, async () => {
        const row = await readJob(pool, input.job);
        updateLogContext({ state: row.state });
        if (FINAL_STATES.includes(row.state) && !input.finished) return { failed: false, state: row.state };
        await transitionJob({ job: input.job, to: 'FAILED', failure: input.failure });
        admitter.wake();
        // Its children wait for an operator now: they say so in the Web UI at once.
        const children = await readServiceControl(pool, config)
          .then((control) => childrenReasons(pool, control.limits, input.job, pausedBecause(control)))
          .catch(() => []);
        for (const child of children) {
          void signalJob(child.name, waitingSignal, child.reason);
        }
        return { failed: true, state: 'FAILED' };
      });
    },

    /** Tells the admin a job failed; separate from failJob so a mail outage never holds up the state change. */
    async notifyAdminOfFailure(input: { job: string; failure: string }): Promise<void> {
      const message = jobFailedMessage(config.general.serviceName, input.job, input.failure, config.configFile);
      await mailer.send({ to: config.general.adminEmail, ...message });
    },

    /** COMPLETED → ARCHIVED: the directory moves to ARCHIVED's folder, then `archive` runs there. */
    async archiveJob(job: string): Promise<void> {
      await whileHeartbeating(async () => {
        await transitionJob({ job, to: 'ARCHIVED' });
        await steps.archive(await readJob(pool, job));
      });
    },

    /** ARCHIVED → EXPIRED: `expire` runs while the directory exists, then it is deleted. */
    async expireJob(job: string): Promise<void> {
      await whileHeartbeating(async () => {
        const row = await readJob(pool, job);
        if (row.state === 'ARCHIVED') await steps.expire(row);
        await transitionJob({ job, to: 'EXPIRED' });
      });
    },
  };
}
