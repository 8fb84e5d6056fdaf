/**
 * What `saliflow adopt` does with each job a saliweb daemon left behind,
 * decided from facts gathered beforehand (the row, where its directory
 * really is, what the scheduler says of its run). Pure, so every state and
 * hazard is tested as a table (test/unit/adoption-plan.test.ts).
 *
 * saliweb's habits that shape the rules:
 * - it commits RUNNING before it submits, so a crash leaves RUNNING with a
 *   NULL runner_id, or with the previous cycle's id after a reschedule;
 * - it moves a directory before it commits the row, so a directory may sit
 *   in another state's folder than its row says (the row is the truth);
 * - on its own restart it fails jobs found in a transient state.
 */
import type { RunnerKind } from './runner-spec.js';
import { TRANSIENT_STATES, type JobState } from './states.js';
import { InvalidValueError } from './errors.js';

/** Where the job's directory really is. */
export type DirectoryFact =
  | { where: 'as-row' }
  /** Found under the same name in another state's folder. */
  | { where: 'elsewhere'; path: string }
  | { where: 'missing' };

/** What the scheduler said of a run named by runner_id, asked before planning. */
export type RunFact = 'running' | 'finished' | 'unknown';

export interface AdoptionFacts {
  name: string;
  state: JobState;
  runnerId: string | null;
  /** The row's `directory`. */
  directory: string | null;
  directoryFact: DirectoryFact;
  /** The job already has a saliflow workflow (an earlier `adopt --apply`, or saliflow started it). */
  hasWorkflow: boolean;
  /** For RUNNING rows with a known run: what its runner says now. */
  run?: RunFact;
  /** The job-state file's content and when it was last written, if it exists. */
  jobState?: { text: string; modified: Date };
  /** The row's run_time (when saliweb last entered RUNNING). */
  runTime: Date | null;
  /** For RUNNING rows without a usable runner_id (NULL or stale): live cluster jobs named for the job (`SGE:12`, …). */
  foundByName?: readonly string[];
}

export interface AdoptionChoices {
  /** What to do with a step saliweb left half-done (the service's `adoptedTransientSteps`). */
  transientSteps: 'rerun' | 'fail';
  /** saliweb runner names (lower case) → saliflow runner kinds: the defaults plus `[adopt] runner_names`. */
  runnerNames: Readonly<Record<string, RunnerKind>>;
  /** Runner kinds this deployment has (SGE and SLURM need their config sections). */
  availableKinds: readonly RunnerKind[];
  /** Runner ids the operator gave on the command line (`--runner-id JOB=NAME:ID`), by job. */
  operatorRunnerIds: Readonly<Record<string, string>>;
}

/** saliweb's own runner names and the saliflow runner each maps to. */
export const SALIWEB_RUNNER_NAMES: Readonly<Record<string, RunnerKind>> = {
  sge: 'sge',
  slurm: 'slurm',
  local: 'local',
  saliweb: 'web-service',
  donothing: 'do-nothing',
};

export type AdoptionAction =
  /** Nothing to do: the job stays as it is. */
  | { action: 'leave'; why: string }
  /** Start its workflow, which takes the job on from its row (admission for INCOMING, the step again for a transient state). */
  | { action: 'start'; why: string }
  /** Record saliweb's run as the job's current run, then start its workflow: it only watches that run. */
  | { action: 'watch'; why: string; run: { kind: RunnerKind; id: string } }
  /** Move the row to FAILED with this failure text (no workflow). */
  | { action: 'fail'; why: string; failure: string }
  /** Left RUNNING for the operator, who runs `command`; never submitted blindly. */
  | { action: 'operator'; why: string; command: string };

export type AdoptionPlan = AdoptionAction & {
  job: string;
  state: JobState;
  /** Row and directory disagree: moved back where the row says before anything else. */
  moveBack?: { from: string; to: string };
  /** Something the operator should know or choose, with the choices. */
  problem?: string;
};

