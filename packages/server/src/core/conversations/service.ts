import { Db, type Queryable } from '../../storage/db.js';
import { recordEvent } from '../../storage/outbox.js';
import { AppError, invalid, notFound } from '../errors.js';
import { isUuid, uuidv7 } from '../ids.js';

/** What a client said about a conversation: LeadConnector types it as a string in v1 and an object in v2. */
export type Feedback = string | Record<string, unknown>;

export type ConversationChannel = 'default' | 'live_chat' | 'review';

export interface Conversation {
  id: string;
  locationId: string;
  contactId: string;
  channel: ConversationChannel;
  /** TYPE_PHONE, TYPE_EMAIL, TYPE_FB_MESSENGER, TYPE_REVIEW, TYPE_GROUP_SMS. */
  type: string;
  status: 'open' | 'closed';
  chatWidgetId: string | null;
  reviewId: string | null;
  assignedTo: string | null;
  departmentId: string | null;
  followers: string[];
  mentions: string[];
  starred: boolean;
  inbox: boolean;
  tags: string[];
  feedback: Feedback | null;
  score: number | null;
  unreadCount: number;
  lastSeq: number;
  lastMessageId: string | null;
  lastMessageBody: string | null;
  lastMessageType: string | null;
  lastMessageDirection: string | null;
  lastMessageAction: string | null;
  lastMessageProviderId: string | null;
  lastMessageDate: Date | null;
  lastManualMessageDate: Date | null;
  createdAt: Date;
  updatedAt: Date;
  deletedAt: Date | null;
}

/** A conversation with its contact's display fields, as search lists it. */
export interface ConversationWithContact extends Conversation {
  contact: {
    name: string | null;
    email: string | null;
    phone: string | null;
    companyName: string | null;
    tags: string[];
  };
}

interface Row {
  id: string;
  location_id: string;
  contact_id: string;
  channel: ConversationChannel;
  type: string;
  status: 'open' | 'closed';
  chat_widget_id: string | null;
  review_id: string | null;
  assigned_to: string | null;
  department_id: string | null;
  followers: string[];
  mentions: string[];
  starred: boolean;
  inbox: boolean;
  tags: string[];
  feedback: Feedback | null;
  score: string | null;
  unread_count: number;
  last_seq: string;
  last_message_id: string | null;
  last_message_body: string | null;
  last_message_type: string | null;
  last_message_direction: string | null;
  last_message_action: string | null;
  last_message_provider_id: string | null;
  last_message_date: Date | null;
  last_manual_message_date: Date | null;
  created_at: Date;
  updated_at: Date;
  deleted_at: Date | null;
}

export const toConversation = (r: Row): Conversation => ({
  id: r.id,
  locationId: r.location_id,
  contactId: r.contact_id,
  channel: r.channel,
  type: r.type,
  status: r.status,
  chatWidgetId: r.chat_widget_id,
  reviewId: r.review_id,
  assignedTo: r.assigned_to,
  departmentId: r.department_id,
  followers: r.followers,
  mentions: r.mentions,
  starred: r.starred,
  inbox: r.inbox,
  tags: r.tags,
  feedback: r.feedback,
  score: r.score === null ? null : Number(r.score),
  unreadCount: r.unread_count,
  lastSeq: Number(r.last_seq),
  lastMessageId: r.last_message_id,
  lastMessageBody: r.last_message_body,
  lastMessageType: r.last_message_type,
  lastMessageDirection: r.last_message_direction,
  lastMessageAction: r.last_message_action,
  lastMessageProviderId: r.last_message_provider_id,
  lastMessageDate: r.last_message_date,
  lastManualMessageDate: r.last_manual_message_date,
  createdAt: r.created_at,
  updatedAt: r.updated_at,
  deletedAt: r.deleted_at,
});

async function announce(
  q: Queryable,
  topic: string,
  c: Row,
  extra: Record<string, unknown> = {},
): Promise<void> {
  await recordEvent(q, {
    locationId: c.location_id,
    topic,
    payload: {
      conversationId: c.id,
      contactId: c.contact_id,
      status: c.status,
      assignedTo: c.assigned_to,
      ...extra,
    },
  });
}

/**
 * Finds a conversation by id alone (routes that carry no location), in one of `locationIds`
 * (null: any). Another location's conversation is a 404, as if it did not exist.
 */
export async function findConversationById(
  db: Db,
  id: string,
  locationIds: ReadonlySet<string> | null,
): Promise<Conversation> {
  if (!isUuid(id)) throw notFound('Conversation');
  const { rows } = await db.query<Row>('SELECT * FROM conversations WHERE id = $1 AND deleted_at IS NULL', [
    id,
  ]);
  if (!rows[0] || (locationIds !== null && !locationIds.has(rows[0].location_id)))
    throw notFound('Conversation');
  return toConversation(rows[0]);
}

