/**
 * The dates conversation search sorts and pages by are kept in whole milliseconds, whoever
 * writes them: a page's `sort` value is epoch milliseconds, and a stored date with microseconds
 * would compare unequal to it (skipping or repeating ties at a page boundary).
 */
export const sql = `
ALTER TABLE conversations
  ALTER COLUMN created_at TYPE timestamptz(3),
  ALTER COLUMN last_message_date TYPE timestamptz(3),
  ALTER COLUMN last_manual_message_date TYPE timestamptz(3);
`;
