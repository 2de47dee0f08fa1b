import { widgetSettingsSchema } from '../../../core/widgets/settings-schema.js';
import { CHANNEL_SETTINGS } from './dto.js';

type Schema = Record<string, unknown>;

const settings = widgetSettingsSchema.properties as Record<string, Schema>;
const nullable = (s: Schema): Schema => ({ anyOf: [s, { type: 'null' }] });

/** Each channel field takes the stored setting's schema (every one may be null: "unset"). */
const fields: Record<string, Schema> = {
  ...Object.fromEntries(
    Object.keys(CHANNEL_SETTINGS).map((f) => [
      f,
      settings[f === 'color' ? 'widgetPrimaryColor' : f === 'welcomeMessage' ? 'liveChatIntroMsg' : f]!,
    ]),
  ),
  welcomeMessage: nullable({ type: 'string', maxLength: 500 }),
};

const name = { type: 'string', minLength: 1, maxLength: 100 };

export const createChannelBody = {
  type: 'object',
  additionalProperties: false,
  required: ['name'],
  properties: { name, ...fields },
};

export const updateChannelBody = {
  type: 'object',
  additionalProperties: false,
  properties: { name, ...fields },
};

export const orgParams = {
  type: 'object',
  required: ['orgId'],
  properties: { orgId: { type: 'string', maxLength: 100 } },
};

export const channelParams = {
  type: 'object',
  required: ['orgId', 'id'],
  properties: { orgId: { type: 'string', maxLength: 100 }, id: { type: 'string', maxLength: 100 } },
};
