// Agents' browser sessions (the inbox): only a SHA-256 of the cookie's secret is kept, so a copy of
// the table lets nobody in. Users are not tenant-owned, so neither are their sessions.
export const sql = `
CREATE TABLE user_sessions (
  id_hash       bytea PRIMARY KEY,
  user_id       uuid NOT NULL REFERENCES users (id) ON DELETE CASCADE,
  -- Echoed by the inbox in X-Charla-CSRF on unsafe requests; useless without the cookie.
  csrf_token    text NOT NULL,
  created_at    timestamptz NOT NULL DEFAULT now(),
  expires_at    timestamptz NOT NULL,
  last_seen_at  timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX user_sessions_user ON user_sessions (user_id);
CREATE INDEX user_sessions_expires ON user_sessions (expires_at);
`;
