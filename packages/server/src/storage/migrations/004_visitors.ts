// Web-chat visitors: one row per browser (the widget's visitorId) per channel, the contact behind
// it, whether its identity was verified, and the one-time codes that verify an email.
export const sql = `
CREATE TABLE visitors (
  location_id        uuid NOT NULL REFERENCES locations (id) ON DELETE CASCADE,
  id                 uuid NOT NULL,
  channel_id         uuid NOT NULL,
  -- The widget's own visitorId, unique per channel.
  visitor_key        text NOT NULL,
  contact_id         uuid NOT NULL,
  -- The host site signed this identity (HMAC) or the visitor proved the email (OTP).
  identity_verified  boolean NOT NULL DEFAULT false,
  verified_email     text,
  host_user_id       text,
  -- {host: attributes, prechat, claimed: {name, email, phone}, utm, acceptOffline}
  metadata           jsonb NOT NULL DEFAULT '{}',
  page_url           text,
  referer            text,
  title              text,
  lang               text,
  department_id      text,
  created_at         timestamptz NOT NULL DEFAULT now(),
  last_seen_at       timestamptz NOT NULL DEFAULT now(),
  PRIMARY KEY (location_id, id),
  FOREIGN KEY (location_id, channel_id) REFERENCES chat_widgets (location_id, id) ON DELETE CASCADE,
  FOREIGN KEY (location_id, contact_id) REFERENCES contacts (location_id, id) ON DELETE CASCADE
);
CREATE UNIQUE INDEX visitors_key ON visitors (location_id, channel_id, visitor_key);
CREATE INDEX visitors_contact ON visitors (location_id, contact_id);
CREATE INDEX visitors_host_user ON visitors (location_id, channel_id, host_user_id)
  WHERE host_user_id IS NOT NULL AND identity_verified;

-- Email one-time codes: only an HMAC of the code is kept; a code dies after its attempts run out.
CREATE TABLE visitor_otps (
  location_id  uuid NOT NULL REFERENCES locations (id) ON DELETE CASCADE,
  id           uuid NOT NULL,
  channel_id   uuid NOT NULL,
  email        text NOT NULL,
  code_hash    text NOT NULL,
  attempts     integer NOT NULL DEFAULT 0,
  expires_at   timestamptz NOT NULL,
  used_at      timestamptz,
  created_at   timestamptz NOT NULL DEFAULT now(),
  PRIMARY KEY (location_id, id)
);
CREATE INDEX visitor_otps_email ON visitor_otps (location_id, channel_id, lower(email), created_at DESC);

-- Files a visitor uploaded: only they may attach them to a message.
CREATE TABLE visitor_media (
  location_id  uuid NOT NULL REFERENCES locations (id) ON DELETE CASCADE,
  media_id     uuid NOT NULL,
  visitor_id   uuid NOT NULL,
  channel_id   uuid NOT NULL,
  created_at   timestamptz NOT NULL DEFAULT now(),
  PRIMARY KEY (location_id, media_id)
);
`;
