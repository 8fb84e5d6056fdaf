/**
 * Every section and key a service's config may hold: saliweb's own (what
 * its backend and frontend read), saliflow's additions, and the sections
 * the service declares (`defineService({ configSections })`). Anything else
 * is an error naming the nearest valid spelling: a typo must never fall
 * back silently to a default (`[temporl]` once sent a worker to another
 * Temporal server).
 */
import { ConfigError } from '../errors.js';
import type { IniDocument, IniSection } from './ini.js';
import { nearestSpelling } from './spelling.js';
import { TEMPORAL_KEYS } from './temporal-config.js';
import { MAIL_KEYS } from './mail-config.js';
import { LOGGING_KEYS, METRICS_KEYS } from './observability-config.js';
import { SGE_KEYS, SLURM_KEYS } from './cluster-config.js';
import { WORKER_KEYS } from './worker-config.js';

/** Sections (lower-case) to their keys. */
export type SectionKeys = Readonly<Record<string, readonly string[]>>;

/** saliweb's sections, with saliflow's extra keys in them (marked). */
export const SALIWEB_SECTIONS: SectionKeys = {
  general: [
    'admin_email',
    'socket',
    'service_name',
    'urltop',
    'track_hostname',
    'github',
    'socket_mode', // saliflow
    'socket_group', // saliflow
    'socket_user', // saliflow: the web server's user for the socket's ACL (saliweb's fixed apache)
  ],
  backend: ['user', 'state_file', 'check_minutes'],
  limits: [
    'running',
    'concurrent_tasks',
    'running_per_user', // saliflow
    'running_per_anonymous', // saliflow
  ],
  database: [
    'db',
    'socket',
    'backend_config',
    'frontend_config',
    'host', // saliflow
    'port', // saliflow
  ],
  directories: [
    'install',
    'incoming',
    'preprocessing',
    'running',
    'postprocessing',
    'finalizing',
    'completed',
    'archived',
    'failed',
  ],
  oldjobs: ['archive', 'expire'],
};

/** `[frontend:NAME]`, one per extra frontend. */
export const FRONTEND_SECTION_PREFIX = 'frontend:';
export const FRONTEND_KEYS: readonly string[] = ['service_name'];

export const SALIFLOW_SECTIONS: SectionKeys = {
  temporal: TEMPORAL_KEYS,
  mail: MAIL_KEYS,
  metrics: METRICS_KEYS,
  logging: LOGGING_KEYS,
  sge: SGE_KEYS,
  slurm: SLURM_KEYS,
  worker: WORKER_KEYS,
  adopt: ['runner_names'], // saliflow adopt: site runner names (client/adopt.ts)
};

const BUILT_IN: SectionKeys = { ...SALIWEB_SECTIONS, ...SALIFLOW_SECTIONS };

/**
 * Refuses any section or key that is not known. `declared` is the service's
 * own sections; when it is not known (a command run without `--service`),
 * a section close to a built-in one is still taken for a typo, and any other
 * is left for the worker, which knows the service, to check.
 */
export function checkKnownSections(doc: IniDocument, declared: SectionKeys | undefined): void {
  const own = lowerCaseKeys(declared ?? {});
  for (const section of doc.sections) {
    const name = section.name.toLowerCase();
    if (name.startsWith(FRONTEND_SECTION_PREFIX)) {
      checkKeys(doc.file, section, FRONTEND_KEYS);
      continue;
    }
    // A service may add keys to a built-in section too (saliweb's Config.populate read whatever it liked).
    const keys = BUILT_IN[name] || own[name] ? [...(BUILT_IN[name] ?? []), ...(own[name] ?? [])] : undefined;
    if (keys) {
      checkKeys(doc.file, section, keys);
      continue;
    }
    const nearest = nearestSpelling(name, [...Object.keys(BUILT_IN), ...Object.keys(own)]);
    if (nearest !== undefined) {
      throw new ConfigError(doc.file, { section: section.name }, `unknown section; did you mean [${nearest}]?`);
    }
    if (declared !== undefined) {
      throw new ConfigError(
        doc.file,
        { section: section.name },
        'unknown section: neither saliweb, saliflow nor the service reads it; remove it, or declare it in the ' +
          `service's defineService({ configSections: { ${JSON.stringify(name)}: [...keys] } })`,
      );
    }
  }
}

function checkKeys(file: string, section: IniSection, accepted: readonly string[]): void {
  for (const key of section.values.keys()) {
    // A [DEFAULT] key is seen in every section (configparser): not a typo of this one.
    if (accepted.includes(key) || section.inherited?.has(key)) continue;
    const nearest = nearestSpelling(key, accepted);
    const known = `[${section.name}] accepts only ${accepted.join(', ')}`;
    const hint = nearest !== undefined ? `did you mean ${nearest}? (${known})` : known;
    throw new ConfigError(file, { section: section.name, key }, `unknown key; ${hint}`);
  }
}

function lowerCaseKeys(sections: SectionKeys): SectionKeys {
  return Object.fromEntries(
    Object.entries(sections).map(([name, keys]) => [name.toLowerCase(), keys.map((key) => key.toLowerCase())]),
  );
}
