/** A service whose run is a short cluster job on the cluster named by SALIFLOW_TEST_CLUSTER. */
import { defineService, sgeScript, slurmScript } from '../../../core/index.js';

const script = process.env.SALIFLOW_TEST_CLUSTER === 'slurm' ? slurmScript : sgeScript;

export default defineService({
  run: () => script('echo ran >> runs.txt'),
});
