/** A stored message, in domain terms. */
export interface Message {
  id: string;
  locationId: string;
  conversationId: string;
  contactId: string;
  seq: number;
  type: string;
  direction: 'inbound' | 'outbound';
  status: string;
  body: string | null;
  html: string | null;
  subject: string | null;
  contentType: string;
  attachments: string[];
  source: string | null;
  action: string | null;
  userId: string | null;
  providerId: string | null;
  chatWidgetId: string | null;
  altId: string | null;
  replyToId: string | null;
  email: EmailData | null;
  call: CallData | null;
  error: Record<string, unknown> | null;
  meta: Record<string, unknown>;
  scheduledAt: Date | null;
  createdAt: Date;
  updatedAt: Date;
}

export interface EmailData {
  from?: string;
  to: string[];
  cc?: string[];
  bcc?: string[];
  /** The email this one answers (a message id), and the thread it belongs to. */
  replyToMessageId?: string;
  threadId?: string;
  /** RFC 5322 threading headers. */
  messageIdHeader?: string;
  inReplyTo?: string;
  references?: string[];
  replyTo?: string;
  /** When the mailer handed it to the SMTP server (ISO): a retried job does not send it twice. */
  sentAt?: string;
  /** Delivery events reported by a custom email provider. */
  events?: Record<string, number>;
  firstEventAt?: Record<string, string>;
  recipients?: { emailId: string; status: string; failReason?: string }[];
}

export interface CallData {
  to?: string;
  from?: string;
  status?: string;
  duration?: number;
  recordingUrl?: string;
  recordingMediaId?: string;
  transcript?: unknown[];
}

export interface MessageRow {
  id: string;
  location_id: string;
  conversation_id: string;
  contact_id: string;
  seq: string;
  type: string;
  direction: 'inbound' | 'outbound';
  status: string;
  body: string | null;
  html: string | null;
  subject: string | null;
  content_type: string;
  attachments: string[];
  source: string | null;
  action: string | null;
  user_id: string | null;
  provider_id: string | null;
  chat_widget_id: string | null;
  alt_id: string | null;
  reply_to_id: string | null;
  email: EmailData | null;
  call: CallData | null;
  error: Record<string, unknown> | null;
  meta: Record<string, unknown>;
  scheduled_at: Date | null;
  created_at: Date;
  updated_at: Date;
}

export const toMessage = (r: MessageRow): Message => ({
  id: r.id,
  locationId: r.location_id,
  conversationId: r.conversation_id,
  contactId: r.contact_id,
  seq: Number(r.seq),
  type: r.type,
  direction: r.direction,
  status: r.status,
  body: r.body,
  html: r.html,
  subject: r.subject,
  contentType: r.content_type,
  attachments: r.attachments,
  source: r.source,
  action: r.action,
  userId: r.user_id,
  providerId: r.provider_id,
  chatWidgetId: r.chat_widget_id,
  altId: r.alt_id,
  replyToId: r.reply_to_id,
  email: r.email,
  call: r.call,
  error: r.error,
  meta: r.meta,
  scheduledAt: r.scheduled_at,
  createdAt: r.created_at,
  updatedAt: r.updated_at,
});

export const CALL_TYPES = [
  'TYPE_CALL',
  'TYPE_CUSTOM_CALL',
  'TYPE_IVR_CALL',
  'TYPE_CAMPAIGN_CALL',
  'TYPE_CAMPAIGN_VOICEMAIL',
  'TYPE_CAMPAIGN_MANUAL_CALL',
];
