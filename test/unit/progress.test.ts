/** Progress rendering: what a terminal gets, and that anything else gets nothing extra. */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { bar, fitLine, liveBlock, progressBar, renderProgressLine } from '../../cli/progress.js';

const ERASE = '\r\x1b[2K';

/** A stream that records what was written; a terminal of `columns` when `tty`. */
function recorder(tty: boolean, columns = 60) {
  const writes: string[] = [];
  return { isTTY: tty, columns, writes, write: (text: string) => writes.push(text), text: () => writes.join('') };
}

test('the bar fills in proportion and never overflows', () => {
  assert.equal(bar(0, 10, 10), '[----------]');
  assert.equal(bar(5, 10, 10), '[#####-----]');
  assert.equal(bar(12, 10, 10), '[##########]');
  assert.equal(bar(0, 0, 4), '[####]', 'nothing to do is done');
});

test('a progress line fits its width: the bar shrinks, then the text is cut', () => {
  assert.equal(
    renderProgressLine('jobs deleted', 120, 500, 80),
    `jobs deleted [#######-----------------------] 120/500 24%`,
  );
  const narrow = renderProgressLine('jobs deleted', 120, 500, 40);
  assert.equal(narrow, 'jobs deleted [###----------] 120/500 24%');
  assert.ok(narrow.length <= 40);
  assert.equal(renderProgressLine('jobs deleted', 120, 500, 20), 'jobs deleted 120/50…');
  assert.equal(fitLine('abcdef', 4), 'abc…');
  assert.equal(fitLine('abc', 4), 'abc');
});

test('on a terminal the bar is redrawn in place, at most every interval, and erased at the end', () => {
  const err = recorder(true);
  const out = recorder(false);
  let now = 0;
  const progress = progressBar({
    label: 'jobs deleted',
    total: 4,
    stream: err,
    out,
    minIntervalMs: 100,
    now: () => now,
  });
  progress.tick(); // the first tick draws
  now = 50;
  progress.tick(); // too soon: not drawn
  now = 200;
  progress.tick();
  progress.print('deleted job-3');
  progress.tick(); // the last one always draws
  progress.stop();
  assert.deepEqual(err.writes, [
    `${ERASE}jobs deleted [########----------------------] 1/4 25%`,
    `${ERASE}jobs deleted [#######################-------] 3/4 75%`,
    ERASE, // print: the bar makes room for the line
    `${ERASE}jobs deleted [#######################-------] 3/4 75%`,
    `${ERASE}jobs deleted [##############################] 4/4 100%`,
    ERASE,
  ]);
  assert.deepEqual(out.writes, ['deleted job-3\n']);
});

test('a new phase starts counting again under its own label', () => {
  const err = recorder(true);
  const progress = progressBar({ label: 'x', total: 0, stream: err, out: recorder(false), now: () => 0 });
  progress.phase('stopping workflows', 2);
  progress.tick(2);
  progress.phase('deleting directories', 3);
  assert.equal(err.writes.at(-1), `${ERASE}deleting directories ${bar(0, 3, 29)} 0/3 0%`);
  assert.ok(err.writes.every((text) => text.startsWith(ERASE)));
});

test('off a terminal the bar writes nothing; printed lines are all there is', () => {
  const err = recorder(false);
  const out = recorder(false);
  const progress = progressBar({ label: 'jobs deleted', total: 3, stream: err, out });
  progress.phase('stopping workflows', 3);
  for (let i = 0; i < 3; i++) progress.tick();
  progress.print('[]');
  progress.stop();
  assert.deepEqual(err.writes, []);
  assert.equal(out.text(), '[]\n');
});

test('a live block redraws in place on a terminal, cutting lines to its width and blanking leftovers', () => {
  const tty = recorder(true, 11);
  const block = liveBlock(tty);
  block.update(['a  INCOMING', 'b  RUNNING']);
  block.update(['a  DONE']);
  assert.deepEqual(tty.writes, [`${ERASE}a  INCOMI…\n${ERASE}b  RUNNING\n`, `\x1b[2A${ERASE}a  DONE\n${ERASE}\n`]);
});

test('off a terminal a live block prints each changed line once, and nothing when nothing changed', () => {
  const log = recorder(false);
  const block = liveBlock(log);
  block.update(['a  INCOMING', 'b  INCOMING']);
  block.update(['a  INCOMING', 'b  INCOMING']);
  block.update(['a  RUNNING', 'b  INCOMING']);
  assert.equal(log.text(), 'a  INCOMING\nb  INCOMING\na  RUNNING\n');
  assert.ok(!log.text().includes('\x1b'), 'no escape codes in a log');
});
