import { JOBS_CHANNEL } from '../../jobs/queue.js';
import { Db, isUniqueViolation, type Queryable } from '../../storage/db.js';
import { OUTBOX_CHANNEL } from '../../storage/outbox.js';
import { notFound } from '../errors.js';
import { uuidv7 } from '../ids.js';
import { type CallData, type EmailData, type Message, type MessageRow, toMessage } from './model.js';

export interface NewMessage {
  id?: string;
  locationId: string;
  conversationId: string;
  type: string;
  direction: 'inbound' | 'outbound';
  status: string;
  body?: string | null;
  html?: string | null;
  subject?: string | null;
  contentType?: string;
  attachments?: string[];
  source?: string | null;
  /** manual (a person) or automated; feeds lastMessageAction and the manual-message date. */
  action?: 'manual' | 'automated';
  userId?: string | null;
  providerId?: string | null;
  chatWidgetId?: string | null;
  altId?: string | null;
  replyToId?: string | null;
  email?: EmailData | null;
  call?: CallData | null;
  meta?: Record<string, unknown>;
  scheduledAt?: Date | null;
  idempotencyKey?: string | null;
  createdAt?: Date;
  /** Queue a `message.dispatch` job (at scheduledAt, or now). */
  dispatch?: boolean;
  /** Publish `message.created` now; a scheduled message is announced when it fires instead. */
  announce?: boolean;
}

/** How much of a body the conversation keeps as its preview. */
const PREVIEW = 500;

interface Waker {
  running: boolean;
  channels: Set<string>;
  /** When the last NOTIFY was sent (ms). */
  sentAt: number;
}
const wakers = new WeakMap<Db, Waker>();

/**
 * The least time between two wake-up NOTIFYs. Each one sets the relay (on every node) draining
 * the outbox in a transaction of four round trips; under a steady stream of sends, one per
 * interval lets a drain take the sends of the interval at once instead of a few each. A NOTIFY
 * after a quiet interval goes at once.
 */
const WAKE_INTERVAL_MS = 10;

/**
 * NOTIFYs `channel` soon, in a statement of its own, for a write that has committed. Calls made
 * while one is on its way or waiting (at most WAKE_INTERVAL_MS) coalesce into one more, sent
 * after it, so a NOTIFY always follows the commit it announces. Not awaited: the relay and the
 * workers are asynchronous anyway, and their polls cover a NOTIFY that is lost (for instance to
 * a closing pool).
 */
function wakeAfterCommit(db: Db, channel: string): void {
  let w = wakers.get(db);
  if (!w) {
    w = { running: false, channels: new Set(), sentAt: 0 };
    wakers.set(db, w);
  }
  w.channels.add(channel);
  if (w.running) return;
  const waker = w;
  const send = () => {
    const channels = [...waker.channels];
    waker.channels.clear();
    waker.sentAt = Date.now();
    db.query('SELECT pg_notify(c, $2) FROM unnest($1::text[]) AS c', [channels, ''])
      .catch(() => {})
      .finally(schedule);
  };
  const schedule = () => {
    if (waker.channels.size === 0) {
      waker.running = false;
      return;
    }
    waker.running = true;
    const wait = waker.sentAt + WAKE_INTERVAL_MS - Date.now();
    if (wait > 0) setTimeout(send, wait).unref();
    else send();
  };
  schedule();
}

/**
 * The columns appendMessage returns: named, not `*`, so that a column added to messages later
 * does not change the result type of a statement that connections have already prepared
 * (PostgreSQL refuses to run those: "cached plan must not change result type").
 */
const MESSAGE_COLUMNS = [
  'id',
  'location_id',
  'conversation_id',
  'contact_id',
  'seq',
  'type',
  'direction',
  'status',
  'body',
  'html',
  'subject',
  'content_type',
  'attachments',
  'source',
  'action',
  'user_id',
  'provider_id',
  'chat_widget_id',
  'alt_id',
  'reply_to_id',
  'email',
  'call',
  'error',
  'meta',
  'scheduled_at',
  'created_at',
  'updated_at',
] as const satisfies readonly (keyof MessageRow)[];
// Does not compile when MessageRow gains a field that MESSAGE_COLUMNS lacks.
true satisfies Exclude<keyof MessageRow, (typeof MESSAGE_COLUMNS)[number]> extends never ? true : never;

