/**
 * A service's config file (SALIWEB.md "Configuration file"), read once and
 * validated where it enters: everything downstream trusts these types.
 */
import { dirname, resolve } from 'node:path';
import type { IniDocument } from './ini.js';
import { readIniFile } from './ini.js';
import { readDatabaseConfig } from './database-config.js';
import type { DatabaseConfig } from './database-config.js';
import { readMailConfig } from './mail-config.js';
import { readLoggingConfig, readMetricsConfig } from './observability-config.js';
import type { LoggingConfig, MetricsConfig } from './observability-config.js';
import { readSgeConfig, readSlurmConfig } from './cluster-config.js';
import type { ClustersConfig } from './cluster-config.js';
import type { MailConfig } from './mail-config.js';
import { SectionReader } from './section-reader.js';
import { readTemporalConfig } from './temporal-config.js';
import type { TemporalConfig } from './temporal-config.js';
import { parseTimeDelta } from './time-delta.js';
import { envString } from './env.js';
import { checkKnownSections, type SectionKeys } from './known-sections.js';
import { readWorkerConfig, type WorkerConfig } from './worker-config.js';

/** States that own a directory (EXPIRED jobs have none), in pipeline order. */
export const DIRECTORY_STATES = [
  'INCOMING',
  'PREPROCESSING',
  'RUNNING',
  'POSTPROCESSING',
  'FINALIZING',
  'COMPLETED',
  'ARCHIVED',
  'FAILED',
] as const;
export type DirectoryState = (typeof DIRECTORY_STATES)[number];

/** Where an unset directory goes: the previous state's, and FAILED with COMPLETED. */
const DIRECTORY_DEFAULTS: Record<Exclude<DirectoryState, 'INCOMING' | 'PREPROCESSING'>, DirectoryState> = {
  RUNNING: 'PREPROCESSING',
  POSTPROCESSING: 'RUNNING',
  FINALIZING: 'POSTPROCESSING',
  COMPLETED: 'FINALIZING',
  ARCHIVED: 'COMPLETED',
  FAILED: 'COMPLETED',
};

export interface GeneralConfig {
  adminEmail: string;
  /** Unix socket on which the frontend announces new jobs; absolute (relative ones resolve against the config's folder). */
  socket: string;
  /** Permission bits of the socket file (`socket_mode`, octal). @defaultValue 0o660 */
  socketMode: number;
  /** Group the socket file is given (`socket_group`): a group name or a numeric gid; unset keeps the worker's group. */
  socketGroup?: string | number;
  /**
   * The web server's user, granted rwx on the socket with an ACL (`socket_user`; `none` for no ACL).
   * @defaultValue `apache` (saliweb's), unless `socket_group` is set: then no ACL
   */
  socketUser?: string;
  serviceName: string;
  urltop: string;
  /** @defaultValue false */
  trackHostname: boolean;
  github?: string;
}

export interface BackendConfig {
  user: string;
  /** Absolute (relative ones resolve against the config's folder). */
  stateFile: string;
  /** Polling fallback interval. */
  checkMinutes: number;
}

export interface LimitsConfig {
  /** Most jobs RUNNING at once. @defaultValue 5 */
  running: number;
  /** Most jobs in flight at once for one user (the `user` column); unset: only `running` applies. */
  runningPerUser?: number;
  /** Most jobs in flight at once for all anonymous submissions together (`user` NULL or empty); unset: only `running` applies. */
  runningPerAnonymous?: number;
  /**
   * Advisory, as in saliweb: the engine does not use it; a service reads it
   * (`job.config.limits.concurrentTasks`) to cap the tasks of its array jobs.
   */
  concurrentTasks?: number;
}

export type DirectoriesConfig = Record<DirectoryState, string> & { install?: string };

export interface OldJobsConfig {
  /** Delay after COMPLETED before ARCHIVED; null for NEVER. */
  archiveMs: number | null;
  /** Delay after COMPLETED before EXPIRED; null for NEVER. */
  expireMs: number | null;
}

export interface ServiceConfig {
  /** Absolute path. */
  configFile: string;
  general: GeneralConfig;
  backend: BackendConfig;
  limits: LimitsConfig;
  database: DatabaseConfig;
  /** Absolute paths, defaults filled in. */
  directories: DirectoriesConfig;
  oldjobs: OldJobsConfig;
  /** From `[frontend:NAME]` sections, by NAME. */
  frontends: Record<string, { serviceName: string }>;
  temporal: TemporalConfig;
  mail: MailConfig;
  /** Clusters jobs can run on (`[sge]`, `[slurm]`). */
  clusters: ClustersConfig;
  /** `[metrics]`: the worker's Prometheus endpoint. */
  metrics: MetricsConfig;
  /** `[logging]`: the worker's log level. */
  logging: LoggingConfig;
  /** `[worker]`: how a worker stops. */
  worker: WorkerConfig;
  /** The parsed file, so services can read their own sections. */
  sections: IniDocument;
}

