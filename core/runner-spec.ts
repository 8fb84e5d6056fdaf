/**
 * What a service's `run` step returns: a plain, serialisable description of
 * what to execute and where. The worker's runner backends
 * (activities/runners/) turn a spec into a submitted job; the spec travels
 * through workflow history, so it must stay plain data.
 */

export interface DoNothingSpec {
  kind: 'do-nothing';
}

export interface LocalCommandSpec {
  kind: 'local';
  /** An argv array (run directly) or a shell string (run with /bin/sh -c). */
  command: readonly string[] | string;
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

export interface WebServiceSpec {
  kind: 'web-service';
  /** The remote saliweb service's URL (its `/job` endpoint is appended). */
  url: string;
  /** Form fields; a value starting with `@` is a file path relative to the job directory. */
  fields: Readonly<Record<string, string>>;
}

export type RunnerSpec = DoNothingSpec | LocalCommandSpec | ClusterScriptSpec | WebServiceSpec;
export type RunnerKind = RunnerSpec['kind'];

/** Runs nothing and finishes at once (writes DONE to job-state). */
export function doNothing(): DoNothingSpec {
  return { kind: 'do-nothing' };
}

/** Runs a command on the backend host, in the job directory. Non-zero exit fails the job. */
export function localCommand(command: readonly string[] | string): LocalCommandSpec {
  if (Array.isArray(command) && command.length === 0) throw new TypeError('localCommand needs a non-empty argv array');
  if (typeof command === 'string' && command.trim() === '')
    throw new TypeError('localCommand needs a non-empty command');
  return { kind: 'local', command };
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

export function webService(url: string, fields: Readonly<Record<string, string>> = {}): WebServiceSpec {
  return { kind: 'web-service', url, fields };
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
