/** A service whose run is a short cluster job on the cluster named by SALIFLOW_TEST_CLUSTER (read at each run). */
import { defineService, sgeScript, slurmScript } from '../../../core/index.js';

export default defineService({
  run: () => {
    const script = process.env.SALIFLOW_TEST_CLUSTER === 'slurm' ? slurmScript : sgeScript;
    // SALIFLOW_TEST_SLEEP makes the run last long enough to kill its worker mid-wait.
    const sleep = process.env.SALIFLOW_TEST_SLEEP ? `sleep ${process.env.SALIFLOW_TEST_SLEEP}\n` : '';
    return script(`${sleep}echo ran >> runs.txt`);
  },
});