/**
 * Whether the appended message is the conversation's latest: a message imported with an older
 * date takes its seq but leaves the preview and the activity date to the newer one. The action
 * shown is that of the last outbound message: a contact's reply does not hide the agent's.
 */
const NEWEST = '(last_message_date IS NULL OR $24 >= last_message_date)';

/**
 * The append statement for a conversation `target` (a WHERE on conversations) whose message
 * carries `chatWidget` as its chat widget: by id, or the contact's open conversation.
 */
const appendSql = (target: string, chatWidget: string, before = '') => `WITH ${before}conv AS (
       UPDATE conversations SET
         last_seq = last_seq + 1,
         last_message_id = CASE WHEN ${NEWEST} THEN $3 ELSE last_message_id END,
         last_message_body = CASE WHEN ${NEWEST} THEN left(coalesce($7, ''), $27) ELSE last_message_body END,
         last_message_type = CASE WHEN ${NEWEST} THEN $4 ELSE last_message_type END,
         last_message_direction = CASE WHEN ${NEWEST} THEN $5 ELSE last_message_direction END,
         last_message_action = CASE WHEN ${NEWEST} AND $5 = 'outbound' THEN $13 ELSE last_message_action END,
         last_message_provider_id = CASE WHEN ${NEWEST} THEN $15 ELSE last_message_provider_id END,
         last_message_date = CASE WHEN ${NEWEST} THEN $24 ELSE last_message_date END,
         last_manual_message_date = CASE WHEN $13 = 'manual'
           THEN greatest(last_manual_message_date, $24) ELSE last_manual_message_date END,
         unread_count = CASE WHEN $5 = 'inbound' THEN unread_count + 1 ELSE unread_count END,
         inbox = true,
         updated_at = now()
       WHERE ${target} AND deleted_at IS NULL
       RETURNING location_id, id, contact_id, last_seq, chat_widget_id
     ), msg AS (
       INSERT INTO messages (location_id, id, conversation_id, contact_id, seq, type, direction, status, body, html,
         subject, content_type, attachments, source, action, user_id, provider_id, chat_widget_id, alt_id,
         reply_to_id, email, call, meta, scheduled_at, idempotency_key, created_at, updated_at)
       SELECT conv.location_id, $3, conv.id, conv.contact_id, conv.last_seq, $4, $5, $6, $7, $8, $9, $10, $11, $12,
         $13, $14, $15, ${chatWidget}, $17, $18, $19, $20, $21, $22, $23, $24, $24
       FROM conv
       RETURNING ${MESSAGE_COLUMNS.join(', ')}
     ), event AS (
       INSERT INTO outbox (location_id, topic, payload)
       SELECT location_id, 'message.created', jsonb_build_object('conversationId', conversation_id, 'messageId', id,
         'seq', seq, 'direction', direction, 'type', type, 'status', status)
       FROM msg WHERE $25
     ), job AS (
       INSERT INTO jobs (location_id, kind, payload, run_at, ref)
       SELECT location_id, 'message.dispatch', jsonb_build_object('messageId', id), coalesce($22, now()), id::text
       FROM msg WHERE $26
     )
     SELECT msg.*,
       CASE WHEN $25 AND $28 THEN pg_notify('${OUTBOX_CHANNEL}', '') END AS notified_outbox,
       CASE WHEN $26 AND $28 THEN pg_notify('${JOBS_CHANNEL}', '') END AS notified_jobs
     FROM msg`;

const APPEND_SQL = appendSql('location_id = $1 AND id = $2', '$16::uuid');

