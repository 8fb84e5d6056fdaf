/**
 * A cluster run (on the cluster SALIFLOW_TEST_CLUSTER names) that needs
 * 1000 MiB and asks for 100 MiB, with two retries on memory_exceeded up to
 * 1 GiB: killed at 100, 200 and 400 MiB, then out of retries. For the fake
 * scheduler, which reads a run's memory use from `fake-memory-use`.
 */
import { defineService, sgeScript, slurmScript } from '../../../core/index.js';

export default defineService({
  retryOn: { memory_exceeded: { attempts: 2, factor: 2, cap: '1G' } },
  run: () => {
    const slurm = process.env.SALIFLOW_TEST_CLUSTER === 'slurm';
    const body = `echo ${1000 * 1024 ** 2} > fake-memory-use\nsleep 2`;
    return slurm ? slurmScript(body, { options: '--mem=100M' }) : sgeScript(body, { options: '-l h_vmem=100M' });
  },
});
