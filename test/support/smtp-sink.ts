/** A real SMTP server on a free loopback port that keeps every message it receives. */
import { SMTPServer } from 'smtp-server';
import { simpleParser } from 'mailparser';
import { until } from './until.js';

export interface CapturedMail {
  from: string;
  to: string[];
  subject: string;
  text: string;
}

export interface SmtpSink {
  port: number;
  messages: CapturedMail[];
  /** Resolves once `count` messages (in all) have arrived; rejects after `timeoutMs`. */
  waitFor(count: number, timeoutMs?: number): Promise<CapturedMail[]>;
  close(): Promise<void>;
}

export async function startSmtpSink(): Promise<SmtpSink> {
  const messages: CapturedMail[] = [];
  const server = new SMTPServer({
    authOptional: true,
    disabledCommands: ['STARTTLS'],
    logger: false,
    onData(stream, session, callback) {
      simpleParser(stream)
        .then((parsed) => {
          messages.push({
            from: session.envelope.mailFrom ? session.envelope.mailFrom.address : '',
            to: session.envelope.rcptTo.map((rcpt) => rcpt.address),
            subject: parsed.subject ?? '',
            text: parsed.text ?? '',
          });
          callback();
        })
        .catch(callback);
    },
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const address = server.server.address();
  const port = typeof address === 'object' && address ? address.port : 0;
  return {
    port,
    messages,
    waitFor: (count, timeoutMs = 15000) =>
      until(`${count} e-mails`, async () => (messages.length >= count ? messages : undefined), {
        timeoutMs,
        everyMs: 50,
        lastSeen: () => `${messages.length} e-mails`,
      }),
    close: () => new Promise<void>((resolve) => server.close(() => resolve())),
  };
}
