/** Request schemas of the public web-chat API (Mosend `web-chat-public`), checked with the one Ajv. */

const str = (maxLength: number, minLength = 0) => ({ type: 'string', maxLength, minLength });

export const tokenParams = {
  type: 'object',
  properties: { token: { type: 'string', maxLength: 200 } },
  required: ['token'],
};

/** The visitor token may ride in the query string (`?sessionToken=`) on any visitor route. */
export const tokenQuery = {
  type: 'object',
  properties: { sessionToken: str(2048) },
};

export const SESSION_MODES = ['anonymous', 'identified', 'verify-otp', 'host-identified'] as const;

export const createSessionBody = {
  type: 'object',
  additionalProperties: false,
  required: ['visitorId', 'mode'],
  properties: {
    visitorId: { type: 'string', minLength: 1, maxLength: 100, pattern: '^[A-Za-z0-9_.:-]+$' },
    mode: { enum: SESSION_MODES },
    name: str(200),
    email: { type: 'string', format: 'email', maxLength: 320 },
    phone: { type: 'string', maxLength: 40, pattern: '^\\+?[0-9 ().-]{5,40}$' },
    otp: str(12),
    userId: str(200, 1),
    hash: str(128),
    attributes: { type: 'object', maxProperties: 50 },
    departmentId: str(40, 1),
    prechat: { type: 'object', maxProperties: 50 },
    url: str(500),
    referer: str(500),
    title: str(200),
    lang: str(20),
    utm: {
      type: 'object',
      additionalProperties: false,
      properties: {
        source: str(200),
        medium: str(200),
        campaign: str(200),
        term: str(200),
        content: str(200),
      },
    },
    acceptOffline: { type: 'boolean' },
  },
};

export interface CreateSessionBody {
  visitorId: string;
  mode: (typeof SESSION_MODES)[number];
  name?: string;
  email?: string;
  phone?: string;
  otp?: string;
  userId?: string;
  hash?: string;
  attributes?: Record<string, unknown>;
  departmentId?: string;
  prechat?: Record<string, unknown>;
  url?: string;
  referer?: string;
  title?: string;
  lang?: string;
  utm?: Record<string, string>;
  acceptOffline?: boolean;
}

export const resendOtpBody = {
  type: 'object',
  additionalProperties: false,
  required: ['email'],
  properties: {
    email: { type: 'string', format: 'email', maxLength: 320 },
    visitorId: { type: 'string', minLength: 1, maxLength: 100 },
  },
};

export const linkEmailBody = {
  type: 'object',
  additionalProperties: false,
  required: ['email'],
  properties: { email: { type: 'string', format: 'email', maxLength: 320 }, name: str(200) },
};

export const historyQuery = {
  type: 'object',
  properties: {
    sessionToken: str(2048),
    limit: { type: 'string', pattern: '^[0-9]{1,4}$' },
    before: str(100),
  },
};

export const ATTACHMENT_KINDS = ['image', 'video', 'audio', 'document'] as const;

export const sendMessageBody = {
  type: 'object',
  additionalProperties: false,
  properties: {
    body: str(4096),
    caption: str(4096),
    clientMessageId: { type: 'string', minLength: 1, maxLength: 100, pattern: '^[A-Za-z0-9_.:-]+$' },
    replyToMessageId: {
      type: 'string',
      maxLength: 100,
      description: 'A message of this conversation, quoted',
    },
    attachment: {
      type: 'object',
      additionalProperties: false,
      required: ['mediaAssetId'],
      properties: {
        mediaAssetId: { type: 'string', format: 'uuid' },
        kind: { enum: ATTACHMENT_KINDS },
        filename: str(200),
      },
    },
  },
};

export interface SendMessageBody {
  body?: string;
  caption?: string;
  clientMessageId?: string;
  replyToMessageId?: string;
  attachment?: { mediaAssetId: string; kind?: (typeof ATTACHMENT_KINDS)[number]; filename?: string };
}
