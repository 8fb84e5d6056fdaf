/**
 * The Temporal server, its SQL schema tool and the Web UI server, built from
 * the Go module proxy with `go install` (a few minutes the first time) and
 * kept under the state folder with a stamp of the version they were built
 * from: later starts reuse them, a version change rebuilds them.
 */
import fs from 'node:fs';
import path from 'node:path';
import { execa } from 'execa';
import { StackError } from '../../core/errors.js';
import {
  GO_TOOLCHAIN,
  TEMPORAL_SERVER_MODULE,
  TEMPORAL_SERVER_VERSION,
  UI_SERVER_MODULE,
  UI_SERVER_REPLACEMENTS,
  UI_SERVER_VERSION,
  type ProductionSettings,
} from './settings.js';

type Log = (message: string) => void;

export interface TemporalBinaries {
  server: string;
  sqlTool: string;
  /** The module's schema/postgresql/v12 folder (temporal/ and visibility/). */
  schemaDir: string;
}

/** The Go toolchain the builds need, fetched by the go command itself (GOTOOLCHAIN). */
const goEnv = (extra: Record<string, string> = {}) => ({ GOTOOLCHAIN: GO_TOOLCHAIN, ...extra });

async function go(args: string[], options: { cwd?: string; env?: Record<string, string> } = {}) {
  const result = await execa('go', args, { ...options, env: goEnv(options.env), reject: false, all: true }).catch(
    (error: Error) => ({ exitCode: -1, all: error.message }),
  );
  return { ok: result.exitCode === 0, output: String(result.all ?? '') };
}

function stampMatches(stamp: string, version: string, files: string[]): boolean {
  try {
    return fs.readFileSync(stamp, 'utf8').trim() === version && files.every((file) => fs.existsSync(file));
  } catch {
    return false;
  }
}

const lastLines = (text: string, count = 8) => text.trim().split('\n').slice(-count).join('\n');

export async function ensureTemporalBinaries(settings: ProductionSettings, log: Log): Promise<TemporalBinaries> {
  const { binDir } = settings;
  const binaries: TemporalBinaries = {
    server: path.join(binDir, 'server'),
    sqlTool: path.join(binDir, 'sql'),
    schemaDir: path.join(binDir, 'schema', 'postgresql', 'v12'),
  };
  const stamp = path.join(binDir, 'temporal-server.version');
  if (stampMatches(stamp, TEMPORAL_SERVER_VERSION, Object.values(binaries))) return binaries;

  fs.mkdirSync(binDir, { recursive: true });
  const packages = ['cmd/server', 'cmd/tools/sql'].map(
    (command) => `${TEMPORAL_SERVER_MODULE}/${command}@${TEMPORAL_SERVER_VERSION}`,
  );
  log(`building the Temporal server ${TEMPORAL_SERVER_VERSION} with go install (a few minutes the first time)…`);
  const started = Date.now();
  const build = await go(['install', ...packages], { env: { GOBIN: binDir } });
  if (!build.ok) {
    throw new StackError(
      `go install ${packages.join(' ')} failed (needs Go and the Go module proxy; GOTOOLCHAIN=${GO_TOOLCHAIN}):\n${lastLines(build.output)}`,
    );
  }
  // The schema files ship in the module, not in the binaries: copy them beside the tool.
  const download = await go(['mod', 'download', '-json', `${TEMPORAL_SERVER_MODULE}@${TEMPORAL_SERVER_VERSION}`]);
  const moduleDir = download.ok ? (JSON.parse(download.output) as { Dir?: string }).Dir : undefined;
  const source = moduleDir && path.join(moduleDir, 'schema', 'postgresql', 'v12');
  if (!source || !fs.existsSync(source)) {
    throw new StackError(`could not find the schema files of ${TEMPORAL_SERVER_MODULE}: ${lastLines(download.output)}`);
  }
  fs.rmSync(binaries.schemaDir, { recursive: true, force: true });
  fs.cpSync(source, binaries.schemaDir, { recursive: true });
  // The module cache is read-only; the copy need not be.
  await execa('chmod', ['-R', 'u+w', path.join(binDir, 'schema')]);
  fs.writeFileSync(stamp, `${TEMPORAL_SERVER_VERSION}\n`);
  log(`built the Temporal server in ${((Date.now() - started) / 1000).toFixed(0)} s`);
  return binaries;
}

/**
 * The Web UI server, built from a small wrapper module: the UI server pins
 * two dependency versions the module proxy refuses, so `replace` lines swap
 * in the nearest served ones. Returns the binary, or why it could not be built.
 */
export async function ensureUiServer(
  settings: ProductionSettings,
  log: Log,
): Promise<{ binary: string } | { problem: string }> {
  const binary = path.join(settings.binDir, 'ui-server');
  const stamp = path.join(settings.binDir, 'ui-server.version');
  if (stampMatches(stamp, UI_SERVER_VERSION, [binary])) return { binary };
  const moduleDir = path.join(settings.dir, 'ui-build');
  fs.mkdirSync(moduleDir, { recursive: true });
  const replaces = Object.entries(UI_SERVER_REPLACEMENTS).map(
    ([module, { refused, served }]) => `replace ${module} ${refused} => ${module} ${served}`,
  );
  fs.writeFileSync(path.join(moduleDir, 'go.mod'), ['module saliflow.local/ui-server', '', ...replaces, ''].join('\n'));
  log(`building the Temporal Web UI server ${UI_SERVER_VERSION}…`);
  const command = `${UI_SERVER_MODULE}/cmd/server`;
  const get = await go(['get', '-tool', `${command}@${UI_SERVER_VERSION}`], { cwd: moduleDir });
  if (!get.ok) return { problem: `go get ${command}@${UI_SERVER_VERSION} failed: ${lastLines(get.output, 4)}` };
  const build = await go(['build', '-o', binary, command], { cwd: moduleDir });
  if (!build.ok) return { problem: `go build ${command} failed: ${lastLines(build.output, 4)}` };
  fs.writeFileSync(stamp, `${UI_SERVER_VERSION}\n`);
  return { binary };
}
