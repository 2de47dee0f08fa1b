import { type Bus, locationChannel } from '../../bus/bus.js';
import type { Db } from '../../storage/db.js';
import { AppError } from '../errors.js';
import { getConversation } from './service.js';

export interface Typing {
  locationId: string;
  conversationId: string;
  isTyping: boolean;
  from: 'agent' | 'visitor';
  /** The visitor typing, or being typed to. */
  visitorId?: string;
}

/** Typing is ephemeral: checked against the conversation, then straight to the bus, never stored. */
export async function announceTyping(db: Db, bus: Bus, t: Typing): Promise<void> {
  const c = await getConversation(db, t.locationId, t.conversationId);
  if (c.channel !== 'live_chat') {
    throw new AppError('bad_request', 'Typing applies to live chat conversations only');
  }
  await bus.publish(locationChannel(c.locationId), {
    id: null,
    topic: 'typing',
    locationId: c.locationId,
    payload: {
      conversationId: c.id,
      ...(t.visitorId !== undefined ? { visitorId: t.visitorId } : {}),
      isTyping: t.isTyping,
      from: t.from,
    },
    at: new Date().toISOString(),
  });
}
