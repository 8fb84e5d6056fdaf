// A fake SGE and SLURM for the runner conformance suite: one program that
// answers as qsub, qstat, qacct, qdel, sbatch, squeue, scontrol and scancel
// (argv[2] says which), keeping its queue in a JSON state file. Jobs really
// run: a job's script is started detached when the job leaves the queue's
// pending state, and its exit code is read back at the next query, so the
// runners see the same life cycle as on a real cluster, in milliseconds and
// without root. The state's `faults` make a command misbehave on demand;
// fake-scheduler.ts (the tests' side) writes them.
//
// Plain JavaScript so that each call starts as fast as node can.
import fs from 'node:fs';
import path from 'node:path';
import { spawn } from 'node:child_process';

const [command, ...args] = process.argv.slice(2);
const stateFile = process.env.FAKE_SCHEDULER_STATE;
if (!stateFile) {
  console.error('fake-scheduler: FAKE_SCHEDULER_STATE is not set');
  process.exit(2);
}
const lockDir = `${stateFile}.lock`;

function sleepMs(ms) {
  Atomics.wait(new Int32Array(new SharedArrayBuffer(4)), 0, 0, ms);
}

/** One command at a time: mkdir is atomic, and a lock older than 10 s is from a killed call. */
function withState(change) {
  for (let tries = 0; ; tries++) {
    try {
      fs.mkdirSync(lockDir);
      break;
    } catch {
      try {
        if (Date.now() - fs.statSync(lockDir).mtimeMs > 10_000) fs.rmdirSync(lockDir);
      } catch {
        // gone meanwhile
      }
      if (tries > 2000) throw new Error('fake-scheduler: state lock held too long');
      sleepMs(5);
    }
  }
  try {
    const state = JSON.parse(fs.readFileSync(stateFile, 'utf8'));
    const result = change(state);
    fs.writeFileSync(`${stateFile}.tmp`, JSON.stringify(state, null, 1));
    fs.renameSync(`${stateFile}.tmp`, stateFile);
    return result;
  } finally {
    fs.rmdirSync(lockDir);
  }
}

const out = [];
const err = [];
let exitCode = 0;

/** The fault set for this command, used up one call at a time. */
function takeFault(state) {
  const fault = state.faults[command];
  if (!fault) return undefined;
  if (fault.times !== undefined) {
    fault.times -= 1;
    if (fault.times <= 0) delete state.faults[command];
  }
  return fault.mode;
}

function directives(script, prefix) {
  const text = fs.readFileSync(script, 'utf8');
  return text
    .split('\n')
    .filter((line) => line.startsWith(`${prefix} `))
    .map((line) => line.slice(prefix.length + 1).trim());
}

function option(lines, flags) {
  for (const line of lines) {
    const words = line.split(/\s+/);
    for (let i = 0; i < words.length; i++) {
      for (const flag of flags) {
        if (words[i] === flag) return words[i + 1];
        if (flag.startsWith('--') && words[i].startsWith(`${flag}=`)) return words[i].slice(flag.length + 1);
      }
    }
  }
  return undefined;
}

function taskList(spec) {
  if (!spec) return undefined;
  const match = /^(\d+)-(\d+)(?::(\d+))?/.exec(spec);
  if (!match) return [Number(spec)];
  const tasks = [];
  for (let t = Number(match[1]); t <= Number(match[2]); t += Number(match[3] ?? 1)) tasks.push(t);
  return tasks;
}

/** `100M`, `1G`, `1024` (SLURM: MiB) → bytes. */
function memoryBytes(text, defaultUnit) {
  const match = /^(\d+(?:\.\d+)?)([KMGT]?)$/i.exec(text ?? '');
  if (!match) return undefined;
  return Number(match[1]) * 1024 ** ' KMGT'.indexOf((match[2] || defaultUnit).toUpperCase());
}

/** `2`, `0:0:2` (seconds, SGE) or `00:01:00`, `5` (minutes, SLURM) → seconds. */
function seconds(text, bareUnit) {
  const clock = /^(?:(\d+):)?(\d+):(\d+)$/.exec(text ?? '');
  if (clock) return Number(clock[1] ?? 0) * 3600 + Number(clock[2]) * 60 + Number(clock[3]);
  return /^\d+$/.test(text ?? '') ? Number(text) * bareUnit : undefined;
}

/**
 * The limits the fake enforces, as the real schedulers would: SGE `-l
 * h_rt=,h_vmem=`, SLURM `--time`, `--mem`. A job's memory use is what its
 * script writes to `fake-memory-use` (bytes) in its directory.
 */
