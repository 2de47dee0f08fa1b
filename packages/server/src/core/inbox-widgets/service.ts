import type { PoolClient } from 'pg';
import type { Db, Queryable } from '../../storage/db.js';
import { recordEvent } from '../../storage/outbox.js';
import { type Contact, getContact } from '../contacts/service.js';
import { type Conversation, getConversation } from '../conversations/service.js';
import { invalid, notFound } from '../errors.js';
import { isUuid, uuidv7 } from '../ids.js';
import { check } from '../validation.js';
import {
  checkFields,
  type FieldType,
  type FieldValue,
  fieldsSchema,
  formatValue,
  type InboxWidgetField,
  INBOX_WIDGET_LIMITS as L,
  variableSource,
  writeProblem,
} from './fields.js';

export * from './fields.js';

export interface InboxWidget {
  id: string;
  locationId: string;
  title: string;
  fields: InboxWidgetField[];
  createdAt: Date;
  updatedAt: Date;
}

interface Row {
  location_id: string;
  id: string;
  title: string;
  fields: InboxWidgetField[];
  created_at: Date;
  updated_at: Date;
}

const toWidget = (r: Row): InboxWidget => ({
  id: r.id,
  locationId: r.location_id,
  title: r.title,
  fields: r.fields,
  createdAt: r.created_at,
  updatedAt: r.updated_at,
});

const titleSchema = { type: 'string', minLength: 1, maxLength: L.title };

export interface InboxWidgetInput {
  title?: string;
  fields?: InboxWidgetField[];
}

/** Validates what will be stored; the face has checked the shape already, the core checks again. */
function clean(input: InboxWidgetInput): InboxWidgetInput {
  const problems = [
    ...(input.title === undefined ? [] : check(titleSchema, input.title, 'title')),
    ...(input.fields === undefined ? [] : check(fieldsSchema, input.fields, 'fields')),
  ];
  if (input.title !== undefined && typeof input.title === 'string' && input.title.trim() === '') {
    problems.push('title must not be blank');
  }
  if (problems.length) throw invalid(problems);
  return {
    title: input.title?.trim(),
    fields: input.fields === undefined ? undefined : checkFields(input.fields),
  };
}

/** Throws not-found unless the location (ChatCaptain's chatbot) exists; locks it when asked. */
async function requireChatbot(q: Queryable, locationId: string, lock = false): Promise<void> {
  if (!isUuid(locationId)) throw notFound('Chatbot');
  const { rowCount } = await q.query(
    `SELECT 1 FROM locations WHERE id = $1${lock ? ' FOR NO KEY UPDATE' : ''}`,
    [locationId],
  );
  if (!rowCount) throw notFound('Chatbot');
}

async function findRow(q: Queryable, locationId: string, id: string, lock = false): Promise<Row> {
  if (!isUuid(locationId) || !isUuid(id)) throw notFound('Widget');
  const { rows } = await q.query<Row>(
    `SELECT * FROM inbox_widgets WHERE location_id = $1 AND id = $2${lock ? ' FOR UPDATE' : ''}`,
    [locationId, id],
  );
  if (!rows[0]) throw notFound('Widget');
  return rows[0];
}

const announce = (q: Queryable, topic: string, w: Row, extra: Record<string, unknown> = {}) =>
  recordEvent(q, { locationId: w.location_id, topic, payload: { widgetId: w.id, ...extra } });

/** The location's widgets, oldest first (the order agents see them in). */
export async function listInboxWidgets(db: Db, locationId: string): Promise<InboxWidget[]> {
  await requireChatbot(db, locationId);
  const { rows } = await db.query<Row>(
    'SELECT * FROM inbox_widgets WHERE location_id = $1 ORDER BY created_at, id',
    [locationId],
  );
  return rows.map(toWidget);
}

export async function getInboxWidget(q: Queryable, locationId: string, id: string): Promise<InboxWidget> {
  return toWidget(await findRow(q, locationId, id));
}

