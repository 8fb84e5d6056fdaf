/**
 * saliflow/testing: what `saliweb.test` gives Python authors, for TypeScript
 * services. A job context on a new temporary directory, one step of the
 * service called at a time; no MySQL, no Temporal, no mail server.
 *
 * ```ts
 * import { createTestJob, runStep, cleanup } from 'saliflow/testing';
 * import service from '../service.js';
 * after(cleanup);
 * test('preprocess counts the inputs', async () => {
 *   const job = await createTestJob(service);
 *   await fs.writeFile(job.path('a.pdb'), 'ATOM\n');
 *   await runStep(service, 'preprocess', job);
 *   assert.equal(job.metadata.num_pdbs, 1);
 * });
 * ```
 */
import fs from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { loadServiceConfig } from '../core/config/index.js';
import { RunnerSpecError } from '../core/errors.js';
import { declaredColumnsOnly } from '../core/job-metadata.js';
import { runnerSpecProblem } from '../core/runner-spec.js';
import type { JobContext, Metadata, RerunData, Service } from '../core/service.js';
import type { JobState } from '../core/states.js';
import { createJobLogger } from '../engine/job-logger.js';

/** One e-mail a step sent through its test job (recorded, never sent). */
export interface SentMail {
  /** Which call sent it: `sendUserEmail`, `sendAdminEmail` or `sendEmail`. */
  kind: 'user' | 'admin' | 'other';
  /** The addresses, comma-separated as the worker's mailer writes them. */
  to: string;
  subject: string;
  body: string;
}

/** A job context for tests: a real {@link JobContext} plus what the test inspects afterwards. */
export interface TestJob<M extends Metadata = Metadata> extends JobContext<M> {
  /** The state the test says the job is in (informational: steps do not see it). */
  readonly state: JobState;
  /** Every e-mail the steps sent, in order. */
  readonly sentMail: SentMail[];
}

/** What {@link createTestJob} may be told; everything has a default. */
export interface TestJobOptions<M extends Metadata = Metadata> {
  /** @defaultValue 'testjob' (saliweb.test's) */
  name?: string;
  /** @defaultValue 'PREPROCESSING' */
  state?: JobState;
  /** Starting values of the service's columns (those not given start as null, as saliweb.test's). */
  metadata?: Partial<M>;
  /**
   * Config keys by section, written over the test config's defaults: the service's own sections
   * (`{ modfoo: { script_directory: '/opt/x' } }`, declared in `configSections`) or built-in ones
   * (`{ general: { admin_email: 'me@example.org' } }`).
   */
  config?: Record<string, Record<string, string>>;
  /** @defaultValue null (no user e-mail is sent) */
  contactEmail?: string | null;
  /** @defaultValue null */
  user?: string | null;
  /** @defaultValue 1 */
  cycle?: number;
  /** What the last `reschedule` passed. @defaultValue undefined */
  rerunData?: RerunData;
}

/** The steps {@link runStep} calls. */
export type TestableStep =
  | 'preprocess'
  | 'run'
  | 'rerun'
  | 'postprocess'
  | 'finalize'
  | 'complete'
  | 'archive'
  | 'expire'
  | 'sendJobCompletedEmail';

type StepOf<M extends Metadata, S extends TestableStep> = NonNullable<Service<M>[S]>;
/** The arguments a step takes after the job (`rerun`: its data; `postprocess`: the result files). */
export type StepArgs<M extends Metadata, S extends TestableStep> =
  StepOf<M, S> extends (job: JobContext<M>, ...args: infer A) => unknown ? A : never;
/** What a step returns, awaited. */
export type StepResult<M extends Metadata, S extends TestableStep> = Awaited<ReturnType<StepOf<M, S>>>;

/** Temporary folders made by createTestJob, removed by cleanup(). */
const made = new Set<string>();

// saliweb.test's values, so a test ported from Python sees the same job.
const TEST_ADMIN = 'testadmin@salilab.org';
const TEST_URLTOP = 'http://server/test/path';

function iniText(sections: Record<string, Record<string, string>>): string {
  const lines: string[] = [];
  for (const [name, keys] of Object.entries(sections)) {
    lines.push(`[${name}]`);
    for (const [key, value] of Object.entries(keys)) {
      if (/[\r\n]/.test(value) || /[\r\n:=[\]]/.test(key)) {
        throw new TypeError(`createTestJob: config [${name}] ${key} must be one line, and the key a plain name`);
      }
      lines.push(`${key}: ${value}`);
    }
    lines.push('');
  }
  return lines.join('\n');
}

/**
 * A job of `service` for a test: its directory a new temporary folder (a real, empty job directory), its
 * config a saliweb-style test config (`[general] admin_email testadmin@salilab.org`, `service_name
 * test_service`, every folder inside the temporary folder) loaded by saliflow's own config loader and checked
 * against the service's `configSections`. `metadata` refuses a column the service does not declare, as
 * the worker's does; `log` writes `framework.log` in the directory; e-mails go to `sentMail`.
 * Remove the folders with {@link cleanup}.
 * @throws ConfigError when `options.config` holds a section or key the service does not declare
 */
