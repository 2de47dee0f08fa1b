import type pg from 'pg';
import type { Db } from '../../storage/db.js';
import { invalid, notFound } from '../errors.js';
import { isUuid } from '../ids.js';
import { findLocation } from '../locations/service.js';
import { type ConversationWithContact, toConversation } from './service.js';

export interface SearchFilter {
  locationId: string;
  contactId?: string;
  id?: string;
  /** User ids; `unassigned` matches conversations nobody holds. */
  assignedTo?: string[];
  followers?: string[];
  mentions?: string[];
  /** Words matched in the contact's name, email and phone and in message bodies. */
  query?: string;
  status?: 'all' | 'read' | 'unread' | 'starred' | 'recents';
  lastMessageType?: string;
  lastMessageAction?: 'automated' | 'manual';
  lastMessageDirection?: 'inbound' | 'outbound';
  /** Created within [startDate, endDate], epoch ms. */
  startDate?: number;
  endDate?: number;
  scoreMin?: number;
  scoreMax?: number;
  // Charla's inbox filters.
  conversationStatus?: 'open' | 'closed';
  channel?: string;
  chatWidgetId?: string;
  departmentId?: string;
  tags?: string[];
}

export type SortBy = 'last_message_date' | 'last_manual_message_date' | 'score_profile';

export interface SearchPage {
  sort: 'asc' | 'desc';
  sortBy: SortBy;
  /** The `sort` value of the last item seen: [sortValue] or [sortValue, id]. */
  startAfter?: (number | string)[];
  limit: number;
}

export interface SearchHit extends ConversationWithContact {
  /** What to pass back as startAfterDate for the next page. */
  sortValue: [number | null, string];
}

const SORT_COLUMN: Record<SortBy, string> = {
  last_message_date: 'coalesce(c.last_message_date, c.created_at)',
  last_manual_message_date: "coalesce(c.last_manual_message_date, 'epoch'::timestamptz)",
  score_profile: 'coalesce(c.score, 0)',
};

/**
 * A contact's first and last name as concat_ws(' ', first_name, last_name) gives them (NULLs
 * skipped, '' when both are NULL), in immutable operators so that an index can hold it: migration
 * 002's contacts_full_name_trgm is on exactly this expression.
 */
const FULL_NAME = (k: string) =>
  `coalesce(${k}.first_name || ' ' || ${k}.last_name, ${k}.first_name, ${k}.last_name, '')`;

/** Escapes LIKE wildcards so the words a user types match literally. */
const likeEscape = (s: string) => s.replace(/[\\%_]/g, (ch) => `\\${ch}`);

/** The most matches a full-text search counts: `total` is a lower bound from there on. */
export const QUERY_TOTAL_CAP = 1000;

export interface SearchResult {
  hits: SearchHit[];
  /** The matches, or with totalExact false a lower bound of them (at most QUERY_TOTAL_CAP). */
  total: number;
  /**
   * false when a full-text search stopped counting: at QUERY_TOTAL_CAP matches, or, for a query
   * found in most conversations, after the first DENSE_COUNTED of them (see queryPage). Always
   * true without a query.
   */
  totalExact: boolean;
}

