import type { Db } from '../../storage/db.js';
import { getConversation } from '../conversations/service.js';
import { AppError } from '../errors.js';
import type { Message } from './model.js';
import { appendMessage } from './store.js';

/**
 * Stores a reply on a review conversation and queues it for the location's review provider,
 * which posts it where the review was written.
 */
export async function sendReviewReply(
  db: Db,
  locationId: string,
  conversationId: string,
  text: string,
): Promise<Message> {
  const conversation = await getConversation(db, locationId, conversationId);
  if (!conversation.reviewId) {
    throw new AppError('bad_request', 'This conversation is not about a review: it has no reviewId');
  }
  const { rows } = await db.query<{ id: string }>(
    `SELECT id FROM conversation_providers WHERE location_id = $1 AND type = 'Review' AND deleted_at IS NULL
     ORDER BY is_default DESC, created_at LIMIT 1`,
    [locationId],
  );
  if (!rows[0]) {
    throw new AppError('bad_request', 'No conversation provider is registered for reviews in this location.');
  }
  return appendMessage(db, {
    locationId,
    conversationId,
    type: 'TYPE_REVIEW',
    direction: 'outbound',
    status: 'pending',
    body: text,
    source: 'api',
    action: 'manual',
    providerId: rows[0].id,
    meta: { reviewId: conversation.reviewId },
    dispatch: true,
  });
}
