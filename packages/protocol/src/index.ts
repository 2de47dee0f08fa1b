// Charla's real-time protocol, shared by the server and the browser widget. Plain TypeScript with
// no dependencies (no Node, no DOM): frames are JSON text messages over one WebSocket at `/ws`.
// docs/realtime.md describes the protocol in prose.

/** Sent in `hello.v`; the server answers a version it does not speak with CLOSE.UNSUPPORTED_VERSION. */
export const PROTOCOL_VERSION = 1;
/** The WebSocket subprotocol the server selects. */
export const SUBPROTOCOL = 'charla.v1';
/**
 * Browsers cannot set `Authorization` on a WebSocket: a credential may ride in
 * `Sec-WebSocket-Protocol` as `bearer.<credential>`, next to `charla.v1`. It is never echoed.
 */
export const BEARER_SUBPROTOCOL_PREFIX = 'bearer.';
/** Largest client frame the server accepts, in bytes (bigger: close 1009). */
export const MAX_CLIENT_FRAME_BYTES = 16 * 1024;

export const CLOSE = {
  NORMAL: 1000,
  /** The node is shutting down: reconnect (to any node) and catch up. */
  GOING_AWAY: 1001,
  /** A client frame exceeded MAX_CLIENT_FRAME_BYTES. */
  TOO_BIG: 1009,
  INTERNAL_ERROR: 1011,
  /** Not JSON, not a known frame, a frame before `hello`, or a second `hello`. */
  PROTOCOL_ERROR: 4000,
  /** Missing, malformed, tampered or unknown credentials, or a revoked key. Do not retry as is. */
  UNAUTHENTICATED: 4001,
  /** The visitor token expired: open a new session (new token), then reconnect. */
  TOKEN_EXPIRED: 4002,
  /** Authenticated but not allowed: origin not allowed for the widget, scope or location missing. */
  FORBIDDEN: 4003,
  /** No `hello` within the allowed time after connecting. */
  AUTH_TIMEOUT: 4004,
  /** No frame (nor pong) from the client for too long. */
  IDLE_TIMEOUT: 4005,
  UNSUPPORTED_VERSION: 4006,
  /** Too many client frames: reconnect after a pause. */
  RATE_LIMITED: 4008,
  /** The client read too slowly and the server stopped buffering for it: reconnect and catch up. */
  SLOW_CONSUMER: 4009,
  /** The API key was revoked while connected. */
  REVOKED: 4010,
} as const;
export type CloseCode = (typeof CLOSE)[keyof typeof CLOSE];

/** Close codes after which reconnecting with the same credentials cannot succeed. */
export const FATAL_CLOSE_CODES: readonly number[] = [
  CLOSE.PROTOCOL_ERROR,
  CLOSE.UNAUTHENTICATED,
  CLOSE.TOKEN_EXPIRED,
  CLOSE.FORBIDDEN,
  CLOSE.UNSUPPORTED_VERSION,
  CLOSE.REVOKED,
];

export type PresenceStatus = 'online' | 'away';
export type Role = 'visitor' | 'agent';

/** Where a client stands in one conversation: it has seen every message up to `seq`. */
export interface SyncPoint {
  conversationId: string;
  seq: number;
}

// ---------------------------------------------------------------------------------------------
// Client → server

export interface HelloFrame {
  type: 'hello';
  v: number;
  /** A visitor token (`vt1.…`). Or send it as `Authorization: Bearer` / the bearer subprotocol. */
  token?: string;
  /** An agent's API key (`ck_live_…`). Or send it as `Authorization: Bearer` / the bearer subprotocol. */
  key?: string;
  /** Agents: the locations to follow; default: every location of a location-bound key. */
  locations?: string[];
  /** Agents: the user this agent is, for presence; without it the key stands for the agent. */
  userId?: string;
  /** Agents: initial presence, `online` when absent. */
  status?: PresenceStatus;
  /** Catch up: the last seq seen, per conversation. */
  since?: SyncPoint[];
  /** Visitors: also send recent history of conversations not listed in `since` (default true). */
  history?: boolean;
}

export interface TypingFrame {
  type: 'typing';
  conversationId: string;
  isTyping: boolean;
}

/** Visitor: read every message up to `seq` (default: all). Agent: marks the conversation read. */
export interface ReadFrame {
  type: 'read';
  conversationId: string;
  seq?: number;
}

/** Agents: change presence. */
export interface PresenceFrame {
  type: 'presence';
  status: PresenceStatus;
}

/** Catch up again (after `resync`, or any time): everything after each seq, then `synced`. */
export interface SyncFrame {
  type: 'sync';
  since: SyncPoint[];
  history?: boolean;
}

/** Application-level ping for clients that cannot see WebSocket pings; answered by `pong`. */
export interface PingFrame {
  type: 'ping';
  id?: string;
}

export type ClientFrame = HelloFrame | TypingFrame | ReadFrame | PresenceFrame | SyncFrame | PingFrame;

