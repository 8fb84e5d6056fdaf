/** Reading a service's config: the saliweb INI file plus saliflow's own sections. */
export { IniDocument, parseIni, readIniFile } from './ini.js';
export type { IniSection } from './ini.js';
export { parseTimeDelta, TIME_DELTA_FORMS } from './time-delta.js';
export { DEFAULT_SOCKET_USER, DIRECTORY_STATES, loadServiceConfig } from './service-config.js';
export type { LoadOptions } from './service-config.js';
export { checkKnownSections, FRONTEND_KEYS, SALIFLOW_SECTIONS, SALIWEB_SECTIONS } from './known-sections.js';
export type { SectionKeys } from './known-sections.js';
export { nearestSpelling } from './spelling.js';
export { DEFAULT_SHUTDOWN_SECONDS, WORKER_KEYS } from './worker-config.js';
export type { WorkerConfig } from './worker-config.js';
export type {
  BackendConfig,
  DirectoriesConfig,
  DirectoryState,
  GeneralConfig,
  LimitsConfig,
  OldJobsConfig,
  ServiceConfig,
} from './service-config.js';
export { DEFAULT_MYSQL_SOCKET } from './database-config.js';
export type { DatabaseConfig, DbCredentials } from './database-config.js';
export { defaultTaskQueue, describeTemporalTarget, TEMPORAL_KEYS } from './temporal-config.js';
export type { TemporalConfig, TemporalTlsConfig } from './temporal-config.js';
export { MAIL_KEYS } from './mail-config.js';
export type { MailConfig } from './mail-config.js';
export { SGE_KEYS, SLURM_KEYS } from './cluster-config.js';
export type { ClustersConfig, SgeConfig, SlurmConfig } from './cluster-config.js';
export { LOG_LEVELS, LOGGING_KEYS, METRICS_KEYS, parseListenAddress, parseLogLevel } from './observability-config.js';
export type { LoggingConfig, LogLevelName, MetricsConfig } from './observability-config.js';