export interface LoadOptions {
  /**
   * The service's own sections and their keys (`defineService({ configSections })`).
   * Unset when the service module is not at hand: sections that are not near a
   * built-in one's spelling are then left unchecked.
   */
  serviceSections?: SectionKeys;
}

/**
 * Reads the config at `path`; environment variables override some keys (see the
 * temporal, database and mail sections). A section or key that neither saliweb,
 * saliflow nor the service reads is an error naming the nearest valid spelling.
 */
export function loadServiceConfig(
  path: string,
  env: NodeJS.ProcessEnv = process.env,
  options: LoadOptions = {},
): ServiceConfig {
  const configFile = resolve(path);
  const configDir = dirname(configFile);
  const doc = readIniFile(configFile);
  checkKnownSections(doc, options.serviceSections);
  const section = (name: string) => SectionReader.of(doc, name);

  const general = readGeneral(section('general'), configDir, env);
  return {
    configFile,
    general,
    backend: readBackend(section('backend'), configDir),
    limits: readLimits(section('limits')),
    database: readDatabaseConfig(section('database'), configDir, env),
    directories: readDirectories(section('directories'), configDir),
    oldjobs: readOldJobs(section('oldjobs')),
    frontends: readFrontends(doc),
    temporal: readTemporalConfig(section('temporal'), configDir, general.serviceName, env),
    mail: readMailConfig(section('mail'), general.adminEmail, env),
    clusters: readClusters(section('sge'), section('slurm'), env),
    metrics: readMetricsConfig(section('metrics'), env),
    logging: readLoggingConfig(section('logging'), env),
    worker: readWorkerConfig(section('worker')),
    sections: doc,
  };
}

function readClusters(sge: SectionReader, slurm: SectionReader, env: NodeJS.ProcessEnv): ClustersConfig {
  const sgeConfig = readSgeConfig(sge, env);
  const slurmConfig = readSlurmConfig(slurm, env);
  return { ...(sgeConfig ? { sge: sgeConfig } : {}), ...(slurmConfig ? { slurm: slurmConfig } : {}) };
}

function readGeneral(general: SectionReader, configDir: string, env: NodeJS.ProcessEnv): GeneralConfig {
  const github = general.optional('github');
  const socketGroup = readSocketGroup(general);
  const socketFromEnv = envString(env, 'SALIFLOW_SOCKET');
  return {
    adminEmail: general.required('admin_email', 'admin@example.com'),
    // Each worker host has a socket of its own, even when the config file is shared.
    socket: socketFromEnv
      ? resolve(socketFromEnv)
      : resolve(configDir, general.required('socket', '/path/to/service.socket')),
    socketMode: readSocketMode(general),
    ...(socketGroup !== undefined ? { socketGroup } : {}),
    ...readSocketUser(general, socketGroup),
    serviceName: general.required('service_name', 'ModFoo'),
    urltop: general.required('urltop', 'https://example.com/modfoo'),
    trackHostname: general.boolean('track_hostname') ?? false,
    ...(github !== undefined ? { github } : {}),
  };
}

/** Owner and group may connect, others may not: the web server's user joins the group (saliweb used an ACL). */
export const DEFAULT_SOCKET_MODE = 0o660;

function readSocketMode(general: SectionReader): number {
  const text = general.optional('socket_mode');
  if (text === undefined) return DEFAULT_SOCKET_MODE;
  const digits = /^(?:0o?)?([0-7]{1,3})$/i.exec(text.trim())?.[1];
  if (digits === undefined) {
    throw general.error(
      'socket_mode',
      `${JSON.stringify(text)} is not a file mode; write permission bits in octal, e.g. 0660 (owner and group may connect)`,
    );
  }
  return parseInt(digits, 8);
}

function readSocketGroup(general: SectionReader): string | number | undefined {
  const text = general.optional('socket_group')?.trim();
  if (text === undefined || text === '') return undefined;
  if (/^\d+$/.test(text)) return Number(text);
  if (/\s|:/.test(text)) {
    throw general.error('socket_group', `${JSON.stringify(text)} is not a group; give a group name or a numeric gid`);
  }
  return text;
}

/** saliweb's daemon runs `setfacl -m u:apache:rwx <socket>` after binding it, for the web server's user. */
export const DEFAULT_SOCKET_USER = 'apache';

