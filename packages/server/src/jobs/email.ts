import nodemailer from 'nodemailer';
import type { EmailData } from '../core/messages/model.js';
import type { SmtpConfig } from '../core/smtp/service.js';

export interface EmailContent {
  messageId: string;
  subject: string | null;
  body: string | null;
  html: string | null;
  attachments: string[];
  email: EmailData;
}

/** The outcome of a failed send: permanent failures are not retried. */
export interface SmtpFailure {
  permanent: boolean;
  code: string;
  message: string;
}

const list = (v: string[] | string | undefined): string[] =>
  (Array.isArray(v) ? v : v ? [v] : []).filter((x) => typeof x === 'string' && x.trim() !== '');

const escapeHtml = (s: string) =>
  s.replace(/[&<>"']/g, (c) => ({ '&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;', "'": '&#39;' })[c]!);

/** The domain of Charla's Message-ID headers: the public URL's host. */
export function messageIdDomain(publicUrl: string): string {
  try {
    return new URL(publicUrl).hostname || 'charla.invalid';
  } catch {
    return 'charla.invalid';
  }
}

/** `<messageId@host>`: stable, so a retried send carries the same Message-ID. */
export const messageIdHeaderFor = (messageId: string, publicUrl: string) =>
  `<${messageId}@${messageIdDomain(publicUrl)}>`;

/**
 * The message to send. Attachments are URLs: they are listed as links at the end of the text and
 * HTML bodies, not fetched and attached (no outbound fetches of tenant URLs from the mailer, and
 * no size limits to police).
 */
export function buildMail(content: EmailContent, smtp: SmtpConfig, publicUrl: string) {
  const { email } = content;
  const links = content.attachments.filter((a) => /^https?:\/\//i.test(a));
  let text = content.body ?? '';
  let html = content.html ?? undefined;
  if (links.length) {
    text = `${text}${text ? '\n\n' : ''}Attachments:\n${links.map((l) => `- ${l}`).join('\n')}\n`;
    if (html !== undefined) {
      const items = links.map((l) => `<li><a href="${escapeHtml(l)}">${escapeHtml(l)}</a></li>`).join('');
      html = `${html}<p>Attachments:</p><ul>${items}</ul>`;
    }
  }
  const references = list(email.references);
  return {
    from: email.from?.trim() || smtp.fromAddress,
    to: list(email.to),
    cc: list(email.cc),
    bcc: list(email.bcc),
    ...(email.replyTo ? { replyTo: email.replyTo } : {}),
    subject: content.subject ?? '',
    text,
    ...(html !== undefined ? { html } : {}),
    messageId: email.messageIdHeader ?? messageIdHeaderFor(content.messageId, publicUrl),
    ...(email.inReplyTo ? { inReplyTo: email.inReplyTo } : {}),
    ...(references.length ? { references } : email.inReplyTo ? { references: [email.inReplyTo] } : {}),
  };
}

export type Mail = ReturnType<typeof buildMail>;

export interface SendResult {
  accepted: string[];
  rejected: string[];
  response: string;
}

/** Sends one message through the location's server; throws what nodemailer throws. */
export async function sendMail(smtp: SmtpConfig, mail: Mail): Promise<SendResult> {
  const transport = nodemailer.createTransport({
    host: smtp.host,
    port: smtp.port,
    secure: smtp.secure,
    ...(smtp.username ? { auth: { user: smtp.username, pass: smtp.password ?? '' } } : {}),
    connectionTimeout: 10_000,
    greetingTimeout: 10_000,
    socketTimeout: 30_000,
    // The message is built from data only: no local files or remote URLs are ever read into it.
    disableFileAccess: true,
    disableUrlAccess: true,
  });
  try {
    const info = await transport.sendMail(mail);
    const addr = (xs: unknown[] | undefined) =>
      (xs ?? []).map((x) => (typeof x === 'string' ? x : ((x as { address?: string }).address ?? '')));
    return {
      accepted: addr(info.accepted),
      rejected: addr(info.rejected),
      response: String(info.response ?? ''),
    };
  } finally {
    transport.close();
  }
}

/**
 * Sorts a send error: an SMTP 5xx reply (or a message that cannot be built) is permanent; 4xx
 * replies, timeouts and connection errors are temporary.
 */
export function classifySmtpError(err: unknown): SmtpFailure {
  const e = err as { responseCode?: number; code?: string; message?: string; response?: string };
  const message = (e?.response || e?.message || String(err)).slice(0, 1000);
  if (typeof e?.responseCode === 'number') {
    return { permanent: e.responseCode >= 500, code: String(e.responseCode), message };
  }
  const code = typeof e?.code === 'string' ? e.code : 'smtp_error';
  const permanent = code === 'EENVELOPE' || code === 'EMESSAGE' || code === 'EAUTH';
  return { permanent, code, message };
}