function limitsOf(kind, lines) {
  if (kind === 'sge') {
    const requests = lines.flatMap((line) => [...line.matchAll(/(?:^|\s)-l\s+(\S+)/g)].map((m) => m[1])).join(',');
    const resource = (name) => new RegExp(`(?:^|,)${name}=([^,]+)`).exec(requests)?.[1];
    return {
      memory: memoryBytes(resource('h_vmem') ?? resource('mem_free'), ' '),
      time: seconds(resource('h_rt'), 1),
      category: requests ? `-l ${requests}` : '',
    };
  }
  return { memory: memoryBytes(option(lines, ['--mem']), 'M'), time: seconds(option(lines, ['--time', '-t']), 60) };
}

function submit(state, kind, scriptArg) {
  const cwd = process.cwd();
  const script = path.resolve(cwd, scriptArg);
  const lines = directives(script, kind === 'sge' ? '#$' : '#SBATCH');
  const name = option(lines, kind === 'sge' ? ['-N'] : ['-J', '--job-name']) ?? path.basename(script);
  const tasks = taskList(option(lines, kind === 'sge' ? ['-t'] : ['-a', '--array']));
  const workdir = kind === 'slurm' ? (option(lines, ['--chdir']) ?? cwd) : cwd;
  const id = String(state.nextId++);
  const limits = limitsOf(kind, lines);
  state.jobs.push({ id, kind, name, cwd: workdir, script, tasks, phase: 'pending', submissions: 1, limits });
  return id;
}

/** Starts every task of a job, detached; each writes its exit code to a file when it ends. */
function start(state, job) {
  job.phase = 'running';
  job.startedAt = Date.now();
  job.runs = (job.tasks ?? [undefined]).map((task) => {
    const exitFile = path.join(state.dir, `exit-${job.id}-${task ?? 0}-${job.submissions}`);
    const env = { ...process.env, FAKE_EXIT_FILE: exitFile };
    if (task !== undefined) Object.assign(env, { SGE_TASK_ID: String(task), SLURM_ARRAY_TASK_ID: String(task) });
    const child = spawn('/bin/sh', ['-c', '/bin/sh "$0"; echo $? > "$FAKE_EXIT_FILE"', job.script], {
      cwd: job.cwd,
      env,
      detached: true,
      stdio: 'ignore',
    });
    child.unref();
    return { task, pid: child.pid, exitFile };
  });
}

/** Moves the queue on: pending jobs start, jobs whose tasks all wrote an exit code end. */
function advance(state) {
  for (const job of state.jobs) {
    if (job.phase === 'pending' && !job.held) start(state, job);
    else if (job.phase === 'running' && overLimit(job)) {
      const what = overLimit(job);
      kill(job);
      const wall = (Date.now() - job.startedAt) / 1000;
      // Killed at the limit: the peak accounting sees is the limit (SGE's maxvmem), not what was wanted.
      const killed = { exitCode: job.kind === 'sge' ? 137 : 0, signal: 9, killedFor: what, wall };
      if (what === 'memory') Object.assign(killed, { peak: job.limits.memory, state: 'OUT_OF_MEMORY' });
      else Object.assign(killed, { state: 'TIMEOUT' });
      end(state, job, [killed]);
    } else if (job.phase === 'running') {
      const codes = job.runs.map((run) => {
        try {
          return Number(fs.readFileSync(run.exitFile, 'utf8').trim());
        } catch {
          return undefined;
        }
      });
      if (codes.every((code) => code !== undefined))
        end(
          state,
          job,
          codes.map((code) => ({ exitCode: code })),
        );
    }
  }
}

/** Which limit a running job is over ('memory', 'time'), checked at each query as a scheduler's daemon would. */
function overLimit(job) {
  const limits = job.limits ?? {};
  if (limits.memory !== undefined) {
    let use;
    try {
      use = Number(fs.readFileSync(path.join(job.cwd, 'fake-memory-use'), 'utf8').trim());
    } catch {
      use = undefined;
    }
    if (use !== undefined && use > limits.memory) return 'memory';
  }
  if (limits.time !== undefined && Date.now() - job.startedAt > limits.time * 1000) return 'time';
  return undefined;
}

function end(state, job, outcomes) {
  if (!outcomes[0]?.wall && job.startedAt)
    outcomes = outcomes.map((o) => ({ wall: (Date.now() - job.startedAt) / 1000, ...o }));
  job.phase = 'ended';
  job.outcomes = job.runs.map((run, i) => ({ task: run.task, ...outcomes[Math.min(i, outcomes.length - 1)] }));
  if (job.kind === 'slurm' && state.jobcomp) {
    for (const outcome of job.outcomes) fs.appendFileSync(state.jobcomp, `${jobcompLine(job, outcome)}\n`);
  }
}

function kill(job) {
  for (const run of job.runs ?? []) {
    try {
      process.kill(-run.pid, 'SIGKILL');
    } catch {
      // already ended
    }
  }
}

