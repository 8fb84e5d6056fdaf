/**
 * `[mail]`, saliflow's own section. saliweb always piped mail to sendmail
 * with the admin as sender; SMTP is for hosts (and tests) without one.
 */
import { envParsed, envString } from './env.js';
import { PORT_EXPECTED, parsePort } from './section-reader.js';
import type { SectionReader } from './section-reader.js';

export interface MailConfig {
  /** @defaultValue `[general] admin_email` */
  from: string;
  /** When set, mail goes over SMTP instead of sendmail. */
  smtpHost?: string;
  smtpPort?: number;
  /** Path of the sendmail binary. */
  sendmail?: string;
}

export const MAIL_KEYS = ['from', 'smtp_host', 'smtp_port', 'sendmail'] as const;

export function readMailConfig(section: SectionReader, adminEmail: string, env: NodeJS.ProcessEnv): MailConfig {
  const smtpHost = envString(env, 'SALIFLOW_SMTP_HOST') ?? section.optional('smtp_host');
  const smtpPort =
    envParsed(env, 'SALIFLOW_SMTP_PORT', parsePort, { section, key: 'smtp_port', expected: PORT_EXPECTED }) ??
    section.port('smtp_port');
  const sendmail = section.optional('sendmail');
  return {
    from: section.optional('from') ?? adminEmail,
    ...(smtpHost !== undefined ? { smtpHost } : {}),
    ...(smtpPort !== undefined ? { smtpPort } : {}),
    ...(sendmail !== undefined ? { sendmail } : {}),
  };
}
