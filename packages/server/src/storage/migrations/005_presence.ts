// Agents' presence, shared by every node: one row per agent, location and node holding sockets.
// A node renews its rows' expiry while it lives, so a dead node's agents go offline by themselves.
export const sql = `
CREATE TABLE agent_presence (
  location_id  uuid NOT NULL REFERENCES locations (id) ON DELETE CASCADE,
  -- A user id, or the API key id of an agent that named no user.
  agent_id     text NOT NULL,
  node_id      text NOT NULL,
  status       text NOT NULL CHECK (status IN ('online', 'away')),
  expires_at   timestamptz NOT NULL,
  updated_at   timestamptz NOT NULL DEFAULT now(),
  PRIMARY KEY (location_id, agent_id, node_id)
);
CREATE INDEX agent_presence_node ON agent_presence (node_id);
CREATE INDEX agent_presence_expiry ON agent_presence (expires_at);
`;
