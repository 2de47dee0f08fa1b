import { CONTACT_LIMITS, contactProperties, customFieldValueSchema } from '../../../core/contacts/fields.js';

const L = CONTACT_LIMITS;
const fieldId = { type: 'string', minLength: 1, maxLength: L.customFieldId };

/** LeadConnector's custom field input: `{id | key, field_value | value}`. */
const customField = {
  type: 'object',
  additionalProperties: false,
  properties: {
    id: { ...fieldId, description: 'Custom field id' },
    key: { ...fieldId, description: 'Custom field key; used as the id when no id is given' },
    field_value: customFieldValueSchema,
    value: { ...customFieldValueSchema, description: 'Same as field_value, which wins when both are given' },
  },
};

const fields = {
  ...contactProperties,
  customFields: {
    type: 'array',
    maxItems: L.customFields,
    items: customField,
    description: 'Custom field values, merged by id into the contact’s',
  },
};

const locationId = { type: 'string', maxLength: 100, description: 'Location id' };

export const createBody = {
  type: 'object',
  additionalProperties: false,
  required: ['locationId'],
  properties: { locationId, ...fields },
};

export const upsertBody = {
  type: 'object',
  additionalProperties: false,
  required: ['locationId'],
  properties: {
    locationId,
    ...fields,
    createNewIfDuplicateAllowed: {
      type: 'boolean',
      description: 'Accepted for compatibility; Charla never allows duplicate contacts, so it matches',
    },
  },
};

export const updateBody = {
  type: 'object',
  additionalProperties: false,
  properties: fields,
};

export const contactParams = {
  type: 'object',
  required: ['contactId'],
  properties: { contactId: { type: 'string', maxLength: 100 } },
};
