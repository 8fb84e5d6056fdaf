/**
 * Every side effect saliflow performs, as Temporal activities, built from
 * the service's config and module (dependency injection, so tests can give
 * each its own database and directories).
 */
import type { ServiceConfig } from '../core/config/index.js';
import type { Service } from '../core/service.js';
import { createPool, type Pool } from './database.js';
import { createMailer, jobFailedMessage, type Mailer } from './mail.js';
import { createTransitionActivities } from './job-transitions.js';
import { createStepActivities } from './service-steps.js';
import { createRunActivities, type RunActivityOptions } from './run-activities.js';
import { defaultRunners, type RunnerRegistry } from './runners/index.js';
import { createMaintenanceActivities } from './maintenance.js';
import { createAdmissionActivities } from './admission.js';

export interface ActivityDeps {
  config: ServiceConfig;
  service: Service;
  pool?: Pool;
  mailer?: Mailer;
  runners?: RunnerRegistry;
  run?: RunActivityOptions;
}

export function createSaliflowActivities(deps: ActivityDeps) {
  const { config, service } = deps;
  const pool = deps.pool ?? createPool(config);
  const mailer = deps.mailer ?? createMailer(config);
  const runs = createRunActivities(pool, deps.runners ?? defaultRunners(config.clusters), deps.run);
  const { transitionJob } = createTransitionActivities(config, pool);

  const activities = {
    transitionJob,
    ...createStepActivities(config, pool, mailer, service),
    ...runs.activities,
    ...createMaintenanceActivities(config, pool),
    ...createAdmissionActivities(config, pool, transitionJob),

    /** Moves the job to FAILED with its error. */
    async failJob(input: { job: string; failure: string }): Promise<void> {
      await transitionJob({ job: input.job, to: 'FAILED', failure: input.failure });
    },

    /** Tells the admin a job failed; separate from failJob so a mail outage never holds up the state change. */
    async notifyAdminOfFailure(input: { job: string; failure: string }): Promise<void> {
      const message = jobFailedMessage(config.general.serviceName, input.job, input.failure);
      await mailer.send({ to: config.general.adminEmail, ...message });
    },
  };

  return {
    activities,
    pool,
    statusQueries: runs.statusQueries,
    async close() {
      runs.close();
      if (!deps.pool) await pool.end();
    },
  };
}

export type SaliflowActivities = ReturnType<typeof createSaliflowActivities>['activities'];