function slurmState(outcome) {
  if (outcome.state) return outcome.state;
  return outcome.exitCode === 0 && !outcome.signal ? 'COMPLETED' : 'FAILED';
}

function jobcompLine(job, outcome) {
  const array = outcome.task !== undefined ? ` ArrayJobId=${job.id} ArrayTaskId=${outcome.task}` : '';
  return (
    `JobId=${job.id} UserId=fake(1) GroupId=fake(1) Name=${job.name} JobState=${slurmState(outcome)} ` +
    `Partition=main${array} TimeLimit=${slurmLimit(job)} RunTime=${slurmClock(outcome.wall)} ` +
    `DerivedExitCode=0:0 ExitCode=${outcome.exitCode ?? 0}:${outcome.signal ?? 0} `
  );
}

function slurmClock(wall) {
  const total = Math.round(wall ?? 0);
  const two = (n) => String(n).padStart(2, '0');
  return `${two(Math.floor(total / 3600))}:${two(Math.floor((total % 3600) / 60))}:${two(total % 60)}`;
}

function slurmLimit(job) {
  return job.limits?.time !== undefined ? slurmClock(job.limits.time) : 'UNLIMITED';
}

function misbehave(mode) {
  // A hung command: the sleep happens after the state lock is released.
  if (mode === 'timeout') return true;
  if (mode === 'garbage') {
    out.push('<html><body>502 Bad Gateway</body>');
    return true;
  }
  if (mode === 'empty') return true;
  if (mode === 'fail') {
    err.push(`${command}: error: Unable to contact the controller (fake fault)`);
    exitCode = 1;
    return true;
  }
  return false;
}

function visible(state) {
  return state.jobs.filter((job) => !job.lost);
}

