/**
 * The service author's API: a service is a module whose default export is
 * `defineService({...})`. Each step runs in an activity with a typed job
 * context. A TypeScript step does not run *in* the job directory (steps share
 * one process, so nothing calls `chdir`): it reaches its files through
 * `job.directory` / `job.path()`. (A saliweb Python step does run in it.) Steps return their decisions
 * (`skipRun`, `reschedule`) rather than mutating hidden state.
 */
import type { ServiceConfig } from './config/index.js';
import type { ColumnSpec } from './schema.js';
import type { ResultFile, RunnerSpec } from './runner-spec.js';
import type { RetryOn } from './retry-policy.js';
import { nearestSpelling } from './config/spelling.js';
import { ServiceDefinitionError } from './errors.js';

/** Values a metadata column can hold, as mysql2 returns them. */
export type ColumnValue = string | number | Date | null;
export type Metadata = Record<string, ColumnValue>;

/** JSON-serialisable data passed from `postprocess` to `rerun`. */
export type RerunData = string | number | boolean | null | RerunData[] | { [key: string]: RerunData };

/** Levels of `job.log`, lowest first (saliweb's Python logging levels). */
export type JobLogLevel = 'debug' | 'info' | 'warn' | 'error' | 'critical';

export interface JobLogger {
  /** Written only when the threshold is `debug`. */
  debug(message: string): void;
  info(message: string): void;
  warn(message: string): void;
  error(message: string): void;
  critical(message: string): void;
  /** Messages below `level` are dropped. @defaultValue 'info' (saliweb's Python logger defaults to WARNING) */
  setLevel(level: JobLogLevel): void;
}

export interface JobContext<M extends Metadata = Metadata> {
  /** The job's unique name (primary key of `jobs`). */
  readonly name: string;
  /** Absolute path of the job directory. Not the step's working folder (no `chdir`): use it, or `path()`. */
  readonly directory: string;
  /** The results URL the frontend gave the job. */
  readonly url: string;
  readonly serviceName: string;
  readonly config: ServiceConfig;
  /** The user's name and e-mail address from the row (either may be null). */
  readonly user: string | null;
  readonly contactEmail: string | null;
  /**
   * The run cycle: 1 for `preprocess` and the first run, then one more for each
   * `reschedule` (so `postprocess` can reschedule once: `if (job.cycle === 1)`).
   * `finalize` and `complete` see the last cycle.
   */
  readonly cycle: number;
  /** The data the last `reschedule` passed (what `rerun` received); undefined in the first cycle. */
  readonly rerunData: RerunData | undefined;
  /**
   * The service's own columns. Assign to change them; changes are written
   * to MySQL when the step returns.
   */
  readonly metadata: M;
  /** Appends to `framework.log` in the job directory (created on the first message). */
  readonly log: JobLogger;
  /** Resolves a path relative to the job directory. */
  path(...segments: string[]): string;
  /** E-mails the job's user (no-op without a contact address). */
  sendUserEmail(subject: string, body: string): Promise<void>;
  /** E-mails the service's admin (`[general] admin_email`), as saliweb's `config.send_admin_email`. */
  sendAdminEmail(subject: string, body: string): Promise<void>;
  /** E-mails `to` (one address or several), as saliweb's `config.send_email`. */
  sendEmail(to: string | readonly string[], subject: string, body: string): Promise<void>;
}

export interface PreprocessResult {
  /** No cluster run is needed: the job goes straight to COMPLETED. */
  skipRun?: boolean;
}

export interface PostprocessResult {
  /** Run again (back to RUNNING) with this data passed to `rerun`. */
  reschedule?: { data?: RerunData };
}

type MaybePromise<T> = T | Promise<T>;

export interface Service<M extends Metadata = Metadata> {
  /** The service's own `jobs` columns, created by `saliflow db create-tables`. */
  columns?: readonly ColumnSpec[];
  /**
   * The config sections (and keys) the service reads itself, e.g.
   * `{ multifoxs: ['script_directory'] }`; keys listed under a built-in section
   * (`general`, `backend`, …) are added to it. Any other section or key in the
   * config is an error naming the nearest valid spelling. Read the values from
   * `job.config.sections`.
   */
  configSections?: Readonly<Record<string, readonly string[]>>;
  /**
   * What happens to a step cut short by a crash (its worker killed, MySQL or
   * Temporal lost before the job moved on): `'retry'` runs it again on
   * another worker (steps should then tolerate a second run, e.g. overwrite
   * their outputs); `'fail'` fails the job instead, as saliweb failed jobs
   * left in a transient state by an unclean shutdown.
   * @defaultValue 'retry'
   */
  interruptedSteps?: 'retry' | 'fail';
  /**
   * `saliflow adopt` (taking over a live saliweb service): a job saliweb left
   * in PREPROCESSING, POSTPROCESSING or FINALIZING has its step run again
   * (`'rerun'`: the step tolerates a second run over a half-done one) or
   * FAILS with saliweb's reason (`'fail'`, what saliweb itself does to such
   * jobs when it restarts).
   * @defaultValue 'fail'
   */
  adoptedTransientSteps?: 'rerun' | 'fail';
  /**
   * How long a step may take, in milliseconds, before the job fails with
   * `StepTimeoutError` (naming the job, the step and the limit): `default`
   * for every step, or per step (`{ preprocess: 600_000 }`). The step's call
   * is then abandoned: it may go on in the worker, but nothing it returns or
   * writes to its metadata is used. At most 2^31 - 1 (24 days); each step
   * runs as an activity bounded by its limit.
   * @defaultValue `{ default: 3_600_000 }` (one hour)
   */
  stepTimeouts?: { default?: number } & Partial<Record<TimedStep, number>>;
  /**
   * Which typed causes of a failed cluster run rerun it, how often, and with
   * what: e.g. `{ memory_exceeded: { attempts: 3, factor: 2, cap: '16G' },
   * walltime_exceeded: { attempts: 2, cap: '8:00:00' }, node_failure: {
   * attempts: 2 } }`. Memory and walltime grow by `factor` (default 2) from
   * the larger of the run's limit and its observed peak, up to `cap`, and are
   * applied to the submission (SGE `-l h_vmem`/`mem_free`, `h_rt`; SLURM
   * `--mem`, `--time`). A cause not listed fails the job; `exit_code` is
   * never retried unless listed. The rerun is the same cycle for the service
   * (`job.cycle` does not change). Budgets are kept in the job directory.
   */
  retryOn?: RetryOn;
  /** At most this many retries in one job, all causes together. @defaultValue no limit beyond each cause's */
  maxRetries?: number;
  preprocess?(job: JobContext<M>): MaybePromise<PreprocessResult | void>;
  /** What to run, and where. */
  run(job: JobContext<M>): MaybePromise<RunnerSpec>;
  /** What to run on a rescheduled cycle; defaults to `run`. */
  rerun?(job: JobContext<M>, data: RerunData | undefined): MaybePromise<RunnerSpec>;
  /** `results` lists the result files of a web-service run (undefined for other runners). */
  postprocess?(job: JobContext<M>, results?: ResultFile[]): MaybePromise<PostprocessResult | void>;
  finalize?(job: JobContext<M>): MaybePromise<void>;
  complete?(job: JobContext<M>): MaybePromise<void>;
  archive?(job: JobContext<M>): MaybePromise<void>;
  expire?(job: JobContext<M>): MaybePromise<void>;
  /** Replaces the default "job complete, results at <url>" e-mail. */
  sendJobCompletedEmail?(job: JobContext<M>): MaybePromise<void>;
}

