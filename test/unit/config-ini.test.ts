import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { ConfigError } from '../../core/errors.js';
import { parseIni, readIniFile } from '../../core/config/index.js';

const FILE = '/srv/modfoo/conf/live.conf';

function values(text: string, section: string): Record<string, string> {
  const found = parseIni(text, FILE).section(section);
  assert.ok(found, `section [${section}] should exist`);
  return Object.fromEntries(found.values);
}

test('colon and equals syntax; the first delimiter splits', () => {
  const text = ['[general]', 'a: 1', 'b = 2', 'c:x=y', 'd=x:y', 'url: https://example.com:8080/x', 'e:', 'f ='].join(
    '\n',
  );
  assert.deepEqual(values(text, 'general'), {
    a: '1',
    b: '2',
    c: 'x=y',
    d: 'x:y',
    url: 'https://example.com:8080/x',
    e: '',
    f: '',
  });
});

test('keys are lower-cased and trimmed; values trimmed; keys may contain spaces', () => {
  const text = '[s]\n  Admin_EMAIL   :   me@example.com   \nTwo Words = yes\n';
  assert.deepEqual(values(text, 's'), { admin_email: 'me@example.com', 'two words': 'yes' });
});

test('section names are case-sensitive, with a case-insensitive lookup', () => {
  const doc = parseIni('[General]\na: 1\n[general2]\nb: 2\n', FILE);
  assert.equal(doc.section('general'), undefined);
  assert.equal(doc.section('General')?.values.get('a'), '1');
  assert.equal(doc.findSection('GENERAL')?.name, 'General');
  assert.equal(doc.findSection('missing'), undefined);
});

test('a case-insensitive lookup that matches two sections is an error', () => {
  const doc = parseIni('[general]\na: 1\n[General]\nb: 2\n', FILE);
  assert.throws(
    () => doc.findSection('general'),
    (error: Error) => error instanceof ConfigError && error.message.includes('[general] and [General]'),
  );
});

test('sections and keys keep file order', () => {
  const doc = parseIni('[b]\nz: 1\ny: 2\n[a]\nx: 3\n[c]\n', FILE);
  assert.deepEqual(
    doc.sections.map((s) => s.name),
    ['b', 'a', 'c'],
  );
  assert.deepEqual([...(doc.section('b')?.values.keys() ?? [])], ['z', 'y']);
  assert.equal(doc.section('c')?.values.size, 0);
});

test('full-line comments and blank lines are skipped; inline text is kept raw', () => {
  const text = [
    '# top comment',
    '; another',
    '',
    '[s]',
    '   # indented comment',
    'a: 1 # not a comment',
    'b: x ; y',
    '',
    '; trailing',
  ].join('\n');
  assert.deepEqual(values(text, 's'), { a: '1 # not a comment', b: 'x ; y' });
});

test('continuation lines join with newlines; blank lines inside a value are kept, trailing ones dropped', () => {
  const text = [
    '[s]',
    'long: first',
    '  second',
    '\tthird',
    '',
    '    fourth',
    '',
    '',
    'next: 1',
    '  # a comment inside a value is skipped',
    '  more',
  ].join('\n');
  assert.deepEqual(values(text, 's'), { long: 'first\nsecond\nthird\n\nfourth', next: '1\nmore' });
});

test('continuation is relative to the key indentation, and an empty first line is allowed', () => {
  const text = ['[s]', '  a: 1', '  b:', '      x', '      y', '  c: 3'].join('\n');
  assert.deepEqual(values(text, 's'), { a: '1', b: '\nx\ny', c: '3' });
});

test('an indented line right after a header is a key, like configparser', () => {
  assert.deepEqual(values('[s]\n    a: 1\n', 's'), { a: '1' });
});

test('CRLF line ends and a byte-order mark are accepted', () => {
  assert.deepEqual(values('\uFEFF[s]\r\na: 1\r\nb: 2\r\n', 's'), { a: '1', b: '2' });
});

test('section names are trimmed and may contain colons', () => {
  const doc = parseIni('[ frontend:foo ]\nservice_name: Foo\n', FILE);
  assert.equal(doc.section('frontend:foo')?.values.get('service_name'), 'Foo');
});

test('toJSON gives a plain-object view', () => {
  assert.deepEqual(JSON.parse(JSON.stringify(parseIni('[s]\na: 1\n', FILE))), {
    file: FILE,
    sections: { s: { a: '1' } },
  });
});

