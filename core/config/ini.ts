/**
 * The INI dialect of Python's configparser with its defaults, which is what
 * saliweb reads: `key: value` or `key = value` (the first `:` or `=`
 * splits), case-insensitive keys, case-sensitive section names, full-line
 * `#` / `;` comments, and values continued on more-indented lines; and
 * its BasicInterpolation, as saliweb and its frontend read the file:
 * `%(key)s` is the value of `key` in the same section or in `[DEFAULT]`,
 * `%%` a literal `%`, and every key of `[DEFAULT]` is seen in every section
 * present in the file (not in an absent one, and `[DEFAULT]` itself is not
 * listed among the sections).
 */
import { readFileSync } from 'node:fs';
import { ConfigError } from '../errors.js';

export interface IniSection {
  /** The name as written between the brackets (trimmed). */
  readonly name: string;
  /** Lower-cased keys to values (interpolated), in file order; then the keys only `[DEFAULT]` sets. */
  readonly values: ReadonlyMap<string, string>;
  /** The keys of `values` that come from `[DEFAULT]` (the section does not set them itself). */
  readonly inherited?: ReadonlySet<string>;
}

/** configparser's default_section: its keys are seen in every section. */
export const DEFAULT_SECTION = 'DEFAULT';
/** configparser's MAX_INTERPOLATION_DEPTH. */
const MAX_INTERPOLATION_DEPTH = 10;

/**
 * configparser's BasicInterpolation of `raw`, the value of `key` in
 * `section`, with `lookup` finding a key's raw value there (the section's
 * own, else `[DEFAULT]`'s). Its errors name the file, section and key.
 */
function interpolate(
  file: string,
  section: string,
  key: string,
  raw: string,
  lookup: (name: string) => string | undefined,
): string {
  const fail = (problem: string): never => {
    throw new ConfigError(file, { section, key }, `${problem} (configparser interpolation; write %% for a literal %)`);
  };
  const out: string[] = [];
  const expand = (rest: string, depth: number): void => {
    if (depth > MAX_INTERPOLATION_DEPTH) {
      fail(
        `more than ${MAX_INTERPOLATION_DEPTH} nested %(...)s references (a reference loop?) in ${JSON.stringify(raw)}`,
      );
    }
    while (rest !== '') {
      const at = rest.indexOf('%');
      if (at < 0) {
        out.push(rest);
        return;
      }
      out.push(rest.slice(0, at));
      rest = rest.slice(at);
      const next = rest[1];
      if (next === '%') {
        out.push('%');
        rest = rest.slice(2);
      } else if (next === '(') {
        const match = /^%\(([^)]+)\)s/.exec(rest);
        if (!match) fail(`bad interpolation variable reference ${JSON.stringify(rest)}; write %(name)s`);
        const name = match![1]!.toLowerCase();
        rest = rest.slice(match![0].length);
        const value = lookup(name);
        if (value === undefined) {
          fail(`%(${name})s refers to a key that neither [${section}] nor [${DEFAULT_SECTION}] sets`);
        }
        if (value!.includes('%')) expand(value!, depth + 1);
        else out.push(value!);
      } else {
        fail(`'%' must be followed by '%' or '(', found ${JSON.stringify(rest)}`);
      }
    }
  };
  expand(raw, 1);
  return out.join('');
}

export class IniDocument {
  constructor(
    readonly file: string,
    private readonly byName: ReadonlyMap<string, IniSection>,
  ) {}

  /** Sections in file order. */
  get sections(): IniSection[] {
    return [...this.byName.values()];
  }

  /** The section with exactly this name. */
  section(name: string): IniSection | undefined {
    return this.byName.get(name);
  }

  /**
   * The section whose name matches ignoring case (saliweb services write
   * both `[general]` and `[General]`). Two sections that differ only in case
   * would make the answer depend on which one we pick, so that is an error.
   */
  findSection(name: string): IniSection | undefined {
    const wanted = name.toLowerCase();
    const matches = this.sections.filter((section) => section.name.toLowerCase() === wanted);
    if (matches.length > 1) {
      throw new ConfigError(
        this.file,
        { section: name },
        `sections ${matches.map((s) => `[${s.name}]`).join(' and ')} differ only in case; merge them into one`,
      );
    }
    return matches[0];
  }

  /** A plain-object view, so that logging or serialising a config shows the values. */
  toJSON(): { file: string; sections: Record<string, Record<string, string>> } {
    return {
      file: this.file,
      sections: Object.fromEntries(this.sections.map((section) => [section.name, Object.fromEntries(section.values)])),
    };
  }
}

interface OpenValue {
  section: string;
  key: string;
  lines: string[];
  indent: number;
  /** Blank lines seen since the last value line; kept only if the value continues. */
  pendingBlanks: number;
}