// ---------------------------------------------------------------------------------------------
// Server → client

/** A message as the real-time hub sends it. Visitors get Live_Chat messages of their contact only. */
export interface WireMessage {
  id: string;
  locationId: string;
  conversationId: string;
  contactId: string;
  seq: number;
  type: string;
  direction: 'inbound' | 'outbound';
  status: string;
  body: string | null;
  contentType: string;
  attachments: string[];
  /** The agent (user) who sent it, if a person did. */
  userId: string | null;
  /** The message this one quotes (a message of the same conversation). */
  replyToId: string | null;
  /** What `attachments[0]` is, when the sender said: the widget draws images and files from it. */
  media: WireMedia | null;
  createdAt: string;
  updatedAt: string;
}

export interface WireMedia {
  kind: 'image' | 'video' | 'audio' | 'document';
  filename: string | null;
  mimeType: string | null;
}

export interface WelcomeFrame {
  type: 'welcome';
  v: number;
  role: Role;
  /** This connection, for logs and support. */
  sessionId: string;
  locations: string[];
  visitorId?: string;
  contactId?: string | null;
  agentId?: string;
  /** The server pings this often; a client that sees no traffic for twice as long should reconnect. */
  heartbeatMs: number;
  limits: { maxFrameBytes: number; framesPerSecond: number; burst: number };
}

export interface MessageFrame {
  type: 'message';
  event: 'created' | 'updated';
  message: WireMessage;
  /** Sent as part of a catch-up rather than live. */
  replay?: true;
}

export interface MessageDeletedFrame {
  type: 'message.deleted';
  locationId: string;
  conversationId: string;
  messageId: string;
  seq: number;
}

export interface TypingEventFrame {
  type: 'typing';
  locationId: string;
  conversationId: string;
  isTyping: boolean;
  from: Role;
  /** Agent typing: the user, when known. */
  userId?: string | null;
}

/** The other side read the conversation up to `seq`. */
export interface ReadEventFrame {
  type: 'read';
  locationId: string;
  conversationId: string;
  seq: number;
  by: Role;
}

/** Agents: a conversation was created, changed (status, assignment, …) or deleted. */
export interface ConversationFrame {
  type: 'conversation';
  event: 'created' | 'updated' | 'deleted';
  locationId: string;
  conversationId: string;
  contactId: string;
  status: string;
  assignedTo: string | null;
  statusChanged?: boolean;
  assignmentChanged?: boolean;
}

/** Visitors: the conversation was opened or closed. */
export interface ConversationStatusFrame {
  type: 'conversation.status';
  conversationId: string;
  status: string;
}

/** Visitors get `agentsOnline`; agents get one agent's status. */
export type PresenceEventFrame =
  | { type: 'presence'; locationId: string; agentsOnline: boolean }
  | { type: 'presence'; locationId: string; agentId: string; status: PresenceStatus | 'offline' };

/** End of a catch-up; `since` is where the client now stands per conversation. */
export interface SyncedFrame {
  type: 'synced';
  since: SyncPoint[];
}

/** Events may have been lost (the bus reconnected): send `sync` with your last seqs. */
export interface ResyncFrame {
  type: 'resync';
  reason: string;
}

export interface PongFrame {
  type: 'pong';
  id?: string;
}

/** A refused client frame; the connection stays open. */
export interface ErrorFrame {
  type: 'error';
  code: 'bad_frame' | 'forbidden' | 'not_found' | 'unavailable';
  message: string;
  /** The refused frame's type. */
  frame?: string;
}

export type ServerFrame =
  | WelcomeFrame
  | MessageFrame
  | MessageDeletedFrame
  | TypingEventFrame
  | ReadEventFrame
  | ConversationFrame
  | ConversationStatusFrame
  | PresenceEventFrame
  | SyncedFrame
  | ResyncFrame
  | PongFrame
  | ErrorFrame;

// ---------------------------------------------------------------------------------------------
// Validation of client frames (the server trusts nothing else)

export type Parsed<T> = { ok: true; frame: T } | { ok: false; error: string };

const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;
const MAX_SYNC_POINTS = 100;
const MAX_LOCATIONS = 100;

type Obj = Record<string, unknown>;
const isObj = (v: unknown): v is Obj => typeof v === 'object' && v !== null && !Array.isArray(v);
const isUuid = (v: unknown): v is string => typeof v === 'string' && UUID.test(v);
const isSeq = (v: unknown): v is number => typeof v === 'number' && Number.isSafeInteger(v) && v >= 0;
const isCredential = (v: unknown): v is string => typeof v === 'string' && v.length > 0 && v.length <= 2048;

function only(o: Obj, allowed: readonly string[]): string | undefined {
  const extra = Object.keys(o).find((k) => !allowed.includes(k));
  return extra === undefined ? undefined : `property ${extra} is not allowed`;
}

