// Contacts, conversations, messages, conversation providers, media, the job queue and
// idempotency records. Keys lead with location_id, as everywhere.
export const sql = `
CREATE EXTENSION IF NOT EXISTS pg_trgm;
-- GIN operator classes for plain types: trigram indexes led by location_id.
CREATE EXTENSION IF NOT EXISTS btree_gin;

CREATE TABLE contacts (
  location_id    uuid NOT NULL REFERENCES locations (id) ON DELETE CASCADE,
  id             uuid NOT NULL,
  first_name     text,
  last_name      text,
  name           text,
  email          text,
  phone          text,
  company_name   text,
  tags           text[] NOT NULL DEFAULT '{}',
  custom_fields  jsonb NOT NULL DEFAULT '{}',
  source         text,
  created_at     timestamptz NOT NULL DEFAULT now(),
  updated_at     timestamptz NOT NULL DEFAULT now(),
  PRIMARY KEY (location_id, id)
);
CREATE INDEX contacts_id ON contacts (id);
CREATE UNIQUE INDEX contacts_email ON contacts (location_id, lower(email)) WHERE email IS NOT NULL;
CREATE UNIQUE INDEX contacts_phone ON contacts (location_id, phone) WHERE phone IS NOT NULL;
-- Conversation search matches substrings of these (core/conversations/search.ts); the full name
-- is concat_ws(' ', first_name, last_name) in immutable operators, as the search spells it.
CREATE INDEX contacts_name_trgm ON contacts USING gin (location_id, name gin_trgm_ops);
CREATE INDEX contacts_full_name_trgm ON contacts USING gin (location_id,
  (coalesce(first_name || ' ' || last_name, first_name, last_name, '')) gin_trgm_ops);
CREATE INDEX contacts_email_trgm ON contacts USING gin (location_id, email gin_trgm_ops);
CREATE INDEX contacts_phone_trgm ON contacts USING gin (location_id, phone gin_trgm_ops);

-- A conversation provider delivers outbound messages of one type (SMS, WhatsApp, Custom, ...)
-- to the location's own carrier or app, and reports their status back.
CREATE TABLE conversation_providers (
  location_id    uuid NOT NULL REFERENCES locations (id) ON DELETE CASCADE,
  id             uuid NOT NULL,
  name           text NOT NULL,
  type           text NOT NULL,
  delivery_url   text NOT NULL,
  -- Signs deliveries (HMAC-SHA256); shown once when the provider is created.
  signing_secret text NOT NULL,
  allow_private  boolean NOT NULL DEFAULT false,
  is_default     boolean NOT NULL DEFAULT false,
  created_at     timestamptz NOT NULL DEFAULT now(),
  deleted_at     timestamptz,
  PRIMARY KEY (location_id, id)
);
CREATE INDEX conversation_providers_id ON conversation_providers (id);
CREATE UNIQUE INDEX conversation_providers_default ON conversation_providers (location_id, type)
  WHERE is_default AND deleted_at IS NULL;

-- A key can speak for one provider: only that provider may update its messages' status.
ALTER TABLE api_keys ADD COLUMN provider_id uuid;

-- Per-location outgoing mail server.
CREATE TABLE location_smtp (
  location_id  uuid PRIMARY KEY REFERENCES locations (id) ON DELETE CASCADE,
  host         text NOT NULL,
  port         integer NOT NULL,
  secure       boolean NOT NULL DEFAULT false,
  username     text,
  password     text,
  from_address text NOT NULL,
  updated_at   timestamptz NOT NULL DEFAULT now()
);

CREATE TABLE conversations (
  location_id               uuid NOT NULL REFERENCES locations (id) ON DELETE CASCADE,
  id                        uuid NOT NULL,
  contact_id                uuid NOT NULL,
  -- default: the contact's one thread for SMS, email, social and calls; live_chat and review
  -- conversations stand apart.
  channel                   text NOT NULL DEFAULT 'default',
  type                      text NOT NULL DEFAULT 'TYPE_PHONE',
  status                    text NOT NULL DEFAULT 'open' CHECK (status IN ('open', 'closed')),
  chat_widget_id            uuid,
  review_id                 text,
  assigned_to               uuid,
  department_id             text,
  followers                 uuid[] NOT NULL DEFAULT '{}',
  mentions                  uuid[] NOT NULL DEFAULT '{}',
  starred                   boolean NOT NULL DEFAULT false,
  inbox                     boolean NOT NULL DEFAULT true,
  tags                      text[] NOT NULL DEFAULT '{}',
  feedback                  text,
  score                     numeric,
  unread_count              integer NOT NULL DEFAULT 0,
  last_seq                  bigint NOT NULL DEFAULT 0,
  last_message_id           uuid,
  last_message_body         text,
  last_message_type         text,
  last_message_direction    text,
  last_message_action       text,
  last_message_provider_id  uuid,
  last_message_date         timestamptz,
  last_manual_message_date  timestamptz,
  created_at                timestamptz NOT NULL DEFAULT now(),
  updated_at                timestamptz NOT NULL DEFAULT now(),
  deleted_at                timestamptz,
  PRIMARY KEY (location_id, id),
  FOREIGN KEY (location_id, contact_id) REFERENCES contacts (location_id, id) ON DELETE CASCADE
);
CREATE INDEX conversations_id ON conversations (id);
CREATE UNIQUE INDEX conversations_one_open ON conversations (location_id, contact_id, channel)
  WHERE status = 'open' AND deleted_at IS NULL;
-- Search pages by last activity: the last message, or the creation of a conversation without one.
CREATE INDEX conversations_recent ON conversations (location_id, (coalesce(last_message_date, created_at)) DESC, id DESC)
  WHERE deleted_at IS NULL;
CREATE INDEX conversations_contact ON conversations (location_id, contact_id);

CREATE TABLE messages (
  location_id              uuid NOT NULL,
  id                       uuid NOT NULL,
  conversation_id          uuid NOT NULL,
  contact_id               uuid NOT NULL,
  -- Per-conversation order; clients catch up with "everything after seq N".
  seq                      bigint NOT NULL,
  type                     text NOT NULL,
  direction                text NOT NULL CHECK (direction IN ('inbound', 'outbound')),
  status                   text NOT NULL,
  body                     text,
  html                     text,
  subject                  text,
  content_type             text NOT NULL DEFAULT 'text/plain',
  attachments              text[] NOT NULL DEFAULT '{}',
  source                   text,
  action                   text,
  user_id                  uuid,
  provider_id              uuid,
  chat_widget_id           uuid,
  alt_id                   text,
  reply_to_id              uuid,
  -- Email addressing, threading and delivery events; call data; provider error.
  email                    jsonb,
  call                     jsonb,
  error                    jsonb,
  meta                     jsonb NOT NULL DEFAULT '{}',
  scheduled_at             timestamptz,
  idempotency_key          text,
  created_at               timestamptz NOT NULL DEFAULT now(),
  updated_at               timestamptz NOT NULL DEFAULT now(),
  PRIMARY KEY (location_id, id),
  UNIQUE (location_id, conversation_id, seq),
  FOREIGN KEY (location_id, conversation_id) REFERENCES conversations (location_id, id) ON DELETE CASCADE
);
CREATE INDEX messages_id ON messages (id);
CREATE INDEX messages_location_time ON messages (location_id, created_at, id);
CREATE UNIQUE INDEX messages_idempotency ON messages (location_id, idempotency_key) WHERE idempotency_key IS NOT NULL;
-- Search's substring match on bodies, within one location.
CREATE INDEX messages_body_trgm ON messages USING gin (location_id, body gin_trgm_ops);

CREATE TABLE media (
  location_id      uuid NOT NULL REFERENCES locations (id) ON DELETE CASCADE,
  id               uuid NOT NULL,
  conversation_id  uuid,
  filename         text NOT NULL,
  content_type     text NOT NULL,
  size             bigint NOT NULL DEFAULT 0,
  path             text NOT NULL,
  status           text NOT NULL DEFAULT 'ready' CHECK (status IN ('pending', 'ready')),
  max_size         bigint,
  expires_at       timestamptz,
  created_at       timestamptz NOT NULL DEFAULT now(),
  PRIMARY KEY (location_id, id)
);
CREATE INDEX media_id ON media (id);

-- Durable jobs: scheduled sends, deliveries to providers and mail servers. A job is claimed by
-- one node at a time (SKIP LOCKED) and leased; a lease that runs out is claimed again.
CREATE TABLE jobs (
  id             bigserial PRIMARY KEY,
  location_id    uuid,
  kind           text NOT NULL,
  payload        jsonb NOT NULL,
  status         text NOT NULL DEFAULT 'queued' CHECK (status IN ('queued', 'running', 'done', 'failed', 'canceled')),
  run_at         timestamptz NOT NULL DEFAULT now(),
  attempts       integer NOT NULL DEFAULT 0,
  max_attempts   integer NOT NULL DEFAULT 8,
  locked_until   timestamptz,
  last_error     text,
  ref            text,
  created_at     timestamptz NOT NULL DEFAULT now(),
  updated_at     timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX jobs_due ON jobs (run_at) WHERE status = 'queued';
CREATE INDEX jobs_lease ON jobs (locked_until) WHERE status = 'running';
CREATE INDEX jobs_ref ON jobs (ref) WHERE ref IS NOT NULL;
`;
