/**
 * A saliweb Python service (test/support/python-services/) run by `saliflow
 * worker --python-service` in its own process, as an operator starts it.
 */
import path from 'node:path';
import { execa, type ResultPromise } from 'execa';
import { REPO_ROOT } from '../../scripts/stack/settings.js';
import { untilOutputShows } from './processes.js';

export const PYTHON_SERVICES = path.join(REPO_ROOT, 'test/support/python-services');
export const LABSERVICE = path.join(PYTHON_SERVICES, 'labservice');

export interface PythonWorker {
  process: ResultPromise;
  output(): string;
}

/** Starts the worker and waits until it polls. */
export async function startPythonWorker(configFile: string, env: Record<string, string> = {}): Promise<PythonWorker> {
  const child = execa(
    'node',
    [
      path.join(REPO_ROOT, 'bin/saliflow.js'),
      'worker',
      '--config',
      configFile,
      '--python-service',
      LABSERVICE,
      '--skip-consistency-check',
    ],
    { env: { SALIFLOW_CONFIG: '', ...env }, reject: false, all: true },
  );
  let output = '';
  child.all?.on('data', (chunk: Buffer) => (output += chunk.toString()));
  await untilOutputShows(child, () => output, 'saliflow worker for');
  return { process: child, output: () => output };
}
