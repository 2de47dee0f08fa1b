import type { PoolClient } from 'pg';
import type { Db, Queryable } from '../../storage/db.js';
import { recordEvent } from '../../storage/outbox.js';
import { conflict, invalid, notFound } from '../errors.js';
import { isUuid, randomToken, uuidv7 } from '../ids.js';
import { findLocation } from '../locations/service.js';
import { check } from '../validation.js';
import { checkSettings, departmentAgents, mergeSettings } from './settings-rules.js';
import { CHAT_TYPES, type ChatType, WEB_CHAT_UMBRELLA, widgetSettingsSchema } from './settings-schema.js';

export type WidgetSettings = Record<string, unknown>;

export interface ChatWidget {
  id: string;
  locationId: string;
  name: string;
  chatType: ChatType;
  isDefault: boolean;
  /** Optimistic-concurrency revision: every change increments it. */
  revision: number;
  settings: WidgetSettings;
  /** The public token visitors' widgets use to reach this channel. */
  publicToken: string;
  hasIdentitySecret: boolean;
  creationSource: string;
  originId: string | null;
  updatedBy: string | null;
  createdAt: Date;
  updatedAt: Date;
  deletedAt: Date | null;
}

interface Row {
  id: string;
  location_id: string;
  name: string;
  chat_type: ChatType;
  is_default: boolean;
  revision: number;
  settings: WidgetSettings;
  public_token: string;
  has_identity_secret: boolean;
  creation_source: string;
  origin_id: string | null;
  updated_by: string | null;
  created_at: Date;
  updated_at: Date;
  deleted_at: Date | null;
}

const toWidget = (r: Row): ChatWidget => ({
  id: r.id,
  locationId: r.location_id,
  name: r.name,
  chatType: r.chat_type,
  isDefault: r.is_default,
  revision: r.revision,
  settings: r.settings,
  publicToken: r.public_token,
  hasIdentitySecret: r.has_identity_secret,
  creationSource: r.creation_source,
  originId: r.origin_id,
  updatedBy: r.updated_by,
  createdAt: r.created_at,
  updatedAt: r.updated_at,
  deletedAt: r.deleted_at,
});

// Every column but the identity secret itself, which only its own functions read.
const COLUMNS = `location_id, id, name, chat_type, is_default, revision, settings, public_token,
  identity_secret IS NOT NULL AS has_identity_secret, creation_source, origin_id, updated_by, created_at,
  updated_at, deleted_at`;

/** Who made a change, recorded as `updatedBy`. */
export type Actor = string;

const MAX_NAME = 200;

function checkName(name: string | undefined, problems: string[]): void {
  if (name === undefined) return;
  if (name.trim() === '') problems.push('name should not be empty');
  if (name.length > MAX_NAME) problems.push(`name must be shorter than or equal to ${MAX_NAME} characters`);
}

function checkChatType(chatType: string | undefined, problems: string[]): void {
  if (chatType !== undefined && !(CHAT_TYPES as readonly string[]).includes(chatType)) {
    problems.push(`chatType must be one of the following values: ${CHAT_TYPES.join(', ')}`);
  }
}

/**
 * Validates complete settings and keeps `settings.chatType` equal to the widget's chat type.
 * A null value means "not set" and is dropped.
 */
async function finalSettings(
  q: Queryable,
  locationId: string,
  settings: WidgetSettings,
  chatType: ChatType,
): Promise<WidgetSettings> {
  const out: WidgetSettings = { chatIcon: 'messageChatCircle', ...mergeSettings({}, settings), chatType };
  const problems = [...check(widgetSettingsSchema, out, 'settings'), ...checkSettings(out)];
  if (problems.length === 0) {
    const agents = departmentAgents(out);
    if (agents.length > 0) {
      const { rows } = await q.query<{ user_id: string }>(
        'SELECT user_id FROM location_users WHERE location_id = $1 AND user_id = ANY($2::uuid[])',
        [locationId, agents],
      );
      const known = new Set(rows.map((r) => r.user_id));
      for (const a of agents)
        if (!known.has(a)) problems.push(`settings.departments names an unknown agent ${a}`);
    }
  }
  if (problems.length) throw invalid(problems);
  return out;
}

