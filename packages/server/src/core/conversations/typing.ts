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
  /** The agent typing, when a person is known. */
  userId?: string | null;
}

/** Typing is ephemeral: checked against the conversation, then straight to the bus, never stored. */
export async function announceTyping(db: Db, bus: Bus, t: Typing): Promise<void> {
  const c = await getConversation(db, t.locationId, t.conversationId);
  if (c.channel !== 'live_chat') {
    throw new AppError('bad_request', 'Typing applies to live chat conversations only');
  }
  await publishTyping(bus, { ...t, locationId: c.locationId, conversationId: c.id });
}

/** Puts a typing signal on the location's channel, for a conversation the caller has checked. */
export async function publishTyping(bus: Bus, t: Typing): Promise<void> {
  await bus.publish(locationChannel(t.locationId), {
    id: null,
    topic: 'typing',
    locationId: t.locationId,
    payload: {
      conversationId: t.conversationId,
      isTyping: t.isTyping,
      from: t.from,
      ...(t.visitorId !== undefined ? { visitorId: t.visitorId } : {}),
      ...(t.userId !== undefined ? { userId: t.userId } : {}),
    },
    at: new Date().toISOString(),
  });
}