export const ACTIONS: readonly AdoptionAction['action'][] = ['start', 'watch', 'fail', 'operator', 'leave'];

/** `NAME:ID` split at the first colon (web-service ids are URLs with colons of their own). */
export function splitRunnerId(runnerId: string): { name: string; id: string } | undefined {
  const colon = runnerId.indexOf(':');
  if (colon <= 0 || colon === runnerId.length - 1) return undefined;
  return { name: runnerId.slice(0, colon), id: runnerId.slice(colon + 1) };
}

/**
 * `[adopt] runner_names`: `wyntonsge=sge, mycluster=slurm`, added to
 * saliweb's own names. Throws a message naming the bad entry.
 */
export function parseRunnerNames(text: string | undefined): Record<string, RunnerKind> {
  const names: Record<string, RunnerKind> = { ...SALIWEB_RUNNER_NAMES };
  const kinds: readonly RunnerKind[] = ['sge', 'slurm', 'local', 'web-service', 'do-nothing'];
  for (const entry of (text ?? '').split(',')) {
    if (entry.trim() === '') continue;
    const [name, kind, ...rest] = entry.split('=').map((part) => part.trim());
    if (!name || !kind || rest.length > 0 || !(kinds as readonly string[]).includes(kind)) {
      throw new InvalidValueError(
        `runner_names entry ${JSON.stringify(entry.trim())} is not NAME=KIND with KIND one of ${kinds.join(', ')}; ` +
          'write e.g. wyntonsge=sge',
      );
    }
    names[name.toLowerCase()] = kind as RunnerKind;
  }
  return names;
}

/** A saliweb runner id as the saliflow run to watch, or why it cannot be watched. */
export function mapRunnerId(
  runnerId: string,
  choices: Pick<AdoptionChoices, 'runnerNames' | 'availableKinds'>,
): { kind: RunnerKind; id: string } | { problem: string } {
  const parts = splitRunnerId(runnerId);
  if (!parts) return { problem: `runner_id ${JSON.stringify(runnerId)} is not NAME:ID` };
  const kind = choices.runnerNames[parts.name.toLowerCase()];
  if (!kind) {
    return {
      problem:
        `unknown runner prefix "${parts.name}" in runner_id ${runnerId}; ` +
        `map it in the config: [adopt] runner_names: ${parts.name.toLowerCase()}=sge (or slurm, local, web-service, do-nothing)`,
    };
  }
  if (!choices.availableKinds.includes(kind)) {
    return { problem: `runner_id ${runnerId} is a ${kind} run, but the config has no [${kind}] section` };
  }
  if (kind === 'local' && !/^\d+$/.test(parts.id)) {
    return { problem: `runner_id ${runnerId}: a local run's id must be a process id` };
  }
  if ((kind === 'sge' || kind === 'slurm') && !/^\d+([._]\S+)?$/.test(parts.id)) {
    return { problem: `runner_id ${runnerId}: not ${kind === 'sge' ? 'an SGE' : 'a SLURM'} job id` };
  }
  if (kind === 'web-service' && !URL.canParse(parts.id)) {
    return { problem: `runner_id ${runnerId}: a saliweb run's id must be its results URL` };
  }
  return { kind, id: parts.id };
}

const STEP: Partial<Record<JobState, string>> = {
  PREPROCESSING: 'preprocess',
  POSTPROCESSING: 'postprocess',
  FINALIZING: 'finalize',
};

function operatorCommand(job: string): string {
  return (
    `workers leave it RUNNING, untouched (never submitted again, never failed by themselves): find the run on the cluster ` +
    `(e.g. qstat -j ${job} / squeue --name ${job}); if it is there, ` +
    `saliflow adopt --apply --runner-id ${job}=NAME:ID; if it never ran, saliflow failjob --reason 'lost by saliweb' ${job} ` +
    `then saliflow resubmit ${job}`
  );
}