export type StepName = Exclude<
  keyof Service,
  'columns' | 'configSections' | 'interruptedSteps' | 'stepTimeouts' | 'retryOn' | 'maxRetries'
>;

/** The steps a timeout applies to (`run` also bounds `rerun`). */
export type TimedStep = Exclude<StepName, 'rerun'>;

/**
 * Every key `defineService({...})` accepts, and whether it is a step (a function). A `Record` over
 * `keyof Service`, so a key added to `Service` without being added here is a compile error.
 */
const SERVICE_KEYS: Readonly<Record<keyof Service, 'step' | 'option'>> = {
  columns: 'option',
  configSections: 'option',
  interruptedSteps: 'option',
  adoptedTransientSteps: 'option',
  stepTimeouts: 'option',
  retryOn: 'option',
  maxRetries: 'option',
  preprocess: 'step',
  run: 'step',
  rerun: 'step',
  postprocess: 'step',
  finalize: 'step',
  complete: 'step',
  archive: 'step',
  expire: 'step',
  sendJobCompletedEmail: 'step',
};

/**
 * What is wrong with a service definition: unknown keys (with the nearest spelling), steps
 * that are not functions, a missing `run`. `where` names the definition in the messages
 * (`defineService({...})`, or `defineService({...}) of /srv/modfoo/service.ts` once the
 * worker knows the file). Empty when the definition is sound.
 */
export function serviceDefinitionProblems(service: unknown, where = 'defineService({...})'): string[] {
  if (service === null || typeof service !== 'object' || Array.isArray(service)) {
    const found = service === null ? 'null' : Array.isArray(service) ? 'an array' : typeof service;
    return [`${where} must be given an object with at least a run step ({ run: (job) => ... }); found ${found}`];
  }
  const known = Object.keys(SERVICE_KEYS);
  const keys = Object.keys(service);
  const problems: string[] = [];
  for (const key of keys) {
    if (key in SERVICE_KEYS) continue;
    const nearest = nearestSpelling(key, known);
    problems.push(
      `unknown key ${key} in ${where}` +
        (nearest !== undefined ? `; did you mean ${nearest}?` : `; the keys are ${known.join(', ')}`),
    );
  }
  const record = service as Record<string, unknown>;
  for (const key of keys) {
    if (SERVICE_KEYS[key as keyof Service] !== 'step' || record[key] === undefined) continue;
    if (typeof record[key] !== 'function')
      problems.push(`${key} in ${where} must be a function (a step); found ${describeValue(record[key])}`);
  }
  if (record.run === undefined) {
    const found = keys.length === 0 ? 'no keys' : `the keys ${keys.join(', ')}`;
    problems.push(
      `${where} has no run step, which every service needs (what to run, e.g. ` +
        `run: (job) => localCommand([...]), or doNothing()); found ${found}`,
    );
  }
  return problems;
}

function describeValue(value: unknown): string {
  if (value === null) return 'null';
  if (Array.isArray(value)) return 'an array';
  if (typeof value === 'string') return `the string ${JSON.stringify(value.slice(0, 40))}`;
  return typeof value === 'object' ? 'an object' : `${typeof value} ${String(value)}`;
}

/**
 * Checks the definition and returns it, typed. Unknown step names and wrong return types are
 * compile errors; a module loaded through tsx is not type-checked, so the same mistakes are
 * refused here too, when the module is imported: an unknown key (`postproces`) with its nearest
 * spelling, a step that is not a function, a missing `run` with the keys that were found.
 * @throws ServiceDefinitionError naming each problem
 */
export function defineService<M extends Metadata = Metadata>(service: Service<M>): Service<M> {
  const problems = serviceDefinitionProblems(service);
  if (problems.length > 0) throw new ServiceDefinitionError(problems, service);
  return service;
}
