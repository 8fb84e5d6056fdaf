/**
 * The lifecycle benchmark: each mode runs the floor (bench/floor/) and then
 * saliflow with the same N, offered load and number of worker processes,
 * one after the other on the same servers, and reports saliflow's figures
 * beside the floor's and as ratios to it.
 */
import { measureFloor } from './floor/measure.js';
import type { Measurement, ModeSpec } from './lib/measurement.js';
import { describeLoad } from './lib/offered-load.js';
import { fixed, significant, table, triple } from './lib/report.js';
import { ratio } from './lib/stats.js';
import { measureSaliflow, type RunContext } from './saliflow.js';

/**
 * The default `npm run bench`: saliweb's default limit, no limit, a real
 * local process, a steady offered rate and two workers. N is small enough
 * for the whole matrix to take ~10 minutes on a shared 2-core machine with
 * the engine of November 2026 (0.5–1 jobs/s at limit 5, where every waiting
 * job polls for admission, so the cost per job grows with N; 2–3.5 jobs/s
 * without); `--jobs` sets every mode's N. N is recorded beside each figure.
 */
export const DEFAULT_MATRIX: ModeSpec[] = [
  { jobs: 50, load: { kind: 'burst', concurrency: 10 }, limit: 5, workers: 1, runner: 'nothing' },
  { jobs: 200, load: { kind: 'burst', concurrency: 10 }, limit: 1000, workers: 1, runner: 'nothing' },
  { jobs: 200, load: { kind: 'burst', concurrency: 10 }, limit: 1000, workers: 1, runner: 'true' },
  { jobs: 200, load: { kind: 'rate', perSecond: 20 }, limit: 1000, workers: 1, runner: 'nothing' },
  { jobs: 200, load: { kind: 'burst', concurrency: 10 }, limit: 1000, workers: 2, runner: 'nothing' },
];

export function modeName(mode: ModeSpec): string {
  const runner =
    mode.runner === 'nothing'
      ? 'doNothing'
      : mode.runner === 'rerun'
        ? 'doNothing, rescheduled once'
        : mode.runner === 'steps'
          ? 'doNothing, preprocess + postprocess'
          : 'local true';
  return `${describeLoad(mode.load)}, limit ${mode.limit}, ${runner}, ${mode.workers} worker${mode.workers > 1 ? 's' : ''}`;
}

export interface Ratios {
  throughput: number;
  latencyP50: number;
  cpuWorker: number;
  cpuTemporal: number;
  cpuWorkerPlusTemporal: number;
  events: number;
  workflowTasks: number;
}

export interface ModeResult {
  name: string;
  spec: ModeSpec;
  floor?: Measurement;
  saliflow?: Measurement;
  ratios?: Ratios;
  error?: string;
}

function ratios(saliflow: Measurement, floor: Measurement): Ratios {
  const both = (m: Measurement) => m.cpuMsPerJob.worker + m.cpuMsPerJob.temporal;
  return {
    throughput: ratio(saliflow.jobsPerSecond, floor.jobsPerSecond),
    latencyP50: ratio(saliflow.latencyMs.toCompleted.p50, floor.latencyMs.toCompleted.p50),
    cpuWorker: ratio(saliflow.cpuMsPerJob.worker, floor.cpuMsPerJob.worker),
    cpuTemporal: ratio(saliflow.cpuMsPerJob.temporal, floor.cpuMsPerJob.temporal),
    cpuWorkerPlusTemporal: ratio(both(saliflow), both(floor)),
    events: ratio(saliflow.history.eventsPerJob, floor.history.eventsPerJob),
    workflowTasks: ratio(saliflow.history.workflowTasksPerJob, floor.history.workflowTasksPerJob),
  };
}

/**
 * Runs a few minimal workflows, not recorded: the first workflows on a server
 * started moments before waited ~6 s (20 wf/s warm, 6.4 cold), which fell on
 * the first mode's floor and tripled its ratio.
 */
