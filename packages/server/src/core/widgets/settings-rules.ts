import { isTimeZone } from '../locations/service.js';

/**
 * The checks on widget settings that JSON Schema cannot express. Returns one sentence per problem,
 * in the same `path message` form as schema errors.
 */

type Json = Record<string, unknown>;
interface Interval {
  open: string;
  close: string;
}
interface Hours {
  timezone?: string;
  days?: Record<string, Interval[]>;
  holidays?: { date: string; hours?: Interval[] }[];
}

const minutes = (hhmm: string) => Number(hhmm.slice(0, 2)) * 60 + Number(hhmm.slice(3, 5));

function checkIntervals(path: string, intervals: Interval[] | undefined, problems: string[]): void {
  if (!intervals) return;
  const sorted = [...intervals].sort((a, b) => minutes(a.open) - minutes(b.open));
  sorted.forEach((iv, i) => {
    if (minutes(iv.open) >= minutes(iv.close)) {
      problems.push(`${path} interval ${iv.open}-${iv.close} must open before it closes`);
    }
    const next = sorted[i + 1];
    if (next && minutes(next.open) < minutes(iv.close)) {
      problems.push(`${path} intervals ${iv.open}-${iv.close} and ${next.open}-${next.close} overlap`);
    }
  });
}

function checkHours(path: string, hours: Hours | null | undefined, problems: string[]): void {
  if (!hours) return;
  if (hours.timezone !== undefined && !isTimeZone(hours.timezone)) {
    problems.push(`${path}.timezone must be an IANA time zone such as America/Mexico_City`);
  }
  for (const [day, intervals] of Object.entries(hours.days ?? {})) {
    checkIntervals(`${path}.days.${day}`, intervals, problems);
  }
  const seen = new Set<string>();
  (hours.holidays ?? []).forEach((h, i) => {
    const d = new Date(`${h.date}T00:00:00Z`);
    if (Number.isNaN(d.getTime()) || d.toISOString().slice(0, 10) !== h.date) {
      problems.push(`${path}.holidays.${i}.date must be a real date (YYYY-MM-DD)`);
    }
    if (seen.has(h.date)) problems.push(`${path}.holidays.${i}.date ${h.date} is listed twice`);
    seen.add(h.date);
    checkIntervals(`${path}.holidays.${i}.hours`, h.hours, problems);
  });
}

/** A quantifier starting at `i`: its length and the most repetitions it allows. */
function quantifierAt(s: string, i: number): { length: number; max: number } | null {
  const c = s[i];
  if (c === '*' || c === '+') return { length: 1, max: Number.POSITIVE_INFINITY };
  if (c === '?') return { length: 1, max: 1 };
  if (c !== '{') return null;
  const m = /^\{(\d+)(,(\d*))?\}/.exec(s.slice(i));
  if (!m) return null;
  const max = m[2] === undefined ? Number(m[1]) : m[3] ? Number(m[3]) : Number.POSITIVE_INFINITY;
  return { length: m[0].length, max };
}

/**
 * Why a pattern could take more than linear time, or null. Patterns run on visitors' input, in
 * their browsers and on the server, so the shapes behind catastrophic backtracking are refused:
 * backreferences, and a repeated group that holds an unbounded quantifier (`(a+)+`, `(\w*){2,}`).
 * A conservative syntactic check: it may refuse a harmless pattern, never a slow one of those shapes.
 */
export function unboundedRegex(source: string): string | null {
  // For each open group: whether it holds an unbounded quantifier.
  const groups: boolean[] = [];
  // Set just after a group closes: whether that group held one.
  let closed: boolean | null = null;
  let inClass = false;
  for (let i = 0; i < source.length; i++) {
    const c = source[i]!;
    if (c === '\\') {
      const next = source[i + 1] ?? '';
      if (!inClass && (/[1-9]/.test(next) || next === 'k')) return 'must not use backreferences';
      i++;
      closed = null;
      continue;
    }
    if (inClass) {
      if (c === ']') inClass = false;
      continue;
    }
    if (c === '[') {
      inClass = true;
      closed = null;
      continue;
    }
    if (c === '(') {
      groups.push(false);
      closed = null;
      // `(?:`, `(?=`, `(?<name>`: the `?` there is no quantifier.
      if (source[i + 1] === '?') i++;
      continue;
    }
    if (c === ')') {
      closed = groups.pop() ?? false;
      if (closed && groups.length) groups[groups.length - 1] = true;
      continue;
    }
    const q = quantifierAt(source, i);
    if (q) {
      if (closed && q.max > 1) return 'must not repeat a group that holds an unbounded quantifier';
      if (q.max === Number.POSITIVE_INFINITY && groups.length) groups[groups.length - 1] = true;
      i += q.length - 1;
      // A lazy or possessive marker right after the quantifier is part of it.
      if (source[i + 1] === '?') i++;
    }
    closed = null;
  }
  return null;
}

