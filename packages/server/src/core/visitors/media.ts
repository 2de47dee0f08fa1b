import type { Queryable } from '../../storage/db.js';
import { getMedia, type Media } from '../media/store.js';

/** Remembers who uploaded a file: only that visitor may attach it to a message. */
export async function recordVisitorMedia(
  q: Queryable,
  v: { locationId: string; channelId: string; visitorId: string },
  mediaId: string,
): Promise<void> {
  await q.query(
    'INSERT INTO visitor_media (location_id, media_id, visitor_id, channel_id) VALUES ($1, $2, $3, $4)',
    [v.locationId, mediaId, v.visitorId, v.channelId],
  );
}

/** A ready file this visitor uploaded on this channel, or null. */
export async function visitorMedia(
  q: Queryable,
  v: { locationId: string; channelId: string; visitorId: string },
  mediaId: string,
): Promise<Media | null> {
  const { rowCount } = await q.query(
    'SELECT 1 FROM visitor_media WHERE location_id = $1 AND media_id = $2 AND visitor_id = $3 AND channel_id = $4',
    [v.locationId, mediaId, v.visitorId, v.channelId],
  );
  if (!rowCount) return null;
  const media = await getMedia(q, v.locationId, mediaId);
  return media?.status === 'ready' ? media : null;
}
