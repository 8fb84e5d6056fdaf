/**
 * The verbs that change how a running service admits jobs, for all its
 * workers at once (activities/service-control.ts): pause, resume,
 * reload-limits.
 */
import os from 'node:os';
import type { Command, Option } from 'commander';
import { withAdmissionLock } from '../activities/admission.js';
import {
  clearPause,
  describeLimits,
  pauseReason,
  readServiceControl,
  readLimitsFile,
  recordPause,
  reloadLimits,
} from '../activities/service-control.js';
import { UsageError } from './cli-support.js';
import { withSession } from './cli-session.js';
import { admitNow } from './job-operations.js';

/** Who runs the command, as a pause names them: the user behind sudo if any, and the host. */
export function operatorName(): string {
  return `${process.env.SUDO_USER || os.userInfo().username}@${os.hostname()}`;
}

export function addControlCommands(program: Command, configOption: () => Option): void {
  program
    .command('pause')
    .description('stop admitting jobs on every worker (jobs keep arriving and wait; running jobs go on)')
    .addOption(configOption())
    .option('-r, --reason <text>', 'why, shown as every waiting job’s reason')
    .action(async (options: { config: string; reason?: string }) => {
      if (options.reason !== undefined && options.reason.trim() === '') {
        throw new UsageError('--reason is empty: say why the service is paused, or leave --reason out');
      }
      await withSession(options.config, async ({ config, pool }) => {
        // Under the admission lock: once this returns, no round on any worker admits anything.
        await withAdmissionLock(config, pool(), (db) => recordPause(db, operatorName(), options.reason?.trim()));
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
}