export async function createInboxWidget(
  db: Db,
  locationId: string,
  input: InboxWidgetInput & { title: string },
): Promise<InboxWidget> {
  const c = clean(input);
  return db.tx(async (tx: PoolClient) => {
    // The location's lock makes the per-location limit hold under concurrent creates.
    await requireChatbot(tx, locationId, true);
    const { rows: n } = await tx.query<{ n: number }>(
      'SELECT count(*)::int AS n FROM inbox_widgets WHERE location_id = $1',
      [locationId],
    );
    if (n[0]!.n >= L.widgetsPerLocation) {
      throw invalid([`a chatbot may have at most ${L.widgetsPerLocation} inbox widgets`]);
    }
    const { rows } = await tx.query<Row>(
      'INSERT INTO inbox_widgets (location_id, id, title, fields) VALUES ($1, $2, $3, $4) RETURNING *',
      [locationId, uuidv7(), c.title, JSON.stringify(c.fields ?? [])],
    );
    await announce(tx, 'inbox-widget.created', rows[0]!);
    return toWidget(rows[0]!);
  });
}

/** Changes the title and/or replaces the fields; values written for variables are kept. */
export async function updateInboxWidget(
  db: Db,
  locationId: string,
  id: string,
  input: InboxWidgetInput,
): Promise<InboxWidget> {
  const c = clean(input);
  return db.tx(async (tx) => {
    const current = await findRow(tx, locationId, id, true);
    const { rows } = await tx.query<Row>(
      `UPDATE inbox_widgets SET title = $3, fields = $4, updated_at = now()
       WHERE location_id = $1 AND id = $2 RETURNING *`,
      [locationId, id, c.title ?? current.title, JSON.stringify(c.fields ?? current.fields)],
    );
    await announce(tx, 'inbox-widget.updated', rows[0]!);
    return toWidget(rows[0]!);
  });
}

/** Removes the widget; values stay, since they belong to the conversation's variables. */
export async function deleteInboxWidget(db: Db, locationId: string, id: string): Promise<void> {
  if (!isUuid(locationId) || !isUuid(id)) throw notFound('Widget');
  await db.tx(async (tx) => {
    const { rows } = await tx.query<Row>(
      'DELETE FROM inbox_widgets WHERE location_id = $1 AND id = $2 RETURNING *',
      [locationId, id],
    );
    if (!rows[0]) throw notFound('Widget');
    await announce(tx, 'inbox-widget.deleted', rows[0]);
  });
}

export interface FieldValueEntry extends InboxWidgetField {
  value: FieldValue;
}

export interface ValuesTarget {
  conversationId?: string;
  contactId?: string;
}

function contactValue(contact: Contact, name: string): unknown {
  if (name === 'name') {
    const full = [contact.firstName, contact.lastName].filter(Boolean).join(' ');
    return contact.name || full || null;
  }
  return (contact as unknown as Record<string, unknown>)[name];
}

/** Resolves every field of `fields` for a conversation and/or contact of the location. */
async function resolve(
  q: Queryable,
  locationId: string,
  fields: InboxWidgetField[],
  conversation: Conversation | null,
  contact: Contact | null,
): Promise<FieldValueEntry[]> {
  const own = fields.filter((f) => variableSource(f.variable)?.kind === 'own').map((f) => f.variable);
  const stored = new Map<string, unknown>();
  if (conversation && own.length) {
    const { rows } = await q.query<{ variable: string; value: unknown }>(
      `SELECT variable, value FROM inbox_widget_values
       WHERE location_id = $1 AND conversation_id = $2 AND variable = ANY($3::text[])`,
      [locationId, conversation.id, own],
    );
    for (const r of rows) stored.set(r.variable, r.value);
  }
  return fields.map((f) => {
    const source = variableSource(f.variable);
    let raw: unknown = null;
    if (source?.kind === 'contact' && contact) raw = contactValue(contact, source.name);
    else if (source?.kind === 'customField' && contact && Object.hasOwn(contact.customFields, source.key)) {
      raw = contact.customFields[source.key];
    } else if (source?.kind === 'conversation' && conversation) raw = conversation[source.name];
    else if (source?.kind === 'own') raw = stored.get(f.variable);
    return { label: f.label, variable: f.variable, type: f.type, value: formatValue(f.type, raw) };
  });
}