const SYNTAX_ERRORS: Array<{ name: string; text: string; expect: string[] }> = [
  { name: 'key outside any section', text: 'a: 1\n[s]\n', expect: ['line 1', 'a:', 'outside any section'] },
  {
    name: 'neither header, key nor comment',
    text: '[s]\na: 1\njust words\n',
    expect: ['[s]:', 'line 3', '"just words"'],
  },
  { name: 'duplicate section', text: '[s]\na: 1\n[t]\n[s]\n', expect: ['[s]', 'line 4', 'duplicate section'] },
  { name: 'duplicate key', text: '[s]\na: 1\nA = 2\n', expect: ['[s] a:', 'line 3', 'duplicate key'] },
  { name: 'unterminated header', text: '[s]\na: 1\n[general\n', expect: ['line 3', 'unterminated', '"[general"'] },
  { name: 'text after header', text: '[s] # comment\n', expect: ['line 1', 'after the section header'] },
  { name: 'empty header', text: '[]\n', expect: ['line 1', 'empty section name'] },
  { name: 'empty key', text: '[s]\n: value\n', expect: ['[s]:', 'line 2', 'no key'] },
];

for (const { name, text, expect } of SYNTAX_ERRORS) {
  test(`syntax error: ${name}`, () => {
    assert.throws(
      () => parseIni(text, FILE),
      (error: Error) => {
        assert.ok(error instanceof ConfigError, `${error.name}: ${error.message}`);
        assert.equal(error.file, FILE);
        assert.ok(error.message.startsWith(FILE), error.message);
        for (const part of expect)
          assert.ok(error.message.includes(part), `"${error.message}" should contain "${part}"`);
        return true;
      },
    );
  });
}

test('readIniFile names a missing file', () => {
  const dir = mkdtempSync(join(tmpdir(), 'saliflow-ini-'));
  try {
    const missing = join(dir, 'nope.conf');
    assert.throws(
      () => readIniFile(missing),
      (error: Error) =>
        error instanceof ConfigError && error.message.includes(missing) && error.message.includes('does not exist'),
    );
    writeFileSync(join(dir, 'ok.conf'), '[s]\na: 1\n');
    assert.equal(readIniFile(join(dir, 'ok.conf')).section('s')?.values.get('a'), '1');
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

// saliweb and its frontend read the file with Python's configparser, whose BasicInterpolation applies (issue 29).
test('configparser interpolation: %(key)s from the section or [DEFAULT], %% a literal %, nested references', () => {
  const text = [
    '[DEFAULT]',
    'root: /srv/modfoo',
    'Service = ModFoo',
    '[directories]',
    'incoming: %(root)s/incoming',
    'completed: %(top)s/completed',
    'top: %(root)s/data',
    '[general]',
    'service_name: %(service)s',
    'urltop: https://example.org/%(SERVICE)s?x=100%%',
    'root: /elsewhere',
    'here: %(root)s',
  ].join('\n');
  const doc = parseIni(text, FILE);
  assert.deepEqual(
    doc.sections.map((section) => section.name),
    ['directories', 'general'],
    '[DEFAULT] is not a section of its own',
  );
  assert.deepEqual(values(text, 'directories'), {
    incoming: '/srv/modfoo/incoming',
    completed: '/srv/modfoo/data/completed',
    top: '/srv/modfoo/data',
    root: '/srv/modfoo',
    service: 'ModFoo',
  });
  assert.deepEqual(values(text, 'general'), {
    service_name: 'ModFoo',
    urltop: 'https://example.org/ModFoo?x=100%',
    root: '/elsewhere',
    here: '/elsewhere',
    service: 'ModFoo',
  });
  assert.deepEqual([...(doc.section('general')?.inherited ?? [])], ['service']);
});

test('a bad interpolation is an error naming the file, section and key', () => {
  const bad: [string, RegExp][] = [
    ['[s]\nk: %(nope)s\n', /live\.conf \[s\] k: %\(nope\)s refers to a key that neither \[s\] nor \[DEFAULT\] sets/],
    ['[s]\nk: 100%\n', /live\.conf \[s\] k: '%' must be followed by '%' or '\(', found "%"/],
    ['[s]\nk: %(x)d\nx: 1\n', /live\.conf \[s\] k: bad interpolation variable reference "%\(x\)d"/],
    ['[s]\na: %(b)s\nb: %(a)s\n', /live\.conf \[s\] a: more than 10 nested/],
    ['[DEFAULT]\nk: 5%\n[s]\n', /live\.conf \[s\] k: '%' must be followed/],
  ];
  for (const [text, message] of bad) {
    assert.throws(
      () => parseIni(text, FILE),
      (error: unknown) => error instanceof ConfigError && message.test(error.message),
      text,
    );
  }
});