/** Locks the location's widget set: default promotion and "first widget is default" need it. */
async function lockLocation(tx: PoolClient, locationId: string): Promise<void> {
  if (!isUuid(locationId)) throw notFound('Location');
  const { rowCount } = await tx.query('SELECT 1 FROM locations WHERE id = $1 FOR NO KEY UPDATE', [
    locationId,
  ]);
  if (rowCount === 0) throw notFound('Location');
}

/** Takes the default flag from the location's current default: a change to it like any other. */
async function clearDefault(tx: PoolClient, locationId: string, except: string): Promise<void> {
  const { rows } = await tx.query<Row>(
    `UPDATE chat_widgets SET is_default = false, revision = revision + 1, updated_at = now()
     WHERE location_id = $1 AND is_default AND deleted_at IS NULL AND id <> $2 RETURNING ${COLUMNS}`,
    [locationId, except],
  );
  for (const row of rows) await announce(tx, 'widget.updated', row);
}

async function announce(tx: PoolClient, topic: string, w: Row): Promise<void> {
  await recordEvent(tx, {
    locationId: w.location_id,
    topic,
    payload: { widgetId: w.id, revision: w.revision, chatType: w.chat_type, isDefault: w.is_default },
  });
}

export interface NewWidget {
  locationId: string;
  name: string;
  chatType: string;
  /** Starting revision; defaults to 1. */
  revision?: number;
  isDefault?: boolean;
  settings?: WidgetSettings;
  creationSource?: string;
  originId?: string | null;
}

export async function createWidget(db: Db, actor: Actor, input: NewWidget): Promise<ChatWidget> {
  const problems: string[] = [];
  checkName(input.name, problems);
  checkChatType(input.chatType, problems);
  if (input.revision !== undefined && (!Number.isInteger(input.revision) || input.revision < 1)) {
    problems.push('version must be a positive integer');
  }
  if (problems.length) throw invalid(problems);
  if (!isUuid(input.locationId)) throw notFound('Location');

  return db.tx(async (tx) => {
    await lockLocation(tx, input.locationId);
    const chatType = input.chatType as ChatType;
    const settings = await finalSettings(tx, input.locationId, input.settings ?? {}, chatType);
    const { rows: live } = await tx.query(
      'SELECT 1 FROM chat_widgets WHERE location_id = $1 AND deleted_at IS NULL LIMIT 1',
      [input.locationId],
    );
    // The first widget of a location is its default, so there always is one to show.
    const isDefault = input.isDefault === true || live.length === 0;
    const id = uuidv7();
    if (isDefault) await clearDefault(tx, input.locationId, id);
    const { rows } = await tx.query<Row>(
      `INSERT INTO chat_widgets (location_id, id, name, chat_type, is_default, revision, settings, public_token,
                                 creation_source, origin_id, updated_by)
       VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11) RETURNING ${COLUMNS}`,
      [
        input.locationId,
        id,
        input.name.trim(),
        chatType,
        isDefault,
        input.revision ?? 1,
        JSON.stringify(settings),
        randomToken(18),
        input.creationSource ?? 'api',
        input.originId ?? null,
        actor,
      ],
    );
    await announce(tx, 'widget.created', rows[0]!);
    return toWidget(rows[0]!);
  });
}

async function findRow(q: Queryable, locationId: string, id: string, lock = false): Promise<Row> {
  if (!isUuid(id) || !isUuid(locationId)) throw notFound('Chat widget');
  const { rows } = await q.query<Row>(
    `SELECT ${COLUMNS} FROM chat_widgets WHERE location_id = $1 AND id = $2 AND deleted_at IS NULL${lock ? ' FOR UPDATE' : ''}`,
    [locationId, id],
  );
  if (!rows[0]) throw notFound('Chat widget');
  return rows[0];
}

// The hot read: a named statement is parsed and planned once per connection, not per request.
const GET_WIDGET = `SELECT ${COLUMNS} FROM chat_widgets WHERE location_id = $1 AND id = $2 AND deleted_at IS NULL`;

export async function getWidget(db: Db, locationId: string, id: string): Promise<ChatWidget> {
  if (!isUuid(id) || !isUuid(locationId)) throw notFound('Chat widget');
  const { rows } = await db.prepared<Row>('chat_widget_get', GET_WIDGET, [locationId, id]);
  if (!rows[0]) throw notFound('Chat widget');
  return toWidget(rows[0]);
}

