/**
 * Scopes a key can hold. The LeadConnector names are used as they are, so a key reads like the
 * token an integrator already has; `*` grants everything.
 */
export const SCOPES = [
  '*',
  'admin',
  'chat-widget.readonly',
  'chat-widget.write',
  'conversations.readonly',
  'conversations.write',
  'conversations/message.readonly',
  'conversations/message.write',
  'conversations/livechat.write',
  'contacts.readonly',
  'contacts.write',
  // ChatCaptain's permission names for inbox widgets, as its integrators already hold them.
  'chatbots.inbox.widgets.list',
  'chatbots.inbox.widgets.create',
  'chatbots.inbox.widgets.get',
  'chatbots.inbox.widgets.edit',
  'chatbots.inbox.widgets.delete',
  'chatbots.inbox.widgets.content.get',
  'chatbots.inbox.widgets.content.edit',
] as const;

export type Scope = (typeof SCOPES)[number];

export function isScope(value: string): value is Scope {
  return (SCOPES as readonly string[]).includes(value);
}
