/** Every workflow the saliflow worker registers (bundled by the worker). */
export { jobWorkflow } from './job-workflow.js';
export { archiveJobWorkflow, expireJobWorkflow, oldJobsWorkflow } from './old-job-workflows.js';
export { reconcileWorkflow } from './reconcile-workflow.js';
