/** `[worker]`, saliflow's own section: how a worker process stops. */
import type { SectionReader } from './section-reader.js';

export interface WorkerConfig {
  /**
   * On SIGTERM/SIGINT the worker stops polling and gives the steps it runs this
   * long to finish; then it exits, and whatever was cut short runs again on
   * another worker (docs/guarantees.md). A second signal exits at once.
   * @defaultValue 30
   */
  shutdownSeconds: number;
}

export const WORKER_KEYS = ['shutdown_seconds'] as const;

export const DEFAULT_SHUTDOWN_SECONDS = 30;

export function readWorkerConfig(section: SectionReader): WorkerConfig {
  return { shutdownSeconds: section.positiveNumber('shutdown_seconds') ?? DEFAULT_SHUTDOWN_SECONDS };
}