/**
 * By contact: $1 the locations it may be in (null: any), $2 its id, $16 the channel. A live chat
 * continues the contact's latest open conversation on the channel, whichever widget it is on,
 * and the message takes that conversation's widget.
 */
const APPEND_TO_OPEN_SQL = appendSql(
  // Still open when the update takes the row: a close that won the race sends the caller to
  // the slow path, which opens a new conversation.
  `location_id = (SELECT location_id FROM open_conversation) AND id = (SELECT id FROM open_conversation)
     AND status = 'open'`,
  'conv.chat_widget_id',
  `open_conversation AS (
     SELECT c.location_id, c.id FROM contacts k
     JOIN LATERAL (
       SELECT location_id, id FROM conversations
       WHERE location_id = k.location_id AND contact_id = k.id AND channel = $16
         AND status = 'open' AND deleted_at IS NULL
       ORDER BY coalesce(last_message_date, created_at) DESC LIMIT 1) c ON true
     WHERE k.id = $2 AND ($1::uuid[] IS NULL OR k.location_id = ANY($1::uuid[])) LIMIT 1
   ), `,
);

/**
 * The message path's one write: in a single statement (so a single round trip and one atomic
 * transaction even outside an explicit one) it takes the conversation's next `seq`, updates its
 * last-message fields and unread count, inserts the message, records the outbox event and
 * queues the delivery job. Row locking on the conversation keeps `seq` gap-free and ordered.
 *
 * The relay's and the workers' wake-up calls (NOTIFY) go in that statement only inside a
 * caller's transaction, which they must follow. Outside one (`q` is the Db) they are sent after
 * the statement has committed (wakeAfterCommit): a transaction that notifies holds a
 * database-wide lock from just before its commit until the commit is done, WAL flush included,
 * so writes that notify commit one at a time and cannot share WAL flushes. A NOTIFY-only
 * statement writes no WAL and holds that lock only briefly. If the process dies in between, the
 * event and the job are committed all the same and the relay's and workers' polls pick them up.
 */
export async function appendMessage(q: Queryable, m: NewMessage): Promise<Message> {
  const params = appendParams(m, m.locationId, m.conversationId, m.chatWidgetId ?? null, !(q instanceof Db));
  // Outside a transaction a named statement: parsed and planned once per connection.
  const { rows } =
    q instanceof Db
      ? await q.prepared<MessageRow>('charla_append_message', APPEND_SQL, params)
      : await q.query<MessageRow>(APPEND_SQL, params);
  if (!rows[0]) throw notFound('Conversation');
  if (q instanceof Db) wake(q, m);
  return toMessage(rows[0]);
}

/**
 * appendMessage to the contact's open conversation on `channel` (its latest, for live chat),
 * found in the same statement: a send to an existing conversation in one round trip. The message
 * takes the conversation's location, contact and chat widget. Undefined, with nothing written,
 * when the contact is not in `locationIds` (null: any) or has no open conversation there.
 */
export async function appendToOpenConversation(
  db: Db,
  to: { locationIds: string[] | null; contactId: string; channel: string },
  m: Omit<NewMessage, 'locationId' | 'conversationId' | 'chatWidgetId'>,
): Promise<Message | undefined> {
  const params = appendParams(m, to.locationIds, to.contactId, to.channel, false);
  const { rows } = await db.prepared<MessageRow>('charla_append_to_open', APPEND_TO_OPEN_SQL, params);
  if (!rows[0]) return undefined;
  wake(db, m);
  return toMessage(rows[0]);
}

/** After a commit outside a transaction: the relay's and the workers' wake-up calls. */
function wake(db: Db, m: Pick<NewMessage, 'announce' | 'dispatch'>): void {
  if (m.announce !== false) wakeAfterCommit(db, OUTBOX_CHANNEL);
  if (m.dispatch === true) wakeAfterCommit(db, JOBS_CHANNEL);
}

