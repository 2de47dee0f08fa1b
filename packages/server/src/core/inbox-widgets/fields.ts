import { invalid } from '../errors.js';

/** What a field shows its value as; the value is formatted per type (see `formatValue`). */
export const FIELD_TYPES = ['text', 'number', 'date', 'url', 'boolean', 'list'] as const;
export type FieldType = (typeof FIELD_TYPES)[number];

export interface InboxWidgetField {
  label: string;
  variable: string;
  type: FieldType;
}

export const INBOX_WIDGET_LIMITS = {
  title: 200,
  fields: 50,
  label: 200,
  variable: 200,
  /** Keys of contact custom fields, as core/contacts allows them. */
  customFieldKey: 100,
  widgetsPerLocation: 100,
  /** Values written in one request. */
  valuesPerWrite: 50,
  text: 10_000,
  url: 2048,
  listItems: 100,
  listItem: 1000,
} as const;

const L = INBOX_WIDGET_LIMITS;

/** Contact attributes a field can show, by the name after `contact.`. */
export const CONTACT_VARIABLES = [
  'id',
  'name',
  'firstName',
  'lastName',
  'email',
  'phone',
  'companyName',
  'source',
  'tags',
  'createdAt',
  'updatedAt',
] as const;

/** Conversation attributes a field can show, by the name after `conversation.`. */
export const CONVERSATION_VARIABLES = [
  'id',
  'status',
  'assignedTo',
  'tags',
  'channel',
  'type',
  'starred',
  'unreadCount',
  'departmentId',
  'chatWidgetId',
  'lastMessageDate',
  'createdAt',
  'updatedAt',
] as const;

export const CUSTOM_FIELD_PREFIX = 'contact.customFields.';

/** A variable of the integrator's own: letters, digits, `_`, `.` and `-`, starting with a letter or `_`. */
const OWN_VARIABLE = /^[A-Za-z_][A-Za-z0-9_.-]*$/;

export type VariableSource =
  | { kind: 'contact'; name: (typeof CONTACT_VARIABLES)[number] }
  | { kind: 'customField'; key: string }
  | { kind: 'conversation'; name: (typeof CONVERSATION_VARIABLES)[number] }
  | { kind: 'own' };

/** Where a variable's value comes from; null when the name is not a variable. */
export function variableSource(variable: string): VariableSource | null {
  if (variable.length === 0 || variable.length > L.variable) return null;
  if (variable.startsWith(CUSTOM_FIELD_PREFIX)) {
    const key = variable.slice(CUSTOM_FIELD_PREFIX.length);
    return key.length >= 1 && key.length <= L.customFieldKey ? { kind: 'customField', key } : null;
  }
  if (variable.startsWith('contact.')) {
    const name = variable.slice('contact.'.length);
    return (CONTACT_VARIABLES as readonly string[]).includes(name)
      ? { kind: 'contact', name: name as (typeof CONTACT_VARIABLES)[number] }
      : null;
  }
  if (variable.startsWith('conversation.')) {
    const name = variable.slice('conversation.'.length);
    return (CONVERSATION_VARIABLES as readonly string[]).includes(name)
      ? { kind: 'conversation', name: name as (typeof CONVERSATION_VARIABLES)[number] }
      : null;
  }
  // `contact` and `conversation` alone would read as the reserved namespaces.
  if (variable === 'contact' || variable === 'conversation') return null;
  return OWN_VARIABLE.test(variable) ? { kind: 'own' } : null;
}

/** JSON Schema of one field, shared by the face (request bodies) and the core (what is stored). */
export const fieldSchema = {
  type: 'object',
  additionalProperties: false,
  required: ['label', 'variable', 'type'],
  properties: {
    label: { type: 'string', minLength: 1, maxLength: L.label, description: 'Label shown to agents' },
    variable: {
      type: 'string',
      minLength: 1,
      maxLength: L.variable,
      description:
        'Where the value comes from: contact.<attribute>, contact.customFields.<key>, ' +
        'conversation.<attribute>, or a name of your own whose value you write per conversation',
    },
    type: { type: 'string', enum: [...FIELD_TYPES], description: 'How the value is formatted' },
  },
};

export const fieldsSchema = {
  type: 'array',
  maxItems: L.fields,
  items: fieldSchema,
  description: `The widget's fields, in display order (at most ${L.fields}); replaces the current ones`,
};

/**
 * The semantic checks JSON Schema cannot express: every variable names a known source, and no
 * variable appears twice (values are reported per variable). Throws a validation error.
 */
export function checkFields(fields: InboxWidgetField[]): InboxWidgetField[] {
  const problems: string[] = [];
  const seen = new Set<string>();
  fields.forEach((f, i) => {
    if (variableSource(f.variable) === null) {
      problems.push(
        `fields.${i}.variable must be contact.<${CONTACT_VARIABLES.join('|')}>, ` +
          `contact.customFields.<key>, conversation.<${CONVERSATION_VARIABLES.join('|')}>, ` +
          'or a name of letters, digits, _, . and - starting with a letter or _',
      );
    }
    if (seen.has(f.variable)) problems.push(`fields.${i}.variable repeats ${f.variable}`);
    seen.add(f.variable);
    if (f.label.trim() === '') problems.push(`fields.${i}.label must not be blank`);
  });
  if (problems.length) throw invalid(problems);
  return fields.map((f) => ({ label: f.label.trim(), variable: f.variable, type: f.type }));
}

