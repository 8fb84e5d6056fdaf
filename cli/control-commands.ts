/**
 * The verbs that change how a running service admits jobs, for all its
 * workers at once (store/service-control.ts): pause, resume,
 * reload-limits; and drain, for one worker (worker/drain.ts).
 */
import { workerName } from '../core/worker-identity.js';
import os from 'node:os';
import type { Command, Option } from 'commander';
import { withAdmissionLock } from '../engine/admission.js';
import {
  clearPause,
  describeLimits,
  pauseReason,
  readServiceControl,
  readLimitsFile,
  recordPause,
  reloadLimits,
} from '../store/service-control.js';
import { defaultHostId } from '../core/config/host-id.js';
import { sleep } from '../core/sleep.js';
import { jobsInStates } from '../store/job-listing.js';

/** How often `saliflow drain` says it still waits. */
const DRAIN_PROGRESS_MS = 5000;
import { UsageError } from './support.js';
import { withSession } from './session.js';
import { admitNow } from '../client/job-operations.js';
import { serviceStatus } from '../client/service-status.js';

/** What `saliflow drain` sends; worker/operator-signals.ts listens for it (not imported: the CLI stays light). */
const DRAIN_SIGNAL = 'SIGUSR2';

const alive = (pid: number) => {
  try {
    process.kill(pid, 0);
    return true;
  } catch (error) {
    return (error as NodeJS.ErrnoException).code === 'EPERM';
  }
};

/**
 * The worker to drain: `wanted` (`pid@host`, as `status` lists it), or the
 * only worker of this service on this host. Signals only reach this host.
 */
function chooseWorker(identities: readonly string[], wanted: string | undefined, service: string): number {
  const workers = identities.map(workerName); // without the version: pid@host
  const host = defaultHostId();
  const here = workers.filter((identity) => identity.slice(identity.indexOf('@') + 1) === host);
  if (wanted !== undefined) {
    const [pid, ...rest] = wanted.split('@');
    if (!/^\d+$/.test(pid ?? '') || rest.length === 0) {
      throw new UsageError(
        `--worker ${JSON.stringify(wanted)}: give a worker as \`saliflow status\` lists it, pid@host`,
      );
    }
    if (rest.join('@') !== host) {
      throw new UsageError(
        `worker ${wanted} runs on ${rest.join('@')}, not here (${host}): run \`saliflow drain\` there, or send it ${DRAIN_SIGNAL}`,
      );
    }
    if (!workers.includes(wanted)) {
      throw new UsageError(`no worker ${wanted} polls ${service}'s task queue (\`saliflow status\` lists them)`);
    }
    return Number(pid);
  }
  if (here.length !== 1) {
    throw new UsageError(
      here.length === 0
        ? `no worker of ${service} polls from this host (${host}); \`saliflow status\` lists them`
        : `${here.length} workers of ${service} on this host (${here.join(', ')}): choose one with --worker`,
    );
  }
  return Number(here[0]!.split('@')[0]);
}

/** Who runs the command, as a pause names them: the user behind sudo if any, and the host. */
export function operatorName(): string {
  let user = process.env.SUDO_USER || process.env.USER || '';
  // A uid without a passwd entry (a container) has no name: the uid says who.
  if (user === '') {
    try {
      user = os.userInfo().username;
    } catch {
      user = `uid-${process.getuid?.() ?? 'unknown'}`;
    }
  }
  return `${user}@${os.hostname()}`;
}

export function addControlCommands(program: Command, configOption: () => Option): void {
  program
    .command('pause')
    .description('stop admitting jobs on every worker (jobs keep arriving and wait; running jobs go on)')
    .addOption(configOption())
    .option('-r, --reason <text>', 'why: the reason every waiting job gives')
    .action(async (options: { config: string; reason?: string }) => {
      if (options.reason !== undefined && options.reason.trim() === '') {
        throw new UsageError('--reason is empty: say why the service is paused, or leave --reason out');
      }
      await withSession(options.config, async ({ config, pool }) => {
        // Under the admission lease: once this returns, no round on any worker admits anything.
        await withAdmissionLock(config, pool(), (db, lease) =>
          recordPause(db, lease, operatorName(), options.reason?.trim()),
        );
        const { pause } = await readServiceControl(pool(), config);
        console.log(`${config.general.serviceName}: ${pauseReason(pause!)}`);
        console.log('  jobs in flight go on; new jobs wait until `saliflow resume`');
      });
    });

  program
    .command('resume')
    .description('admit jobs again after `saliflow pause` (a round runs at once)')
    .addOption(configOption())
    .action(async (options: { config: string }) => {
      await withSession(options.config, async ({ config, pool, client }) => {
        const pause = await clearPause(pool(), config);
        if (!pause) {
          console.log(`${config.general.serviceName} was not paused`);
          return;
        }
        const admitted = await admitNow(config, pool(), await client());
        console.log(`${config.general.serviceName} resumed (it was ${pauseReason(pause)})`);
        console.log(`  admitted now: ${admitted.length > 0 ? admitted.join(', ') : 'none'}`);
      });
    });

  program
    .command('reload-limits')
    .description(
      "read [limits] from the config file again and apply them at every worker's next admission round (as SIGHUP does)",
    )
    .addOption(configOption())
    .action(async (options: { config: string }) => {
      const config = readLimitsFile(options.config);
      await withSession(options.config, async ({ pool, client }) => {
        const { before, after } = await reloadLimits(pool(), config, operatorName());
        console.log(`${config.general.serviceName}: limits ${describeLimits(before)} -> ${describeLimits(after)}`);
        // A raised limit frees slots now; a lowered one lets the jobs in flight finish and admits fewer after.
        const admitted = await admitNow(config, pool(), await client());
        if (admitted.length > 0) console.log(`  admitted now: ${admitted.join(', ')}`);
      });
    });

  program
    .command('drain')
    .description(
      'drain a worker on this host before a reboot: it takes no new work, waits for its local runs to end, then exits',
    )
    .addOption(configOption())
    .option('-w, --worker <pid@host>', 'the worker, as `saliflow status` lists it (default: the only one on this host)')
    .option('--no-wait', 'return once the worker was told, without waiting for it to exit')
    .action(async (options: { config: string; worker?: string; wait: boolean }) => {
      await withSession(options.config, async ({ config, pool, client }) => {
        const status = await serviceStatus({ config, db: pool(), client: await client() });
        const pid = chooseWorker(status.workers, options.worker, config.general.serviceName);
        process.kill(pid, DRAIN_SIGNAL);
        const identity = `${pid}@${defaultHostId()}`;
        console.log(`worker ${identity} is draining: no new work; its local runs finish here (its log counts them)`);
        if (!options.wait) return;
        // A drain waits as long as the longest local run: say so now and then, so a wait is not taken for a hang.
        const since = Date.now();
        let said = since;
        while (alive(pid)) {
          await sleep(500);
          if (Date.now() - said < DRAIN_PROGRESS_MS) continue;
          said = Date.now();
          const runs = await jobsInStates(pool(), ['RUNNING']).then(
            (rows) =>
              `${rows.filter(({ runnerId }) => runnerId?.startsWith('local:') && runnerId.endsWith(`@${defaultHostId()}`)).length} local run(s) of this host still RUNNING`,
            (error: Error) => `its local runs unknown (${error.message})`,
          );
          console.log(`worker ${identity} still draining after ${Math.round((said - since) / 1000)} s: ${runs}`);
        }
        console.log(`worker ${identity} drained and exited`);
      });
    });
}
