import { isUuid } from '../core/ids.js';
import type { EmailData, MessageRow as StoredMessage } from '../core/messages/model.js';
import { findProvider, findProviderForSend, type ProviderWithSecret } from '../core/providers/service.js';
import { getSmtpConfig } from '../core/smtp/service.js';
import type { Db, Queryable } from '../storage/db.js';
import { recordEvent } from '../storage/outbox.js';
import { buildMail, classifySmtpError, sendMail } from './email.js';
import { DeliveryError, deliver } from './provider-delivery.js';
import { BlockedTargetError } from './ssrf.js';
import { type Job, type JobContext, type JobWorker, PermanentJobError } from './worker.js';

/** Delivers one outbound message: payload `{messageId}`, location_id set, ref = the message id. */
export const MESSAGE_DISPATCH = 'message.dispatch';

/** Statuses of a message still to be delivered; anything else means it is settled (or canceled). */
const UNSENT = ['scheduled', 'pending', 'queued'];

export interface DispatchOptions {
  /** The public URL: its host is the domain of Message-ID headers. */
  publicUrl: string;
  /** Timeout of one delivery to a provider. */
  providerTimeoutMs?: number;
}

/** The columns delivery reads (loadMessage). */
type MessageRow = Pick<
  StoredMessage,
  | 'location_id'
  | 'id'
  | 'conversation_id'
  | 'contact_id'
  | 'seq'
  | 'type'
  | 'direction'
  | 'status'
  | 'body'
  | 'html'
  | 'subject'
  | 'attachments'
  | 'user_id'
  | 'provider_id'
  | 'email'
  | 'meta'
>;

/** The provider-facing channel name (ProviderOutboundMessage `type`) of a stored message type. */
const CHANNEL: Record<string, string> = {
  TYPE_SMS: 'SMS',
  TYPE_RCS: 'RCS',
  TYPE_EMAIL: 'Email',
  TYPE_WHATSAPP: 'WhatsApp',
  TYPE_INSTAGRAM: 'IG',
  TYPE_FACEBOOK: 'FB',
  TYPE_CUSTOM_SMS: 'Custom',
  TYPE_CUSTOM_PROVIDER_SMS: 'Custom',
  TYPE_CUSTOM_EMAIL: 'Email',
  TYPE_CUSTOM_PROVIDER_EMAIL: 'Email',
  TYPE_TIKTOK: 'TIKTOK',
  TYPE_REVIEW: 'Review',
  TYPE_CALL: 'Call',
  TYPE_CUSTOM_CALL: 'Call',
  TYPE_GMB: 'GMB',
};

export const channelOf = (type: string): string | undefined => CHANNEL[type];

interface MessageChange {
  status?: string;
  error?: { code: string; type: string; message: string };
  email?: Record<string, unknown>;
  meta?: Record<string, unknown>;
  providerId?: string;
}

/**
 * Applies a change to a message that is still unsent, in one transaction with its outbox events:
 * `message.updated` when the status changes, preceded by `message.created` when a scheduled
 * message leaves 'scheduled' (the send path announces scheduled messages only when they go
 * out). Returns false, changing nothing, when the message has meanwhile been settled (a
 * provider's status report, a cancel) or deleted.
 */
