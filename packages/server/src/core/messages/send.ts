import type { PoolClient } from 'pg';
import type { Db, Queryable } from '../../storage/db.js';
import { checkUsers, openConversation } from '../conversations/service.js';
import { AppError, invalid, notFound } from '../errors.js';
import { isUuid } from '../ids.js';
import type { EmailData, Message } from './model.js';
import { appendMessage, appendToOpenConversation, writeOnce } from './store.js';
import { conversationChannelFor, conversationTypeFor, messageTypeFor, type SendType } from './types.js';

export interface SendInput {
  /**
   * Where the contact must be: one location, or any of a key's locations (null: any location).
   * The contact's own location is then the message's.
   */
  locationId: string | ReadonlySet<string> | null;
  contactId: string;
  type: SendType;
  message?: string;
  html?: string;
  subject?: string;
  attachments?: string[];
  emailFrom?: string;
  emailTo?: string;
  emailCc?: string[];
  emailBcc?: string[];
  emailReplyMode?: 'reply' | 'reply_all';
  /** The message (any in the thread) this one answers. */
  replyMessageId?: string;
  threadId?: string;
  /** Epoch seconds. */
  scheduledTimestamp?: number;
  conversationProviderId?: string;
  fromNumber?: string;
  toNumber?: string;
  userId?: string;
  idempotencyKey?: string;
  source?: string;
}

export interface SendResult {
  message: Message;
  /** true when an Idempotency-Key matched an earlier send: nothing new was done. */
  replayed: boolean;
}

interface ContactRow {
  location_id: string;
  email: string | null;
  phone: string | null;
  conversation_id: string | null;
  chat_widget_id: string | null;
}

/**
 * The contact and, in the same read, its open conversation on the channel (if any). A named
 * statement: every send runs it, and it is parsed and planned once per connection.
 */
async function contactOf(
  db: Db,
  within: string | ReadonlySet<string> | null,
  contactId: string,
  channel: string,
): Promise<ContactRow> {
  if (!isUuid(contactId)) throw notFound('Contact');
  const locations = within === null ? null : typeof within === 'string' ? [within] : [...within];
  const { rows } = await db.prepared<ContactRow>(
    'charla_contact_of',
    // A live chat continues the contact's latest open one, whichever widget it is on.
    `SELECT k.location_id, k.email, k.phone, c.id AS conversation_id, c.chat_widget_id
     FROM contacts k
     LEFT JOIN LATERAL (
       SELECT id, chat_widget_id FROM conversations
       WHERE location_id = k.location_id AND contact_id = k.id AND channel = $3
         AND status = 'open' AND deleted_at IS NULL
       ORDER BY coalesce(last_message_date, created_at) DESC LIMIT 1) c ON true
     WHERE k.id = $2 AND ($1::uuid[] IS NULL OR k.location_id = ANY($1::uuid[]))`,
    [locations, contactId, channel],
  );
  if (!rows[0]) throw notFound('Contact');
  return rows[0];
}

async function hasSmtp(q: Queryable, locationId: string): Promise<{ from_address: string } | undefined> {
  const { rows } = await q.query<{ from_address: string }>(
    'SELECT from_address FROM location_smtp WHERE location_id = $1',
    [locationId],
  );
  return rows[0];
}

