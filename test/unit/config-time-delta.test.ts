import { test } from 'node:test';
import assert from 'node:assert/strict';
import { parseTimeDelta } from '../../core/config/index.js';

const HOUR = 3_600_000;
const DAY = 24 * HOUR;

test('parseTimeDelta reads every unit, decimals, case and spacing', () => {
  const cases: Array<[string, number | null]> = [
    ['24h', 24 * HOUR],
    ['30d', 30 * DAY],
    ['1w', 7 * DAY],
    ['3m', 90 * DAY],
    ['1y', 365 * DAY],
    ['0.5d', 12 * HOUR],
    ['.5h', 30 * 60_000],
    ['2D', 2 * DAY],
    ['1Y', 365 * DAY],
    ['12 h', 12 * HOUR],
    ['  7d  ', 7 * DAY],
    ['0d', 0],
    ['NEVER', null],
    ['never', null],
    ['Never', null],
  ];
  for (const [text, expected] of cases) assert.equal(parseTimeDelta(text), expected, text);
});

test('parseTimeDelta rounds to whole milliseconds', () => {
  assert.equal(parseTimeDelta('0.1h'), 360_000);
  assert.ok(Number.isInteger(parseTimeDelta('0.333d')));
});

test('parseTimeDelta rejects anything else and lists the accepted forms', () => {
  for (const text of [
    '',
    '30',
    'd',
    '3x',
    '30s',
    '-1d',
    '1e3d',
    'inf',
    '1.d',
    '1d2h',
    'never ever',
    '30 days',
    '0x10d',
  ]) {
    assert.throws(
      () => parseTimeDelta(text),
      (error: Error) =>
        error instanceof RangeError &&
        error.message.includes(JSON.stringify(text)) &&
        error.message.includes('NEVER or a number followed by h, d, w, m or y'),
      text,
    );
  }
});
