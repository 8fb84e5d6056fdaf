/**
 * The API report: what service authors (`saliflow`) and frontends (`saliflow/client`) import, as API Extractor sees
 * it in the built declarations, one report per `exports` entry point under api/, and a reference page docs/api.md
 * made from the TSDoc. `--check` compares the declarations of this checkout with the checked-in reports and fails
 * naming each entry point that changed; without it the reports and docs/api.md are rewritten.
 *
 * Usage: tsx scripts/api-report.ts [--check]
 */
import { execFileSync } from 'node:child_process';
import { existsSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { Extractor, ExtractorConfig, ExtractorLogLevel } from '@microsoft/api-extractor';
import { importNames, renderReference, type EntryPoint } from './api-reference.js';

export type { EntryPoint };

const ROOT = resolve(fileURLToPath(new URL('..', import.meta.url)));
const REPORT_DIR = join(ROOT, 'api');
const DOC_PAGE = join(ROOT, 'docs', 'api.md');
const FIX =
  'run `npm run api:report` and commit the report if the change is intended; see CHANGELOG.md and the semver policy ' +
  '(README, "Versioning")';

/** The entry points of package.json `exports` that have types, one per declaration file (aliases merged). */
export function entryPoints(root = ROOT): EntryPoint[] {
  const pkg = JSON.parse(readFileSync(join(root, 'package.json'), 'utf8')) as { exports?: Record<string, unknown> };
  const byTypes = new Map<string, EntryPoint>();
  for (const [subpath, target] of Object.entries(pkg.exports ?? {})) {
    // A data file (./package.json) has no API; any other entry point must name its declarations, or it would go
    // unchecked.
    if (typeof target === 'string' && target.endsWith('.json')) continue;
    const types = typeof target === 'object' && target !== null ? (target as { types?: unknown }).types : undefined;
    if (typeof types !== 'string')
      throw new Error(
        `package.json exports["${subpath}"] has no "types" condition; give it { "types": "./dist/<path>.d.ts", ` +
          '"default": "./dist/<path>.js" } so its API is reported and checked',
      );
    const m = /^\.\/dist\/(.+)\.d\.ts$/.exec(types);
    if (!m) throw new Error(`package.json exports["${subpath}"].types is ${types}; expected ./dist/<path>.d.ts`);
    const known = byTypes.get(types);
    if (known) {
      known.subpaths.push(subpath);
      continue;
    }
    const name = subpath === '.' ? 'saliflow' : `saliflow-${subpath.replace(/^\.\//, '').replace(/\//g, '-')}`;
    byTypes.set(types, { subpaths: [subpath], source: `${m[1]}.ts`, declaration: `${m[1]}.d.ts`, reportName: name });
  }
  return [...byTypes.values()];
}

/** Emits the declarations of the entry points (and what they import) into a fresh temporary folder. */
function buildDeclarations(entries: EntryPoint[], outDir: string): void {
  const tsconfig = join(outDir, 'tsconfig.api.json');
  writeFileSync(
    tsconfig,
    JSON.stringify({
      extends: join(ROOT, 'tsconfig.build.json'),
      compilerOptions: {
        outDir: join(outDir, 'dts'),
        declaration: true,
        emitDeclarationOnly: true,
        rootDir: ROOT,
        typeRoots: [join(ROOT, 'node_modules', '@types')],
      },
      include: [],
      files: entries.map((e) => join(ROOT, e.source)),
    }),
  );
  const tsc = join(ROOT, 'node_modules', 'typescript', 'bin', 'tsc');
  try {
    execFileSync(process.execPath, [tsc, '-p', tsconfig], { cwd: ROOT, stdio: 'pipe' });
  } catch (e) {
    const out = (e as { stdout?: Buffer }).stdout?.toString() ?? '';
    throw new Error(`tsc could not emit the entry points' declarations:\n${out}`, { cause: e });
  }
}

export interface ReportResult {
  changed: string[];
  stale: string[];
  docChanged: boolean;
}

/** Builds every report; with check, compares them with the checked-in ones instead of writing them. */
export function apiReport(
  check: boolean,
  { reportDir = REPORT_DIR, docPage = DOC_PAGE }: { reportDir?: string; docPage?: string } = {},
): ReportResult {
  const entries = entryPoints();
  const tmp = mkdtempSync(join(tmpdir(), 'saliflow-api-'));
  try {
    buildDeclarations(entries, tmp);
    const changed: string[] = [];
    const models: { entry: EntryPoint; json: string }[] = [];
    for (const entry of entries) {
      const json = join(tmp, `${entry.reportName}.api.json`);
      const config = ExtractorConfig.prepare({
        configObject: {
          projectFolder: ROOT,
          mainEntryPointFilePath: join(tmp, 'dts', entry.declaration),
          compiler: {
            overrideTsconfig: {
              compilerOptions: {
                target: 'ES2022',
                module: 'NodeNext',
                moduleResolution: 'NodeNext',
                lib: ['ES2022'],
                types: ['node'],
                typeRoots: [join(ROOT, 'node_modules', '@types')],
                strict: true,
                skipLibCheck: true,
              },
              files: [join(tmp, 'dts', entry.declaration)],
            },
          },
          apiReport: {
            enabled: true,
            reportFileName: entry.reportName,
            reportFolder: reportDir,
            reportTempFolder: join(tmp, 'report'),
          },
          docModel: { enabled: true, apiJsonFilePath: json },
          dtsRollup: { enabled: false },
          tsdocMetadata: { enabled: false },
          messages: {
            compilerMessageReporting: { default: { logLevel: ExtractorLogLevel.Warning } },
            // saliflow has no @public/@beta tiers: everything an entry point exports is its API.
            extractorMessageReporting: {
              default: { logLevel: ExtractorLogLevel.Warning },
              'ae-missing-release-tag': { logLevel: ExtractorLogLevel.None },
              'ae-forgotten-export': { logLevel: ExtractorLogLevel.None, addToApiReportFile: true },
            },
            tsdocMessageReporting: { default: { logLevel: ExtractorLogLevel.None } },
          },
        },
        configObjectFullPath: join(ROOT, 'api', 'api-extractor.json'),
        packageJsonFullPath: join(ROOT, 'package.json'),
      });
      const result = Extractor.invoke(config, {
        localBuild: !check,
        messageCallback: (msg) => {
          // Keep the output to what matters: errors, and the report-changed notice (we word our own).
          if (msg.logLevel !== ExtractorLogLevel.Error) msg.logLevel = ExtractorLogLevel.None;
          if (msg.messageId === 'console-api-report-changed' || msg.messageId === 'console-api-report-missing')
            msg.handled = true;
        },
      });
      if (result.errorCount > 0) throw new Error(`API Extractor failed on ${entry.subpaths.join(', ')}`);
      if (result.apiReportChanged) changed.push(`${importNames(entry).join(', ')} (api/${entry.reportName}.api.md)`);
      models.push({ entry, json });
    }
    const wanted = new Set(entries.map((e) => `${e.reportName}.api.md`));
    const stale = existsSync(reportDir)
      ? readdirSync(reportDir).filter((f) => f.endsWith('.api.md') && !wanted.has(f))
      : [];
    const page = renderReference(models);
    const docChanged = !existsSync(docPage) || readFileSync(docPage, 'utf8') !== page;
    if (!check) {
      writeFileSync(docPage, page);
      for (const f of stale) rmSync(join(reportDir, f));
    }
    return { changed, stale, docChanged };
  } finally {
    rmSync(tmp, { recursive: true, force: true });
  }
}

if (process.argv[1] && resolve(process.argv[1]) === fileURLToPath(import.meta.url)) {
  const check = process.argv.includes('--check');
  const { changed, stale, docChanged } = apiReport(check);
  if (!check) {
    console.log(`api/ reports and docs/api.md written (${entryPoints().length} entry points)`);
  } else if (changed.length || stale.length || docChanged) {
    for (const c of changed) console.error(`api:check: the public API of ${c} changed.`);
    for (const s of stale) console.error(`api:check: api/${s} is the report of an entry point no longer exported.`);
    if (docChanged) console.error('api:check: docs/api.md is out of date with the TSDoc of the entry points.');
    console.error(`api:check: ${FIX}.`);
    process.exitCode = 1;
  } else {
    console.log('api:check: the public API matches api/*.api.md');
  }
}