export async function warmUpServer(ctx: RunContext): Promise<void> {
  ctx.log('warming the Temporal server up (20 minimal workflows, not recorded)…');
  await measureFloor(
    { jobs: 20, load: { kind: 'burst', concurrency: 10 }, limit: 20, workers: 1, runner: 'nothing' },
    ctx,
  );
}

export async function runMode(spec: ModeSpec, ctx: RunContext): Promise<ModeResult> {
  const name = modeName(spec);
  const result: ModeResult = { name, spec };
  try {
    ctx.log(`${name}, N=${spec.jobs}: floor…`);
    result.floor = await measureFloor(spec, ctx);
    ctx.log(`  floor ${result.floor.jobsPerSecond} workflows/s; saliflow…`);
    result.saliflow = await measureSaliflow(spec, ctx);
    result.ratios = ratios(result.saliflow, result.floor);
    ctx.log(
      `  saliflow ${result.saliflow.jobsPerSecond} jobs/s (${result.ratios.throughput} × floor), ` +
        `${result.saliflow.history.eventsPerJob} events/job, ${result.saliflow.sql?.backendPerJob} SQL/job`,
    );
  } catch (error) {
    result.error = (error as Error).message;
    ctx.log(`  FAILED: ${result.error}`);
  }
  return result;
}

const withFloor = (value: string, floor: string, times?: number) =>
  `${value} (${floor}${times === undefined ? '' : `, ${fixed(times, 1)}×`})`;

export function lifecycleMarkdown(results: readonly ModeResult[], sqlMethod: string): string {
  const headers = [
    'mode',
    'N',
    'jobs/s',
    'floor wf/s',
    'ratio',
    '→RUNNING p50/p95/p99 ms',
    '→COMPLETED p50/p95/p99 ms',
    'floor p50/p95/p99 ms',
    'freed slot → next admission p50/p95/p99 ms',
    'events/job (floor)',
    'WFTs/job (floor)',
    'worker CPU ms/job (floor, ×)',
    'Temporal CPU ms/job (floor, ×)',
    'SQL/job',
    'peak RSS MiB worker / Temporal',
  ];
  const rows = results.map((result) => {
    const { saliflow: s, floor: f, ratios: r } = result;
    if (!s || !f || !r)
      return [
        result.name,
        String(result.spec.jobs),
        `failed: ${result.error ?? '?'}`,
        ...headers.slice(3).map(() => ''),
      ];
    return [
      result.name,
      String(s.jobs),
      significant(s.jobsPerSecond),
      significant(f.jobsPerSecond),
      fixed(r.throughput, 3),
      triple(s.latencyMs.toRunning),
      triple(s.latencyMs.toCompleted),
      triple(f.latencyMs.toCompleted),
      triple(s.latencyMs.slotHandoff),
      withFloor(fixed(s.history.eventsPerJob), fixed(f.history.eventsPerJob)),
      withFloor(fixed(s.history.workflowTasksPerJob), fixed(f.history.workflowTasksPerJob)),
      withFloor(fixed(s.cpuMsPerJob.worker), fixed(f.cpuMsPerJob.worker), r.cpuWorker),
      withFloor(fixed(s.cpuMsPerJob.temporal), fixed(f.cpuMsPerJob.temporal), r.cpuTemporal),
      fixed(s.sql?.backendPerJob),
      `${fixed(s.usage.worker?.peakRssMiB, 0)} / ${fixed(s.usage.temporal?.peakRssMiB, 0)}`,
    ];
  });
  return [
    table(headers, rows),
    '',
    `SQL/job: statements of the worker's MySQL user (${sqlMethod}). CPU: utime+stime of the worker process(es) and of ` +
      'the Temporal server (the dev server, or every service process of the production cluster; shared: other ' +
      'clients count too) from first submission to the end of trailing work. ' +
      'Latencies from the INSERT (audit trigger, µs) for saliflow, from the start call for the floor. ' +
      'Floor: one workflow with one local no-op activity per job, same N, load and worker count.',
  ].join('\n');
}
