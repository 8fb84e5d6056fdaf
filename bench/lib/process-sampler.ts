/**
 * CPU and memory of processes, from /proc: CPU seconds are the delta of
 * utime+stime (/proc/<pid>/stat) between start() and stop(); memory is
 * VmRSS (/proc/<pid>/status) sampled every `intervalMs`, summed over the
 * processes of a role, and its peak. A process that exits keeps its last
 * reading.
 */
import { execFileSync } from 'node:child_process';
import { readFileSync } from 'node:fs';

const CLOCK_TICKS = (() => {
  try {
    return Number(execFileSync('getconf', ['CLK_TCK'], { encoding: 'utf8' }).trim()) || 100;
  } catch {
    return 100;
  }
})();

interface CpuTicks {
  own: number;
  /** Reaped children (a local runner's commands). */
  children: number;
}

export function readCpu(pid: number): CpuTicks | undefined {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    // Fields after the command name, which may hold spaces: state is field 3, utime 14 … cstime 17.
    const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
    const field = (n: number) => Number(fields[n - 3]);
    return { own: field(14) + field(15), children: field(16) + field(17) };
  } catch {
    return undefined;
  }
}

function readStatusKiB(pid: number, key: 'VmRSS' | 'VmHWM'): number | undefined {
  try {
    const match = new RegExp(`^${key}:\\s+(\\d+) kB`, 'm').exec(readFileSync(`/proc/${pid}/status`, 'utf8'));
    return match ? Number(match[1]) : undefined;
  } catch {
    return undefined;
  }
}

export interface RoleUsage {
  pids: number[];
  cpuSeconds: number;
  childCpuSeconds: number;
  /** Peak of the summed VmRSS over the window. */
  peakRssMiB: number;
  startRssMiB: number;
  endRssMiB: number;
  /** Highest VmHWM (lifetime peak, e.g. a worker's start-up bundling) of the role's processes. */
  lifetimePeakRssMiB: number;
}

export interface Sampling {
  stop(): Record<string, RoleUsage>;
  /** CPU seconds of one role since start(), so far. */
  cpuSoFar(role: string): number;
}

const MiB = 1024;

export function sampleProcesses(roles: Record<string, readonly number[]>, intervalMs = 250): Sampling {
  const last = new Map<number, { cpu: CpuTicks; rssKiB: number }>();
  const first = new Map<number, CpuTicks>();
  const peaks: Record<string, number> = {};
  const starts: Record<string, number> = {};

  function sample(): Record<string, number> {
    const sums: Record<string, number> = {};
    for (const [role, pids] of Object.entries(roles)) {
      let sum = 0;
      for (const pid of pids) {
        const cpu = readCpu(pid);
        const rssKiB = readStatusKiB(pid, 'VmRSS');
        const previous = last.get(pid);
        const reading = {
          cpu: cpu ?? previous?.cpu ?? { own: 0, children: 0 },
          rssKiB: rssKiB ?? previous?.rssKiB ?? 0,
        };
        last.set(pid, reading);
        sum += reading.rssKiB;
      }
      sums[role] = sum;
      peaks[role] = Math.max(peaks[role] ?? 0, sum);
    }
    return sums;
  }

  Object.assign(starts, sample());
  for (const [pid, reading] of last) first.set(pid, reading.cpu);
  const timer = setInterval(sample, intervalMs);

  const cpuDelta = (pids: readonly number[], kind: keyof CpuTicks) =>
    pids.reduce((sum, pid) => sum + ((last.get(pid)?.cpu[kind] ?? 0) - (first.get(pid)?.[kind] ?? 0)), 0) / CLOCK_TICKS;

  return {
    cpuSoFar(role) {
      sample();
      return cpuDelta(roles[role] ?? [], 'own');
    },
    stop() {
      clearInterval(timer);
      const ends = sample();
      const usage: Record<string, RoleUsage> = {};
      for (const [role, pids] of Object.entries(roles)) {
        usage[role] = {
          pids: [...pids],
          cpuSeconds: cpuDelta(pids, 'own'),
          childCpuSeconds: cpuDelta(pids, 'children'),
          peakRssMiB: (peaks[role] ?? 0) / MiB,
          startRssMiB: (starts[role] ?? 0) / MiB,
          endRssMiB: (ends[role] ?? 0) / MiB,
          lifetimePeakRssMiB: Math.max(0, ...pids.map((pid) => readStatusKiB(pid, 'VmHWM') ?? 0)) / MiB,
        };
      }
      return usage;
    },
  };
}

/**
 * Waits until the processes are quiet: under `cores` of CPU for `seconds`
 * in a row (e.g. every arrival's first workflow task is done). Gives up
 * after `timeoutMs`; returns how long it waited.
 */
export async function waitUntilQuiet(
  pids: readonly number[],
  { cores = 0.15, seconds = 5, timeoutMs = 600_000 } = {},
): Promise<number> {
  const ticksPerSecond = 100;
  const ticks = () => pids.reduce((sum, pid) => sum + (readCpu(pid)?.own ?? 0), 0);
  const started = Date.now();
  let quiet = 0;
  let last = ticks();
  while (quiet < seconds && Date.now() - started < timeoutMs) {
    await new Promise((resolve) => setTimeout(resolve, 1000));
    const now = ticks();
    quiet = (now - last) / ticksPerSecond < cores ? quiet + 1 : 0;
    last = now;
  }
  return (Date.now() - started) / 1000;
}
