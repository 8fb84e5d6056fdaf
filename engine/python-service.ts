/**
 * A saliweb Python service as a saliflow Service: the package (or module)
 * defining its `saliweb.backend.Job` subclass and `get_web_service(config_file)`,
 * run unchanged. Each step is one `python3` process (python/saliflow_bridge.py)
 * with the job directory as its working directory, so relative `open()` and
 * `glob` work and one job's step never sees another's; it gets the job's row
 * as JSON on stdin and answers on file descriptor 3 with the metadata it
 * changed, `skip_run`, `reschedule_run` data, the runner, and the mails to
 * send. saliflow's own `saliweb` package (python/) comes first on
 * PYTHONPATH, so an installed saliweb never runs.
 */
import { spawn } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { ServiceModuleError } from '../core/errors.js';
import type { ResultFile, RunnerSpec } from '../core/runner-spec.js';
import type { ColumnSpec } from '../core/schema.js';
import type { ColumnValue, JobContext, Metadata, RerunData, Service } from '../core/service.js';

/** saliflow's python/ folder (saliweb, saliflow_bridge.py): beside engine/ in a checkout, beside dist/ in the package. */
export function saliflowPythonDir(): string {
  let dir = path.dirname(fileURLToPath(import.meta.url));
  for (;;) {
    const candidate = path.join(dir, 'python');
    if (fs.existsSync(path.join(candidate, 'saliflow_bridge.py'))) return candidate;
    const parent = path.dirname(dir);
    if (parent === dir) throw new ServiceModuleError("cannot find saliflow's python/ folder (saliflow_bridge.py)");
    dir = parent;
  }
}

/** Whether `spec` names a Python service: `python:<module>`, a `.py` file, or a package folder. */
export function isPythonServiceSpec(spec: string): boolean {
  if (spec.startsWith('python:') || spec.endsWith('.py')) return true;
  return fs.existsSync(path.join(spec, '__init__.py'));
}

/** The module to import and the folder to put on PYTHONPATH for it. */
export function pythonModuleOf(spec: string): { module: string; directory: string | undefined } {
  const bare = spec.startsWith('python:') ? spec.slice('python:'.length) : spec;
  if (bare.endsWith('.py') || bare.includes('/') || fs.existsSync(path.join(bare, '__init__.py'))) {
    // A linked package (services-dir) is imported where it lives, so its relative imports work.
    const real = fs.existsSync(bare) ? fs.realpathSync(bare) : path.resolve(bare);
    if (real.endsWith('.py')) {
      const base = path.basename(real, '.py');
      return base === '__init__'
        ? { module: path.basename(path.dirname(real)), directory: path.dirname(path.dirname(real)) }
        : { module: base, directory: path.dirname(real) };
    }
    return { module: path.basename(real), directory: path.dirname(real) };
  }
  if (!/^[A-Za-z_][\w.]*$/.test(bare)) {
    throw new ServiceModuleError(
      `${spec}: not a Python module name, a .py file or a package folder (holding __init__.py)`,
    );
  }
  return { module: bare, directory: undefined }; // found on the worker's own PYTHONPATH
}

interface BridgeMail {
  kind: 'user' | 'admin' | 'to';
  to: string[];
  subject: string;
  body: string;
}

interface PythonRunner {
  class: string;
  runner_name: string | null;
  kind: 'sge' | 'slurm' | 'local' | 'do-nothing' | 'web-service';
  script?: string;
  interpreter?: string;
  options?: string;
  name?: string | null;
  command?: string | string[];
  url?: string;
  args?: string[];
}

interface BridgeReply {
  ok: boolean;
  exception?: string;
  mails: BridgeMail[];
  columns?: ColumnSpec[];
  steps?: string[];
  config_sections?: Record<string, string[]>;
  metadata?: Record<string, unknown>;
  skip_run?: boolean;
  reschedule?: { data?: unknown } | null;
  runner?: PythonRunner | null;
}

export interface PythonServiceOptions {
  /** The interpreter; default env SALIFLOW_PYTHON, else `python3`. */
  python?: string;
  env?: NodeJS.ProcessEnv;
}