/** The append statements' parameters; $1, $2 and $16 name the target (see appendSql). */
function appendParams(
  m: Omit<NewMessage, 'locationId' | 'conversationId' | 'chatWidgetId'>,
  $1: unknown,
  $2: unknown,
  $16: unknown,
  notify: boolean,
): unknown[] {
  return [
    $1, // 1
    $2, // 2
    m.id ?? uuidv7(), // 3
    m.type, // 4
    m.direction, // 5
    m.status, // 6
    m.body ?? null, // 7
    m.html ?? null, // 8
    m.subject ?? null, // 9
    m.contentType ?? 'text/plain', // 10
    m.attachments ?? [], // 11
    m.source ?? null, // 12
    m.action ?? null, // 13
    m.userId ?? null, // 14
    m.providerId ?? null, // 15
    $16, // 16
    m.altId ?? null, // 17
    m.replyToId ?? null, // 18
    m.email ? JSON.stringify(m.email) : null, // 19
    m.call ? JSON.stringify(m.call) : null, // 20
    JSON.stringify(m.meta ?? {}), // 21
    m.scheduledAt ?? null, // 22
    m.idempotencyKey ?? null, // 23
    m.createdAt ?? new Date(), // 24
    m.announce !== false, // 25
    m.dispatch === true, // 26
    PREVIEW, // 27
    // NOTIFY in the statement only inside a caller's transaction (see above).
    notify, // 28
  ];
}

/**
 * Points the conversation's last-message fields at its latest remaining message after
 * `removedId` was deleted (a canceled scheduled send); nothing changes when they named another.
 */
export async function forgetLastMessage(
  q: Queryable,
  locationId: string,
  conversationId: string,
  removedId: string,
): Promise<void> {
  await q.query(
    `UPDATE conversations c SET
       (last_message_id, last_message_body, last_message_type, last_message_direction,
        last_message_provider_id, last_message_date) = (
         SELECT m.id, left(coalesce(m.body, ''), $4), m.type, m.direction, m.provider_id, m.created_at
         FROM messages m WHERE m.location_id = c.location_id AND m.conversation_id = c.id
         ORDER BY m.created_at DESC, m.seq DESC LIMIT 1),
       last_message_action = (
         SELECT m.action FROM messages m
         WHERE m.location_id = c.location_id AND m.conversation_id = c.id AND m.direction = 'outbound'
         ORDER BY m.created_at DESC, m.seq DESC LIMIT 1),
       last_manual_message_date = (
         SELECT max(m.created_at) FROM messages m
         WHERE m.location_id = c.location_id AND m.conversation_id = c.id AND m.action = 'manual'),
       updated_at = now()
     WHERE c.location_id = $1 AND c.id = $2 AND c.last_message_id = $3`,
    [locationId, conversationId, removedId, PREVIEW],
  );
}

/** The message an earlier send with this Idempotency-Key (or client message id) stored. */
export async function findByIdempotencyKey(
  q: Queryable,
  locationId: string,
  key: string,
): Promise<Message | undefined> {
  const { rows } = await q.query<MessageRow>(
    'SELECT * FROM messages WHERE location_id = $1 AND idempotency_key = $2',
    [locationId, key],
  );
  return rows[0] ? toMessage(rows[0]) : undefined;
}

/**
 * Writes a message once per idempotency key: an earlier message with the key is returned as it
 * is, and a concurrent write that lost the race to the same key answers with the winner's.
 */
export async function writeOnce(
  db: Db,
  locationId: string,
  key: string | null | undefined,
  write: () => Promise<Message>,
): Promise<{ message: Message; replayed: boolean }> {
  if (key) {
    const earlier = await findByIdempotencyKey(db, locationId, key);
    if (earlier) return { message: earlier, replayed: true };
  }
  try {
    return { message: await write(), replayed: false };
  } catch (err) {
    if (key && isUniqueViolation(err, 'messages_idempotency')) {
      const earlier = await findByIdempotencyKey(db, locationId, key);
      if (earlier) return { message: earlier, replayed: true };
    }
    throw err;
  }
}
