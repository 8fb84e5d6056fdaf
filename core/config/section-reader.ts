/**
 * Typed reads from one INI section. Every problem becomes a ConfigError
 * naming the file, the section (as the file spells it) and the key, with
 * what was found and what is expected.
 */
import { ConfigError } from '../errors.js';
import type { IniDocument } from './ini.js';

// A Map, not an object literal, so that "constructor" is not a boolean.
const BOOLEANS = new Map<string, boolean>([
  ['true', true],
  ['yes', true],
  ['on', true],
  ['1', true],
  ['false', false],
  ['no', false],
  ['off', false],
  ['0', false],
]);

export function parseBoolean(text: string): boolean | undefined {
  return BOOLEANS.get(text.trim().toLowerCase());
}

export function parsePositiveInteger(text: string): number | undefined {
  const trimmed = text.trim();
  if (!/^\d+$/.test(trimmed)) return undefined;
  const value = Number(trimmed);
  return value > 0 && Number.isSafeInteger(value) ? value : undefined;
}

export function parsePositiveNumber(text: string): number | undefined {
  const trimmed = text.trim();
  if (!/^(\d+(\.\d+)?|\.\d+)$/.test(trimmed)) return undefined;
  const value = Number(trimmed);
  return value > 0 ? value : undefined;
}

export function parsePort(text: string): number | undefined {
  const value = parsePositiveInteger(text);
  return value !== undefined && value <= 65535 ? value : undefined;
}

export const PORT_EXPECTED = 'expected a port number from 1 to 65535';

export class SectionReader {
  private constructor(
    readonly file: string,
    /** The name as the file spells it, or the canonical name when the section is absent. */
    readonly name: string,
    readonly exists: boolean,
    private readonly values: ReadonlyMap<string, string>,
  ) {}

  /** Looks `name` up ignoring case; an absent section reads as empty. */
  static of(doc: IniDocument, name: string): SectionReader {
    const section = doc.findSection(name);
    return new SectionReader(doc.file, section?.name ?? name, section !== undefined, section?.values ?? new Map());
  }

  static ofSection(file: string, section: { name: string; values: ReadonlyMap<string, string> }): SectionReader {
    return new SectionReader(file, section.name, true, section.values);
  }

  error(key: string | undefined, problem: string): ConfigError {
    return new ConfigError(
      this.file,
      key === undefined ? { section: this.name } : { section: this.name, key },
      problem,
    );
  }

  /** The value, or undefined when absent; an empty value counts as not set. */
  optional(key: string): string | undefined {
    const value = this.values.get(key);
    return value === undefined || value === '' ? undefined : value;
  }

  /** `example` shows the admin what to write, e.g. "admin@example.com". */
  required(key: string, example: string): string {
    return this.optional(key) ?? this.missing(key, example);
  }

  /** Throws the error for a required key that is absent or empty. */
  missing(key: string, example: string): never {
    const line = `"${key}: ${example}"`;
    if (!this.exists)
      throw this.error(key, `missing, and so is the whole section; add a [${this.name}] section with ${line}`);
    if (this.values.has(key)) throw this.error(key, `is empty; give it a value, e.g. ${line}`);
    throw this.error(key, `missing; add ${line} to the [${this.name}] section`);
  }

  boolean(key: string): boolean | undefined {
    return this.convert(key, parseBoolean, 'is not a boolean; use true/false, yes/no, on/off or 1/0');
  }

  positiveInteger(key: string): number | undefined {
    return this.convert(key, parsePositiveInteger, 'is not a positive integer; expected a whole number such as 5');
  }

  positiveNumber(key: string): number | undefined {
    return this.convert(key, parsePositiveNumber, 'is not a positive number; expected e.g. 10 or 0.5');
  }

  port(key: string): number | undefined {
    return this.convert(key, parsePort, `is not a port; ${PORT_EXPECTED}`);
  }

  private convert<T>(key: string, parse: (text: string) => T | undefined, problem: string): T | undefined {
    const text = this.optional(key);
    if (text === undefined) return undefined;
    const value = parse(text);
    if (value === undefined) throw this.error(key, `${JSON.stringify(text)} ${problem}`);
    return value;
  }
}