/** A failed Python step: its message is saliweb's failure text, `Python exception:` and the traceback. */
export class PythonStepError extends Error {
  override name = 'Error';
}

/** JSON can carry no Date: `{ $date: iso }` both ways. */
function encodeValue(value: unknown): unknown {
  if (value instanceof Date) return { $date: value.toISOString() };
  return value;
}

function decodeValue(value: unknown): ColumnValue {
  if (value && typeof value === 'object' && '$date' in value) return new Date((value as { $date: string }).$date);
  if (value === undefined) return null;
  if (typeof value === 'boolean') return value ? 1 : 0;
  if (typeof value === 'object' && value !== null) return JSON.stringify(value);
  return value as ColumnValue;
}

function pythonPath(directory: string | undefined, env: NodeJS.ProcessEnv): string {
  // saliflow's saliweb first: an installed saliweb must never be what a saliflow service imports.
  return [saliflowPythonDir(), directory, env.PYTHONPATH].filter((part) => part).join(path.delimiter);
}

/** Runs the bridge once in `cwd` with `request`; resolves with its reply. */
function callBridge(
  python: string,
  env: NodeJS.ProcessEnv,
  cwd: string,
  request: Record<string, unknown>,
  what: string,
): Promise<BridgeReply> {
  return new Promise((resolve, reject) => {
    const child = spawn(python, [path.join(saliflowPythonDir(), 'saliflow_bridge.py')], {
      cwd,
      env,
      stdio: ['pipe', 'pipe', 'pipe', 'pipe'],
    });
    let output = '';
    let reply = '';
    const keep = (chunk: Buffer) => {
      output = (output + chunk.toString()).slice(-8000);
    };
    child.stdout.on('data', keep);
    child.stderr.on('data', keep);
    const replyStream = child.stdio[3] as NodeJS.ReadableStream;
    replyStream.on('data', (chunk: Buffer) => (reply += chunk.toString()));
    child.on('error', (error) =>
      reject(new ServiceModuleError(`${what}: cannot start ${python}: ${error.message}`, { cause: error })),
    );
    child.on('close', (code, signal) => {
      try {
        resolve(JSON.parse(reply) as BridgeReply);
      } catch {
        reject(
          new PythonStepError(
            `${what}: ${python} ended (${signal ?? `exit ${code}`}) without a reply` +
              (output ? `; its output:\n${output}` : ''),
          ),
        );
      }
    });
    child.stdin.end(JSON.stringify(request));
  });
}

function runnerSpec(runner: PythonRunner): RunnerSpec {
  switch (runner.kind) {
    case 'sge':
    case 'slurm':
      // saliweb: `-t`/`-a` in the options makes an array job; saliflow's runners read them there too.
      return {
        kind: runner.kind,
        script: runner.script ?? '',
        ...(runner.interpreter ? { interpreter: runner.interpreter } : {}),
        ...(runner.options ? { options: runner.options } : {}),
        ...(runner.name ? { name: runner.name } : {}),
      };
    case 'local':
      return { kind: 'local', command: runner.command ?? '' };
    case 'do-nothing':
      return { kind: 'do-nothing' };
    case 'web-service':
      // saliweb's SaliWebServiceRunner(url, args): the remote's `.../job` URL as given, curl-style `-F` fields
      // (`name=value`, `name=@file`, names may repeat); saliflow's web-service runner takes both as they are.
      return { kind: 'web-service', url: runner.url ?? '', fields: [...(runner.args ?? [])] };
  }
}

const STEP_STATE: Record<string, string> = {
  preprocess: 'PREPROCESSING',
  run: 'RUNNING',
  rerun: 'RUNNING',
  postprocess: 'POSTPROCESSING',
  finalize: 'FINALIZING',
  complete: 'COMPLETED',
  send_job_completed_email: 'COMPLETED',
  archive: 'ARCHIVED',
  expire: 'EXPIRED',
};

/**
 * The Python service `spec` (see isPythonServiceSpec) configured by
 * `configFile`, as a Service: its columns and own config sections are
 * asked of Python once, here; only the steps its Job class overrides are
 * defined (an undefined step costs no interpreter).
 */