/** The provider that delivers this type: the one named, else the location's default for the type. */
async function providerFor(q: Queryable, locationId: string, type: string, id?: string): Promise<string> {
  if (id !== undefined) {
    if (!isUuid(id)) throw notFound('Conversation provider');
    const { rows } = await q.query<{ id: string; type: string }>(
      'SELECT id, type FROM conversation_providers WHERE location_id = $1 AND id = $2 AND deleted_at IS NULL',
      [locationId, id],
    );
    if (!rows[0]) throw notFound('Conversation provider');
    // A provider delivers the one type it was registered for: its status reports would otherwise
    // land on messages it cannot carry.
    if (rows[0].type !== type) {
      throw invalid([
        `conversationProviderId is a ${rows[0].type} provider: it cannot deliver ${type} messages`,
      ]);
    }
    return rows[0].id;
  }
  const { rows } = await q.query<{ id: string }>(
    `SELECT id FROM conversation_providers WHERE location_id = $1 AND type = $2 AND deleted_at IS NULL
     ORDER BY is_default DESC, created_at LIMIT 1`,
    [locationId, type],
  );
  if (!rows[0]) {
    throw new AppError(
      'bad_request',
      `No conversation provider is registered for ${type} messages in this location. Register one first.`,
    );
  }
  return rows[0].id;
}

const EMAIL = /^[^\s@<>]+@[^\s@<>]+\.[^\s@<>]+$/;

/** Threading for a reply: the replied-to email's headers, so mail clients keep one thread. */
async function replyThreading(q: Queryable, locationId: string, replyTo: string) {
  if (!isUuid(replyTo)) throw notFound('Replied-to message');
  const { rows } = await q.query<{ id: string; email: EmailData | null }>(
    'SELECT id, email FROM messages WHERE location_id = $1 AND id = $2',
    [locationId, replyTo],
  );
  if (!rows[0]) throw notFound('Replied-to message');
  const e = rows[0].email;
  const parent = e?.messageIdHeader;
  return {
    replyToId: rows[0].id,
    threadId: e?.threadId ?? rows[0].id,
    inReplyTo: parent,
    references: [...(e?.references ?? []), ...(parent ? [parent] : [])],
    replyAll: e ? [...(e.to ?? []), ...(e.cc ?? [])] : [],
  };
}

/**
 * Sends a message to a contact: stored in the contact's open conversation for the channel (made
 * if needed) and, in the same transaction, handed to its carrier: Live_Chat to the real-time
 * hub through the outbox, Email to the location's mail server and every other type to the
 * location's conversation provider, both through the job queue.
 */
