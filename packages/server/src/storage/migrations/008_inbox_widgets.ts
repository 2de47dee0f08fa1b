// Inbox widgets (ChatCaptain face): titled cards in the agent sidebar whose fields are bound to
// variables, and the per-conversation values integrators write for variables of their own.
export const sql = `
CREATE TABLE inbox_widgets (
  location_id  uuid NOT NULL REFERENCES locations (id) ON DELETE CASCADE,
  id           uuid NOT NULL,
  title        text NOT NULL,
  -- [{label, variable, type}], in display order; checked by core/inbox-widgets before it is stored.
  fields       jsonb NOT NULL DEFAULT '[]',
  created_at   timestamptz NOT NULL DEFAULT now(),
  updated_at   timestamptz NOT NULL DEFAULT now(),
  PRIMARY KEY (location_id, id)
);
CREATE INDEX inbox_widgets_id ON inbox_widgets (id);

-- One value per conversation and variable, shared by every widget that shows the variable.
-- Erasing a contact removes its conversations, and with them these values.
CREATE TABLE inbox_widget_values (
  location_id      uuid NOT NULL,
  conversation_id  uuid NOT NULL,
  variable         text NOT NULL,
  value            jsonb NOT NULL,
  updated_at       timestamptz NOT NULL DEFAULT now(),
  PRIMARY KEY (location_id, conversation_id, variable),
  FOREIGN KEY (location_id, conversation_id) REFERENCES conversations (location_id, id) ON DELETE CASCADE
);
`;