export async function createTestJob<M extends Metadata = Metadata>(
  service: Service<M>,
  options: TestJobOptions<M> = {},
): Promise<TestJob<M>> {
  const name = options.name ?? 'testjob';
  const root = await fs.mkdtemp(path.join(os.tmpdir(), 'saliflow-test-'));
  made.add(root);
  const folder = (sub: string) => path.join(root, sub);
  const defaults: Record<string, Record<string, string>> = {
    general: {
      admin_email: TEST_ADMIN,
      service_name: 'test_service',
      socket: folder('test.socket'),
      urltop: TEST_URLTOP,
      socket_user: 'none',
    },
    backend: { user: os.userInfo().username, state_file: folder('test.state'), check_minutes: '10' },
    database: { db: 'test', frontend_config: 'frontend.conf', backend_config: 'backend.conf' },
    directories: { install: root, incoming: folder('incoming'), preprocessing: folder('jobs') },
    oldjobs: { archive: '30d', expire: '90d' },
  };
  for (const [section, keys] of Object.entries(options.config ?? {})) {
    defaults[section] = { ...defaults[section], ...keys };
  }
  await fs.writeFile(folder('test.conf'), iniText(defaults));
  await fs.writeFile(folder('frontend.conf'), iniText({ frontend_db: { user: 'test', passwd: 'test' } }));
  await fs.writeFile(folder('backend.conf'), iniText({ backend_db: { user: 'test', passwd: 'test' } }));
  // No environment: a test's config is the same on every machine (no TEMPORAL_ADDRESS, no SALIFLOW_SOCKET).
  const config = loadServiceConfig(folder('test.conf'), {}, { serviceSections: service.configSections ?? {} });
  const directory = path.join(config.directories.PREPROCESSING, name);
  await fs.mkdir(directory, { recursive: true });

  const metadata: Metadata = {};
  for (const column of service.columns ?? []) metadata[column.name] = null;
  Object.assign(metadata, options.metadata);
  const contactEmail = options.contactEmail ?? null;
  const sentMail: SentMail[] = [];
  const job: TestJob = {
    name,
    directory,
    state: options.state ?? 'PREPROCESSING',
    url: `${TEST_URLTOP}/${name}?passwd=abc`,
    serviceName: config.general.serviceName,
    config,
    user: options.user ?? null,
    contactEmail,
    cycle: options.cycle ?? 1,
    rerunData: options.rerunData,
    // As the worker's context: a column the service does not declare is refused.
    metadata: declaredColumnsOnly(name, metadata, metadata),
    log: createJobLogger(directory),
    path: (...segments) => path.join(directory, ...segments),
    sentMail,
    sendUserEmail(subject, body) {
      // As the worker: no contact address, no e-mail.
      if (contactEmail) sentMail.push({ kind: 'user', to: contactEmail, subject, body });
      return Promise.resolve();
    },
    sendAdminEmail(subject, body) {
      sentMail.push({ kind: 'admin', to: config.general.adminEmail, subject, body });
      return Promise.resolve();
    },
    sendEmail(to, subject, body) {
      const list = typeof to === 'string' ? [to] : [...to];
      if (list.length > 0) sentMail.push({ kind: 'other', to: list.join(', '), subject, body });
      return Promise.resolve();
    },
  };
  return job as unknown as TestJob<M>;
}

/**
 * Calls one step of `service` on `job` and returns what it returned; a step that throws throws here
 * unchanged. A step the service does not define is the worker's default: nothing (and `rerun` is
 * `run`). `run` and `rerun` must return a runner, checked as the worker checks it.
 * @throws RunnerSpecError when `run` or `rerun` returns something that is not a runner
 */
export async function runStep<M extends Metadata, S extends TestableStep>(
  service: Service<M>,
  step: S,
  job: JobContext<M>,
  ...args: StepArgs<M, S>
): Promise<StepResult<M, S>> {
  const own = service[step] as ((job: JobContext<M>, ...rest: unknown[]) => unknown) | undefined;
  const call = own ?? (step === 'rerun' ? (j: JobContext<M>) => service.run(j) : undefined);
  const result = call === undefined ? undefined : await call.call(service, job, ...args);
  if (step === 'run' || step === 'rerun') {
    const problem = runnerSpecProblem(result);
    if (problem) throw new RunnerSpecError(job.name, step, problem);
  }
  return result as StepResult<M, S>;
}

/** Removes every temporary folder {@link createTestJob} made (call it once, e.g. in `after`). */
export async function cleanup(): Promise<void> {
  const roots = [...made];
  made.clear();
  await Promise.all(roots.map((root) => fs.rm(root, { recursive: true, force: true })));
}
