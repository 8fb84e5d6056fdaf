import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import path from 'node:path';
import { MALLOC_TUNING, mallocTuned, withMallocTuning } from '../../worker/malloc-tuning.js';
import { REPO_ROOT } from '../../scripts/stack/settings.js';

test('a threshold set by the admin, directly or through GLIBC_TUNABLES, counts and wins', () => {
  assert.equal(mallocTuned({}), false);
  assert.equal(mallocTuned({ GLIBC_TUNABLES: 'glibc.malloc.arena_max=2' }), false);
  assert.equal(mallocTuned({ GLIBC_TUNABLES: 'glibc.malloc.arena_max=2:glibc.malloc.mmap_threshold=65536' }), true);
  assert.equal(mallocTuned({ MALLOC_MMAP_THRESHOLD_: '65536' }), true);
  assert.deepEqual(withMallocTuning({ PATH: '/bin' }), { PATH: '/bin', ...MALLOC_TUNING });
  assert.deepEqual(withMallocTuning({ MALLOC_MMAP_THRESHOLD_: '65536' }), { MALLOC_MMAP_THRESHOLD_: '65536' });
});

test('bin/saliflow.js (plain JavaScript, run before tsx) passes the same tuning', () => {
  const bin = readFileSync(path.join(REPO_ROOT, 'bin/saliflow.js'), 'utf8');
  const literal = /const MALLOC_TUNING = (\{[^}]*\});/.exec(bin)?.[1];
  assert.ok(literal, 'bin/saliflow.js defines MALLOC_TUNING');
  assert.deepEqual(JSON.parse(literal.replace(/'/g, '"').replace(/(\w+):/g, '"$1":')), MALLOC_TUNING);
});
