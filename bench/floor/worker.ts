/**
 * The floor's worker, in a process of its own like a saliflow worker:
 *   node --import tsx bench/floor/worker.ts <task queue>
 * Prints "ready" once it polls.
 */
import { fileURLToPath } from 'node:url';
import { DefaultLogger, NativeConnection, Runtime, Worker } from '@temporalio/worker';
import { targetConnection } from '../lib/target.js';
import { floorActivities } from './activities.js';

const [taskQueue] = process.argv.slice(2);
if (!taskQueue) throw new Error('usage: bench/floor/worker.ts <task queue>');
Runtime.install({ logger: new DefaultLogger('WARN') });
const { options, namespace } = targetConnection();
const connection = await NativeConnection.connect(options);
const worker = await Worker.create({
  connection,
  namespace,
  taskQueue,
  workflowsPath: fileURLToPath(new URL('./workflows.ts', import.meta.url)),
  activities: floorActivities,
});
const running = worker.run();
console.log('ready');
await running;
await connection.close();
