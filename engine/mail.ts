/**
 * E-mail to users (job complete) and the admin (job failed), through
 * nodemailer: SMTP when `[mail] smtp_host` is set, else the local sendmail
 * binary as saliweb did.
 */
import nodemailer from 'nodemailer';
import type { ServiceConfig } from '../core/config/index.js';

export interface Mailer {
  send(message: { to: string; subject: string; text: string; messageId?: string }): Promise<void>;
}

export function createMailer(config: ServiceConfig): Mailer {
  const { smtpHost, smtpPort, sendmail, from } = config.mail;
  const transport =
    smtpHost !== undefined
      ? nodemailer.createTransport({ host: smtpHost, port: smtpPort ?? 25, secure: false, ignoreTLS: true })
      : nodemailer.createTransport({ sendmail: true, path: sendmail ?? '/usr/sbin/sendmail', newline: 'unix' });
  return {
    async send({ to, subject, text, messageId }) {
      await transport.sendMail({ from, to, subject, text, ...(messageId ? { messageId } : {}) });
    },
  };
}

/** saliweb's subjects, which labs filter on: `Sali lab <service_name> service: Job <name> complete` / `… FAILED`. */
export function jobCompletedMessage(serviceName: string, job: string, url: string) {
  return {
    subject: `Sali lab ${serviceName} service: Job ${job} complete`,
    text:
      `Your job ${job} has finished.\n\n` +
      `Results can be found at ${url}\n\n` +
      `Please do not reply to this message: it was sent automatically by the ${serviceName} backend.\n`,
  };
}

export function jobFailedMessage(serviceName: string, job: string, failure: string, configFile: string) {
  return {
    subject: `Sali lab ${serviceName} service: Job ${job} FAILED`,
    text:
      `Job ${job} of the ${serviceName} service failed and has been moved to the FAILED state.\n\n` +
      `${failure}\n\n` +
      `Fix the cause, then resubmit it with: saliflow resubmit --config ${configFile} ${job}\n`,
  };
}

/** One Message-ID per job and submission: a repeated send is recognisably the same message. */
export function completedMessageId(serviceName: string, job: string, submitTime: Date | null): string {
  const stamp = submitTime ? submitTime.getTime() : 0;
  const service = serviceName.replace(/[^A-Za-z0-9-]/g, '-');
  return `<completed.${job}.${stamp}@${service}.saliflow>`;
}
