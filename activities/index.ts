/**
 * Every side effect saliflow performs, as Temporal activities, built from
 * the service's config and module (dependency injection, so tests can give
 * each its own database and directories).
 */
import { firstLine } from '../core/text.js';
import { defaultHostId } from '../core/config/host-id.js';
import type { Client } from '@temporalio/client';
import type { Logger } from '@temporalio/common';
import { DefaultLogger } from '@temporalio/worker';
import type { ServiceConfig } from '../core/config/index.js';
import {
  admittedSignal,
  jobWorkflowId,
  runEndedSignal,
  runUnknownSignal,
  waitingSignal,
} from '../core/job-workflow-contract.js';
import type { SignalDefinition } from '@temporalio/common';
import type { Service } from '../core/service.js';
import { createPool, type Pool } from '../store/pool.js';
import { createMailer, type Mailer } from '../engine/mail.js';
import { createJobTransitions } from '../engine/job-transitions.js';
import { createStepCaller, type StepRequest } from '../engine/service-steps.js';
import { createRunActivities, type RunActivityOptions } from './run-activities.js';
import { defaultRunners, runnerFor, type RunnerRegistry } from '../engine/runners/index.js';
import type { RunnerKind } from '../core/runner-spec.js';
import { describeThrown } from '../core/errors.js';
import { createMaintenanceActivities } from './maintenance.js';
import { createAdmitter, type AdmitterOptions } from '../engine/admission.js';
import { createJobAdvance } from '../engine/job-advance.js';
import { createRecordedRunActivity } from './recorded-run.js';
import { activityCancellation, whileHeartbeating } from './heartbeat.js';
import { createRunWatcher } from '../engine/run-watcher.js';
import { oneAtATimePerJob } from '../engine/one-at-a-time.js';
import { createJobEndActivities } from './job-end-activities.js';
import { createPacedCalls } from '../engine/paced-calls.js';
import { NO_METRICS, type JobMetrics } from '../engine/job-metrics.js';
import type { MadeChange } from '../engine/job-transitions.js';
import { contextLogger } from '../engine/log-context.js';
import { OUTAGES_TABLE, recordStatusOutage } from '../store/status-outages.js';

export interface ActivityDeps {
  config: ServiceConfig;
  service: Service;
  pool?: Pool;
  mailer?: Mailer;
  runners?: RunnerRegistry;
  run?: RunActivityOptions;
  /** The worker's Temporal client, once it exists: reconcile starts workflows, the admitter signals them. */
  client?: () => Client | undefined;
  /** This worker's host identity (local runs are waited for and cancelled where they run). @defaultValue SALIFLOW_HOST_ID or the host name */
  hostId?: string;
  admission?: Pick<AdmitterOptions, 'sweepMs' | 'refreshFirst' | 'onSweep' | 'onStragglerCheck'>;
  /** How often the run watcher looks for RUNNING rows it does not watch yet (default 30 s). */
  watcherScanEveryMs?: number;
  /** saliflow's Prometheus metrics. @defaultValue none recorded */
  metrics?: JobMetrics;
  /** The worker's log (the Temporal Runtime's logger). @defaultValue warnings and errors on stderr */
  log?: Logger;
}

/** How a state change shows in the worker's log: failures and completions at once, the rest when debugging. */
function logChange(log: Logger, change: MadeChange): void {
  const fields = { job: change.job, state: change.to, from: change.from };
  if (change.to === 'FAILED') log.warn(`job failed: ${firstLine(change.failure ?? '')}`, fields);
  else if (change.to === 'COMPLETED') log.info('job completed', fields);
  else log.debug(`job entered ${change.to}`, fields);
}

export { defaultHostId };

