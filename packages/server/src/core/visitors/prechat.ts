import vm from 'node:vm';
import { invalid } from '../errors.js';

interface PrechatField {
  id: string;
  type: 'text' | 'email' | 'phone' | 'select' | 'checkbox' | 'textarea';
  required?: boolean;
  options?: { value: string }[];
  regex?: string;
  maxLength?: number;
}

const EMAIL = /^[^\s@<>",;:]+@[^\s@<>",;:]+\.[^\s@<>",;:]+$/;
const PHONE = /^\+?[0-9 ().-]{5,30}$/;
const DEFAULT_MAX = 1000;

export const prechatFieldsOf = (settings: Record<string, unknown>): PrechatField[] =>
  Array.isArray(settings.prechatFields) ? (settings.prechatFields as PrechatField[]) : [];

const empty = (v: unknown) => v === undefined || v === null || v === '' || v === false;

/**
 * Checks pre-chat answers against the channel's fields: known ids only, required, type, options,
 * length and the field's own pattern. `requireAll`: required fields must be answered (a visitor
 * who answered before need not answer again). Returns the answers to keep.
 */
export function checkPrechat(
  settings: Record<string, unknown>,
  answers: Record<string, unknown> | undefined,
  requireAll: boolean,
): Record<string, string | boolean> {
  const fields = prechatFieldsOf(settings);
  const given = answers ?? {};
  const problems: string[] = [];
  const out: Record<string, string | boolean> = {};
  const byId = new Map(fields.map((f) => [f.id, f]));
  for (const key of Object.keys(given)) {
    if (!byId.has(key)) problems.push(`prechat.${key} is not a pre-chat field of this channel`);
  }
  for (const f of fields) {
    const v = given[f.id];
    const name = `prechat.${f.id}`;
    if (empty(v)) {
      if (f.required && requireAll) problems.push(`${name} is required`);
      continue;
    }
    if (f.type === 'checkbox') {
      if (typeof v !== 'boolean') problems.push(`${name} must be a boolean`);
      else out[f.id] = v;
      continue;
    }
    if (typeof v !== 'string') {
      problems.push(`${name} must be a string`);
      continue;
    }
    const max = f.maxLength ?? DEFAULT_MAX;
    if (v.length > max) {
      problems.push(`${name} must be shorter than or equal to ${max} characters`);
      continue;
    }
    if (f.type === 'email' && !EMAIL.test(v)) problems.push(`${name} must be an email`);
    if (f.type === 'phone' && !PHONE.test(v)) problems.push(`${name} must be a phone number`);
    if (f.type === 'select' && !(f.options ?? []).some((o) => o.value === v)) {
      problems.push(
        `${name} must be one of the following values: ${(f.options ?? []).map((o) => o.value).join(', ')}`,
      );
    }
    if (f.regex && !matchesInTime(f.regex, v)) problems.push(`${name} does not have the expected format`);
    out[f.id] = v;
  }
  if (problems.length) throw invalid(problems);
  return out;
}

/** The first email among the answers, from a field of type email. */
export function prechatEmail(
  settings: Record<string, unknown>,
  answers: Record<string, unknown>,
): string | undefined {
  for (const f of prechatFieldsOf(settings)) {
    const v = answers[f.id];
    if (f.type === 'email' && typeof v === 'string' && v) return v;
  }
  return undefined;
}

const REGEX_TEST = new vm.Script('re.test(value)');
/** How long one pre-chat pattern may run on one answer. */
const REGEX_BUDGET_MS = 50;

/**
 * Whether the answer matches the channel's pattern. Patterns come from channel settings, and a
 * backtracking one (`^(a|a)*$`) can take minutes on a short answer: it runs under a time budget,
 * and one that runs out counts as a mismatch instead of freezing the server for every tenant.
 * A pattern that does not compile checks nothing (settings validation refuses those).
 */
export function matchesInTime(pattern: string, value: string, budgetMs = REGEX_BUDGET_MS): boolean {
  let re: RegExp;
  try {
    re = new RegExp(pattern);
  } catch {
    return true;
  }
  try {
    return REGEX_TEST.runInNewContext({ re, value }, { timeout: budgetMs }) === true;
  } catch {
    return false;
  }
}
