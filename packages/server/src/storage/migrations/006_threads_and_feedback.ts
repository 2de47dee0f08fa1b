/**
 * One open conversation per contact and channel, refined: each review is a thread of its own,
 * and a live chat is one per chat widget (a contact may talk to a location through two widgets).
 * review_id and chat_widget_id are null elsewhere, so nothing else changes. And feedback keeps
 * the JSON type the client sent.
 */
export const sql = `
DROP INDEX conversations_one_open;
CREATE UNIQUE INDEX conversations_one_open ON conversations (location_id, contact_id, channel,
  (coalesce(review_id, '')), (coalesce(chat_widget_id, '00000000-0000-0000-0000-000000000000'::uuid)))
  WHERE status = 'open' AND deleted_at IS NULL;
ALTER TABLE conversations ALTER COLUMN feedback TYPE jsonb USING to_jsonb(feedback);
`;