/**
 * `socket_user` names the user the ACL is for (`none`: no ACL). Unset, it is saliweb's `apache`, unless the
 * site chose `socket_group` (the group then lets the web server in, and no ACL is asked for).
 */
function readSocketUser(general: SectionReader, socketGroup: string | number | undefined): { socketUser?: string } {
  const text = general.optional('socket_user')?.trim();
  if (text === undefined || text === '') return socketGroup === undefined ? { socketUser: DEFAULT_SOCKET_USER } : {};
  if (text.toLowerCase() === 'none') return {};
  if (/\s|:|,/.test(text)) {
    throw general.error(
      'socket_user',
      `${JSON.stringify(text)} is not a user; give the web server's user name (or uid), or none for no ACL`,
    );
  }
  return { socketUser: text };
}

function readBackend(backend: SectionReader, configDir: string): BackendConfig {
  return {
    user: backend.required('user', 'modfoo'),
    stateFile: resolve(configDir, backend.required('state_file', '/path/to/modfoo.state')),
    checkMinutes: backend.positiveNumber('check_minutes') ?? backend.missing('check_minutes', '10'),
  };
}

function readLimits(limits: SectionReader): LimitsConfig {
  const concurrentTasks = limits.positiveInteger('concurrent_tasks');
  const running = limits.positiveInteger('running') ?? 5;
  /** A share larger than the whole would never bind: almost certainly a typo. */
  const share = (key: string, whose: string) => {
    const value = limits.positiveInteger(key);
    if (value !== undefined && value > running) {
      throw limits.error(
        key,
        `${value} exceeds [${limits.name}] running (${running}), so it would never limit ${whose}; ` +
          `make it at most ${running}, or remove it`,
      );
    }
    return value;
  };
  const runningPerUser = share('running_per_user', 'a user');
  const runningPerAnonymous = share('running_per_anonymous', 'anonymous submissions');
  return {
    running,
    ...(runningPerUser !== undefined ? { runningPerUser } : {}),
    ...(runningPerAnonymous !== undefined ? { runningPerAnonymous } : {}),
    ...(concurrentTasks !== undefined ? { concurrentTasks } : {}),
  };
}

function readDirectories(directories: SectionReader, configDir: string): DirectoriesConfig {
  const path = (key: string) => {
    const value = directories.optional(key);
    return value === undefined ? undefined : resolve(configDir, value);
  };
  const example = (key: string) => `/path/to/${key}/`;
  const result = {
    INCOMING: resolve(configDir, directories.required('incoming', example('incoming'))),
    PREPROCESSING: resolve(configDir, directories.required('preprocessing', example('preprocessing'))),
  } as DirectoriesConfig;
  // DIRECTORY_STATES is in pipeline order, so each default is filled before it is needed.
  for (const state of DIRECTORY_STATES) {
    if (state === 'INCOMING' || state === 'PREPROCESSING') continue;
    result[state] = path(state.toLowerCase()) ?? result[DIRECTORY_DEFAULTS[state]];
  }
  const install = path('install');
  if (install !== undefined) result.install = install;
  return result;
}

function readOldJobs(oldjobs: SectionReader): OldJobsConfig {
  const delay = (key: 'archive' | 'expire') => {
    const text = oldjobs.required(key, '30d');
    try {
      return parseTimeDelta(text);
    } catch (error) {
      throw oldjobs.error(key, (error as Error).message);
    }
  };
  const archiveMs = delay('archive');
  const expireMs = delay('expire');
  // NEVER (null) is infinitely long.
  if (expireMs !== null && (archiveMs === null || archiveMs > expireMs)) {
    throw oldjobs.error(
      'archive',
      `archive delay (${oldjobs.optional('archive')}) exceeds the expire delay (${oldjobs.optional('expire')}); ` +
        'a job must be archived before it expires, so make archive shorter or expire longer',
    );
  }
  return { archiveMs, expireMs };
}

function readFrontends(doc: IniDocument): Record<string, { serviceName: string }> {
  const frontends = new Map<string, { serviceName: string }>();
  for (const ini of doc.sections) {
    const match = /^frontend:(.*)$/i.exec(ini.name);
    if (!match) continue;
    const section = SectionReader.ofSection(doc.file, ini);
    const name = (match[1] ?? '').trim();
    if (name === '') throw section.error(undefined, 'frontend section without a name; write [frontend:NAME]');
    if (frontends.has(name))
      throw section.error(undefined, `a second section for frontend "${name}"; merge them into one`);
    frontends.set(name, { serviceName: section.required('service_name', 'ModFoo') });
  }
  // fromEntries defines own properties, so even a frontend named "__proto__" stays data.
  return Object.fromEntries(frontends);
}