/**
 * The widget's field values for a conversation, a contact, or both (the conversation's contact
 * when only the conversation is named). Values of the integrator's own variables need a
 * conversation; without one they are null.
 */
export async function inboxWidgetValues(
  db: Db,
  locationId: string,
  id: string,
  target: ValuesTarget,
): Promise<FieldValueEntry[]> {
  const widget = await findRow(db, locationId, id);
  if (target.conversationId === undefined && target.contactId === undefined) {
    throw invalid(['conversationId or contactId is required']);
  }
  let conversation: Conversation | null = null;
  let contact: Contact | null = null;
  if (target.conversationId !== undefined) {
    conversation = await getConversation(db, locationId, target.conversationId);
    if (target.contactId !== undefined && target.contactId !== conversation.contactId) {
      throw invalid(['contactId is not the contact of conversationId']);
    }
  }
  const contactId = conversation?.contactId ?? target.contactId;
  if (contactId !== undefined) {
    if (!isUuid(contactId)) throw notFound('Contact');
    contact = await getContact(db, locationId, contactId);
  }
  return resolve(db, locationId, widget.fields, conversation, contact);
}

/**
 * Writes the conversation's values of the integrator's own variables among the widget's fields,
 * each checked against its field's type; null removes a value. Contact and conversation
 * attributes are changed through their own APIs, never here.
 */
export async function writeInboxWidgetValues(
  db: Db,
  locationId: string,
  id: string,
  conversationId: string,
  values: Record<string, unknown>,
): Promise<FieldValueEntry[]> {
  const widget = await findRow(db, locationId, id);
  const entries = Object.entries(values);
  const problems: string[] = [];
  if (entries.length === 0) problems.push('values must name at least one variable');
  if (entries.length > L.valuesPerWrite) {
    problems.push(`values must name at most ${L.valuesPerWrite} variables`);
  }
  const types = new Map<string, FieldType>(widget.fields.map((f) => [f.variable, f.type]));
  for (const [variable, value] of entries) {
    const type = types.get(variable);
    if (type === undefined) {
      problems.push(`values.${variable} is not a field of this widget`);
      continue;
    }
    if (variableSource(variable)?.kind !== 'own') {
      problems.push(`values.${variable} is contact or conversation data and cannot be written here`);
      continue;
    }
    const problem = writeProblem(type, value);
    if (problem) problems.push(`values.${variable} ${problem}`);
  }
  if (problems.length) throw invalid(problems);

  return db.tx(async (tx) => {
    // Locked until commit, so a concurrent erasure of the contact cannot slip in between.
    const { rowCount } = isUuid(conversationId)
      ? await tx.query(
          'SELECT 1 FROM conversations WHERE location_id = $1 AND id = $2 AND deleted_at IS NULL FOR KEY SHARE',
          [locationId, conversationId],
        )
      : { rowCount: 0 };
    if (!rowCount) throw notFound('Conversation');
    const conversation = await getConversation(tx, locationId, conversationId);
    const set = entries.filter(([, v]) => v !== null);
    const cleared = entries.filter(([, v]) => v === null).map(([k]) => k);
    if (set.length) {
      await tx.query(
        `INSERT INTO inbox_widget_values (location_id, conversation_id, variable, value)
         SELECT $1, $2, v.variable, v.value FROM jsonb_each($3::jsonb) AS v(variable, value)
         ON CONFLICT (location_id, conversation_id, variable)
         DO UPDATE SET value = EXCLUDED.value, updated_at = now()`,
        [locationId, conversation.id, JSON.stringify(Object.fromEntries(set))],
      );
    }
    if (cleared.length) {
      await tx.query(
        `DELETE FROM inbox_widget_values
         WHERE location_id = $1 AND conversation_id = $2 AND variable = ANY($3::text[])`,
        [locationId, conversation.id, cleared],
      );
    }
    // Ids and variable names only: the values may be personal data.
    await announce(tx, 'inbox-widget.values', widget, {
      conversationId: conversation.id,
      variables: entries.map(([k]) => k),
    });
    const contact = await getContact(tx, locationId, conversation.contactId);
    return resolve(tx, locationId, widget.fields, conversation, contact);
  });
}