export async function changeMessage(db: Db, msg: MessageRow, change: MessageChange): Promise<boolean> {
  return db.tx(async (tx) => {
    const { rows } = await tx.query<{ status: string }>(
      'SELECT status FROM messages WHERE location_id = $1 AND id = $2 FOR UPDATE',
      [msg.location_id, msg.id],
    );
    const before = rows[0]?.status;
    if (before === undefined || !UNSENT.includes(before)) return false;
    const status = change.status ?? before;
    await tx.query(
      `UPDATE messages SET status = $3,
         error = coalesce($4::jsonb, error),
         email = CASE WHEN $5::jsonb IS NULL THEN email ELSE coalesce(email, '{}'::jsonb) || $5::jsonb END,
         meta = meta || coalesce($6::jsonb, '{}'::jsonb),
         provider_id = coalesce(provider_id, $7::uuid),
         updated_at = now()
       WHERE location_id = $1 AND id = $2`,
      [
        msg.location_id,
        msg.id,
        status,
        change.error ? JSON.stringify(change.error) : null,
        change.email ? JSON.stringify(change.email) : null,
        change.meta ? JSON.stringify(change.meta) : null,
        change.providerId ?? null,
      ],
    );
    if (status === before) return true;
    let seq = Number(msg.seq);
    if (before === 'scheduled') {
      // A scheduled message takes its place in the conversation when it goes out: clients catch
      // up by seq, and one that saw later messages would never fetch the old seq it was given.
      const { rows: next } = await tx.query<{ last_seq: string }>(
        `UPDATE conversations SET last_seq = last_seq + 1 WHERE location_id = $1 AND id = $2
         RETURNING last_seq`,
        [msg.location_id, msg.conversation_id],
      );
      if (next[0]) {
        seq = Number(next[0].last_seq);
        await tx.query('UPDATE messages SET seq = $3 WHERE location_id = $1 AND id = $2', [
          msg.location_id,
          msg.id,
          seq,
        ]);
      }
    }
    const ids = { conversationId: msg.conversation_id, messageId: msg.id, seq };
    if (before === 'scheduled') {
      await recordEvent(tx, {
        locationId: msg.location_id,
        topic: 'message.created',
        payload: { ...ids, direction: msg.direction, type: msg.type, status },
      });
    }
    await recordEvent(tx, {
      locationId: msg.location_id,
      topic: 'message.updated',
      payload: { ...ids, status },
    });
    return true;
  });
}

async function loadMessage(q: Queryable, locationId: string, id: string): Promise<MessageRow | undefined> {
  const { rows } = await q.query<MessageRow>(
    `SELECT location_id, id, conversation_id, contact_id, seq, type, direction, status, body, html, subject,
       attachments, user_id, provider_id, email, meta
     FROM messages WHERE location_id = $1 AND id = $2`,
    [locationId, id],
  );
  return rows[0];
}

/** A live chat message has nothing to send: a scheduled one becomes visible (sent) now. */
async function releaseLiveChat(db: Db, msg: MessageRow): Promise<void> {
  if (msg.status === 'scheduled') await changeMessage(db, msg, { status: 'sent' });
}

async function sendEmail(db: Db, msg: MessageRow, ctx: JobContext, options: DispatchOptions): Promise<void> {
  const email: EmailData = msg.email ?? { to: [] };
  if (email.sentAt) return;
  const fail = async (code: string, message: string) => {
    await changeMessage(db, msg, { status: 'failed', error: { code, type: 'smtp', message } });
  };
  const smtp = await getSmtpConfig(db, msg.location_id);
  if (!smtp) {
    const message = 'No SMTP server is configured for this location';
    await fail('smtp_not_configured', message);
    throw new PermanentJobError(message);
  }
  const mail = buildMail(
    {
      messageId: msg.id,
      subject: msg.subject,
      body: msg.body,
      html: msg.html,
      attachments: msg.attachments,
      email,
    },
    smtp,
    options.publicUrl,
  );
  if (mail.to.length === 0) {
    const message = 'The email has no recipient';
    await fail('no_recipients', message);
    throw new PermanentJobError(message);
  }
  try {
    const result = await sendMail(smtp, mail);
    await changeMessage(db, msg, {
      status: 'sent',
      email: {
        messageIdHeader: mail.messageId,
        sentAt: new Date().toISOString(),
        ...(result.rejected.length ? { rejected: result.rejected } : {}),
      },
    });
  } catch (err) {
    const failure = classifySmtpError(err);
    if (failure.permanent || ctx.lastAttempt) {
      await fail(failure.code, failure.message);
      if (failure.permanent) throw new PermanentJobError(`SMTP ${failure.code}: ${failure.message}`);
    }
    throw err;
  }
}

