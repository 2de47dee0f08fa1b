import { cancelJobs } from '../../jobs/queue.js';
import type { Db, Queryable } from '../../storage/db.js';
import { recordEvent } from '../../storage/outbox.js';
import { AppError, notFound } from '../errors.js';
import { isUuid } from '../ids.js';
import { CALL_TYPES, type EmailData, type Message, type MessageRow, toMessage } from './model.js';
import { forgetLastMessage } from './store.js';

async function lockMessage(q: Queryable, locationId: string, id: string): Promise<MessageRow> {
  if (!isUuid(id)) throw notFound('Message');
  const { rows } = await q.query<MessageRow>(
    'SELECT * FROM messages WHERE location_id = $1 AND id = $2 FOR UPDATE',
    [locationId, id],
  );
  if (!rows[0]) throw notFound('Message');
  return rows[0];
}

async function announceUpdate(q: Queryable, m: MessageRow): Promise<void> {
  await recordEvent(q, {
    locationId: m.location_id,
    topic: 'message.updated',
    payload: { conversationId: m.conversation_id, messageId: m.id, seq: Number(m.seq), status: m.status },
  });
}

/** Only the conversation provider that carried a message may report on it. */
function requireOwner(m: MessageRow, providerId: string | null): void {
  if (!m.provider_id || m.provider_id !== providerId) {
    throw new AppError('forbidden', 'Only the conversation provider that sent this message may update it');
  }
}

export interface StatusReport {
  status: 'delivered' | 'failed' | 'pending' | 'read';
  error?: { code: string; type: string; message: string };
  recipients?: unknown[];
}

/** How far a delivered message has got; reports never move it back along this order. */
const PROGRESS: Record<string, number> = { pending: 0, queued: 0, sent: 1, delivered: 2, read: 3 };

/** A provider's delivery report for one of its messages. */
export async function reportMessageStatus(
  db: Db,
  locationIds: ReadonlySet<string> | null,
  providerId: string | null,
  messageId: string,
  report: StatusReport,
): Promise<Message> {
  return db.tx(async (tx) => {
    const located = await locate(tx, messageId, locationIds);
    const m = await lockMessage(tx, located, messageId);
    requireOwner(m, providerId);
    // Reports can arrive out of order: a late `pending` or `delivered` never takes a message back
    // from where it got. A failure (or a recovery from one) is always taken.
    const before = PROGRESS[m.status];
    const after = PROGRESS[report.status];
    if (before !== undefined && after !== undefined && after < before) return toMessage(m);
    const { rows } = await tx.query<MessageRow>(
      `UPDATE messages SET status = $3, error = $4, updated_at = now()
       WHERE location_id = $1 AND id = $2 RETURNING *`,
      [
        m.location_id,
        m.id,
        report.status,
        report.status === 'failed' && report.error ? JSON.stringify(report.error) : null,
      ],
    );
    await announceUpdate(tx, rows[0]!);
    return toMessage(rows[0]!);
  });
}

/**
 * The location of a message the caller may see; 404 (not 403) for others' messages, so ids
 * reveal nothing.
 */
async function locate(
  q: Queryable,
  messageId: string,
  locationIds: ReadonlySet<string> | null,
): Promise<string> {
  if (!isUuid(messageId)) throw notFound('Message');
  const { rows } = await q.query<{ location_id: string }>('SELECT location_id FROM messages WHERE id = $1', [
    messageId,
  ]);
  const loc = rows[0]?.location_id;
  if (!loc || (locationIds !== null && !locationIds.has(loc))) throw notFound('Message');
  return loc;
}

export { locate as locateMessage };

/** Replaces a call message's attachments (recordings), up to five. */
export async function setCallAttachments(
  db: Db,
  locationIds: ReadonlySet<string> | null,
  messageId: string,
  attachments: string[],
): Promise<Message> {
  return db.tx(async (tx) => {
    const loc = await locate(tx, messageId, locationIds);
    const m = await lockMessage(tx, loc, messageId);
    // LeadConnector allows it for custom-provider calls and for calls logged from outside. Charla
    // places no calls itself: every call message was logged from outside (inbound/outbound).
    if (!CALL_TYPES.includes(m.type)) {
      throw new AppError(
        'forbidden',
        'Attachments can only be set on custom-provider or external call messages',
      );
    }
    const { rows } = await tx.query<MessageRow>(
      'UPDATE messages SET attachments = $3, updated_at = now() WHERE location_id = $1 AND id = $2 RETURNING *',
      [loc, messageId, attachments],
    );
    await announceUpdate(tx, rows[0]!);
    return toMessage(rows[0]!);
  });
}