export async function searchConversations(db: Db, f: SearchFilter, page: SearchPage): Promise<SearchResult> {
  if (!isUuid(f.locationId)) throw notFound('Location');
  const where = ['c.location_id = $1', 'c.deleted_at IS NULL'];
  const params: unknown[] = [f.locationId];
  const add = (clause: (p: string) => string, value: unknown) => {
    params.push(value);
    where.push(clause(`$${params.length}`));
  };
  const uuids = (list: string[], field: string) => {
    if (!list.every(isUuid)) throw invalid([`${field} must be a comma-separated list of user ids`]);
    return list;
  };

  if (f.contactId) {
    if (!isUuid(f.contactId)) return { hits: [], total: 0, totalExact: true };
    add((p) => `c.contact_id = ${p}`, f.contactId);
  }
  if (f.id) {
    if (!isUuid(f.id)) return { hits: [], total: 0, totalExact: true };
    add((p) => `c.id = ${p}`, f.id);
  }
  if (f.assignedTo?.length) {
    const users = f.assignedTo.filter((a) => a !== 'unassigned');
    const unassigned = users.length !== f.assignedTo.length;
    params.push(uuids(users, 'assignedTo'));
    where.push(
      `(c.assigned_to = ANY($${params.length}::uuid[])${unassigned ? ' OR c.assigned_to IS NULL' : ''})`,
    );
  }
  if (f.followers?.length) add((p) => `c.followers && ${p}::uuid[]`, uuids(f.followers, 'followers'));
  if (f.mentions?.length) add((p) => `c.mentions && ${p}::uuid[]`, uuids(f.mentions, 'mentions'));
  if (f.status === 'read') where.push('c.unread_count = 0');
  if (f.status === 'unread') where.push('c.unread_count > 0');
  if (f.status === 'starred') where.push('c.starred');
  if (f.lastMessageType) add((p) => `c.last_message_type = ${p}`, f.lastMessageType);
  if (f.lastMessageAction) add((p) => `c.last_message_action = ${p}`, f.lastMessageAction);
  if (f.lastMessageDirection) add((p) => `c.last_message_direction = ${p}`, f.lastMessageDirection);
  checkEpoch('startDate', f.startDate);
  checkEpoch('endDate', f.endDate);
  if (f.startDate !== undefined) add((p) => `c.created_at >= to_timestamp(${p}::float8 / 1000)`, f.startDate);
  if (f.endDate !== undefined) add((p) => `c.created_at <= to_timestamp(${p}::float8 / 1000)`, f.endDate);
  if (f.scoreMin !== undefined) add((p) => `c.score >= ${p}`, f.scoreMin);
  if (f.scoreMax !== undefined) add((p) => `c.score <= ${p}`, f.scoreMax);
  if (f.conversationStatus) add((p) => `c.status = ${p}`, f.conversationStatus);
  if (f.channel) add((p) => `c.channel = ${p}`, f.channel);
  if (f.chatWidgetId) {
    if (!isUuid(f.chatWidgetId)) return { hits: [], total: 0, totalExact: true };
    add((p) => `c.chat_widget_id = ${p}`, f.chatWidgetId);
  }
  if (f.departmentId) add((p) => `c.department_id = ${p}`, f.departmentId);
  if (f.tags?.length) add((p) => `c.tags && ${p}::text[]`, f.tags);
  const q = f.query?.trim();
  let pattern: string | undefined;
  if (q) {
    params.push(`%${likeEscape(q)}%`);
    pattern = `$${params.length}`;
  }

  const sortExpr = SORT_COLUMN[page.sortBy];
  const dir = page.sort === 'asc' ? 'ASC' : 'DESC';
  const pageWhere = [...where];
  const pageParams = [...params];
  if (page.startAfter && page.startAfter.length > 0) {
    const [value, afterId] = page.startAfter;
    const n = Number(value);
    if (!Number.isFinite(n)) throw invalid(['startAfterDate must be the sort value of the last item']);
    if (page.sortBy !== 'score_profile') checkEpoch('startAfterDate', n);
    const cmp = dir === 'DESC' ? '<' : '>';
    const valueSql =
      page.sortBy === 'score_profile'
        ? `$${pageParams.length + 1}::numeric`
        : `to_timestamp($${pageParams.length + 1}::float8 / 1000)`;
    pageParams.push(n);
    if (afterId !== undefined && isUuid(String(afterId))) {
      pageParams.push(String(afterId));
      pageWhere.push(`(${sortExpr}, c.id) ${cmp} (${valueSql}, $${pageParams.length}::uuid)`);
    } else {
      pageWhere.push(`${sortExpr} ${cmp} ${valueSql}`);
    }
  }
  const hitColumns = `k.name AS k_name, k.first_name AS k_first_name, k.last_name AS k_last_name,
    k.email AS k_email, k.phone AS k_phone, k.company_name AS k_company_name, k.tags AS k_tags`;
  const sortValue = (e: string) =>
    `${page.sortBy === 'score_profile' ? e : `(extract(epoch FROM ${e}) * 1000)`}::float8 AS sort_value`;
  const contactJoin = 'JOIN contacts k ON k.location_id = c.location_id AND k.id = c.contact_id';
  const order = `ORDER BY ${sortExpr} ${dir}, c.id ${dir}`;

  let result: { rows: pg.QueryResultRow[]; total: number; totalExact: boolean };
  if (pattern) {
    result = await queryPage(db, { where, params, pageWhere, pageParams, pattern, order, dir, page });
  } else {
    pageParams.push(page.limit);
    const [rows, count] = await Promise.all([
      db.query(
        `SELECT c.*, ${hitColumns}, ${sortValue(sortExpr)}
         FROM conversations c ${contactJoin} WHERE ${pageWhere.join(' AND ')} ${order} LIMIT $${pageParams.length}`,
        pageParams,
      ),
      db.query<{ n: number }>(
        `SELECT count(*)::int AS n FROM conversations c ${contactJoin} WHERE ${where.join(' AND ')}`,
        params,
      ),
    ]);
    result = { rows: rows.rows, total: count.rows[0]!.n, totalExact: true };
  }
  const { total, totalExact } = result;
  if (total === 0 && !(await findLocation(db, f.locationId))) throw notFound('Location');
  const hits = result.rows.map((r): SearchHit => {
    const name = r.k_name ?? ([r.k_first_name, r.k_last_name].filter(Boolean).join(' ') || null);
    return {
      ...toConversation(r as never),
      contact: { name, email: r.k_email, phone: r.k_phone, companyName: r.k_company_name, tags: r.k_tags },
      // Dates are whole epoch milliseconds (migration 010); a score keeps its fraction.
      sortValue: [
        r.sort_value === null
          ? null
          : page.sortBy === 'score_profile'
            ? Number(r.sort_value)
            : Math.round(Number(r.sort_value)),
        r.id,
      ],
    };
  });
  return { hits, total, totalExact };

  /**
   * A full-text page and its total, by one of two plans (the page is the same either way; only
   * the cost differs, and how far the total counts):
   *
   * - The walk, for dense matches: the first DENSE_WITHIN × limit conversations in page order
   *   (at most DENSE_WINDOW, at least limit), each checked in turn: its contact's fields, then its messages up
   *   to the first match. When it fills the page the page is exact, since the first `limit`
   *   matches among the first candidates in order are the first `limit` matches overall. A
   *   common word fills it within a few dozen candidates, where the index plan would first
   *   collect most of the location (a trigram bitmap over most messages).
   * - The index plan, otherwise: every matching conversation from the trigram indexes
   *   (contacts_*_trgm, messages_body_trgm), then the page among them. Cheap when matches are
   *   few, which is when the walk could not fill the page.
   *
   * The total: after a filled walk the matches are too dense to count through the message index
   * at a bounded cost. It is then exact when the location has at most DENSE_COUNTED candidate
   * conversations (all checked); otherwise a lower bound (totalExact false): the larger of the
   * matches among the first DENSE_COUNTED candidates and the conversations whose contact matches
   * (counted through the contacts' indexes up to QUERY_TOTAL_CAP). The index plan counts up to
   * QUERY_TOTAL_CAP: exact below it, a lower bound at it.
   */
  async function queryPage(
    db: Db,
    s: {
      where: string[];
      params: unknown[];
      pageWhere: string[];
      pageParams: unknown[];
      pattern: string;
      order: string;
      dir: string;
      page: SearchPage;
    },
  ): Promise<{ rows: pg.QueryResultRow[]; total: number; totalExact: boolean }> {
    const p = s.pattern;
    /**
     * The first `n` conversations in page order that pass `filter`, each with its contact's
     * fields (k_*) and whether it matches (`hit`): its contact does (name, first and last name as
     * the full-name index spells them, email or phone), else one of its messages. Both lookups
     * are per candidate, in order, so a LIMIT above stops the walk: LATERAL with LIMIT 1 keeps
     * the message check a probe that stops at the first match (as EXISTS, PostgreSQL may hash
     * it, reading every match in the location first), and OFFSET 0 keeps the contact a lookup.
     */
    const walk = (filter: string[], n: string) =>
      `(SELECT c.*, ${hitColumns}, m.hit IS NOT NULL AS hit
        FROM (SELECT *, ${sortExpr} AS sort_key FROM conversations c WHERE ${filter.join(' AND ')} ${s.order}
          LIMIT ${n}) c
        CROSS JOIN LATERAL (SELECT * FROM contacts k WHERE k.location_id = c.location_id AND k.id = c.contact_id
          OFFSET 0) k
        LEFT JOIN LATERAL (SELECT true AS hit FROM messages m
          WHERE NOT coalesce(k.name ILIKE ${p} OR k.email ILIKE ${p} OR k.phone ILIKE ${p}
              OR ${FULL_NAME('k')} ILIKE ${p}, false)
            AND m.location_id = $1 AND m.conversation_id = c.id AND m.body ILIKE ${p} LIMIT 1) m ON true
        ORDER BY c.sort_key ${s.dir}, c.id ${s.dir}) w`;
    const matched = `(w.hit OR coalesce(w.k_name ILIKE ${p} OR w.k_email ILIKE ${p} OR w.k_phone ILIKE ${p}
      OR coalesce(w.k_first_name || ' ' || w.k_last_name, w.k_first_name, w.k_last_name, '') ILIKE ${p}, false))`;
    const window = Math.max(s.page.limit, Math.min(DENSE_WITHIN * s.page.limit, DENSE_WINDOW));
    const walkParams = [...s.pageParams, s.page.limit, window];
    const dense = await db.query(
      `SELECT w.*, ${sortValue('w.sort_key')} FROM ${walk(s.pageWhere, `$${walkParams.length}`)}
       WHERE ${matched} ORDER BY w.sort_key ${s.dir}, w.id ${s.dir} LIMIT $${walkParams.length - 1}`,
      walkParams,
    );
    if (dense.rows.length === s.page.limit) {
      // Also those whose contact matches, through the contacts' trigram indexes: few rows.
      const { rows } = await db.query<{ candidates: number; n: number; by_contact: number }>(
        `SELECT count(*)::int AS candidates, count(*) FILTER (WHERE ${matched})::int AS n,
           (SELECT count(*)::int FROM (SELECT 1 FROM conversations c
              WHERE ${[...s.where, `c.id = ANY(ARRAY(${contactMatches(p)}))`].join(' AND ')}
              LIMIT ${QUERY_TOTAL_CAP}) capped) AS by_contact
         FROM ${walk(s.where, String(DENSE_COUNTED))}`,
        s.params,
      );
      const { candidates, n, by_contact } = rows[0]!;
      if (candidates < DENSE_COUNTED) return { rows: dense.rows, total: n, totalExact: true };
      return { rows: dense.rows, total: Math.max(n, by_contact), totalExact: false };
    }
    // The index plan, in one statement: the matching ids are collected once (an array, which
    // the page and the count look up by primary key; as a join, the planner may walk the page
    // order against them row by row), and the contacts are joined to the page only.
    const ids = `c.id = ANY((SELECT a FROM ids)::uuid[])`;
    const pageParams = [...s.pageParams, s.page.limit];
    const { rows } = await db.query(
      `WITH ids AS MATERIALIZED (SELECT ARRAY(${matchingIds(p)}) AS a),
       total AS (SELECT count(*)::int AS n FROM (SELECT 1 FROM conversations c
         WHERE ${[...s.where, ids].join(' AND ')} LIMIT ${QUERY_TOTAL_CAP}) capped),
       hit AS (SELECT c.*, ${sortExpr} AS sort_key FROM conversations c WHERE ${[...s.pageWhere, ids].join(' AND ')}
         ${s.order} LIMIT $${pageParams.length})
       SELECT total.n AS search_total, c.*, ${hitColumns}, ${sortValue('c.sort_key')}
       FROM total LEFT JOIN (hit c ${contactJoin}) ON true
       ORDER BY c.sort_key ${s.dir}, c.id ${s.dir}`,
      pageParams,
    );
    const total = rows[0]!.search_total as number;
    return {
      rows: rows.filter((r) => r.id !== null),
      total,
      totalExact: total < QUERY_TOTAL_CAP,
    };
  }
}

