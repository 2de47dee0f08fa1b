/**
 * LeadConnector's message type vocabulary: the TYPE_* names, their numeric codes (the 1-based
 * position in the enum without TYPE_RCS, see docs/compatibility/leadconnector.md), and the
 * send/inbound `type` names that map onto them.
 */
export const MESSAGE_TYPES = [
  'TYPE_CALL',
  'TYPE_SMS',
  'TYPE_EMAIL',
  'TYPE_SMS_REVIEW_REQUEST',
  'TYPE_WEBCHAT',
  'TYPE_SMS_NO_SHOW_REQUEST',
  'TYPE_CAMPAIGN_SMS',
  'TYPE_CAMPAIGN_CALL',
  'TYPE_CAMPAIGN_EMAIL',
  'TYPE_CAMPAIGN_VOICEMAIL',
  'TYPE_FACEBOOK',
  'TYPE_CAMPAIGN_FACEBOOK',
  'TYPE_CAMPAIGN_MANUAL_CALL',
  'TYPE_CAMPAIGN_MANUAL_SMS',
  'TYPE_GMB',
  'TYPE_CAMPAIGN_GMB',
  'TYPE_REVIEW',
  'TYPE_INSTAGRAM',
  'TYPE_WHATSAPP',
  'TYPE_CUSTOM_SMS',
  'TYPE_CUSTOM_EMAIL',
  'TYPE_CUSTOM_PROVIDER_SMS',
  'TYPE_CUSTOM_PROVIDER_EMAIL',
  'TYPE_IVR_CALL',
  'TYPE_ACTIVITY_CONTACT',
  'TYPE_ACTIVITY_INVOICE',
  'TYPE_ACTIVITY_PAYMENT',
  'TYPE_ACTIVITY_OPPORTUNITY',
  'TYPE_LIVE_CHAT',
  'TYPE_LIVE_CHAT_INFO_MESSAGE',
  'TYPE_ACTIVITY_APPOINTMENT',
  'TYPE_FACEBOOK_COMMENT',
  'TYPE_INSTAGRAM_COMMENT',
  'TYPE_CUSTOM_CALL',
  'TYPE_INTERNAL_COMMENT',
  'TYPE_ACTIVITY_EMPLOYEE_ACTION_LOG',
  'TYPE_TIKTOK',
  'TYPE_TIKTOK_COMMENT',
  'TYPE_ACTIVITY_WHATSAPP',
  'TYPE_FORM_SUBMISSION',
  'TYPE_SMS_REACTION',
] as const;
export type MessageType = (typeof MESSAGE_TYPES)[number] | 'TYPE_RCS';

/** All names the search and read models use (TYPE_RCS was added later and has no known code). */
export const MESSAGE_TYPE_NAMES: readonly string[] = [
  'TYPE_CALL',
  'TYPE_SMS',
  'TYPE_RCS',
  ...MESSAGE_TYPES.slice(2),
];

/** The numeric `type` of GetMessageResponseDto. TYPE_RCS has none published: 42 is Charla's. */
export function messageTypeCode(type: string): number {
  if (type === 'TYPE_RCS') return 42;
  const i = (MESSAGE_TYPES as readonly string[]).indexOf(type);
  return i < 0 ? 0 : i + 1;
}

/** `POST /conversations/messages` types. */
export const SEND_TYPES = [
  'SMS',
  'RCS',
  'Email',
  'WhatsApp',
  'IG',
  'FB',
  'Custom',
  'Live_Chat',
  'TIKTOK',
] as const;
export type SendType = (typeof SEND_TYPES)[number];

/** `POST /conversations/messages/inbound` types. */
export const INBOUND_TYPES = [
  'SMS',
  'RCS',
  'Email',
  'WhatsApp',
  'GMB',
  'IG',
  'FB',
  'Custom',
  'WebChat',
  'Live_Chat',
  'Call',
  'IVR_Call',
  'Campaign_Call',
  'Campaign_VoiceMail',
  'TIKTOK',
  'ALL_IN_ONE_CHAT',
  'FORM_SUBMISSION',
] as const;
export type InboundType = (typeof INBOUND_TYPES)[number];

const BY_CHANNEL: Record<string, MessageType> = {
  SMS: 'TYPE_SMS',
  RCS: 'TYPE_RCS',
  Email: 'TYPE_EMAIL',
  WhatsApp: 'TYPE_WHATSAPP',
  GMB: 'TYPE_GMB',
  IG: 'TYPE_INSTAGRAM',
  FB: 'TYPE_FACEBOOK',
  Custom: 'TYPE_CUSTOM_SMS',
  WebChat: 'TYPE_WEBCHAT',
  Live_Chat: 'TYPE_LIVE_CHAT',
  Call: 'TYPE_CALL',
  IVR_Call: 'TYPE_IVR_CALL',
  Campaign_Call: 'TYPE_CAMPAIGN_CALL',
  Campaign_VoiceMail: 'TYPE_CAMPAIGN_VOICEMAIL',
  TIKTOK: 'TYPE_TIKTOK',
  ALL_IN_ONE_CHAT: 'TYPE_LIVE_CHAT',
  FORM_SUBMISSION: 'TYPE_FORM_SUBMISSION',
};

/** The stored message type for a send or inbound `type`. */
export function messageTypeFor(channel: string): MessageType {
  const t = BY_CHANNEL[channel];
  if (!t) throw new Error(`no message type for channel ${channel}`);
  return t;
}

/** The conversation a message of this channel belongs to. */
export function conversationChannelFor(channel: string): 'default' | 'live_chat' {
  return channel === 'Live_Chat' || channel === 'ALL_IN_ONE_CHAT' || channel === 'WebChat'
    ? 'live_chat'
    : 'default';
}

/** The conversation `type` (search: string; get by id: number) a first message gives it. */
export function conversationTypeFor(channel: string): string {
  if (channel === 'Email') return 'TYPE_EMAIL';
  if (channel === 'FB' || channel === 'IG') return 'TYPE_FB_MESSENGER';
  return 'TYPE_PHONE';
}

export const CONVERSATION_TYPE_CODES: Record<string, number> = {
  TYPE_PHONE: 1,
  TYPE_EMAIL: 2,
  TYPE_FB_MESSENGER: 3,
  TYPE_REVIEW: 4,
  TYPE_GROUP_SMS: 5,
};

/** getMessages `type` filter names that differ from the stored names. */
export function normaliseTypeFilter(name: string): string {
  return name === 'TYPE_INTERNAL_COMMENTS' ? 'TYPE_INTERNAL_COMMENT' : name;
}

export const MESSAGE_STATUSES = [
  'connected',
  'delivered',
  'failed',
  'opened',
  'pending',
  'read',
  'scheduled',
  'sent',
  'undelivered',
  'clicked',
  'opt_out',
  'queued',
] as const;
