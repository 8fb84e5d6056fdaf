/**
 * One activity per service step, so the Temporal Web UI shows which step a
 * job is in. A step that throws fails the job at once (ServiceStepError is
 * non-retryable): steps need not be idempotent, as in saliweb.
 */
import type { ServiceConfig } from '../core/config/index.js';
import { ServiceStepError } from '../core/errors.js';
import type { RunResults, RunnerSpec } from '../core/runner-spec.js';
import type { JobContext, RerunData, Service } from '../core/service.js';
import type { Pool } from './database.js';
import { loadStepContext } from './job-context.js';
import { jobCompletedMessage, type Mailer } from './mail.js';
import { toResultFiles } from './result-files.js';

const RUNNER_KINDS = ['do-nothing', 'local', 'sge', 'slurm', 'web-service'];

function checkRunnerSpec(step: string, job: string, spec: unknown): RunnerSpec {
  const kind = (spec as { kind?: unknown } | null)?.kind;
  if (typeof kind !== 'string' || !RUNNER_KINDS.includes(kind)) {
    throw new ServiceStepError(
      step,
      job,
      new TypeError(
        `it returned ${JSON.stringify(spec)}, not a runner; return one of doNothing(), localCommand(), sgeScript(), slurmScript(), webService()`,
      ),
    );
  }
  return spec as RunnerSpec;
}

export function createStepActivities(config: ServiceConfig, pool: Pool, mailer: Mailer, service: Service) {
  async function callStep<T>(job: string, step: string, invoke: (context: JobContext) => T | Promise<T>): Promise<T> {
    const { context, saveMetadata } = await loadStepContext(config, pool, mailer, job);
    let result: T;
    try {
      result = await invoke(context);
    } catch (error) {
      throw new ServiceStepError(step, job, error);
    }
    await saveMetadata();
    return result;
  }

  return {
    async preprocess(job: string): Promise<{ skipRun: boolean }> {
      const result = await callStep(job, 'preprocess', (context) => service.preprocess?.(context));
      return { skipRun: result?.skipRun === true };
    },

    async run(job: string, rerun?: { data?: RerunData }): Promise<RunnerSpec> {
      const step = rerun ? 'rerun' : 'run';
      const spec = await callStep(job, step, (context) =>
        rerun && service.rerun ? service.rerun(context, rerun.data) : service.run(context),
      );
      return checkRunnerSpec(step, job, spec);
    },

    async postprocess(job: string, results?: RunResults): Promise<{ reschedule: boolean; data?: RerunData }> {
      const result = await callStep(job, 'postprocess', (context) =>
        service.postprocess?.(context, results ? toResultFiles(results, context.directory) : undefined),
      );
      if (!result?.reschedule) return { reschedule: false };
      return { reschedule: true, ...(result.reschedule.data !== undefined ? { data: result.reschedule.data } : {}) };
    },

    async finalize(job: string): Promise<void> {
      await callStep(job, 'finalize', (context) => service.finalize?.(context));
    },

    /** The `complete` step, then the user's "job complete" e-mail. */
    async complete(job: string): Promise<void> {
      await callStep(job, 'complete', (context) => service.complete?.(context));
      await callStep(job, 'sendJobCompletedEmail', async (context) => {
        if (service.sendJobCompletedEmail) return service.sendJobCompletedEmail(context);
        if (!context.contactEmail) return;
        const message = jobCompletedMessage(context.serviceName, context.name, context.url);
        await mailer.send({ to: context.contactEmail, ...message });
      });
    },

    async archive(job: string): Promise<void> {
      await callStep(job, 'archive', (context) => service.archive?.(context));
    },

    async expire(job: string): Promise<void> {
      await callStep(job, 'expire', (context) => service.expire?.(context));
    },
  };
}
