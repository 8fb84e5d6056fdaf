/** The frontend socket's line framing: whole lines out, never more than the cap held. */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { createLineSplitter, type OverlongLine } from '../../worker/line-splitter.js';

function split(chunks: string[], maxLineBytes = 8) {
  const lines: string[] = [];
  const overlong: OverlongLine[] = [];
  const splitter = createLineSplitter({
    maxLineBytes,
    keepBytes: 4,
    onLine: (line) => lines.push(line),
    onOverlong: (line) => overlong.push(line),
  });
  for (const chunk of chunks) splitter.push(Buffer.from(chunk));
  splitter.end();
  return { lines, overlong };
}

test('lines split across chunks are joined; a last line without a newline counts', () => {
  assert.deepEqual(split(['INC', 'OMING', '\nab\n\ncd']), { lines: ['INCOMING', 'ab', '', 'cd'], overlong: [] });
});

test('a line of exactly the cap passes; one byte more is skipped up to its newline, then lines flow again', () => {
  assert.deepEqual(split(['12345678\n123456789\nok\n']), {
    lines: ['12345678', 'ok'],
    overlong: [{ start: '1234', bytes: 9 }],
  });
});

test('an overlong line spread over many chunks is counted, not kept', () => {
  const { lines, overlong } = split([
    'abc',
    'defghij',
    ...Array.from({ length: 1000 }, () => 'x'.repeat(100)),
    '\nnext',
  ]);
  assert.deepEqual(lines, ['next']);
  assert.deepEqual(overlong, [{ start: 'abcd', bytes: 10 + 100_000 }]);
});

test('an overlong line cut off by the end of the stream is still reported', () => {
  assert.deepEqual(split(['0123456789']), { lines: [], overlong: [{ start: '0123', bytes: 10 }] });
});
