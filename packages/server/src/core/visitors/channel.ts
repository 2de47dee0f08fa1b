import type { Db } from '../../storage/db.js';
import { AppError, notFound } from '../errors.js';

/** A chat widget as its public web-chat API sees it: found by its public token. */
export interface Channel {
  id: string;
  locationId: string;
  name: string;
  settings: Record<string, unknown>;
  enabled: boolean;
}

const TOKEN = /^[A-Za-z0-9_-]{8,64}$/;

/** The live channel behind a public token; 404 for an unknown or deleted one. */
export async function findChannelByToken(db: Db, token: string): Promise<Channel> {
  if (!TOKEN.test(token)) throw notFound('Chat channel');
  const { rows } = await db.prepared<{
    id: string;
    location_id: string;
    name: string;
    settings: Record<string, unknown>;
  }>(
    'charla_channel_by_token',
    'SELECT id, location_id, name, settings FROM chat_widgets WHERE public_token = $1 AND deleted_at IS NULL',
    [token],
  );
  const r = rows[0];
  if (!r) throw notFound('Chat channel');
  return {
    id: r.id,
    locationId: r.location_id,
    name: r.name,
    settings: r.settings,
    enabled: r.settings.enabled !== false,
  };
}

/** Visitors may not open sessions or write on a disabled channel. */
export function requireEnabled(channel: Channel): void {
  if (!channel.enabled) throw new AppError('forbidden', 'This chat channel is disabled');
}
