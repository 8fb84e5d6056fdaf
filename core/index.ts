/** saliflow's public API for service authors. */
export { defineService } from './service.js';
export type {
  ColumnValue,
  JobContext,
  JobLogger,
  JobLogLevel,
  Metadata,
  PostprocessResult,
  PreprocessResult,
  RerunData,
  Service,
} from './service.js';
export { doNothing, localCommand, sgeScript, slurmScript, webService } from './runner-spec.js';
export type { ResultFile, RunnerSpec, RunResults, WebServiceFields } from './runner-spec.js';
export type { ColumnSpec } from './schema.js';
export type { GrowingRetry, PlainRetry, RetryOn } from './retry-policy.js';
export * from './errors.js';