function syncPoints(v: unknown, field: string): SyncPoint[] | string {
  if (!Array.isArray(v)) return `${field} must be an array`;
  if (v.length > MAX_SYNC_POINTS) return `${field} must have at most ${MAX_SYNC_POINTS} items`;
  const out: SyncPoint[] = [];
  for (const p of v) {
    if (!isObj(p) || !isUuid(p.conversationId) || !isSeq(p.seq) || only(p, ['conversationId', 'seq'])) {
      return `${field} items must be {conversationId: uuid, seq: integer >= 0}`;
    }
    out.push({ conversationId: p.conversationId, seq: p.seq });
  }
  return out;
}

const isStatus = (v: unknown): v is PresenceStatus => v === 'online' || v === 'away';

/** Parses one client text frame; anything unexpected is refused with a short reason. */
export function parseClientFrame(text: string): Parsed<ClientFrame> {
  let o: unknown;
  try {
    o = JSON.parse(text);
  } catch {
    return { ok: false, error: 'frame is not JSON' };
  }
  if (!isObj(o)) return { ok: false, error: 'frame must be an object' };
  const fail = (error: string): Parsed<ClientFrame> => ({ ok: false, error });
  switch (o.type) {
    case 'hello': {
      const extra = only(o, [
        'type',
        'v',
        'token',
        'key',
        'locations',
        'userId',
        'status',
        'since',
        'history',
      ]);
      if (extra) return fail(extra);
      if (typeof o.v !== 'number' || !Number.isInteger(o.v)) return fail('v must be an integer');
      if (o.token !== undefined && !isCredential(o.token)) return fail('token must be a string');
      if (o.key !== undefined && !isCredential(o.key)) return fail('key must be a string');
      if (o.token !== undefined && o.key !== undefined) return fail('send token or key, not both');
      if (
        o.locations !== undefined &&
        (!Array.isArray(o.locations) || o.locations.length > MAX_LOCATIONS || !o.locations.every(isUuid))
      ) {
        return fail(`locations must be an array of at most ${MAX_LOCATIONS} uuids`);
      }
      if (o.userId !== undefined && !isUuid(o.userId)) return fail('userId must be a uuid');
      if (o.status !== undefined && !isStatus(o.status)) return fail('status must be online or away');
      if (o.history !== undefined && typeof o.history !== 'boolean') return fail('history must be boolean');
      const frame: HelloFrame = { type: 'hello', v: o.v };
      if (o.since !== undefined) {
        const since = syncPoints(o.since, 'since');
        if (typeof since === 'string') return fail(since);
        frame.since = since;
      }
      if (o.token !== undefined) frame.token = o.token as string;
      if (o.key !== undefined) frame.key = o.key as string;
      if (o.locations !== undefined) frame.locations = o.locations as string[];
      if (o.userId !== undefined) frame.userId = o.userId;
      if (o.status !== undefined) frame.status = o.status;
      if (o.history !== undefined) frame.history = o.history as boolean;
      return { ok: true, frame };
    }
    case 'typing': {
      const extra = only(o, ['type', 'conversationId', 'isTyping']);
      if (extra) return fail(extra);
      if (!isUuid(o.conversationId)) return fail('conversationId must be a uuid');
      if (typeof o.isTyping !== 'boolean') return fail('isTyping must be boolean');
      return { ok: true, frame: { type: 'typing', conversationId: o.conversationId, isTyping: o.isTyping } };
    }
    case 'read': {
      const extra = only(o, ['type', 'conversationId', 'seq']);
      if (extra) return fail(extra);
      if (!isUuid(o.conversationId)) return fail('conversationId must be a uuid');
      if (o.seq !== undefined && !isSeq(o.seq)) return fail('seq must be an integer >= 0');
      const frame: ReadFrame = { type: 'read', conversationId: o.conversationId };
      if (o.seq !== undefined) frame.seq = o.seq as number;
      return { ok: true, frame };
    }
    case 'presence': {
      const extra = only(o, ['type', 'status']);
      if (extra) return fail(extra);
      if (!isStatus(o.status)) return fail('status must be online or away');
      return { ok: true, frame: { type: 'presence', status: o.status } };
    }
    case 'sync': {
      const extra = only(o, ['type', 'since', 'history']);
      if (extra) return fail(extra);
      const since = syncPoints(o.since, 'since');
      if (typeof since === 'string') return fail(since);
      if (o.history !== undefined && typeof o.history !== 'boolean') return fail('history must be boolean');
      const frame: SyncFrame = { type: 'sync', since };
      if (o.history !== undefined) frame.history = o.history as boolean;
      return { ok: true, frame };
    }
    case 'ping': {
      const extra = only(o, ['type', 'id']);
      if (extra) return fail(extra);
      if (o.id !== undefined && (typeof o.id !== 'string' || o.id.length > 64))
        return fail('id must be a string of at most 64 characters');
      return {
        ok: true,
        frame: o.id === undefined ? { type: 'ping' } : { type: 'ping', id: o.id as string },
      };
    }
    default:
      return fail('unknown frame type');
  }
}
