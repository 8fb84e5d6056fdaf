/**
 * Environment overrides. An empty variable counts as unset, so that
 * `FOO= command` can clear an inherited value without breaking the config.
 */
import type { SectionReader } from './section-reader.js';

export function envString(env: NodeJS.ProcessEnv, name: string): string | undefined {
  const value = env[name]?.trim();
  return value === undefined || value === '' ? undefined : value;
}

/** Parses `name` with `parse`; a bad value is a ConfigError on the key it overrides. */
export function envParsed<T>(
  env: NodeJS.ProcessEnv,
  name: string,
  parse: (text: string) => T | undefined,
  overrides: { section: SectionReader; key: string; expected: string },
): T | undefined {
  const text = envString(env, name);
  if (text === undefined) return undefined;
  const value = parse(text);
  if (value === undefined) {
    throw overrides.section.error(
      overrides.key,
      `environment variable ${name}=${JSON.stringify(text)} overrides this key but is not valid; ${overrides.expected}`,
    );
  }
  return value;
}
