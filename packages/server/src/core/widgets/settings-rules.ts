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

function checkRegex(path: string, source: string | undefined, problems: string[]): void {
  if (source === undefined) return;
  try {
    new RegExp(source);
  } catch {
    problems.push(`${path} must be a valid regular expression`);
  }
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