const commands = {
  qsub(state) {
    const id = submit(state, 'sge', args.at(-1));
    const job = state.jobs.at(-1);
    return job.tasks ? `${id}.${job.tasks[0]}-${job.tasks.at(-1)}:1` : id;
  },
  sbatch(state) {
    return submit(state, 'slurm', args.at(-1));
  },
  qstat(state) {
    advance(state);
    const entry = (job) =>
      `    <job_list state="${job.phase === 'running' ? 'running' : 'pending'}">\n` +
      `      <JB_job_number>${job.id}</JB_job_number>\n      <JB_name>${job.name}</JB_name>\n` +
      `      <JB_owner>fake</JB_owner>\n      <state>${job.phase === 'running' ? 'r' : job.held ? 'hqw' : 'qw'}</state>\n` +
      (job.tasks && job.phase !== 'running' ? `      <tasks>${job.tasks[0]}-${job.tasks.at(-1)}:1</tasks>\n` : '') +
      `    </job_list>\n`;
    const queued = visible(state).filter((job) => job.phase !== 'ended');
    return (
      `<?xml version='1.0'?>\n<job_info>\n  <queue_info>\n` +
      queued
        .filter((job) => job.phase === 'running')
        .map(entry)
        .join('') +
      `  </queue_info>\n  <job_info>\n` +
      queued
        .filter((job) => job.phase !== 'running')
        .map(entry)
        .join('') +
      `  </job_info>\n</job_info>`
    );
  },
  qacct(state) {
    const key = args[args.indexOf('-j') + 1];
    const jobs = visible(state).filter((job) => job.phase === 'ended' && (job.name === key || job.id === key));
    if (jobs.length === 0) {
      err.push(`error: job name ${key} not found`);
      exitCode = 1;
      return '';
    }
    return jobs
      .flatMap((job) =>
        job.outcomes.map((outcome) => {
          const status = outcome.signal ? 128 + outcome.signal : outcome.exitCode;
          return [
            '==============================================================',
            `jobname      ${job.name}`,
            `jobnumber    ${job.id}`,
            `taskid       ${outcome.task ?? 'undefined'}`,
            `failed       ${outcome.killedFor ? '37  : qmaster enforced h_rt, h_cpu, or h_vmem limit' : (outcome.failed ?? (outcome.signal ? '100 : assumedly after job' : '0'))}`,
            `exit_status  ${outcome.killedFor ? 137 : status}`,
            `ru_wallclock ${Math.round(outcome.wall ?? 0)}s`,
            ...(job.limits?.category ? [`category     ${job.limits.category}`] : []),
            `maxvmem      ${((outcome.peak ?? 1024 ** 2) / 1024 ** 2).toFixed(3)}MB`,
          ].join('\n');
        }),
      )
      .join('\n');
  },
  qdel(state) {
    const job = visible(state).find((candidate) => candidate.id === args[0] && candidate.phase !== 'ended');
    if (!job) {
      err.push(`denied: job "${args[0]}" does not exist`);
      exitCode = 1;
      return '';
    }
    kill(job);
    if (!job.runs) job.runs = (job.tasks ?? [undefined]).map((task) => ({ task }));
    end(state, job, [{ exitCode: 0, signal: 9, failed: '100 : assumedly after job', state: 'CANCELLED' }]);
    return `fake has registered the job ${job.id} for deletion`;
  },
  squeue(state) {
    advance(state);
    const ids = args.includes('-j') ? args[args.indexOf('-j') + 1].split(',') : undefined;
    const name = args.includes('-n') ? args[args.indexOf('-n') + 1] : undefined;
    const jobs = visible(state).filter((job) => (!ids || ids.includes(job.id)) && (!name || job.name === name));
    if (ids && jobs.length === 0) {
      err.push('slurm_load_jobs error: Invalid job id specified');
      exitCode = 1;
      return '';
    }
    const rows = [];
    for (const job of jobs) {
      const row = (id, state, reason) => `${id}|${job.id}|${state}|${job.name}|${reason}`;
      if (job.phase === 'ended') {
        for (const outcome of job.outcomes) {
          const id = outcome.task !== undefined ? `${job.id}_${outcome.task}` : job.id;
          rows.push(row(id, slurmState(outcome), slurmState(outcome) === 'FAILED' ? 'NonZeroExitCode' : 'None'));
        }
      } else if (job.phase === 'running') {
        for (const run of job.runs)
          rows.push(row(run.task !== undefined ? `${job.id}_${run.task}` : job.id, 'RUNNING', 'None'));
      } else {
        const id = job.tasks ? `${job.id}_[${job.tasks[0]}-${job.tasks.at(-1)}]` : job.id;
        rows.push(row(id, 'PENDING', job.held ? 'JobHeldUser' : 'Priority'));
      }
    }
    return rows.join('\n');
  },
  scontrol(state) {
    const id = args.at(-1);
    const job = visible(state).find((candidate) => candidate.id === id);
    if (!job) {
      err.push('slurm_load_jobs error: Invalid job id specified');
      exitCode = 1;
      return '';
    }
    if (job.phase !== 'ended') {
      return `JobId=${job.id} JobName=${job.name} UserId=fake(1) JobState=${job.phase === 'running' ? 'RUNNING' : 'PENDING'} Reason=None ExitCode=0:0`;
    }
    return job.outcomes
      .map((outcome) => {
        const array = outcome.task !== undefined ? ` ArrayJobId=${job.id} ArrayTaskId=${outcome.task}` : '';
        const state = slurmState(outcome);
        const reason = state === 'FAILED' ? 'NonZeroExitCode' : state === 'TIMEOUT' ? 'TimeLimit' : 'None';
        return (
          `JobId=${job.id}${array} JobName=${job.name} UserId=fake(1) JobState=${state} Reason=${reason} ` +
          `RunTime=${slurmClock(outcome.wall)} TimeLimit=${slurmLimit(job)} ExitCode=${outcome.exitCode ?? 0}:${outcome.signal ?? 0}`
        );
      })
      .join('\n');
  },
  scancel(state) {
    const job = visible(state).find((candidate) => candidate.id === args[0]);
    if (!job) {
      err.push(`scancel: error: Kill job error on job id ${args[0]}: Invalid job id specified`);
      exitCode = 1;
      return '';
    }
    if (job.phase === 'ended') return '';
    kill(job);
    if (!job.runs) job.runs = (job.tasks ?? [undefined]).map((task) => ({ task }));
    end(state, job, [{ exitCode: 0, signal: 15, state: 'CANCELLED' }]);
    return '';
  },
};

if (!commands[command]) {
  console.error(`fake-scheduler: unknown command ${command}`);
  process.exit(2);
}

const fault = withState((state) => {
  state.calls.push({ command, at: Date.now() });
  const mode = takeFault(state);
  if (mode && misbehave(mode)) return mode;
  const printed = commands[command](state);
  if (printed) out.push(printed);
  // The toil#5459 case: the job is queued, yet the submit command reports an error.
  if (mode === 'accept-then-fail') {
    out.length = 0;
    err.push(
      command === 'qsub'
        ? 'error: commlib error: got read error (closing "fake/qmaster/1") (fake fault, job was queued)'
        : 'sbatch: error: Socket timed out on send/recv operation (fake fault, job was queued)',
    );
    exitCode = 1;
  }
  return mode;
});
if (fault === 'timeout') sleepMs(30_000);
if (out.length > 0) process.stdout.write(`${out.join('\n')}\n`);
if (err.length > 0) process.stderr.write(`${err.join('\n')}\n`);
process.exit(exitCode);