export function planAdoption(facts: AdoptionFacts, choices: AdoptionChoices): AdoptionPlan {
  const base = { job: facts.name, state: facts.state };
  const plan = (action: AdoptionAction, extra: Partial<Pick<AdoptionPlan, 'moveBack' | 'problem'>> = {}) =>
    ({ ...base, ...action, ...extra }) as AdoptionPlan;
  if (facts.hasWorkflow) {
    return plan({ action: 'leave', why: 'already has a saliflow workflow (adopted before, or started by saliflow)' });
  }
  const dir = facts.directoryFact;
  let moveBack: AdoptionPlan['moveBack'];
  let problem: string | undefined;
  if (dir.where === 'elsewhere' && facts.directory !== null) {
    moveBack = { from: dir.path, to: facts.directory };
    problem =
      `directory is at ${dir.path} but the row says ${facts.directory} (saliweb moves a directory before it commits ` +
      'its row): moved back where the row says; to keep it where it is instead, fix the row first';
  }
  const extra = { ...(moveBack ? { moveBack } : {}), ...(problem ? { problem } : {}) };

  switch (facts.state) {
    case 'FAILED':
      return plan({ action: 'leave', why: 'FAILED stays FAILED (saliflow resubmit runs it again)' }, extra);
    case 'EXPIRED':
      return plan({ action: 'leave', why: 'EXPIRED: only the row remains' }, extra);
    case 'COMPLETED':
    case 'ARCHIVED': {
      const next = facts.state === 'COMPLETED' ? 'archive_time' : 'expire_time';
      const why = `finished; the old-jobs schedule ${facts.state === 'COMPLETED' ? 'archives' : 'expires'} it at its ${next}`;
      if (dir.where === 'missing' && facts.directory !== null) {
        return plan(
          { action: 'leave', why },
          { problem: `directory ${facts.directory} is missing: its archive/expire steps will fail` },
        );
      }
      return plan({ action: 'leave', why }, extra);
    }
    default:
      break;
  }
  if (dir.where === 'missing') {
    const failure = `adopted from saliweb in ${facts.state} without its directory (${facts.directory ?? 'none recorded'})`;
    return plan(
      { action: 'fail', why: 'its directory is gone: the job cannot go on', failure },
      {
        problem: `directory ${facts.directory ?? '(NULL)'} missing; it fails (restore the directory first to keep it)`,
      },
    );
  }

  if (facts.state === 'INCOMING') {
    return plan({ action: 'start', why: 'queued: admitted in submit order within [limits], after its parents' }, extra);
  }

  if (TRANSIENT_STATES.includes(facts.state)) {
    const step = STEP[facts.state]!;
    if (choices.transientSteps === 'rerun') {
      return plan(
        {
          action: 'start',
          why: `saliweb stopped inside ${step}; the service declares it safe to repeat (adoptedTransientSteps: 'rerun')`,
        },
        extra,
      );
    }
    return plan(
      {
        action: 'fail',
        why: `saliweb stopped inside ${step}; the service does not repeat steps (saliweb's own rule)`,
        failure:
          `job was in the ${facts.state} state when saliweb's backend stopped (an unclean shutdown cut its ${step} ` +
          'short); failed at adoption by saliflow, as saliweb fails such jobs at start-up; resubmit it to run again',
      },
      extra,
    );
  }

  // RUNNING.
  const given = choices.operatorRunnerIds[facts.name];
  const runnerId = given ?? facts.runnerId;
  const found = facts.foundByName ?? [];
  if ((runnerId === null || runnerId.trim() === '') && found.length === 1) {
    const mapped = mapRunnerId(found[0]!, choices);
    if (!('problem' in mapped)) {
      return plan(
        {
          action: 'watch',
          why: `its run ${found[0]} was found on the cluster by the job's name; watched, never submitted again`,
          run: mapped,
        },
        { ...extra, problem: `NULL runner_id in RUNNING: run ${found[0]} found by name (check it is this job's)` },
      );
    }
  }
  if (runnerId === null || runnerId.trim() === '') {
    const several = found.length > 1 ? `; several cluster jobs have its name: ${found.join(', ')}` : '';
    return plan(
      {
        action: 'operator',
        why: 'RUNNING without a runner_id: saliweb committed RUNNING and stopped before it submitted (or while)',
        command: operatorCommand(facts.name),
      },
      {
        ...extra,
        problem: `NULL runner_id in RUNNING: the run may or may not exist; never submitted blindly${several}`,
      },
    );
  }
  const mapped = mapRunnerId(runnerId, choices);
  if ('problem' in mapped) {
    return plan(
      { action: 'operator', why: 'its run cannot be watched', command: operatorCommand(facts.name) },
      { ...extra, problem: mapped.problem },
    );
  }
  if (given === undefined && mayBeEarlierCycle(facts)) {
    const live = found.filter((id) => {
      const other = mapRunnerId(id, choices);
      return !('problem' in other) && !(other.kind === mapped.kind && other.id === mapped.id);
    });
    const foundRun = live.length === 1 ? mapRunnerId(live[0]!, choices) : undefined;
    if (foundRun && !('problem' in foundRun)) {
      return plan(
        {
          action: 'watch',
          why: `runner_id ${runnerId} is stale; the run of this cycle, ${live[0]}, was found on the cluster by the job's name; watched, never submitted again`,
          run: foundRun,
        },
        {
          ...extra,
          problem: `stale runner_id ${runnerId} in RUNNING: run ${live[0]} found by name (check it is this job's)`,
        },
      );
    }
    if (isStaleRunnerId(facts) || live.length > 1) {
      const why = isStaleRunnerId(facts)
        ? `runner_id ${runnerId} is stale: that run finished before saliweb entered RUNNING again (a reschedule cut short)`
        : `runner_id ${runnerId} finished without DONE while other cluster jobs have its name`;
      const several = live.length > 1 ? `; several cluster jobs have its name: ${live.join(', ')}` : '';
      return plan(
        { action: 'operator', why, command: operatorCommand(facts.name) },
        { ...extra, problem: `stale runner_id ${runnerId} in RUNNING; never submitted blindly${several}` },
      );
    }
  }
  const said = facts.run ? ` (its runner says: ${facts.run})` : '';
  return plan(
    {
      action: 'watch',
      why:
        mapped.kind === 'do-nothing'
          ? 'saliweb ran nothing (donothing:none): goes on to postprocess'
          : `saliweb's run ${runnerId}${said} is watched, never submitted again; DONE in job-state required, then postprocess`,
      run: mapped,
    },
    { ...extra, ...(given !== undefined ? { problem: `runner id ${given} given by the operator` } : {}) },
  );
}

