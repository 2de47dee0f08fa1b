import type { ChatWidget, WidgetSettings } from '../../../core/widgets/service.js';

/**
 * A Mosend web-chat channel is a Charla chat widget: the same row, seen through another face.
 * Channel fields live in the widget's settings, most under their own name; two take the
 * LeadConnector names the widget already draws with.
 */
const RENAMED: Record<string, string> = {
  color: 'widgetPrimaryColor',
  welcomeMessage: 'liveChatIntroMsg',
};

/** Channel fields kept in settings, with the value a channel shows when the setting is absent. */
export const CHANNEL_SETTINGS: Record<string, unknown> = {
  color: null,
  welcomeMessage: null,
  allowedDomains: [],
  precaptureEnabled: false,
  requireEmailUpfront: false,
  botEnabled: false,
  enabled: true,
  identityRequired: false,
  operatingHours: null,
  offlineAction: null,
  offlineMessage: null,
  prechatFields: [],
  departments: [],
  proactiveTriggers: [],
  linkEmailBannerEnabled: false,
  typingIndicatorEnabled: false,
  readReceiptEnabled: false,
};

const settingKey = (field: string) => RENAMED[field] ?? field;

/** The widget settings patch for a channel body; `null` removes a setting (its default applies). */
export function settingsPatch(body: Record<string, unknown>): WidgetSettings {
  const out: WidgetSettings = {};
  for (const field of Object.keys(CHANNEL_SETTINGS)) {
    if (body[field] !== undefined) out[settingKey(field)] = body[field];
  }
  return out;
}

/** Settings errors name the stored key (`settings.liveChatIntroMsg`): say it in channel terms. */
export function channelProblem(sentence: string): string {
  let s = sentence.replace(/^(property )?settings\./, '$1');
  for (const [field, key] of Object.entries(RENAMED)) {
    if (s.startsWith(key) || s.startsWith(`property ${key}`)) s = s.replace(key, field);
  }
  return s;
}

export function channelDto(w: ChatWidget) {
  const fields: Record<string, unknown> = {};
  for (const [field, fallback] of Object.entries(CHANNEL_SETTINGS)) {
    fields[field] = w.settings[settingKey(field)] ?? fallback;
  }
  return {
    id: w.id,
    name: w.name,
    token: w.publicToken,
    ...fields,
    hasIdentitySecret: w.hasIdentitySecret,
    createdAt: w.createdAt.toISOString(),
    updatedAt: w.updatedAt.toISOString(),
  };
}