export interface WidgetFilter {
  /** A stored chat type, or `webChat` for the messaging-app types together. */
  chatType?: string;
  excludeChatType?: string;
  /** With chatType=allInOneChat: only widgets that offer this type. */
  allInOneChatType?: string;
  voiceAiAgentId?: string;
  creationSource?: string;
  excludeCreationSource?: string;
}

const expand = (t: string): string[] => (t === 'webChat' ? [...WEB_CHAT_UMBRELLA] : [t]);

export async function listWidgets(
  db: Db,
  locationId: string,
  filter: WidgetFilter,
  page: { offset: number; limit: number },
): Promise<{ items: ChatWidget[]; total: number }> {
  const where = ['location_id = $1', 'deleted_at IS NULL'];
  const params: unknown[] = [locationId];
  const add = (clause: (n: string) => string, value: unknown) => {
    params.push(value);
    where.push(clause(`$${params.length}`));
  };
  if (filter.chatType) add((p) => `chat_type = ANY(${p}::text[])`, expand(filter.chatType));
  if (filter.excludeChatType) add((p) => `chat_type <> ALL(${p}::text[])`, expand(filter.excludeChatType));
  if (filter.chatType === 'allInOneChat' && filter.allInOneChatType) {
    add(
      (p) => `(settings #> '{advanceSettings,allInOneChatTypes}') ?| ${p}::text[]`,
      [filter.allInOneChatType, ...(filter.allInOneChatType === 'webChat' ? WEB_CHAT_UMBRELLA : [])],
    );
  }
  if (filter.voiceAiAgentId) {
    add(
      (p) =>
        `coalesce(settings #>> '{advanceSettings,voiceAiAgent,id}', settings #>> '{advanceSettings,voiceAiAgent,_id}') = ${p}`,
      filter.voiceAiAgentId,
    );
  }
  if (filter.creationSource) add((p) => `creation_source = ${p}`, filter.creationSource);
  if (filter.excludeCreationSource) add((p) => `creation_source <> ${p}`, filter.excludeCreationSource);
  if (!isUuid(locationId)) throw notFound('Location');
  const whereSql = where.join(' AND ');
  const [items, total] = await Promise.all([
    db.query<Row>(
      `SELECT ${COLUMNS} FROM chat_widgets WHERE ${whereSql}
       ORDER BY is_default DESC, created_at DESC, id DESC OFFSET ${page.offset} LIMIT ${page.limit}`,
      params,
    ),
    db.query<{ n: number }>(`SELECT count(*)::int AS n FROM chat_widgets WHERE ${whereSql}`, params),
  ]);
  const n = total.rows[0]!.n;
  // An empty answer may mean no such location: say so rather than list nothing.
  if (n === 0 && !(await findLocation(db, locationId))) throw notFound('Location');
  return { items: items.rows.map(toWidget), total: n };
}

export interface WidgetChange {
  /** replace: a full update (settings replaced); merge: a partial one (settings deep-merged). */
  mode: 'replace' | 'merge';
  /** When given, the change applies only if the widget is still at this revision. */
  expectedRevision?: number;
  name?: string;
  chatType?: string;
  isDefault?: boolean;
  settings?: WidgetSettings;
}

export async function updateWidget(
  db: Db,
  actor: Actor,
  locationId: string,
  id: string,
  change: WidgetChange,
): Promise<ChatWidget> {
  const problems: string[] = [];
  checkName(change.name, problems);
  const settingsChatType = change.settings?.chatType as string | undefined;
  checkChatType(change.chatType ?? settingsChatType, problems);
  if (problems.length) throw invalid(problems);

  return db.tx(async (tx) => {
    if (change.isDefault !== undefined) await lockLocation(tx, locationId);
    const current = await findRow(tx, locationId, id, true);
    if (change.expectedRevision !== undefined && change.expectedRevision !== current.revision) {
      throw conflict(
        `Chat widget was changed by someone else: it is at version ${current.revision}, the request was made ` +
          `against version ${change.expectedRevision}. Fetch it again and retry.`,
        { currentVersion: current.revision },
      );
    }
    const chatType = (change.chatType ?? settingsChatType ?? current.chat_type) as ChatType;
    const merged = mergeSettings(change.mode === 'replace' ? {} : current.settings, change.settings ?? {});
    const settings = await finalSettings(tx, locationId, merged, chatType);
    const isDefault = change.isDefault ?? current.is_default;
    if (change.isDefault === true) await clearDefault(tx, locationId, id);
    const { rows } = await tx.query<Row>(
      `UPDATE chat_widgets SET name = $3, chat_type = $4, is_default = $5, settings = $6, revision = revision + 1,
              updated_by = $7, updated_at = now()
       WHERE location_id = $1 AND id = $2 RETURNING ${COLUMNS}`,
      [
        locationId,
        id,
        change.name?.trim() ?? current.name,
        chatType,
        isDefault,
        JSON.stringify(settings),
        actor,
      ],
    );
    await announce(tx, 'widget.updated', rows[0]!);
    return toWidget(rows[0]!);
  });
}

