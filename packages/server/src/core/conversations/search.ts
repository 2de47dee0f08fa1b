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
  total: number;
  /** false when a full-text search stopped counting at QUERY_TOTAL_CAP. */
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
  if (q) {
    params.push(`%${likeEscape(q)}%`);
    const p = `$${params.length}`;
    // The conversations whose contact matches (name, first and last name, email or phone), and
    // those with a matching message body: a union, not an OR across the join, so that each side
    // can use its trigram indexes (migration 002: contacts_*_trgm, messages_body_trgm), and the
    // message side is a semi-join the planner runs from the index hits (rare words: the cost
    // follows the matches) or conversation by conversation, stopping at the first matching
    // message (common words). The full name is concat_ws(' ', first_name, last_name) spelled
    // with immutable operators, as its index is.
    where.push(`c.id IN (
      SELECT kc.id FROM contacts kk JOIN conversations kc ON kc.location_id = kk.location_id AND kc.contact_id = kk.id
      WHERE kk.location_id = $1 AND (kk.name ILIKE ${p} OR kk.email ILIKE ${p} OR kk.phone ILIKE ${p}
        OR ${FULL_NAME('kk')} ILIKE ${p})
      UNION ALL
      SELECT mc.id FROM conversations mc WHERE mc.location_id = $1 AND EXISTS (
        SELECT FROM messages m WHERE m.location_id = $1 AND m.conversation_id = mc.id AND m.body ILIKE ${p}))`);
  }

  const sortExpr = SORT_COLUMN[page.sortBy];
  const dir = page.sort === 'asc' ? 'ASC' : 'DESC';
  const filterSql = where.join(' AND ');
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
  pageParams.push(page.limit);
  const from = 'conversations c JOIN contacts k ON k.location_id = c.location_id AND k.id = c.contact_id';
  const [rows, count] = await Promise.all([
    db.query(
      `SELECT c.*, k.name AS k_name, k.first_name AS k_first_name, k.last_name AS k_last_name, k.email AS k_email,
              k.phone AS k_phone, k.company_name AS k_company_name, k.tags AS k_tags,
              ${page.sortBy === 'score_profile' ? sortExpr : `(extract(epoch FROM ${sortExpr}) * 1000)`}::float8 AS sort_value
       FROM ${from} WHERE ${pageWhere.join(' AND ')}
       ORDER BY ${sortExpr} ${dir}, c.id ${dir} LIMIT $${pageParams.length}`,
      pageParams,
    ),
    // A full-text query counts its matches only up to QUERY_TOTAL_CAP: a common word matches
    // nearly every conversation, and an exact count would cost a probe of each one.
    q
      ? db.query<{ n: number }>(
          `SELECT count(*)::int AS n FROM (SELECT 1 FROM ${from} WHERE ${filterSql} LIMIT ${QUERY_TOTAL_CAP}) capped`,
          params,
        )
      : db.query<{ n: number }>(`SELECT count(*)::int AS n FROM ${from} WHERE ${filterSql}`, params),
  ]);
  const total = count.rows[0]!.n;
  const totalExact = !q || total < QUERY_TOTAL_CAP;
  if (total === 0 && !(await findLocation(db, f.locationId))) throw notFound('Location');
  const hits = rows.rows.map((r): SearchHit => {
    const name = r.k_name ?? ([r.k_first_name, r.k_last_name].filter(Boolean).join(' ') || null);
    return {
      ...toConversation(r as never),
      contact: { name, email: r.k_email, phone: r.k_phone, companyName: r.k_company_name, tags: r.k_tags },
      sortValue: [r.sort_value === null ? null : Math.round(Number(r.sort_value)), r.id],
    };
  });
  return { hits, total, totalExact };
}

/** The dates a JavaScript client can represent (±100,000,000 days around 1970), epoch ms. */
const MAX_EPOCH_MS = 8.64e15;

function checkEpoch(name: string, value: number | undefined): void {
  if (value !== undefined && !(Math.abs(value) <= MAX_EPOCH_MS)) {
    throw invalid([`${name} must be a date in epoch milliseconds`]);
  }
}