export const EMAIL_STATUSES = [
  'pending',
  'scheduled',
  'sent',
  'delivered',
  'read',
  'undelivered',
  'connected',
  'failed',
  'opened',
  'clicked',
] as const;

export interface EmailStatusReport {
  status: (typeof EMAIL_STATUSES)[number];
  events?: Record<string, number>;
  recipients?: { emailId: string; status: string; failReason?: string }[];
}

/**
 * Merges a custom email provider's report into the message: counters add up (0 changes
 * nothing), implied events are inferred (a click means it was opened and delivered, an open
 * that it was delivered, a delivery or failure that it was accepted), the first time of each
 * event is kept, and recipients are upserted by address.
 */
export function mergeEmailReport(email: EmailData, report: EmailStatusReport, now: Date): EmailData {
  const events: Record<string, number> = { ...(email.events ?? {}) };
  for (const [k, v] of Object.entries(report.events ?? {})) {
    if (v !== 0) events[k] = (events[k] ?? 0) + v;
  }
  const seen = (k: string) => (events[k] ?? 0) > 0;
  const atLeastOne = (k: string) => {
    if (!seen(k)) events[k] = 1;
  };
  const statusEvent: Record<string, string> = {
    delivered: 'delivered',
    opened: 'opened',
    clicked: 'clicked',
    failed: 'failed',
  };
  const fromStatus = statusEvent[report.status];
  if (fromStatus) atLeastOne(fromStatus);
  if (['clicked', 'complained', 'unsubscribed', 'replied'].some(seen)) {
    atLeastOne('opened');
    atLeastOne('delivered');
  }
  if (seen('opened')) atLeastOne('delivered');
  if (['delivered', 'permanent_fail', 'temporary_fail'].some(seen)) atLeastOne('accepted');

  const firstEventAt = { ...(email.firstEventAt ?? {}) };
  for (const k of ['delivered', 'opened', 'clicked']) {
    if (seen(k) && !firstEventAt[k]) firstEventAt[k] = now.toISOString();
  }
  const recipients = [...(email.recipients ?? [])];
  for (const r of report.recipients ?? []) {
    const i = recipients.findIndex((x) => x.emailId.toLowerCase() === r.emailId.toLowerCase());
    if (i >= 0) recipients[i] = { ...recipients[i]!, ...r };
    else recipients.push(r);
  }
  return { ...email, events, firstEventAt, recipients };
}

export async function reportEmailStatus(
  db: Db,
  locationIds: ReadonlySet<string> | null,
  providerId: string | null,
  messageId: string,
  report: EmailStatusReport,
): Promise<Message> {
  return db.tx(async (tx) => {
    const loc = await locate(tx, messageId, locationIds);
    const m = await lockMessage(tx, loc, messageId);
    if (m.type !== 'TYPE_EMAIL') throw notFound('Email message');
    requireOwner(m, providerId);
    const email = mergeEmailReport(m.email ?? { to: [] }, report, new Date());
    const { rows } = await tx.query<MessageRow>(
      'UPDATE messages SET status = $3, email = $4, updated_at = now() WHERE location_id = $1 AND id = $2 RETURNING *',
      [loc, messageId, report.status, JSON.stringify(email)],
    );
    await announceUpdate(tx, rows[0]!);
    return toMessage(rows[0]!);
  });
}

/**
 * Cancels a scheduled message that has not been sent: its job is canceled and the message
 * removed (its recipient never saw it). False when there is nothing to cancel.
 */
export async function cancelScheduledMessage(
  db: Db,
  locationIds: ReadonlySet<string> | null,
  messageId: string,
  emailOnly = false,
): Promise<boolean> {
  return db.tx(async (tx) => {
    let loc: string;
    try {
      loc = await locate(tx, messageId, locationIds);
    } catch {
      return false;
    }
    const m = await lockMessage(tx, loc, messageId);
    if (m.status !== 'scheduled' || (emailOnly && m.type !== 'TYPE_EMAIL')) return false;
    const canceled = await cancelJobs(tx, loc, messageId);
    if (canceled === 0) return false;
    await tx.query('DELETE FROM messages WHERE location_id = $1 AND id = $2', [loc, messageId]);
    await forgetLastMessage(tx, loc, m.conversation_id, messageId);
    await recordEvent(tx, {
      locationId: loc,
      topic: 'message.deleted',
      payload: { conversationId: m.conversation_id, messageId: m.id, seq: Number(m.seq) },
    });
    return true;
  });
}
