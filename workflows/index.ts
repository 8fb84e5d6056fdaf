/** Every workflow the saliflow worker registers (bundled by the worker). */
export { jobWorkflow } from './job-workflow.js';
