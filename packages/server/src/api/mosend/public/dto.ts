import type { Message } from '../../../core/messages/model.js';
import type { Channel } from '../../../core/visitors/channel.js';
import { channelOpenNow } from '../../../core/visitors/hours.js';
import { publicSettings } from '../../../core/widgets/service.js';
import { type MosendMessage, toMosendMessage } from '../dto.js';

/** `WebChatMessage`: Mosend's message plus the conversation order (`seq`) the widget resumes from. */
export function webChatMessage(m: Message): MosendMessage & { seq: number } {
  const out = toMosendMessage(m);
  const mediaAssetId = m.meta.mediaAssetId;
  if ('link' in out.payload && typeof mediaAssetId === 'string') {
    out.payload = { ...out.payload, id: mediaAssetId } as typeof out.payload;
  }
  return { ...out, seq: m.seq };
}

export interface SessionDto {
  sessionToken: string;
  visitorId: string;
  contactId: string;
  identityVerified: boolean;
  expiresAt: string;
}

/**
 * What any page may read about a channel: how to draw the widget, never a secret or an agent id.
 * `online` needs both: within operating hours (`open`) and an agent online (`agentsOnline`).
 */
export function channelConfig(channel: Channel, agentsOnline: boolean, now = new Date()) {
  const s = publicSettings(channel.settings);
  const departments = Array.isArray(s.departments) ? s.departments : [];
  const open = channel.enabled && channelOpenNow(channel.settings, now);
  return {
    id: channel.id,
    name: channel.name,
    enabled: channel.enabled,
    open,
    agentsOnline,
    online: open && agentsOnline,
    color: s.widgetPrimaryColor ?? null,
    position: (s.dimensions as { position?: string } | undefined)?.position === 'left' ? 'left' : 'right',
    sound:
      (s.advanceSettings as { playNotificationSound?: boolean } | undefined)?.playNotificationSound !== false,
    welcomeMessage: s.liveChatIntroMsg ?? null,
    heading: s.heading ?? null,
    subHeading: s.subHeading ?? null,
    locale: s.locale ?? null,
    identityRequired: s.identityRequired === true,
    requireEmailUpfront: s.requireEmailUpfront === true,
    precaptureEnabled: Array.isArray(s.prechatFields) && s.prechatFields.length > 0,
    prechatFields: s.prechatFields ?? [],
    departments: departments.map((d) => ({
      ...(d as Record<string, unknown>),
      online:
        agentsOnline && channel.enabled && channelOpenNow(channel.settings, now, (d as { id: string }).id),
    })),
    operatingHours: s.operatingHours ?? null,
    offlineAction: s.offlineAction ?? null,
    offlineMessage: s.offlineMessage ?? null,
    linkEmailBannerEnabled: s.linkEmailBannerEnabled === true,
    typingIndicatorEnabled: s.typingIndicatorEnabled !== false,
    readReceiptEnabled: s.readReceiptEnabled !== false,
    botEnabled: s.botEnabled === true,
    proactiveTriggers: s.proactiveTriggers ?? [],
    allowAttachments:
      (s.advanceSettings as { allowAttachments?: boolean } | undefined)?.allowAttachments !== false,
  };
}
