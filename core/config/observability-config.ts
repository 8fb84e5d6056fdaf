/**
 * `[metrics]` and `[logging]`, saliflow's own sections: where the worker
 * serves Prometheus metrics, and how much it logs.
 */
import { envParsed } from './env.js';
import { parsePort, type SectionReader } from './section-reader.js';

export const LOG_LEVELS = ['trace', 'debug', 'info', 'warn', 'error'] as const;
export type LogLevelName = (typeof LOG_LEVELS)[number];

export interface MetricsConfig {
  /** `host:port` of the Prometheus endpoint (`/metrics`); unset: no metrics. */
  prometheus?: string;
  /** `host:port` of the health endpoint (`/healthz`, for a load balancer or a watchdog); unset: none. */
  health?: string;
}

export interface LoggingConfig {
  /** @defaultValue info */
  level: LogLevelName;
}

export const METRICS_KEYS = ['prometheus', 'health'] as const;
export const LOGGING_KEYS = ['level'] as const;

const ADDRESS_EXPECTED = 'expected host:port, e.g. 0.0.0.0:9464 or 127.0.0.1:9464';
const LEVEL_EXPECTED = `expected one of ${LOG_LEVELS.join(', ')}`;

/** `host:port` with a valid port (IPv6 hosts in brackets); the address itself is checked when it is bound. */
export function parseListenAddress(text: string): string | undefined {
  const match = /^(\[[0-9a-fA-F:.]+\]|[^\s:[\]]+):(\d+)$/.exec(text.trim());
  return match && parsePort(match[2]!) !== undefined ? text.trim() : undefined;
}

export function parseLogLevel(text: string): LogLevelName | undefined {
  const level = text.trim().toLowerCase();
  return (LOG_LEVELS as readonly string[]).includes(level) ? (level as LogLevelName) : undefined;
}

/** A listen address from its variable (which wins) or its key; a malformed one is refused, naming where it came from. */
function readAddress(
  section: SectionReader,
  env: NodeJS.ProcessEnv,
  key: string,
  variable: string,
): string | undefined {
  const fromEnv = envParsed(env, variable, parseListenAddress, { section, key, expected: ADDRESS_EXPECTED });
  const text = section.optional(key);
  const fromFile = text === undefined ? undefined : parseListenAddress(text);
  if (fromEnv === undefined && text !== undefined && fromFile === undefined) {
    throw section.error(key, `${JSON.stringify(text)} is not an address; ${ADDRESS_EXPECTED}`);
  }
  return fromEnv ?? fromFile;
}

export function readMetricsConfig(section: SectionReader, env: NodeJS.ProcessEnv): MetricsConfig {
  const prometheus = readAddress(section, env, 'prometheus', 'SALIFLOW_METRICS_ADDRESS');
  const health = readAddress(section, env, 'health', 'SALIFLOW_HEALTH_ADDRESS');
  return { ...(prometheus !== undefined ? { prometheus } : {}), ...(health !== undefined ? { health } : {}) };
}

export function readLoggingConfig(section: SectionReader, env: NodeJS.ProcessEnv): LoggingConfig {
  const fromEnv = envParsed(env, 'SALIFLOW_LOG_LEVEL', parseLogLevel, {
    section,
    key: 'level',
    expected: LEVEL_EXPECTED,
  });
  if (fromEnv !== undefined) return { level: fromEnv };
  const text = section.optional('level');
  if (text === undefined) return { level: 'info' };
  const level = parseLogLevel(text);
  if (level === undefined)
    throw section.error('level', `${JSON.stringify(text)} is not a log level; ${LEVEL_EXPECTED}`);
  return { level };
}