export async function getConversation(q: Queryable, locationId: string, id: string): Promise<Conversation> {
  if (!isUuid(id) || !isUuid(locationId)) throw notFound('Conversation');
  const { rows } = await q.query<Row>(
    'SELECT * FROM conversations WHERE location_id = $1 AND id = $2 AND deleted_at IS NULL',
    [locationId, id],
  );
  if (!rows[0]) throw notFound('Conversation');
  return toConversation(rows[0]);
}

export async function contactExists(q: Queryable, locationId: string, contactId: string): Promise<boolean> {
  if (!isUuid(contactId) || !isUuid(locationId)) return false;
  const { rowCount } = await q.query('SELECT 1 FROM contacts WHERE location_id = $1 AND id = $2', [
    locationId,
    contactId,
  ]);
  return (rowCount ?? 0) > 0;
}

export interface OpenConversationInput {
  locationId: string;
  contactId: string;
  channel: ConversationChannel;
  type?: string;
  /** live_chat: the widget (null: none); left out, the contact's latest live chat on any widget. */
  chatWidgetId?: string | null;
  reviewId?: string | null;
  /** The department a new conversation starts in (a visitor's pick on the widget). */
  departmentId?: string | null;
}

/**
 * The contact's open conversation on this channel, created when there is none. Safe under
 * concurrency: the partial unique index makes a racing second insert a no-op, and the row lock
 * (inside the caller's transaction) keeps a concurrent close from slipping in before the append.
 */
export async function openConversation(
  q: Queryable,
  input: OpenConversationInput,
): Promise<{ conversation: Conversation; created: boolean }> {
  // Ids that are not UUIDs name nothing; checked first, since PostgreSQL refuses the cast.
  if (!isUuid(input.locationId) || !isUuid(input.contactId)) throw notFound('Contact');
  // Each review is a thread of its own, and each chat widget's live chat; every other channel
  // has one open thread per contact (migration 006's index).
  const reviewId = input.channel === 'review' ? (input.reviewId ?? null) : null;
  const widgetId = input.channel === 'live_chat' ? (input.chatWidgetId ?? null) : null;
  // A live chat opened without naming a widget (the LeadConnector faces) continues the contact's
  // latest open live chat, whichever widget it is on.
  const anyWidget = input.channel === 'live_chat' && input.chatWidgetId === undefined;
  const select = () =>
    q.query<Row>(
      `SELECT * FROM conversations WHERE location_id = $1 AND contact_id = $2 AND channel = $3
       AND review_id IS NOT DISTINCT FROM $4 AND ($6 OR chat_widget_id IS NOT DISTINCT FROM $5::uuid)
       AND status = 'open' AND deleted_at IS NULL
       ORDER BY coalesce(last_message_date, created_at) DESC LIMIT 1
       FOR UPDATE`,
      [input.locationId, input.contactId, input.channel, reviewId, widgetId, anyWidget],
    );
  const existing = await select();
  if (existing.rows[0]) return { conversation: toConversation(existing.rows[0]), created: false };
  if (!(await contactExists(q, input.locationId, input.contactId))) throw notFound('Contact');
  const { rows } = await q.query<Row>(
    // Dates are written in whole milliseconds: search pages by them as epoch-ms values.
    `INSERT INTO conversations (location_id, id, contact_id, channel, type, chat_widget_id, review_id, created_at,
       updated_at, department_id)
     VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $8, $9)
     ON CONFLICT (location_id, contact_id, channel, (coalesce(review_id, '')),
       (coalesce(chat_widget_id, '00000000-0000-0000-0000-000000000000'::uuid)))
       WHERE status = 'open' AND deleted_at IS NULL DO NOTHING
     RETURNING *`,
    [
      input.locationId,
      uuidv7(),
      input.contactId,
      input.channel,
      input.type ?? (input.channel === 'review' ? 'TYPE_REVIEW' : 'TYPE_PHONE'),
      widgetId,
      reviewId,
      new Date(),
      input.departmentId ?? null,
    ],
  );
  if (rows[0]) {
    await announce(q, 'conversation.created', rows[0]);
    return { conversation: toConversation(rows[0]), created: true };
  }
  const raced = await select();
  return { conversation: toConversation(raced.rows[0]!), created: false };
}

/**
 * Creates the contact's conversation. A contact has one open conversation per channel: asking
 * for a second is refused with the id of the one that exists.
 */
export async function createConversation(
  db: Db,
  locationId: string,
  contactId: string,
): Promise<Conversation> {
  return db.tx(async (tx) => {
    const { conversation, created } = await openConversation(tx, {
      locationId,
      contactId,
      channel: 'default',
    });
    if (!created) {
      throw new AppError('bad_request', 'Conversation already exists', [], {
        conversationId: conversation.id,
      });
    }
    return conversation;
  });
}