export async function loadPythonService(
  spec: string,
  configFile: string,
  options: PythonServiceOptions = {},
): Promise<Service> {
  const parentEnv = options.env ?? process.env;
  const python = options.python ?? parentEnv.SALIFLOW_PYTHON ?? 'python3';
  const { module, directory } = pythonModuleOf(spec);
  const env = { ...parentEnv, PYTHONPATH: pythonPath(directory, parentEnv), PYTHONDONTWRITEBYTECODE: '1' };
  const absoluteConfig = path.resolve(configFile);
  const described = await callBridge(
    python,
    env,
    path.dirname(absoluteConfig),
    { op: 'describe', module, config_file: absoluteConfig },
    `the Python service ${spec}`,
  );
  if (!described.ok) {
    throw new ServiceModuleError(
      `cannot load the Python service ${spec} (module ${module}` +
        `${directory ? ` from ${directory}` : ''}, config ${absoluteConfig}): ${described.exception ?? 'no reason given'}`,
    );
  }
  const steps = new Set(described.steps ?? []);

  async function step(
    job: JobContext,
    name: string,
    extra: { rerunData?: RerunData | undefined; results?: ResultFile[] | undefined } = {},
  ): Promise<BridgeReply> {
    const row: Record<string, unknown> = {
      name: job.name,
      user: job.user,
      contact_email: job.contactEmail,
      directory: job.directory,
      url: job.url,
    };
    for (const [key, value] of Object.entries(job.metadata)) row[key] = encodeValue(value);
    const reply = await callBridge(
      python,
      env,
      job.directory,
      {
        op: 'step',
        module,
        config_file: absoluteConfig,
        step: name,
        state: STEP_STATE[name],
        job: row,
        rerun_data: extra.rerunData ?? null,
        results: extra.results ? extra.results.map((file) => ({ url: file.url, name: file.name })) : null,
      },
      `${name} of job ${job.name}`,
    );
    // Mails the step sent before any exception went out in saliweb too.
    for (const mail of reply.mails ?? []) {
      if (mail.kind === 'user') await job.sendUserEmail(mail.subject, mail.body);
      else if (mail.kind === 'admin') await job.sendAdminEmail(mail.subject, mail.body);
      else await job.sendEmail(mail.to, mail.subject, mail.body);
    }
    if (!reply.ok) throw new PythonStepError(reply.exception ?? 'Python exception: (no traceback)');
    const metadata = job.metadata as Metadata;
    // The context refuses a key that is not a column, naming it.
    for (const [key, value] of Object.entries(reply.metadata ?? {})) metadata[key] = decodeValue(value);
    return reply;
  }

  const runOf = (reply: BridgeReply, job: JobContext): RunnerSpec => {
    if (!reply.runner) throw new PythonStepError(`job ${job.name}: the Python run step returned no runner`);
    return runnerSpec(reply.runner);
  };

  const service: Service = {
    columns: described.columns ?? [],
    configSections: described.config_sections ?? {},
    run: async (job) => runOf(await step(job, 'run'), job),
  };
  if (steps.has('rerun'))
    service.rerun = async (job, data) => runOf(await step(job, 'rerun', { rerunData: data }), job);
  if (steps.has('preprocess'))
    service.preprocess = async (job) => ((await step(job, 'preprocess')).skip_run ? { skipRun: true } : undefined);
  if (steps.has('postprocess'))
    service.postprocess = async (job, results) => {
      const reply = await step(job, 'postprocess', { results });
      if (!reply.reschedule) return undefined;
      const data = reply.reschedule.data as RerunData | undefined;
      return { reschedule: data === undefined || data === null ? {} : { data } };
    };
  for (const [python, ts] of [
    ['finalize', 'finalize'],
    ['complete', 'complete'],
    ['archive', 'archive'],
    ['expire', 'expire'],
    ['send_job_completed_email', 'sendJobCompletedEmail'],
  ] as const) {
    if (steps.has(python))
      service[ts] = async (job) => {
        await step(job, python);
      };
  }
  return service;
}
