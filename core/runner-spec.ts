/**
 * What a service's `run` step returns: a plain, serialisable description of
 * what to execute and where. The worker's runner backends
 * (engine/runners/) turn a spec into a submitted job; the spec travels
 * through workflow history, so it must stay plain data.
 */

export interface DoNothingSpec {
  kind: 'do-nothing';
}

export interface LocalCommandSpec {
  kind: 'local';
  /** An argv array (run directly) or a shell string (run with /bin/sh -c). */
  command: readonly string[] | string;
  /**
   * Extra environment variables. A local command inherits the worker's
   * environment, as saliweb's LocalRunner does the daemon's, except
   * saliflow's own settings and secrets (`SALIFLOW_*`, `TEMPORAL_*`,
   * `MYSQL_PWD`); these are added, or replace the worker's.
   */
  env?: Readonly<Record<string, string>>;
}

export interface ClusterScriptSpec {
  kind: 'sge' | 'slurm';
  /** The body of the job script, run in the job directory. */
  script: string;
  /** @defaultValue '/bin/sh' */
  interpreter?: string;
  /** Scheduler options, e.g. `-l h_rt=1:00:00` or `-t 1-10:1` for SGE, `--mem=1G` or `-a 1-10` for SLURM. */
  options?: string;
  /** Cluster job name; defaults to the saliflow job name (sanitised by the runner). */
  name?: string;
}

/**
 * The form of a web-service run, as saliweb's `SaliWebServiceRunner(url, args)` takes it: curl-style `-F`
 * strings, `'name=value'` or `'name=@file'` (the file, relative to the job directory, is uploaded); a name may
 * repeat. An object (`{ name: 'value', pdb: '@input.pdb' }`) is the same with each name once.
 */
export type WebServiceFields = readonly string[] | Readonly<Record<string, string>>;

export interface WebServiceSpec {
  kind: 'web-service';
  /** The remote saliweb service's job submission URL, posted to as given (saliweb's: `https://…/job`). */
  url: string;
  fields: WebServiceFields;
}

export type RunnerSpec = DoNothingSpec | LocalCommandSpec | ClusterScriptSpec | WebServiceSpec;
export type RunnerKind = RunnerSpec['kind'];

/** Runs nothing and finishes at once (writes DONE to job-state). */
export function doNothing(): DoNothingSpec {
  return { kind: 'do-nothing' };
}

/** Runs a command on the backend host, in the job directory. Non-zero exit fails the job. */
export function localCommand(
  command: readonly string[] | string,
  options: { env?: Readonly<Record<string, string>> } = {},
): LocalCommandSpec {
  if (Array.isArray(command) && command.length === 0) throw new TypeError('localCommand needs a non-empty argv array');
  if (typeof command === 'string' && command.trim() === '')
    throw new TypeError('localCommand needs a non-empty command');
  return { kind: 'local', command, ...(options.env ? { env: options.env } : {}) };
}

export function sgeScript(script: string, options: Omit<ClusterScriptSpec, 'kind' | 'script'> = {}): ClusterScriptSpec {
  return { kind: 'sge', script, ...options };
}

export function slurmScript(
  script: string,
  options: Omit<ClusterScriptSpec, 'kind' | 'script'> = {},
): ClusterScriptSpec {
  return { kind: 'slurm', script, ...options };
}

/**
 * Submits the job to another saliweb service: `url` is its `…/job` URL (as saliweb's `SaliWebServiceRunner`
 * takes it), `fields` its form, e.g. `['name=test', 'pdb=@input.pdb', 'chain=A', 'chain=B']`.
 */
export function webService(url: string, fields: WebServiceFields = []): WebServiceSpec {
  return { kind: 'web-service', url, fields: Array.isArray(fields) ? [...fields] : { ...fields } };
}

