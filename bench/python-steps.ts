/**
 * What a Python step costs: the same preprocess (count *.pdb, set a column,
 * log a line to framework.log) as a saliweb Python service's step (one
 * python3 process through python/saliflow_bridge.py) and as a TypeScript
 * service's, called N times each on a job directory, no MySQL or Temporal
 * (the step call is what differs; the rest of a job is the same for both).
 * Also the worker-side RSS while Python steps run.
 *   npx tsx bench/python-steps.ts [N=200]
 */
import fs from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { performance } from 'node:perf_hooks';
import { execa } from 'execa';
import { loadPythonService } from '../engine/python-service.js';
import { createJobLogger } from '../engine/job-logger.js';
import type { ServiceConfig } from '../core/config/index.js';
import type { JobContext, Metadata, Service } from '../core/service.js';
import { defineService, localCommand } from '../core/index.js';

const calls = Number(process.argv[2] ?? 200);
const root = await fs.mkdtemp(path.join(os.tmpdir(), 'saliflow-pybench-'));
await fs.writeFile(
  path.join(root, 'bench.conf'),
  '[general]\nadmin_email: a@example.org\nservice_name: Bench\nsocket: s\n[database]\ndb: bench\n' +
    '[directories]\nincoming: in\npreprocessing: pre\n',
);
await fs.writeFile(
  path.join(root, 'benchservice.py'),
  `import glob
import saliweb.backend


class Job(saliweb.backend.Job):
    def preprocess(self):
        self._metadata['num_inputs'] = len(glob.glob('*.pdb'))
        self.logger.warning('counted')

    def run(self):
        return saliweb.backend.DoNothingRunner()


def get_web_service(config_file):
    db = saliweb.backend.Database(Job)
    db.add_field(saliweb.backend.MySQLField('num_inputs', 'INTEGER'))
    return saliweb.backend.WebService(saliweb.backend.Config(config_file), db)
`,
);
const job = path.join(root, 'pre', 'job1');
await fs.mkdir(job, { recursive: true });
for (const name of ['a.pdb', 'b.pdb']) await fs.writeFile(path.join(job, name), 'ATOM\n');

const tsService = defineService({
  async preprocess(context) {
    const names = await fs.readdir(context.directory);
    context.metadata.num_inputs = names.filter((name) => name.endsWith('.pdb')).length;
    context.log.warn('counted');
  },
  run: () => localCommand('true'),
});

function context(): JobContext {
  const metadata: Metadata = { num_inputs: null };
  return {
    name: 'job1',
    directory: job,
    url: 'http://x/job1',
    serviceName: 'Bench',
    config: {} as ServiceConfig,
    user: null,
    contactEmail: null,
    cycle: 1,
    rerunData: undefined,
    metadata,
    log: createJobLogger(job),
    path: (...parts) => path.join(job, ...parts),
    sendUserEmail: async () => undefined,
    sendAdminEmail: async () => undefined,
    sendEmail: async () => undefined,
  };
}

async function measure(service: Service): Promise<number[]> {
  const times: number[] = [];
  for (let i = 0; i < calls; i++) {
    const ctx = context();
    const start = performance.now();
    await service.preprocess!(ctx);
    times.push(performance.now() - start);
    if (ctx.metadata.num_inputs !== 2) throw new Error(`preprocess set num_inputs ${ctx.metadata.num_inputs}`);
  }
  return times.sort((a, b) => a - b);
}

const quantile = (sorted: number[], q: number) => sorted[Math.min(sorted.length - 1, Math.floor(q * sorted.length))]!;
const startLoad = os.loadavg()[0]!;
const pyService = await loadPythonService(path.join(root, 'benchservice.py'), path.join(root, 'bench.conf'));
const py = await measure(pyService);
const rss = process.memoryUsage().rss;
const ts = await measure(tsService);
const python = (await execa('python3', ['--version'])).stdout.trim();
const lines = [
  `# Python steps vs TypeScript steps (${new Date().toISOString().slice(0, 10)})`,
  '',
  `One \`preprocess\` (glob *.pdb, set a column, log a WARNING line to framework.log), ${calls} calls each, one`,
  `after another, on ${os.cpus().length} cores (${os.cpus()[0]?.model ?? '?'}), load average ${startLoad.toFixed(2)} at start`,
  `and ${os.loadavg()[0]!.toFixed(2)} at the end (shared with other work); ${python}, Node ${process.version}.`,
  '`npx tsx bench/python-steps.ts`',
  '',
  '| step | p50 ms | p95 ms | max ms |',
  '|---|---|---|---|',
  `| Python (one python3 process) | ${quantile(py, 0.5).toFixed(1)} | ${quantile(py, 0.95).toFixed(1)} | ${py.at(-1)!.toFixed(1)} |`,
  `| TypeScript (in the worker) | ${quantile(ts, 0.5).toFixed(2)} | ${quantile(ts, 0.95).toFixed(2)} | ${ts.at(-1)!.toFixed(2)} |`,
  '',
  `Worker-side RSS after the Python calls: ${(rss / 2 ** 20).toFixed(0)} MiB (this process; each python3 is its own`,
  'short-lived process, gone when its step returns). The Python cost is the interpreter start plus importing the',
  'service and reading its config, once per step; a job has at most a handful of steps, so it adds well under a',
  'second to a job whose run takes minutes on a cluster.',
  '',
];
await fs.mkdir('bench/results', { recursive: true });
await fs.writeFile('bench/results/python-steps.md', lines.join('\n'));
console.log(lines.join('\n'));
await fs.rm(root, { recursive: true, force: true });