export async function sendMessage(db: Db, input: SendInput): Promise<SendResult> {
  const problems: string[] = [];
  const scheduledAt =
    input.scheduledTimestamp === undefined
      ? undefined
      : new Date(Math.round(input.scheduledTimestamp * 1000));
  if (scheduledAt && scheduledAt.getTime() > Date.now() + 366 * 86_400_000) {
    problems.push('scheduledTimestamp must be within a year');
  }
  const isEmail = input.type === 'Email';
  if (!isEmail && !input.message && !input.attachments?.length) {
    problems.push('message should not be empty unless attachments are given');
  }
  if (isEmail && !input.message && !input.html && !input.attachments?.length) {
    problems.push('an email needs a message, html or attachments');
  }
  for (const [field, list] of [
    ['emailCc', input.emailCc],
    ['emailBcc', input.emailBcc],
    ['emailTo', input.emailTo ? [input.emailTo] : []],
  ] as const) {
    if (list?.some((a) => !EMAIL.test(a))) problems.push(`${field} must contain email addresses`);
  }
  if (problems.length) throw invalid(problems);
  // Reads first, outside any transaction; the write is then one statement when the conversation
  // exists (the common case), or a short transaction that opens it first. One read finds the
  // contact, its location and its open conversation.
  const channel = conversationChannelFor(input.type);
  const type = messageTypeFor(input.type);
  const liveNow = input.type === 'Live_Chat' && !scheduledAt;
  /** The message, but for where it goes and how it is carried. */
  const content = () => ({
    type,
    direction: 'outbound' as const,
    status: scheduledAt ? 'scheduled' : liveNow ? 'sent' : 'pending',
    body: input.message ?? null,
    html: input.html ?? null,
    subject: input.subject ?? null,
    contentType: input.html ? 'text/html' : 'text/plain',
    attachments: input.attachments ?? [],
    source: input.source ?? 'api',
    action: input.userId ? ('manual' as const) : ('automated' as const),
    userId: input.userId ?? null,
    meta: {
      ...(input.fromNumber ? { fromNumber: input.fromNumber } : {}),
      ...(input.toNumber ? { toNumber: input.toNumber } : {}),
    },
    scheduledAt: scheduledAt ?? null,
    idempotencyKey: input.idempotencyKey ?? null,
    announce: !scheduledAt,
    dispatch: !liveNow,
  });
  // A live chat message needs nothing from the contact but its open conversation: when there is
  // one (the common case), the write finds it itself, in one round trip. Otherwise, or with an
  // Idempotency-Key or an author to check first, the reads below run as for every other type.
  if (input.type === 'Live_Chat' && !input.idempotencyKey && !input.userId && isUuid(input.contactId)) {
    const within = input.locationId;
    const locationIds = within === null ? null : typeof within === 'string' ? [within] : [...within];
    const message = await appendToOpenConversation(
      db,
      { locationIds, contactId: input.contactId, channel },
      content(),
    );
    if (message) return { message, replayed: false };
  }
  const contact = await contactOf(db, input.locationId, input.contactId, channel);
  const locationId = contact.location_id;
  return writeOnce(db, locationId, input.idempotencyKey, async () => {
    // The author is one of the location's users: the message shows as theirs in every inbox.
    if (input.userId) {
      await checkUsers(db, locationId, [input.userId], 'userId');
    }

    let providerId: string | null = null;
    let email: EmailData | null = null;
    let replyToId: string | null = null;
    if (isEmail) {
      const smtp = await hasSmtp(db, locationId);
      if (!smtp && !input.conversationProviderId) {
        throw new AppError('bad_request', 'No email server is configured for this location.');
      }
      if (input.conversationProviderId) {
        providerId = await providerFor(db, locationId, 'Email', input.conversationProviderId);
      }
      const to = input.emailTo ?? contact.email;
      if (!to) throw invalid(['the contact has no email address: give emailTo']);
      const threading = input.replyMessageId
        ? await replyThreading(db, locationId, input.replyMessageId)
        : undefined;
      replyToId = threading?.replyToId ?? null;
      const cc = [
        ...(input.emailCc ?? []),
        ...(input.emailReplyMode === 'reply_all' ? (threading?.replyAll ?? []).filter((a) => a !== to) : []),
      ];
      email = {
        from: input.emailFrom ?? smtp?.from_address,
        to: [to],
        ...(cc.length ? { cc: [...new Set(cc)] } : {}),
        ...(input.emailBcc?.length ? { bcc: input.emailBcc } : {}),
        ...(threading
          ? {
              replyToMessageId: threading.replyToId,
              threadId: input.threadId ?? threading.threadId,
              inReplyTo: threading.inReplyTo,
              references: threading.references,
            }
          : input.threadId
            ? { threadId: input.threadId }
            : {}),
      };
    } else if (input.type !== 'Live_Chat') {
      providerId = await providerFor(db, locationId, input.type, input.conversationProviderId);
      if (!contact.phone && !input.toNumber && ['SMS', 'WhatsApp', 'RCS'].includes(input.type)) {
        throw invalid(['the contact has no phone number: give toNumber']);
      }
    }

    const draft = (conversationId: string, chatWidgetId: string | null) => ({
      ...content(),
      locationId: locationId,
      conversationId,
      providerId,
      chatWidgetId,
      replyToId,
      email,
    });

    if (contact.conversation_id) {
      return appendMessage(db, draft(contact.conversation_id, contact.chat_widget_id));
    }
    return db.tx(async (tx: PoolClient) => {
      const { conversation } = await openConversation(tx, {
        locationId: locationId,
        contactId: input.contactId,
        channel,
        type: conversationTypeFor(input.type),
      });
      return appendMessage(tx, draft(conversation.id, conversation.chatWidgetId));
    });
  });
}