const DATE_ONLY = /^(\d{4})-(\d{2})-(\d{2})$/;
// ISO 8601 date-time with a time zone (Z or ±hh:mm); a local time would be ambiguous.
const DATE_TIME = /^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}(:\d{2}(\.\d{1,9})?)?(Z|[+-]\d{2}:\d{2})$/;
const NUMERIC = /^[+-]?(\d+\.?\d*|\.\d+)([eE][+-]?\d+)?$/;

function validDateOnly(s: string): boolean {
  const m = DATE_ONLY.exec(s);
  if (!m) return false;
  const d = new Date(Date.UTC(Number(m[1]), Number(m[2]) - 1, Number(m[3])));
  return (
    d.getUTCFullYear() === Number(m[1]) &&
    d.getUTCMonth() === Number(m[2]) - 1 &&
    d.getUTCDate() === Number(m[3])
  );
}

function formatDate(v: unknown): string | null {
  if (v instanceof Date) return Number.isNaN(v.getTime()) ? null : v.toISOString();
  if (typeof v !== 'string') return null;
  const s = v.trim();
  // A calendar date stays a calendar date: turning it into a UTC midnight would shift it a day
  // for agents west of Greenwich.
  if (DATE_ONLY.test(s)) return validDateOnly(s) ? s : null;
  if (!DATE_TIME.test(s) || !validDateOnly(s.slice(0, 10))) return null;
  const d = new Date(s);
  return Number.isNaN(d.getTime()) ? null : d.toISOString();
}

function formatUrl(v: unknown): string | null {
  if (typeof v !== 'string' || v.length > L.url) return null;
  try {
    const u = new URL(v.trim());
    // Agents click these: only web links, never javascript: or data: URLs.
    return u.protocol === 'http:' || u.protocol === 'https:' ? u.href : null;
  } catch {
    return null;
  }
}

function formatNumber(v: unknown): number | null {
  if (typeof v === 'number') return Number.isFinite(v) ? v : null;
  if (typeof v === 'string' && NUMERIC.test(v.trim())) {
    const n = Number(v.trim());
    return Number.isFinite(n) ? n : null;
  }
  return null;
}

function formatBoolean(v: unknown): boolean | null {
  if (typeof v === 'boolean') return v;
  if (typeof v === 'string') {
    const s = v.trim().toLowerCase();
    if (s === 'true') return true;
    if (s === 'false') return false;
  }
  return null;
}

function formatText(v: unknown): string | null {
  if (typeof v === 'string') return v;
  if (typeof v === 'number') return Number.isFinite(v) ? String(v) : null;
  if (typeof v === 'boolean') return String(v);
  if (v instanceof Date) return formatDate(v);
  if (Array.isArray(v)) {
    const items = v.filter((x) => typeof x === 'string' || typeof x === 'number' || typeof x === 'boolean');
    return items.length === v.length ? items.map(String).join(', ') : null;
  }
  return null;
}

function formatList(v: unknown): string[] | null {
  if (Array.isArray(v)) {
    const items = v.filter((x) => typeof x === 'string' || typeof x === 'number' || typeof x === 'boolean');
    return items.length === v.length ? items.map(String) : null;
  }
  const one = formatText(v);
  return one === null || one === '' ? null : [one];
}

export type FieldValue = string | number | boolean | string[] | null;

/**
 * A value as a field of `type` shows it: text a string (lists joined with ", "), number a JSON
 * number, date ISO 8601 (`YYYY-MM-DD` for calendar dates, UTC date-time otherwise), url an
 * absolute http(s) URL, boolean true/false, list an array of strings. A missing value, or one that
 * cannot be read as the type, is null.
 */
export function formatValue(type: FieldType, v: unknown): FieldValue {
  if (v === null || v === undefined) return null;
  switch (type) {
    case 'text':
      return formatText(v);
    case 'number':
      return formatNumber(v);
    case 'date':
      return formatDate(v);
    case 'url':
      return formatUrl(v);
    case 'boolean':
      return formatBoolean(v);
    case 'list':
      return formatList(v);
    default:
      return null;
  }
}

/** Why `v` cannot be written to a field of `type`, or null when it can. */
export function writeProblem(type: FieldType, v: unknown): string | null {
  if (v === null) return null;
  switch (type) {
    case 'text':
      if (typeof v !== 'string') return 'must be a string';
      return v.length > L.text ? `must be at most ${L.text} characters` : null;
    case 'number':
      return typeof v === 'number' && Number.isFinite(v) ? null : 'must be a number';
    case 'date':
      return typeof v === 'string' && v.length <= 40 && formatDate(v) !== null
        ? null
        : 'must be an ISO 8601 date (2026-03-01) or date-time with a time zone (2026-03-01T09:30:00Z)';
    case 'url':
      return typeof v === 'string' && formatUrl(v) !== null
        ? null
        : `must be an http or https URL of at most ${L.url} characters`;
    case 'boolean':
      return typeof v === 'boolean' ? null : 'must be true or false';
    case 'list':
      if (!Array.isArray(v) || v.length > L.listItems)
        return `must be a list of at most ${L.listItems} strings`;
      return v.every((x) => typeof x === 'string' && x.length <= L.listItem)
        ? null
        : `must be a list of strings of at most ${L.listItem} characters`;
    default:
      return 'has an unknown type';
  }
}
