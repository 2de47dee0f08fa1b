// Every tenant-owned table carries location_id and leads its keys with it, so the schema can later
// be distributed by location (Citus) or split across servers without a rewrite.
export const sql = `
CREATE TABLE locations (
  id          uuid PRIMARY KEY,
  name        text NOT NULL,
  timezone    text NOT NULL DEFAULT 'UTC',
  created_at  timestamptz NOT NULL DEFAULT now(),
  updated_at  timestamptz NOT NULL DEFAULT now()
);

CREATE TABLE users (
  id             uuid PRIMARY KEY,
  email          text NOT NULL,
  name           text NOT NULL,
  role           text NOT NULL CHECK (role IN ('admin', 'agent')),
  password_hash  text,
  created_at     timestamptz NOT NULL DEFAULT now(),
  updated_at     timestamptz NOT NULL DEFAULT now()
);
CREATE UNIQUE INDEX users_email_key ON users (lower(email));

CREATE TABLE location_users (
  location_id  uuid NOT NULL REFERENCES locations (id) ON DELETE CASCADE,
  user_id      uuid NOT NULL REFERENCES users (id) ON DELETE CASCADE,
  PRIMARY KEY (location_id, user_id)
);
CREATE INDEX location_users_user ON location_users (user_id);

CREATE TABLE api_keys (
  id            uuid PRIMARY KEY,
  prefix        text NOT NULL UNIQUE,
  secret_hash   bytea NOT NULL,
  name          text NOT NULL,
  scopes        text[] NOT NULL,
  -- NULL: every location (agency-wide key).
  location_ids  uuid[],
  created_at    timestamptz NOT NULL DEFAULT now(),
  last_used_at  timestamptz,
  revoked_at    timestamptz
);

CREATE TABLE chat_widgets (
  location_id                 uuid NOT NULL REFERENCES locations (id) ON DELETE CASCADE,
  id                          uuid NOT NULL,
  name                        text NOT NULL,
  chat_type                   text NOT NULL,
  is_default                  boolean NOT NULL DEFAULT false,
  revision                    integer NOT NULL DEFAULT 1,
  settings                    jsonb NOT NULL DEFAULT '{}',
  public_token                text NOT NULL UNIQUE,
  identity_secret             text,
  identity_secret_rotated_at  timestamptz,
  creation_source             text NOT NULL DEFAULT 'api',
  origin_id                   uuid,
  updated_by                  text,
  created_at                  timestamptz NOT NULL DEFAULT now(),
  updated_at                  timestamptz NOT NULL DEFAULT now(),
  deleted_at                  timestamptz,
  PRIMARY KEY (location_id, id)
);
CREATE INDEX chat_widgets_id ON chat_widgets (id);
CREATE INDEX chat_widgets_live ON chat_widgets (location_id, created_at DESC) WHERE deleted_at IS NULL;
-- At most one default widget per location.
CREATE UNIQUE INDEX chat_widgets_one_default ON chat_widgets (location_id) WHERE is_default AND deleted_at IS NULL;

-- Transactional outbox: rows are written in the same transaction as the change they announce,
-- then relayed to the bus. The database, not the bus, is the source of truth.
CREATE TABLE outbox (
  id            bigserial PRIMARY KEY,
  location_id   uuid,
  topic         text NOT NULL,
  payload       jsonb NOT NULL,
  created_at    timestamptz NOT NULL DEFAULT now(),
  published_at  timestamptz
);
CREATE INDEX outbox_pending ON outbox (id) WHERE published_at IS NULL;
`;
