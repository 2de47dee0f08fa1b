import { invalid } from '../errors.js';
import { check } from '../validation.js';

/** A custom field's value as stored: a list is a multi-select or checkbox field. */
export type CustomFieldValue = string | number | boolean | string[];

/** Limits on what a contact holds; the API faces publish the same numbers in their schemas. */
export const CONTACT_LIMITS = {
  name: 200,
  email: 254,
  /** As typed, before normalisation (spaces, dashes and brackets included). */
  phone: 40,
  companyName: 200,
  source: 200,
  tags: 100,
  tag: 100,
  customFields: 100,
  customFieldId: 100,
  customFieldText: 10_000,
  customFieldListItems: 100,
  customFieldListItem: 1000,
} as const;

const L = CONTACT_LIMITS;
const text = (maxLength: number, description: string) => ({
  type: ['string', 'null'],
  maxLength,
  description,
});

/** One custom field value: string, number, boolean or a list of strings; null clears the field. */
export const customFieldValueSchema = {
  type: ['string', 'number', 'boolean', 'array', 'null'],
  maxLength: L.customFieldText,
  maxItems: L.customFieldListItems,
  items: { type: 'string', maxLength: L.customFieldListItem },
  description: 'A string, number, boolean or list of strings; null, "" or [] clears the field',
};

/** The contact's own fields as JSON Schema properties (faces reuse them in their request bodies). */
export const contactProperties = {
  firstName: text(L.name, 'First name'),
  lastName: text(L.name, 'Last name'),
  name: text(L.name, 'Full name, kept as given (not split into first and last name)'),
  email: text(L.email, 'Email address; unique in the location, compared case-insensitively'),
  phone: text(
    L.phone,
    'Phone number in international format (+15551234567); spaces, dashes, dots and brackets are removed',
  ),
  companyName: text(L.companyName, 'Company name'),
  source: text(L.source, 'Where the contact came from'),
  tags: {
    type: 'array',
    maxItems: L.tags,
    items: { type: 'string', maxLength: L.tag },
    description: `Tags (at most ${L.tags}, each at most ${L.tag} characters); replace the current ones`,
  },
};

const fieldsSchema = {
  type: 'object',
  additionalProperties: false,
  properties: {
    ...contactProperties,
    customFields: {
      type: 'object',
      maxProperties: L.customFields,
      propertyNames: { minLength: 1, maxLength: L.customFieldId },
      additionalProperties: customFieldValueSchema,
    },
  },
};

/** What a contact is made of; on a change, an absent (undefined) field is left as it is. */
export interface ContactFields {
  firstName?: string | null;
  lastName?: string | null;
  name?: string | null;
  email?: string | null;
  phone?: string | null;
  companyName?: string | null;
  source?: string | null;
  /** Replaces the contact's tags. */
  tags?: string[];
  /** Merged into the contact's custom fields by id; a null, "" or [] value removes that field. */
  customFields?: Record<string, CustomFieldValue | null>;
}

const emailSchema = { type: 'string', format: 'email' };

const PHONE_PROBLEM = 'phone must be a phone number in international format, such as +15551234567';

/**
 * A phone number as `+` and 7 to 15 digits (E.164's shape; no numbering-plan check). Spaces,
 * dashes, dots, slashes and brackets are dropped and a leading international `00` becomes `+`.
 * There is no default country: a number without `+` is read as already starting with its
 * country code. Letters, and a country code starting with 0 (a national number), are refused:
 * null.
 */
export function normalizePhone(raw: string): string | null {
  const s = raw.trim();
  if (!/^\+?[0-9\s().\-/]+$/.test(s)) return null;
  let digits = s.replace(/\D/g, '');
  if (!s.startsWith('+') && digits.startsWith('00')) digits = digits.slice(2);
  if (digits.length < 7 || digits.length > 15 || digits.startsWith('0')) return null;
  return `+${digits}`;
}

/** Trimmed; blank is null. */
const trimmed = (v: string | null | undefined) => {
  if (v === undefined) return undefined;
  const t = v?.trim() ?? '';
  return t === '' ? null : t;
};

/** Trimmed, blank ones dropped, repeats dropped (first spelling kept), order kept. */
export function cleanTags(tags: string[]): string[] {
  return [...new Set(tags.map((t) => t.trim()).filter(Boolean))];
}

const isEmpty = (v: CustomFieldValue | null) =>
  v === null || v === '' || (Array.isArray(v) && v.length === 0);

/**
 * Validates and normalises contact fields: strings trimmed (blank is null), email checked, phone
 * in `+digits` form, tags cleaned, empty custom field values made null (removal). Throws a
 * validation AppError listing every problem.
 */
export function cleanFields(input: ContactFields): ContactFields {
  const problems = check(fieldsSchema, input);
  if (problems.length) throw invalid(problems);
  const out: ContactFields = {};
  for (const f of ['firstName', 'lastName', 'name', 'companyName', 'source'] as const) {
    if (input[f] !== undefined) out[f] = trimmed(input[f]);
  }
  if (input.email !== undefined) {
    const email = trimmed(input.email) ?? null;
    if (email !== null && check(emailSchema, email).length) problems.push('email must be an email');
    out.email = email;
  }
  if (input.phone !== undefined) {
    const raw = trimmed(input.phone) ?? null;
    const phone = raw === null ? null : normalizePhone(raw);
    if (raw !== null && phone === null) problems.push(PHONE_PROBLEM);
    out.phone = phone;
  }
  if (input.tags !== undefined) out.tags = cleanTags(input.tags);
  if (input.customFields !== undefined) {
    out.customFields = Object.fromEntries(
      Object.entries(input.customFields).map(([id, v]) => [id, isEmpty(v) ? null : v]),
    );
  }
  if (problems.length) throw invalid(problems);
  return out;
}

/** The stored custom fields after a change: given ids set, null ones removed. */
export function mergeCustomFields(
  current: Record<string, CustomFieldValue>,
  change: Record<string, CustomFieldValue | null> | undefined,
): Record<string, CustomFieldValue> {
  if (!change) return current;
  const out = { ...current };
  for (const [id, v] of Object.entries(change)) {
    if (v === null) delete out[id];
    else out[id] = v;
  }
  if (Object.keys(out).length > L.customFields) {
    throw invalid([`a contact may hold at most ${L.customFields} custom fields`]);
  }
  return out;
}