/** Parses INI `text`; `file` is only used in error messages. */
export function parseIni(text: string, file: string): IniDocument {
  const sections = new Map<string, Map<string, string>>();
  let current: { name: string; values: Map<string, string> } | undefined;
  let open: OpenValue | undefined;

  const close = () => {
    if (open) sections.get(open.section)?.set(open.key, open.lines.join('\n'));
    open = undefined;
  };

  const lines = text.replace(/^\uFEFF/, '').split(/\r\n|\n|\r/);
  lines.forEach((raw, index) => {
    const lineNo = index + 1;
    const trimmed = raw.trim();
    if (trimmed === '') {
      if (open) open.pendingBlanks += 1;
      return;
    }
    if (trimmed.startsWith('#') || trimmed.startsWith(';')) return;

    const indent = raw.length - raw.trimStart().length;
    if (open && indent > open.indent) {
      for (; open.pendingBlanks > 0; open.pendingBlanks -= 1) open.lines.push('');
      open.lines.push(trimmed);
      return;
    }
    close();

    if (trimmed.startsWith('[')) {
      const name = parseHeader(trimmed, file, lineNo);
      if (sections.has(name)) {
        throw new ConfigError(
          file,
          { section: name },
          `line ${lineNo}: duplicate section [${name}]; merge the two into one`,
        );
      }
      current = { name, values: new Map() };
      sections.set(name, current.values);
      return;
    }

    const split = firstDelimiter(trimmed);
    if (split < 0) {
      throw new ConfigError(
        file,
        current ? { section: current.name } : {},
        `line ${lineNo}: expected "key: value", "key = value", a [section] header or a # comment; found ${JSON.stringify(trimmed)}`,
      );
    }
    const key = trimmed.slice(0, split).trim().toLowerCase();
    if (key === '') {
      throw new ConfigError(
        file,
        current ? { section: current.name } : {},
        `line ${lineNo}: no key before "${trimmed[split]}" in ${JSON.stringify(trimmed)}`,
      );
    }
    if (!current) {
      throw new ConfigError(file, { key }, `line ${lineNo}: key outside any section; put a [section] header above it`);
    }
    if (current.values.has(key)) {
      throw new ConfigError(
        file,
        { section: current.name, key },
        `line ${lineNo}: duplicate key; it is already set earlier in [${current.name}]`,
      );
    }
    // Reserve the key's place now so that file order is kept even for multi-line values.
    current.values.set(key, '');
    open = { section: current.name, key, lines: [trimmed.slice(split + 1).trim()], indent, pendingBlanks: 0 };
  });
  close();

  const defaults = sections.get(DEFAULT_SECTION) ?? new Map<string, string>();
  sections.delete(DEFAULT_SECTION);
  const byName = new Map<string, IniSection>();
  for (const [name, own] of sections) {
    const lookup = (key: string) => own.get(key) ?? defaults.get(key);
    const values = new Map<string, string>();
    const inherited = new Set<string>();
    for (const [key, raw] of own) values.set(key, interpolate(file, name, key, raw, lookup));
    for (const [key, raw] of defaults) {
      if (own.has(key)) continue;
      values.set(key, interpolate(file, name, key, raw, lookup));
      inherited.add(key);
    }
    byName.set(name, inherited.size > 0 ? { name, values, inherited } : { name, values });
  }
  // [DEFAULT]'s own values are checked too, as configparser would on reading them.
  for (const [key, raw] of defaults) interpolate(file, DEFAULT_SECTION, key, raw, (name) => defaults.get(name));
  return new IniDocument(file, byName);
}

/** Reads and parses an INI file; a missing or unreadable file is a ConfigError naming it. */
export function readIniFile(path: string): IniDocument {
  let text: string;
  try {
    text = readFileSync(path, 'utf8');
  } catch (error) {
    throw new ConfigError(path, {}, `cannot read the file: ${describeFsError(error)}`);
  }
  return parseIni(text, path);
}

export function describeFsError(error: unknown): string {
  const code = (error as NodeJS.ErrnoException | undefined)?.code;
  if (code === 'ENOENT') return 'it does not exist';
  if (code === 'EACCES') return 'permission denied';
  if (code === 'EISDIR') return 'it is a directory, not a file';
  return error instanceof Error ? error.message : String(error);
}

function parseHeader(trimmed: string, file: string, lineNo: number): string {
  const end = trimmed.indexOf(']');
  if (end < 0) {
    throw new ConfigError(
      file,
      {},
      `line ${lineNo}: unterminated section header ${JSON.stringify(trimmed)}; expected [name]`,
    );
  }
  if (end !== trimmed.length - 1) {
    throw new ConfigError(
      file,
      {},
      `line ${lineNo}: unexpected text after the section header in ${JSON.stringify(trimmed)}; comments need a line of their own`,
    );
  }
  const name = trimmed.slice(1, end).trim();
  if (name === '') throw new ConfigError(file, {}, `line ${lineNo}: empty section name "[]"`);
  return name;
}

function firstDelimiter(line: string): number {
  const colon = line.indexOf(':');
  const equals = line.indexOf('=');
  if (colon < 0) return equals;
  if (equals < 0) return colon;
  return Math.min(colon, equals);
}
