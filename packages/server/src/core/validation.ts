import { Ajv, type ErrorObject, type ValidateFunction } from 'ajv';
import addFormats from 'ajv-formats';

/**
 * The one JSON Schema validator: API faces validate requests with it (through Fastify) and the
 * core validates what it stores with it. Types are never coerced: a number sent as a string is
 * an error, not a guess.
 */
export const ajv = new Ajv({
  allErrors: true,
  coerceTypes: false,
  useDefaults: false,
  removeAdditional: false,
  discriminator: true,
  strict: false,
});
addFormats.default(ajv);

function where(e: ErrorObject, root: string): string {
  const parts = e.instancePath
    .split('/')
    .slice(1)
    .map((p) => p.replace(/~1/g, '/').replace(/~0/g, '~'));
  return [root, ...parts].filter(Boolean).join('.');
}

/** Turns validator errors into sentences such as `settings.heading must be a string`. */
export function describeErrors(errors: ErrorObject[] | null | undefined, root = ''): string[] {
  const out = new Set<string>();
  for (const e of errors ?? []) {
    // "or null" alternatives only add noise next to the real problem with the value.
    if (e.keyword === 'type' && e.params.type === 'null') continue;
    const at = where(e, root);
    const subject = at || 'the body';
    switch (e.keyword) {
      case 'additionalProperties':
        out.add(`property ${[at, e.params.additionalProperty].filter(Boolean).join('.')} should not exist`);
        break;
      case 'required':
        out.add(`${[at, e.params.missingProperty].filter(Boolean).join('.')} is required`);
        break;
      case 'type':
        out.add(`${subject} must be ${[e.params.type].flat().join(' or ')}`);
        break;
      case 'enum':
        out.add(
          `${subject} must be one of the following values: ${(e.params.allowedValues as unknown[]).join(', ')}`,
        );
        break;
      case 'const':
        out.add(`${subject} must be ${JSON.stringify(e.params.allowedValue)}`);
        break;
      case 'maxLength':
        out.add(`${subject} must be shorter than or equal to ${e.params.limit} characters`);
        break;
      case 'minLength':
        out.add(`${subject} must be longer than or equal to ${e.params.limit} characters`);
        break;
      case 'maxItems':
        out.add(`${subject} must contain no more than ${e.params.limit} elements`);
        break;
      case 'pattern':
        out.add(`${subject} has an invalid format`);
        break;
      case 'oneOf':
      case 'anyOf':
        // The branch errors already say what is wrong; this summary adds nothing when they exist.
        if ((errors ?? []).every((x) => x === e || (x.keyword === 'type' && x.params.type === 'null'))) {
          out.add(`${subject} does not match any allowed shape`);
        }
        break;
      default:
        out.add(`${subject} ${e.message ?? 'is invalid'}`);
    }
  }
  return [...out];
}

const cache = new WeakMap<object, ValidateFunction>();

/** Validates `value` against `schema`; returns the problems, none when valid. */
export function check(schema: object, value: unknown, root = ''): string[] {
  let validate = cache.get(schema);
  if (!validate) {
    validate = ajv.compile(schema);
    cache.set(schema, validate);
  }
  return validate(value) ? [] : describeErrors(validate.errors, root);
}