/** The form's fields in order as `[name, value]` (a value starting with `@` names a file to upload). */
export function webServiceFieldEntries(fields: WebServiceFields): [string, string][] {
  if (!Array.isArray(fields)) return Object.entries(fields as Readonly<Record<string, string>>);
  return (fields as readonly string[]).map((field) => {
    const equals = field.indexOf('=');
    return [field.slice(0, equals), field.slice(equals + 1)];
  });
}

/** What the runner hands to `postprocess`: remote result files, for the web-service runner. */
export interface RunResults {
  urls: string[];
}

/** A result file of a web-service run, as `postprocess` receives it. */
export interface ResultFile {
  url: string;
  /** The URL's last path segment, decoded: saliweb names result files that way. */
  name: string;
  /**
   * Downloads the file to `target` (relative to the job directory; default
   * `name`), never outside the job directory, and returns its absolute path.
   */
  download(target?: string): Promise<string>;
}

const RUNNER_MAKERS = 'doNothing(), localCommand(), sgeScript(), slurmScript() or webService()';

function isPlainObject(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

function stringRecordProblem(field: string, value: unknown): string | undefined {
  if (!isPlainObject(value)) return `${field} must be an object of strings`;
  const bad = Object.entries(value).find(([, item]) => typeof item !== 'string');
  return bad ? `${field}.${bad[0]} must be a string, not ${typeof bad[1]}` : undefined;
}

function curlFieldsProblem(fields: unknown[]): string | undefined {
  const bad = fields.findIndex((field) => typeof field !== 'string' || !/^[^=]+=/.test(field));
  if (bad < 0) return undefined;
  return `fields[${bad}] must be a curl-style 'name=value' or 'name=@file' string, not ${describeValue(fields[bad])}`;
}

function optionalStringProblem(spec: Record<string, unknown>, field: string): string | undefined {
  const value = spec[field];
  return value === undefined || typeof value === 'string'
    ? undefined
    : `${field} must be a string, not ${typeof value}`;
}

/**
 * What is wrong with a value `run`/`rerun` returned, naming the field; or
 * undefined for a valid runner spec. Checked where the spec enters, so a bad
 * one fails its job at once instead of being retried.
 */
export function runnerSpecProblem(spec: unknown): string | undefined {
  if (!isPlainObject(spec)) return `it returned ${describeValue(spec)}, not a runner; return one of ${RUNNER_MAKERS}`;
  switch (spec.kind) {
    case 'do-nothing':
      return undefined;
    case 'local': {
      const command = spec.command;
      if (typeof command === 'string') {
        if (command.trim() === '') return 'command is an empty string';
      } else if (Array.isArray(command)) {
        if (command.length === 0) return 'command is an empty argv array';
        const bad = command.findIndex((arg) => typeof arg !== 'string');
        if (bad >= 0) return `command[${bad}] must be a string, not ${typeof command[bad]}`;
      } else {
        return `command must be an argv array or a shell string, not ${describeValue(command)}`;
      }
      return spec.env === undefined ? undefined : stringRecordProblem('env', spec.env);
    }
    case 'sge':
    case 'slurm':
      if (typeof spec.script !== 'string' || spec.script.trim() === '')
        return `script must be a non-empty string, not ${describeValue(spec.script)}`;
      return (
        optionalStringProblem(spec, 'interpreter') ??
        optionalStringProblem(spec, 'options') ??
        optionalStringProblem(spec, 'name')
      );
    case 'web-service':
      if (typeof spec.url !== 'string' || !URL.canParse(spec.url))
        return `url must be an absolute URL, not ${describeValue(spec.url)}`;
      return Array.isArray(spec.fields) ? curlFieldsProblem(spec.fields) : stringRecordProblem('fields', spec.fields);
    default:
      return `kind ${describeValue(spec.kind)} is not a runner kind; return one of ${RUNNER_MAKERS}`;
  }
}

function describeValue(value: unknown): string {
  try {
    const text = JSON.stringify(value) ?? String(value);
    return text.length > 200 ? `${text.slice(0, 200)}…` : text;
  } catch {
    return Object.prototype.toString.call(value);
  }
}