function checkRegex(path: string, source: string | undefined, problems: string[]): void {
  if (source === undefined) return;
  try {
    new RegExp(source);
  } catch {
    problems.push(`${path} must be a valid regular expression`);
    return;
  }
  const why = unboundedRegex(source);
  if (why) problems.push(`${path} ${why}`);
}

function uniqueIds(path: string, items: { id: string }[] | undefined, problems: string[]): Set<string> {
  const ids = new Set<string>();
  for (const item of items ?? []) {
    if (ids.has(item.id)) problems.push(`${path} has the id "${item.id}" more than once`);
    ids.add(item.id);
  }
  return ids;
}

interface Condition {
  type: string;
  match?: string;
  pattern?: string;
  operator?: string;
  value?: unknown;
  conditions?: Condition[];
}

function checkConditions(path: string, conditions: Condition[], problems: string[]): void {
  conditions.forEach((c, i) => {
    const p = `${path}.${i}`;
    if ((c.type === 'url' || c.type === 'referrer') && c.match === 'regex')
      checkRegex(`${p}.pattern`, c.pattern, problems);
    if (c.type === 'attribute' && c.operator !== 'exists' && c.value === undefined) {
      problems.push(`${p}.value is required with the operator "${c.operator}"`);
    }
    if (c.type === 'attribute' && (c.operator === 'gt' || c.operator === 'lt') && c.value !== undefined) {
      if (typeof c.value !== 'number')
        problems.push(`${p}.value must be a number with the operator "${c.operator}"`);
    }
    if (c.type === 'group') checkConditions(`${p}.conditions`, c.conditions ?? [], problems);
  });
}

export function checkSettings(settings: Json): string[] {
  const problems: string[] = [];
  checkHours('settings.operatingHours', settings.operatingHours as Hours | null, problems);

  const fields = (settings.prechatFields ?? []) as {
    id: string;
    type: string;
    options?: unknown[];
    regex?: string;
  }[];
  const fieldIds = uniqueIds('settings.prechatFields', fields, problems);
  fields.forEach((f, i) => {
    if (f.type === 'select' && !(f.options && f.options.length > 0)) {
      problems.push(`settings.prechatFields.${i}.options must list at least one option for a select field`);
    }
    checkRegex(`settings.prechatFields.${i}.regex`, f.regex, problems);
  });

  const offline = settings.offlineAction as { formFieldIds?: string[] } | undefined;
  for (const id of offline?.formFieldIds ?? []) {
    if (!fieldIds.has(id))
      problems.push(`settings.offlineAction.formFieldIds names no pre-chat field "${id}"`);
  }

  const departments = (settings.departments ?? []) as { id: string; operatingHours?: Hours }[];
  uniqueIds('settings.departments', departments, problems);
  departments.forEach((d, i) => {
    checkHours(`settings.departments.${i}.operatingHours`, d.operatingHours, problems);
  });

  const triggers = (settings.proactiveTriggers ?? []) as {
    id: string;
    conditions: Condition[];
    action: { type: string; message?: unknown };
  }[];
  uniqueIds('settings.proactiveTriggers', triggers, problems);
  triggers.forEach((t, i) => {
    checkConditions(`settings.proactiveTriggers.${i}.conditions`, t.conditions, problems);
    if (t.action.type === 'message' && t.action.message === undefined) {
      problems.push(
        `settings.proactiveTriggers.${i}.action.message is required when the action is "message"`,
      );
    }
  });
  return problems;
}

/** The agents named by departments, so the caller can check they belong to the location. */
export function departmentAgents(settings: Json): string[] {
  const departments = (settings.departments ?? []) as { agents?: string[] }[];
  return [...new Set(departments.flatMap((d) => d.agents ?? []))];
}

/**
 * LeadConnector's nested setting groups: a partial update merges into them key by key. Every
 * other object (operating hours, offline action, ...) and every array is replaced whole, since
 * a half-merged schedule or trigger list is never what the caller meant.
 */
const MERGED_GROUPS = new Set(['advanceSettings', 'theme', 'dimensions', 'acknowledgementDetails']);

/** Settings merge for partial updates; `null` removes a key. */
export function mergeSettings(base: Json, patch: Json, depth = 0): Json {
  const out: Json = { ...base };
  for (const [key, value] of Object.entries(patch)) {
    if (value === null) delete out[key];
    else if ((depth > 0 || MERGED_GROUPS.has(key)) && isPlainObject(value) && isPlainObject(out[key])) {
      out[key] = mergeSettings(out[key] as Json, value, depth + 1);
    } else out[key] = value;
  }
  return out;
}

function isPlainObject(v: unknown): v is Json {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}
