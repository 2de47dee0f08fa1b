import {
  CHAT_TYPE_FILTERS,
  CHAT_TYPES,
  widgetSettingsSchema,
} from '../../../core/widgets/settings-schema.js';

const name = { type: 'string', maxLength: 200, description: 'Name' };
const settings = {
  ...widgetSettingsSchema,
  description: 'Widget settings (WidgetSettingsDTO plus Charla fields)',
};
const version = {
  type: 'integer',
  minimum: 1,
  description: 'Revision. On update: the revision the change was made against; a stale one is refused (409).',
};
const chatType = { enum: CHAT_TYPES, description: 'Chat type' };
/** Fields a client copies back from a GET; accepted and ignored, since the server owns them. */
const readOnly = Object.fromEntries(
  ['_id', 'createdAt', 'updatedAt', 'creationSource', 'updatedBy', 'originId'].map((k) => [k, {}]),
);

export const createBody = {
  type: 'object',
  additionalProperties: false,
  required: ['version', 'chatType', 'name', 'locationId'],
  properties: {
    version,
    chatType,
    name,
    locationId: { type: 'string', maxLength: 100 },
    deleted: {
      type: 'boolean',
      description: 'Accepted for compatibility; a widget is never created deleted',
    },
    default: { type: 'boolean' },
    settings,
    ...readOnly,
  },
};

export const updateBody = {
  type: 'object',
  additionalProperties: false,
  properties: {
    version,
    chatType,
    name,
    default: { type: 'boolean' },
    settings,
    locationId: { type: 'string', maxLength: 100 },
    deleted: { type: 'boolean' },
    ...readOnly,
  },
};

export const cloneBody = {
  type: 'object',
  additionalProperties: false,
  required: ['locationId', 'chatWidgetId'],
  properties: {
    locationId: { type: 'string', maxLength: 100 },
    chatWidgetId: { type: 'string', maxLength: 100 },
    name,
  },
};

export const widgetParams = {
  type: 'object',
  required: ['locationId', 'id'],
  properties: { locationId: { type: 'string' }, id: { type: 'string' } },
};

const numeric = { type: 'string', pattern: '^[0-9]{1,9}$' };
export const listQuery = {
  type: 'object',
  required: ['locationId'],
  properties: {
    locationId: { type: 'string' },
    offset: { ...numeric, description: 'Offset (default 0)' },
    limit: { ...numeric, description: 'Limit, 1 to 100 (default 20)' },
    chatType: { enum: CHAT_TYPE_FILTERS },
    excludeChatType: { enum: CHAT_TYPES },
    voiceAiAgentId: { type: 'string', maxLength: 100 },
    allInOneChatTypes: { enum: CHAT_TYPE_FILTERS },
    creationSource: { type: 'string', maxLength: 100 },
    excludeCreationSource: { type: 'string', maxLength: 100 },
  },
};

export const publicConfigQuery = {
  type: 'object',
  properties: {
    version: { type: 'string', maxLength: 10, description: 'Widget config format (default "2")' },
  },
};