/** The conversations of location $1 whose contact matches `p`. */
const contactMatches = (p: string) => `
  SELECT kc.id FROM contacts kk JOIN conversations kc ON kc.location_id = kk.location_id AND kc.contact_id = kk.id
  WHERE kk.location_id = $1 AND (kk.name ILIKE ${p} OR kk.email ILIKE ${p} OR kk.phone ILIKE ${p}
    OR ${FULL_NAME('kk')} ILIKE ${p})`;

/**
 * The conversations of location $1 whose contact or one of whose messages matches `p`: a union,
 * not an OR across a join, so that each side uses its trigram indexes (migration 002).
 */
const matchingIds = (p: string) => `${contactMatches(p)}
  UNION ALL
  SELECT m.conversation_id FROM messages m WHERE m.location_id = $1 AND m.body ILIKE ${p}`;

/**
 * The walk checks DENSE_WITHIN × limit conversations (at most DENSE_WINDOW): a non-matching
 * one costs a read of all its messages, about one table page each, as a conversation's messages
 * are spread over the table. After a filled walk the total covers DENSE_COUNTED conversations,
 * each costing a read of its messages up to the first match.
 */
const DENSE_WITHIN = 2;
const DENSE_WINDOW = 80;
const DENSE_COUNTED = 100;

/** The dates a JavaScript client can represent (±100,000,000 days around 1970), epoch ms. */
const MAX_EPOCH_MS = 8.64e15;

function checkEpoch(name: string, value: number | undefined): void {
  if (value !== undefined && !(Math.abs(value) <= MAX_EPOCH_MS)) {
    throw invalid([`${name} must be a date in epoch milliseconds`]);
  }
}
