/**
 * A contact's reviews are separate threads: the one-open-conversation rule now holds per review on
 * the review channel (review_id is null on every other channel, so nothing else changes). And
 * feedback keeps the JSON type the client sent.
 */
export const sql = `
DROP INDEX conversations_one_open;
CREATE UNIQUE INDEX conversations_one_open ON conversations (location_id, contact_id, channel, (coalesce(review_id, '')))
  WHERE status = 'open' AND deleted_at IS NULL;
ALTER TABLE conversations ALTER COLUMN feedback TYPE jsonb USING to_jsonb(feedback);
`;