/** Throws a validation error unless every id names a user of the location. */
export async function checkUsers(
  q: Queryable,
  locationId: string,
  ids: string[],
  field: string,
): Promise<void> {
  if (ids.length === 0) return;
  if (!ids.every(isUuid)) throw invalid([`${field} must name users of this location`]);
  const { rows } = await q.query<{ n: number }>(
    'SELECT count(*)::int AS n FROM location_users WHERE location_id = $1 AND user_id = ANY($2::uuid[])',
    [locationId, [...new Set(ids)]],
  );
  if (rows[0]!.n !== new Set(ids).size) throw invalid([`${field} must name users of this location`]);
}

export interface ConversationChange {
  unreadCount?: number;
  starred?: boolean;
  feedback?: Feedback | null;
  /** A user of the location, or null to unassign. */
  assignedTo?: string | null;
  departmentId?: string | null;
  followers?: string[];
  tags?: string[];
  status?: 'open' | 'closed';
  inbox?: boolean;
}

export async function updateConversation(
  db: Db,
  locationId: string,
  id: string,
  change: ConversationChange,
): Promise<Conversation> {
  return db.tx(async (tx) => {
    const current = await getConversation(tx, locationId, id);
    if (change.assignedTo) await checkUsers(tx, locationId, [change.assignedTo], 'assignedTo');
    if (change.followers) await checkUsers(tx, locationId, change.followers, 'followers');
    const tags = change.tags ? [...new Set(change.tags.map((t) => t.trim()).filter(Boolean))] : undefined;
    let rows: Row[];
    try {
      ({ rows } = await tx.query<Row>(
        `UPDATE conversations SET
           unread_count = coalesce($3, unread_count),
           starred = coalesce($4, starred),
           feedback = CASE WHEN $5::boolean THEN $6 ELSE feedback END,
           assigned_to = CASE WHEN $7::boolean THEN $8::uuid ELSE assigned_to END,
           department_id = CASE WHEN $9::boolean THEN $10 ELSE department_id END,
           followers = coalesce($11::uuid[], followers),
           tags = coalesce($12::text[], tags),
           status = coalesce($13, status),
           inbox = coalesce($14, inbox),
           updated_at = now()
         WHERE location_id = $1 AND id = $2 RETURNING *`,
        [
          locationId,
          id,
          change.unreadCount ?? null,
          change.starred ?? null,
          change.feedback !== undefined,
          change.feedback == null ? null : JSON.stringify(change.feedback),
          change.assignedTo !== undefined,
          change.assignedTo ?? null,
          change.departmentId !== undefined,
          change.departmentId ?? null,
          change.followers ? [...new Set(change.followers)] : null,
          tags ?? null,
          change.status ?? null,
          change.inbox ?? null,
        ],
      ));
    } catch (err) {
      // Reopening while the contact already has another open conversation on this channel.
      if ((err as { code?: string }).code === '23505') {
        throw new AppError('conflict', 'The contact already has an open conversation on this channel');
      }
      throw err;
    }
    const updated = rows[0]!;
    const changes: Record<string, unknown> = {};
    if (current.status !== updated.status) changes.statusChanged = true;
    if (current.assignedTo !== updated.assigned_to) changes.assignmentChanged = true;
    await announce(tx, 'conversation.updated', updated, changes);
    return toConversation(updated);
  });
}

/** Moves a conversation to the trash: it leaves searches and a new message starts a new one. */
export async function deleteConversation(db: Db, locationId: string, id: string): Promise<void> {
  await db.tx(async (tx) => {
    await getConversation(tx, locationId, id);
    const { rows } = await tx.query<Row>(
      'UPDATE conversations SET deleted_at = now(), updated_at = now() WHERE location_id = $1 AND id = $2 RETURNING *',
      [locationId, id],
    );
    await announce(tx, 'conversation.deleted', rows[0]!);
  });
}

/** The location of a contact the caller may reach (routes that name only the contact); 404 otherwise. */
export async function locateContact(
  q: Queryable,
  contactId: string,
  locationIds: ReadonlySet<string> | null,
): Promise<string> {
  if (!isUuid(contactId)) throw notFound('Contact');
  const sql =
    'SELECT location_id FROM contacts WHERE id = $1 AND ($2::uuid[] IS NULL OR location_id = ANY($2::uuid[]))';
  const params = [contactId, locationIds ? [...locationIds] : null];
  // Every send and inbound message starts here: a named statement skips parsing and planning.
  const { rows } =
    q instanceof Db
      ? await q.prepared<{ location_id: string }>('charla_locate_contact', sql, params)
      : await q.query<{ location_id: string }>(sql, params);
  if (!rows[0]) throw notFound('Contact');
  return rows[0].location_id;
}