/**
 * A finished run whose DONE predates the row's entry into RUNNING belongs to
 * an earlier cycle: saliweb rescheduled, committed RUNNING and stopped before
 * it wrote the new run's id.
 */
export function isStaleRunnerId(facts: Pick<AdoptionFacts, 'run' | 'jobState' | 'runTime'>): boolean {
  return (
    facts.run === 'finished' &&
    facts.jobState !== undefined &&
    facts.runTime !== null &&
    facts.jobState.modified.getTime() < facts.runTime.getTime()
  );
}

/**
 * The run runner_id names has finished, yet the job-state file says it is
 * not done, or said DONE before the row re-entered RUNNING: the id may be an
 * earlier cycle's, with this cycle's run on the cluster under the job's name.
 */
export function mayBeEarlierCycle(facts: Pick<AdoptionFacts, 'run' | 'jobState' | 'runTime'>): boolean {
  return (
    facts.run === 'finished' &&
    (isStaleRunnerId(facts) || (facts.jobState !== undefined && !/^DONE\b/.test(facts.jobState.text.trim())))
  );
}

/** How many jobs get each action. */
export function countActions(plans: readonly AdoptionPlan[]): Record<AdoptionAction['action'], number> {
  const counts = Object.fromEntries(ACTIONS.map((action) => [action, 0])) as Record<AdoptionAction['action'], number>;
  for (const plan of plans) counts[plan.action]++;
  return counts;
}
