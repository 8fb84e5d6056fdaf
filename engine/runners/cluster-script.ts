/**
 * The job script a cluster runner writes into the job directory: the
 * interpreter line, the scheduler directives (so an admin can resubmit it by
 * hand), and for shell interpreters the STARTED/DONE lines of saliweb's
 * completion rule.
 */
import path from 'node:path';

const SH_SHELLS = new Set(['sh', 'bash', 'zsh', 'ksh', 'dash']);
const CSH_SHELLS = new Set(['csh', 'tcsh']);

export interface ScriptParts {
  interpreter: string;
  /** Directive lines without the prefix, e.g. `-N name`. */
  directives: string[];
  /** `#$` for SGE, `#SBATCH` for SLURM. */
  prefix: string;
  body: string;
}

/**
 * saliweb: the script records the job directory before its body runs
 * (`_SALI_JOB_DIR=\`pwd\``, `setenv` for csh/tcsh) and writes STARTED/DONE
 * into `${_SALI_JOB_DIR}/job-state`, so a body that `cd`s into node-local
 * scratch (and removes it) still reports DONE where the backend looks. The
 * body may use `$_SALI_JOB_DIR` too (saliweb's services do). Other
 * interpreters get no lines: their script writes job-state itself.
 */
function jobStateLines(interpreter: string): { start: string[]; end: string[] } {
  const shell = path.basename(interpreter);
  const write = (state: string) => `echo "${state}" > "\${_SALI_JOB_DIR}/job-state"`;
  if (SH_SHELLS.has(shell)) return { start: ['_SALI_JOB_DIR=`pwd`', write('STARTED')], end: [write('DONE')] };
  if (CSH_SHELLS.has(shell)) return { start: ['setenv _SALI_JOB_DIR `pwd`', write('STARTED')], end: [write('DONE')] };
  return { start: [], end: [] };
}

export function renderScript({ interpreter, directives, prefix, body }: ScriptParts): string {
  const { start, end } = jobStateLines(interpreter);
  return [
    `#!${interpreter}`,
    ...directives.map((directive) => `${prefix} ${directive}`),
    ...start,
    body.trimEnd(),
    ...end,
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
  return optionWords(options).map((word) => word.text);
}

interface OptionWord {
  text: string;
  start: number;
  end: number;
}

function optionWords(options: string): OptionWord[] {
  const pattern = /"([^"]*)"|'([^']*)'|(\S+)/g;
  return [...options.matchAll(pattern)].map((match) => ({
    text: match[1] ?? match[2] ?? match[3] ?? '',
    start: match.index,
    end: match.index + match[0].length,
  }));
}

/**
 * A job name in a service's options (`-N name` for SGE; `-J name`, `-Jname`,
 * `--job-name name`, `--job-name=name` for SLURM) taken out of them. The
 * scheduler would let it override saliflow's unique cluster job name, which
 * the exactly-once lookup finds a run by after a crash (submission-record.ts),
 * so a second copy would be submitted. The name the service asked for is not
 * lost: it becomes the start of the unique name (`name_1a2b3c4d`), as a
 * `name` in the spec does. The last one given wins, as the scheduler takes it.
 */
export function takeJobName(kind: 'sge' | 'slurm', options: string): { options: string; name?: string } {
  const words = optionWords(options);
  const cuts: { start: number; end: number }[] = [];
  let name: string | undefined;
  for (let i = 0; i < words.length; i++) {
    const word = words[i]!;
    const separate = kind === 'sge' ? word.text === '-N' : word.text === '-J' || word.text === '--job-name';
    if (separate) {
      const value = words[i + 1];
      if (value) name = value.text;
      cuts.push({ start: word.start, end: (value ?? word).end });
      i++;
      continue;
    }
    const joined = kind === 'slurm' ? (/^--job-name=(.*)$/s.exec(word.text) ?? /^-J(.+)$/s.exec(word.text)) : undefined;
    if (joined) {
      name = joined[1]!;
      cuts.push({ start: word.start, end: word.end });
    }
  }
  if (cuts.length === 0) return { options };
  const kept: string[] = [];
  let from = 0;
  for (const cut of cuts) {
    kept.push(options.slice(from, cut.start));
    from = cut.end;
  }
  kept.push(options.slice(from));
  const rest = kept
    .map((piece) => piece.trim())
    .filter(Boolean)
    .join(' ');
  return { options: rest, ...(name ? { name } : {}) };
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
