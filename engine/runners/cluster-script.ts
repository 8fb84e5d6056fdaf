/**
 * The job script a cluster runner writes into the job directory: the
 * interpreter line, the scheduler directives (so an admin can resubmit it by
 * hand), and for shell interpreters the STARTED/DONE lines of saliweb's
 * completion rule.
 */
import path from 'node:path';

const SHELLS_WITH_JOB_STATE = new Set(['sh', 'bash', 'csh', 'tcsh', 'zsh', 'ksh', 'dash']);

export interface ScriptParts {
  interpreter: string;
  /** Directive lines without the prefix, e.g. `-N name`. */
  directives: string[];
  /** `#$` for SGE, `#SBATCH` for SLURM. */
  prefix: string;
  body: string;
}

export function renderScript({ interpreter, directives, prefix, body }: ScriptParts): string {
  const shell = SHELLS_WITH_JOB_STATE.has(path.basename(interpreter));
  return [
    `#!${interpreter}`,
    ...directives.map((directive) => `${prefix} ${directive}`),
    ...(shell ? ['echo "STARTED" > job-state'] : []),
    body.trimEnd(),
    ...(shell ? ['echo "DONE" > job-state'] : []),
    '',
  ].join('\n');
}

/**
 * Cluster job names: no white space; SGE also refuses names starting with a
 * digit and the reserved words NONE, ALL, TEMPLATE, so those get a `J`
 * prefix (saliweb's rule, applied to both schedulers for the same names).
 */
export function clusterJobName(requested: string): string {
  const name = requested.replace(/\s+/g, '').replace(/[/:@\\*?]/g, '_') || 'job';
  return /^\d/.test(name) || ['NONE', 'ALL', 'TEMPLATE'].includes(name.toUpperCase()) ? `J${name}` : name;
}

/**
 * Splits an options string into argv-like words, honouring single and
 * double quotes (options such as `-l h_rt=1:00:00 -N "my job"`).
 */
export function splitOptions(options: string): string[] {
  const words: string[] = [];
  const pattern = /"([^"]*)"|'([^']*)'|(\S+)/g;
  for (const match of options.matchAll(pattern)) words.push(match[1] ?? match[2] ?? match[3] ?? '');
  return words;
}

/** The value of the first of `flags` in an options string (`-t 1-10` or `--array=1-10`). */
export function optionValue(options: string, flags: readonly string[]): string | undefined {
  const words = splitOptions(options);
  for (let i = 0; i < words.length; i++) {
    const word = words[i]!;
    for (const flag of flags) {
      if (word === flag) return words[i + 1];
      if (flag.startsWith('--') && word.startsWith(`${flag}=`)) return word.slice(flag.length + 1);
    }
  }
  return undefined;
}

/** An array range as saliweb shows it in runner ids: `1-10` gets its step, `1-10:1`. */
export function arrayRange(spec: string): string {
  return /^\d+-\d+$/.test(spec) ? `${spec}:1` : spec;
}