async function deliverToProvider(
  db: Db,
  msg: MessageRow,
  job: Job,
  ctx: JobContext,
  options: DispatchOptions,
): Promise<void> {
  if (msg.meta.deliveredToProviderAt) return;
  const fail = async (code: string, message: string) => {
    await changeMessage(db, msg, { status: 'failed', error: { code, type: 'provider', message } });
  };
  const channel = channelOf(msg.type);
  let provider: ProviderWithSecret | undefined;
  if (msg.provider_id) provider = await findProvider(db, msg.location_id, msg.provider_id);
  else if (channel) provider = await findProviderForSend(db, msg.location_id, channel);
  if (!provider) {
    const message = msg.provider_id
      ? 'The conversation provider of this message no longer exists'
      : `No conversation provider delivers ${channel ?? msg.type} messages for this location`;
    await fail('no_provider', message);
    throw new PermanentJobError(message);
  }

  const { rows: contacts } = await db.query<{ phone: string | null }>(
    'SELECT phone FROM contacts WHERE location_id = $1 AND id = $2',
    [msg.location_id, msg.contact_id],
  );
  const email: EmailData = msg.email ?? { to: [] };
  const isEmail = (channel ?? provider.type) === 'Email';
  const join = (v: string[] | string | undefined) => (Array.isArray(v) ? v.join(', ') : v);
  const payload: Record<string, unknown> = {
    contactId: msg.contact_id,
    locationId: msg.location_id,
    messageId: msg.id,
    ...(isEmail ? { emailMessageId: msg.id } : {}),
    type: channel ?? provider.type,
    phone: (typeof msg.meta.toNumber === 'string' ? msg.meta.toNumber : contacts[0]?.phone) ?? null,
    ...(typeof msg.meta.fromNumber === 'string' ? { fromNumber: msg.meta.fromNumber } : {}),
    message: msg.body ?? '',
    attachments: msg.attachments,
    userId: msg.user_id,
    conversationId: msg.conversation_id,
    conversationProviderId: provider.id,
    ...(msg.subject != null ? { subject: msg.subject } : {}),
    ...(msg.html != null ? { html: msg.html } : {}),
    ...(isEmail
      ? {
          emailFrom: email.from ?? null,
          emailTo: join(email.to) ?? null,
          ...(email.cc ? { emailCc: email.cc } : {}),
          ...(email.bcc ? { emailBcc: email.bcc } : {}),
        }
      : {}),
  };

  try {
    await deliver({
      url: provider.deliveryUrl,
      allowPrivate: provider.allowPrivate,
      signingSecret: provider.signingSecret,
      deliveryId: String(job.id),
      payload,
      timeoutMs: options.providerTimeoutMs ?? 10_000,
      signal: ctx.signal,
    });
  } catch (err) {
    if (err instanceof BlockedTargetError) {
      await fail('delivery_refused', `The delivery URL was refused: ${err.message}`);
      throw new PermanentJobError(err.message, { cause: err });
    }
    if (ctx.lastAttempt) {
      const reason = err instanceof DeliveryError ? err.message : String(err);
      await fail(
        'delivery_failed',
        `Delivery to the provider failed after ${job.attempts} attempts: ${reason}`,
      );
    }
    throw err;
  }
  // Accepted: the provider reports sent/delivered/failed later through the status API. A
  // scheduled message is now on its way, so pending.
  await changeMessage(db, msg, {
    status: msg.status === 'scheduled' ? 'pending' : undefined,
    meta: { deliveredToProviderAt: new Date().toISOString() },
    providerId: provider.id,
  });
}

/** The `message.dispatch` handler: delivers the message by its type. */
export async function dispatchMessage(job: Job, ctx: JobContext, options: DispatchOptions): Promise<void> {
  const messageId = job.payload.messageId;
  if (!job.locationId || !isUuid(messageId)) {
    throw new PermanentJobError('message.dispatch needs a location and a messageId');
  }
  const msg = await loadMessage(ctx.db, job.locationId, messageId);
  if (!msg) {
    ctx.log.info({ messageId }, 'message to dispatch no longer exists');
    return;
  }
  if (msg.direction !== 'outbound' || !UNSENT.includes(msg.status)) return;
  if (msg.type === 'TYPE_LIVE_CHAT') return releaseLiveChat(ctx.db, msg);
  if (msg.type === 'TYPE_EMAIL' && !msg.provider_id) return sendEmail(ctx.db, msg, ctx, options);
  return deliverToProvider(ctx.db, msg, job, ctx, options);
}

/** Registers the `message.dispatch` handler on a worker. */
export function registerMessageDispatch(worker: JobWorker, options: DispatchOptions): void {
  worker.register(
    MESSAGE_DISPATCH,
    (job, ctx) => dispatchMessage(job, ctx, options),
    // The node died during the last attempt: the message will not go out, and says so.
    async (job, db) => {
      const messageId = job.payload.messageId;
      if (!job.locationId || !isUuid(messageId)) return;
      const msg = await loadMessage(db, job.locationId, messageId);
      if (msg?.direction !== 'outbound' || !UNSENT.includes(msg.status)) return;
      await changeMessage(db, msg, {
        status: 'failed',
        error: { code: 'abandoned', type: 'delivery', message: 'The last delivery attempt was interrupted' },
      });
    },
  );
}
