/**
 * No module of saliflow's sources imports itself through others (type-only
 * imports aside: they vanish when compiled). A cycle is how a constant ends
 * up read before it is initialised, as `core/errors.ts` ↔
 * `core/job-workflow-contract.ts` once did, failing only at load time.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';
import { REPO_ROOT } from '../../scripts/stack/settings.js';

const FOLDERS = ['core', 'store', 'engine', 'activities', 'workflows', 'worker', 'client', 'cli'];
// `import x from './y.js'`, `import { a } from`, `export { a } from`, `export * from`; not `import type`/`export type`.
const VALUE_IMPORT = /^\s*(?:import|export)\s+(?!type\b)(?:[^'";]*?\sfrom\s+)?['"](\.[^'"]+)['"]/gm;

function sourceFiles(): string[] {
  return FOLDERS.flatMap((folder) =>
    (fs.readdirSync(path.join(REPO_ROOT, folder), { recursive: true }) as string[])
      .filter((file) => file.endsWith('.ts') && !file.endsWith('.d.ts'))
      .map((file) => path.join(folder, file)),
  );
}

function importsOf(file: string): string[] {
  const source = fs.readFileSync(path.join(REPO_ROOT, file), 'utf8');
  return [...source.matchAll(VALUE_IMPORT)].map((match) =>
    path.normalize(path.join(path.dirname(file), match[1]!.replace(/\.js$/, '.ts'))),
  );
}

test('no import cycles among the source modules', () => {
  const files = sourceFiles();
  assert.ok(files.length > 50, `found the sources (${files.length})`);
  const graph = new Map(files.map((file) => [file, importsOf(file).filter((target) => files.includes(target))]));
  const cycles: string[] = [];
  const state = new Map<string, 'open' | 'done'>();
  const stack: string[] = [];
  const visit = (file: string) => {
    state.set(file, 'open');
    stack.push(file);
    for (const next of graph.get(file) ?? []) {
      if (state.get(next) === 'open') cycles.push([...stack.slice(stack.indexOf(next)), next].join(' → '));
      else if (!state.has(next)) visit(next);
    }
    stack.pop();
    state.set(file, 'done');
  };
  for (const file of files) if (!state.has(file)) visit(file);
  assert.deepEqual(cycles, []);
});