export function createSaliflowActivities(deps: ActivityDeps) {
  const { config, service } = deps;
  const hostId = deps.hostId ?? defaultHostId();
  const pool = deps.pool ?? createPool(config);
  const mailer = deps.mailer ?? createMailer(config);
  const runners = deps.runners ?? defaultRunners(config.clusters, { hostId });
  const metrics = deps.metrics ?? NO_METRICS;
  // Each line gets the job context of the code logging it (log-context.ts).
  const log = contextLogger(deps.log ?? new DefaultLogger('WARN'));
  // No outage at start, for every runner this worker has: a first outage then shows as a change.
  for (const kind of Object.keys(runners) as RunnerKind[]) metrics.statusOutage(kind, false);
  const runs = createRunActivities(runners, {
    ...deps.run,
    metrics,
    onStatusOutage: (kind, event) => {
      const name = runnerFor(runners, kind).name;
      metrics.statusOutage(kind, event.state === 'down');
      if (event.state === 'down') {
        log.warn(
          `${name} status queries have failed ${event.failures} times in a row since ${event.since.toISOString()}; ` +
            `every run stays as it was until they answer again: ${event.error}`,
          { component: 'status-poller', runner: kind },
        );
      } else {
        log.info(
          `${name} status queries answer again (failed ${event.failures} times in a row since ${event.since.toISOString()})`,
          {
            component: 'status-poller',
            runner: kind,
          },
        );
      }
      recordStatusOutage(pool, name, `${process.pid}@${hostId}`, event).catch((error: unknown) =>
        log.warn(`could not record the ${name} status-query outage in ${OUTAGES_TABLE}: ${describeThrown(error)}`),
      );
    },
  });
  const { transitionJob, restoreJobDirectory } = createJobTransitions(config, pool, (change) => {
    metrics.stateChanged(change);
    logChange(log, change);
  });
  const steps = createStepCaller(config, pool, mailer, service, log, activityCancellation);
  /** Signals from this worker, paced and retried (paced-calls.ts); a later check sends a given-up one again. */
  const signals = createPacedCalls({
    name: 'signals',
    log: (message) => log.warn(message, { component: 'signals' }),
    giveUpAfterMs: 600_000,
    whatThen: 'a later check sends it again',
  });
  /**
   * Signals a job's workflow; true once delivered. No workflow (a legacy or orphaned row) counts as delivered:
   * reconcile starts one, which reads the row. A newer signal of the same name replaces one still waiting.
   */
  const signalJob = <Args extends unknown[]>(
    job: string,
    signal: SignalDefinition<Args>,
    ...args: Args
  ): Promise<boolean> =>
    signals.add(`${job} ${signal.name}`, `${signal.name} to job ${job}`, async () => {
      const client = deps.client?.();
      if (!client) return;
      await client.workflow
        .getHandle(jobWorkflowId(config.general.serviceName, job))
        .signal(signal, ...args)
        .catch((error: Error) => {
          if (error.name !== 'WorkflowNotFoundError') throw error;
        });
    });
  const admitter = createAdmitter(config, pool, {
    ...deps.admission,
    log: (message) => log.warn(message, { component: 'admission' }),
    onAdmitted: (jobs) => {
      metrics.admitted(jobs);
      log.debug(`admitted ${jobs.length} job(s)`, { jobs: jobs.map((job) => job.name) });
    },
    notify: (job) => signalJob(job, admittedSignal),
    tell: (job, reason) => signalJob(job, waitingSignal, reason),
    hasPendingTask: async (job) => {
      const client = deps.client?.();
      if (!client) return false;
      const { raw } = await client.workflow.getHandle(jobWorkflowId(config.general.serviceName, job)).describe();
      return Boolean(raw.pendingWorkflowTask);
    },
  });
  const watcher = createRunWatcher({
    pool,
    runners,
    hostId,
    awaitRun: runs.awaitRun,
    signal: (job, ended) => signalJob(job, runEndedSignal, ended),
    tellUnknown: (job, unknown) => void signalJob(job, runUnknownSignal, unknown),
    warn: (message) => log.warn(message, { component: 'run-watcher' }),
    ...(deps.watcherScanEveryMs !== undefined ? { scanEveryMs: deps.watcherScanEveryMs } : {}),
  });

  const oneAtATime = oneAtATimePerJob();
  const activities = {
    advanceJob: createJobAdvance({
      ...{ config, pool, steps, runners, admitter, transitionJob, restoreJobDirectory, hostId, metrics, log },
      runEndedWithin: runs.outcomeIfEndedWithin,
      watchRun: watcher.watch,
      oneAtATime,
      retry: {
        ...(service.retryOn ? { on: service.retryOn } : {}),
        ...(service.maxRetries !== undefined ? { maxRetries: service.maxRetries } : {}),
      },
    }),
    /** A service step the advance handed over: a regular activity, heartbeating while the step runs. */
    runStep: (request: StepRequest) => whileHeartbeating(() => steps.runStep(request)),
    transitionJob,
    recordedRun: createRecordedRunActivity(pool),
    ...runs.activities,
    ...createMaintenanceActivities(config, pool, { ...(deps.client ? { client: deps.client } : {}), admitter }),

    ...createJobEndActivities({ config, pool, mailer, steps, admitter, transitionJob, oneAtATime, signalJob }),
  };

  return {
    activities,
    pool,
    admitter,
    statusQueries: runs.statusQueries,
    watcher,
    /** Signals this worker has yet to deliver (a draining worker waits for them). */
    pendingSignals: () => signals.pending,
    async close() {
      watcher.close();
      admitter.close();
      await signals.close();
      runs.close();
      if (!deps.pool) await pool.end();
    },
  };
}

export type SaliflowActivities = ReturnType<typeof createSaliflowActivities>['activities'];