export async function cloneWidget(
  db: Db,
  actor: Actor,
  locationId: string,
  id: string,
  name?: string,
): Promise<ChatWidget> {
  const problems: string[] = [];
  checkName(name, problems);
  if (problems.length) throw invalid(problems);
  const source = await findRow(db, locationId, id);
  const copyName = name ?? `${source.name} (copy)`.slice(0, MAX_NAME);
  return createWidget(db, actor, {
    locationId,
    name: copyName,
    chatType: source.chat_type,
    settings: source.settings,
    isDefault: false,
    creationSource: 'clone',
    originId: source.id,
  });
}

/** Soft-deletes a widget; when it was the default, the most recently updated live widget takes over. */
export async function deleteWidget(
  db: Db,
  actor: Actor,
  locationId: string,
  id: string,
): Promise<ChatWidget> {
  return db.tx(async (tx) => {
    if (!isUuid(locationId)) throw notFound('Chat widget');
    await lockLocation(tx, locationId);
    const current = await findRow(tx, locationId, id, true);
    const { rows } = await tx.query<Row>(
      `UPDATE chat_widgets SET deleted_at = now(), is_default = false, revision = revision + 1, updated_by = $3,
              updated_at = now()
       WHERE location_id = $1 AND id = $2 RETURNING ${COLUMNS}`,
      [locationId, id, actor],
    );
    const deleted = rows[0]!;
    await announce(tx, 'widget.deleted', deleted);
    if (current.is_default) {
      const { rows: promoted } = await tx.query<Row>(
        `UPDATE chat_widgets SET is_default = true, revision = revision + 1, updated_at = now()
         WHERE location_id = $1 AND id = (
           SELECT id FROM chat_widgets WHERE location_id = $1 AND deleted_at IS NULL
           ORDER BY updated_at DESC, id DESC LIMIT 1)
         RETURNING ${COLUMNS}`,
        [locationId],
      );
      if (promoted[0]) await announce(tx, 'widget.updated', promoted[0]);
    }
    return toWidget(deleted);
  });
}

/** A widget as the public, unauthenticated config endpoint may see it (it may be disabled). */
export async function findPublicWidget(db: Db, id: string): Promise<ChatWidget> {
  if (!isUuid(id)) throw notFound('Chat widget');
  const { rows } = await db.query<Row>(
    `SELECT ${COLUMNS} FROM chat_widgets WHERE id = $1 AND deleted_at IS NULL`,
    [id],
  );
  if (!rows[0]) throw notFound('Chat widget');
  return toWidget(rows[0]);
}

/**
 * Settings safe to hand to any visitor: everything the widget needs to draw itself, without the
 * agents' user ids behind departments.
 */
export function publicSettings(settings: WidgetSettings): WidgetSettings {
  const out = { ...settings };
  if (Array.isArray(out.departments)) {
    out.departments = (out.departments as Record<string, unknown>[]).map(({ agents: _agents, ...d }) => d);
  }
  return out;
}

/** Whether a page at `origin` may use a widget with these settings (no list: every origin). */
export function originAllowed(settings: WidgetSettings, origin: string | undefined): boolean {
  const allowed = settings.allowedDomains as string[] | undefined;
  if (!allowed || allowed.length === 0) return true;
  if (!origin) return false;
  let host: string;
  try {
    host = new URL(origin).host.toLowerCase();
  } catch {
    return false;
  }
  const hostname = host.replace(/:\d+$/, '');
  return allowed.some((pattern) => {
    const p = pattern.toLowerCase();
    const target = p.includes(':') ? host : hostname;
    if (p.startsWith('*.')) return target.endsWith(p.slice(1)) || target === p.slice(2);
    return target === p;
  });
}
