/**
 * Where results go: one JSON file per run under bench/results/<kind>/, and a
 * human-readable section appended to bench/results/<kind>.md.
 */
import fs from 'node:fs/promises';
import path from 'node:path';
import { REPO_ROOT } from '../../scripts/stack/settings.js';
import type { GitFacts, MachineFacts } from './machine.js';
import type { Percentiles } from './stats.js';

export interface RunHeader {
  kind: string;
  label: string | undefined;
  /** The dev server, or the production-like cluster (npm run production). */
  temporal?: 'dev' | 'production';
  date: string;
  git: GitFacts;
  machine: MachineFacts;
  loadAverage: { before: number[]; after?: number[] };
}

export function resultsDir(scratch: boolean): string {
  return scratch ? path.join(REPO_ROOT, '.state', 'bench-scratch') : path.join(REPO_ROOT, 'bench', 'results');
}

/** Writes the run's JSON file (header and figures); returns its path. */
export async function saveJson(dir: string, header: RunHeader, run: object): Promise<string> {
  const stamp = header.date.replace(/[:.]/g, '-');
  const name = [stamp, header.git.commit, header.label]
    .filter(Boolean)
    .join('-')
    .replace(/[^A-Za-z0-9_.-]/g, '_');
  const jsonFile = path.join(dir, header.kind, `${name}.json`);
  await fs.mkdir(path.dirname(jsonFile), { recursive: true });
  await fs.writeFile(jsonFile, `${JSON.stringify({ ...header, ...run }, null, 2)}\n`);
  return jsonFile;
}

/** Appends a run's section to `<dir>/<kind>.md`, starting the file with a title if it is new. */
export async function appendMarkdown(dir: string, kind: string, section: string): Promise<string> {
  const mdFile = path.join(dir, `${kind}.md`);
  const exists = await fs.stat(mdFile).then(
    () => true,
    () => false,
  );
  const title = exists
    ? ''
    : `# ${kind} benchmark (\`npm run bench\`)\n\nNewest run last; raw figures in \`${kind}/*.json\`.\n`;
  await fs.appendFile(mdFile, `${title}\n${section.trimEnd()}\n`);
  return mdFile;
}

const TOPOLOGY = {
  dev: 'as the dev server (one process, SQLite)',
  production:
    'as the production-like cluster (history, matching, worker, frontend processes on PostgreSQL, mutual TLS)',
};

/** The heading and facts line of a run's markdown section. */
export function runHeading(header: RunHeader, jsonFile: string): string {
  const { git, machine } = header;
  const label = header.label ? ` — ${header.label}` : '';
  return [
    `## ${header.date.slice(0, 16).replace('T', ' ')} UTC, commit ${git.commit}${git.dirty ? ' (+ uncommitted changes)' : ''}${label}`,
    '',
    `${machine.cores} × ${machine.cpuModel}, ${machine.memoryGiB} GiB, Linux ${machine.kernel}; Node ${machine.node}, ` +
      `Temporal server ${machine.temporalServer ?? '?'} (SDK ${machine.temporalSdk ?? '?'}) ${TOPOLOGY[header.temporal ?? 'dev']}, ` +
      `${machine.mysqlServer ?? 'MySQL ?'}; ` +
      `load average ${header.loadAverage.before.join(' ')} before, ${header.loadAverage.after?.join(' ') ?? '?'} after. ` +
      `JSON: \`${path.relative(path.dirname(path.dirname(jsonFile)), jsonFile)}\`.`,
  ].join('\n');
}

export function table(headers: readonly string[], rows: readonly (readonly string[])[]): string {
  const line = (cells: readonly string[]) => `| ${cells.join(' | ')} |`;
  return [line(headers), line(headers.map(() => '---')), ...rows.map(line)].join('\n');
}

/** "12.3/45.6/78.9" in ms, or seconds when large. */
export function triple(p: Percentiles | undefined): string {
  if (!p || p.n === 0) return '–';
  const large = p.p99 >= 10_000;
  const show = (ms: number) => (large ? (ms / 1000).toFixed(1) : ms < 100 ? ms.toFixed(1) : ms.toFixed(0));
  return `${show(p.p50)}/${show(p.p95)}/${show(p.p99)}${large ? ' s' : ''}`;
}

export const fixed = (value: number | undefined, digits = 1) =>
  value === undefined || !Number.isFinite(value) ? '–' : value.toFixed(digits);

/** Three significant digits: 0.445, 3.51, 29.6. */
export const significant = (value: number | undefined) =>
  value === undefined || !Number.isFinite(value) ? '–' : String(Number(value.toPrecision(3)));
