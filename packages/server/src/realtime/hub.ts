import { randomUUID } from 'node:crypto';
import type { IncomingMessage, Server } from 'node:http';
import type { Duplex } from 'node:stream';
import {
  CLOSE,
  type ClientFrame,
  type HelloFrame,
  MAX_CLIENT_FRAME_BYTES,
  PROTOCOL_VERSION,
  parseClientFrame,
  type SyncPoint,
  type WireMessage,
} from '@charla/protocol';
import type { Logger } from 'pino';
import { type RawData, type WebSocket, WebSocketServer } from 'ws';
import { type Bus, type BusMessage, locationChannel, SYSTEM_CHANNEL, type Unsubscribe } from '../bus/bus.js';
import { publishTyping } from '../core/conversations/typing.js';
import { AppError } from '../core/errors.js';
import { hasScope } from '../core/keys/principal.js';
import type { Scope } from '../core/keys/scopes.js';
import type { KeyVerifier } from '../core/keys/service.js';
import { markReadByAgent, markReadByVisitor } from '../core/messages/receipts.js';
import {
  clearNodePresence,
  locationAgentsOnline,
  locationsWithAgentsOnline,
  PRESENCE_TTL_MS,
  renewNodePresence,
  setAgentPresence,
} from '../core/presence/service.js';
import type { Db } from '../storage/db.js';
import { AuthFailure, authenticate, credentialsFromHeaders, selectSubprotocol } from './auth.js';
import { Conn, outgoing } from './connection.js';
import {
  type ConversationInfo,
  conversationInfo,
  fetchMessages,
  messagesAfter,
  recentVisitorMessages,
  visibleToVisitor,
  visitorConversations,
} from './queries.js';

export interface HubOptions {
  /** The server pings every socket this often; one that missed the previous pong is cut. */
  heartbeatMs: number;
  /** Time to send `hello` after connecting. */
  helloTimeoutMs: number;
  /** A socket that sends nothing (frames or pongs) this long is closed. */
  idleTimeoutMs: number;
  /** Bytes a socket may have waiting to be sent before it is dropped as a slow consumer. */
  maxBufferedBytes: number;
  framesPerSecond: number;
  burst: number;
  /** Repeated typing frames with the same state pass at most this often per conversation. */
  typingThrottleMs: number;
  /** Presence heartbeat, and how often visitors' "agents online" is checked again. */
  presenceRefreshMs: number;
  presenceTtlMs: number;
  /** Recent messages per conversation a visitor gets when it names no seq. */
  historyLimit: number;
  /** A catch-up reads pages of this many messages. */
  pageSize: number;
}

export const DEFAULT_HUB_OPTIONS: HubOptions = {
  heartbeatMs: 25_000,
  helloTimeoutMs: 10_000,
  idleTimeoutMs: 60 * 60_000,
  maxBufferedBytes: 1024 * 1024,
  framesPerSecond: 10,
  burst: 30,
  typingThrottleMs: 2000,
  presenceRefreshMs: 10_000,
  presenceTtlMs: PRESENCE_TTL_MS,
  historyLimit: 50,
  pageSize: 200,
};

export interface HubDeps {
  db: Db;
  bus: Bus;
  keys: KeyVerifier;
  secret: string;
  log: Logger;
  /** Charla's public URL: an inbox page on it may use its session cookie on the socket. */
  publicUrl?: string;
}

/** A location with sockets on this node: subscribed to its bus channel while it has any. */
interface Room {
  locationId: string;
  agents: Set<Conn>;
  /** Visitors by contact id. */
  visitors: Map<string, Set<Conn>>;
  visitorCount: number;
  unsubscribe: Unsubscribe;
  /** Resolves once the subscription is known to be live (a probe came back). */
  ready: Promise<void>;
  probes: Map<string, () => void>;
  agentsOnline: boolean | undefined;
  presenceCheck: NodeJS.Timeout | undefined;
}

/**
 * What `hello` needs from the upgrade request. The socket's handlers keep it for the socket's
 * life: the whole IncomingMessage (headers, raw headers, stream state) would be kilobytes per
 * idle socket.
 */
interface UpgradeInfo {
  origin: string | undefined;
  credential: string | undefined;
}

const upgradeInfo = (req: IncomingMessage, publicUrl?: string): UpgradeInfo => ({
  origin: req.headers.origin,
  credential: credentialsFromHeaders(req.headers, publicUrl),
});

interface PendingFetch {
  room: Room;
  message: BusMessage;
  event: 'created' | 'updated';
}

const PROBE_TOPIC = 'realtime.probe';
const RECENT_EVENTS = 20_000;
const CONVERSATION_CACHE = 50_000;
const VISITOR_CONVERSATIONS = 10;

/**
 * The real-time hub: WebSockets at /ws for visitors and agents. It subscribes to the bus channel
 * of every location that has sockets on this node, turns outbox events into frames (fetching
 * message rows once per event per node, in batches), and catches clients up from the database.
 */
export class Hub {
  readonly nodeId = randomUUID();
  private readonly options: HubOptions;
  private readonly wss: WebSocketServer;
  private readonly conns = new Set<Conn>();
  private readonly rooms = new Map<string, Room>();
  private readonly recent = new Set<number>();
  private readonly conversationCache = new Map<string, ConversationInfo>();
  private readonly presence = new Map<
    string,
    {
      locationId: string;
      agentId: string;
      conns: Set<Conn>;
      /** This node's status for the agent as last written; undefined before the first write. */
      written: 'online' | 'away' | null | undefined;
    }
  >();
  private presenceChain: Promise<void> = Promise.resolve();
  private pending: PendingFetch[] = [];
  private fetching: Promise<void> = Promise.resolve();
  private fetchScheduled = false;
  private readonly timers: NodeJS.Timeout[] = [];
  private readonly unsubscribers: Unsubscribe[] = [];
  private stopping: Promise<void> | undefined;

  constructor(
    private readonly deps: HubDeps,
    options: Partial<HubOptions> = {},
  ) {
    this.options = { ...DEFAULT_HUB_OPTIONS, ...options };
    this.wss = new WebSocketServer({
      noServer: true,
      maxPayload: MAX_CLIENT_FRAME_BYTES,
      perMessageDeflate: false,
      handleProtocols: (protocols) => selectSubprotocol(protocols),
    });
  }

  get connections(): number {
    return this.conns.size;
  }

  /** Serves `/ws` on this HTTP server's upgrade requests; other upgrade paths get 404. */
  attach(server: Server): void {
    server.on('upgrade', (req: IncomingMessage, socket: Duplex, head: Buffer) => {
      const path = (req.url ?? '').split('?')[0];
      if (path !== '/ws' && path !== '/ws/') {
        socket.end('HTTP/1.1 404 Not Found\r\nConnection: close\r\nContent-Length: 0\r\n\r\n');
        return;
      }
      if (this.stopping) {
        socket.end('HTTP/1.1 503 Service Unavailable\r\nConnection: close\r\nContent-Length: 0\r\n\r\n');
        return;
      }
      // A shared no-op: a closure here would keep this handler's scope, `req` and its headers
      // included, alive as long as the socket.
      socket.on('error', ignore);
      this.wss.handleUpgrade(req, socket, head, (ws) =>
        this.onConnection(ws, upgradeInfo(req, this.deps.publicUrl)),
      );
    });
  }

  start(): void {
    const { bus } = this.deps;
    this.unsubscribers.push(
      bus.subscribe(SYSTEM_CHANNEL, (m) => {
        const revoked =
          m.topic === 'key.revoked'
            ? m.payload.prefix
            : m.topic === 'session.revoked'
              ? `session:${m.payload.ref}`
              : undefined;
        if (typeof revoked !== 'string' || revoked === '' || revoked === 'session:') return;
        for (const conn of this.conns) {
          if (conn.keyPrefix === revoked)
            conn.kill(CLOSE.REVOKED, `${m.topic === 'key.revoked' ? 'key' : 'session'} revoked`);
        }
      }),
    );
    if (bus.onReconnect) {
      // Whatever was published while the bus was away is only in the database now.
      this.unsubscribers.push(
        bus.onReconnect(() => {
          this.deps.log.warn({ sockets: this.conns.size }, 'bus reconnected; telling clients to resync');
          const out = outgoing({ type: 'resync', reason: 'bus_reconnected' });
          for (const conn of this.conns) if (conn.role) conn.push(out);
          for (const room of this.rooms.values()) this.checkPresenceSoon(room);
        }),
      );
    }
    const heartbeat = setInterval(() => this.heartbeat(), this.options.heartbeatMs);
    heartbeat.unref();
    const presence = setInterval(() => void this.refreshPresence(), this.options.presenceRefreshMs);
    presence.unref();
    this.timers.push(heartbeat, presence);
  }

  /** Closes every socket with 1001 (going away) and takes this node's agents offline. */
  stop(): Promise<void> {
    this.stopping ??= (async () => {
      for (const t of this.timers) clearInterval(t);
      for (const conn of [...this.conns]) conn.kill(CLOSE.GOING_AWAY, 'server shutting down');
      const deadline = Date.now() + 2000;
      while (this.wss.clients.size > 0 && Date.now() < deadline) await sleep(20);
      for (const ws of this.wss.clients) ws.terminate();
      await this.presenceChain;
      await clearNodePresence(this.deps.db, this.nodeId).catch(() => {});
      for (const u of this.unsubscribers) u();
      for (const room of this.rooms.values()) room.unsubscribe();
      this.rooms.clear();
      await new Promise<void>((resolve) => this.wss.close(() => resolve()));
    })();
    return this.stopping;
  }

  // ------------------------------------------------------------------------------------------
  // Connections

  private onConnection(ws: WebSocket, req: UpgradeInfo): void {
    const o = this.options;
    const conn = new Conn(
      ws,
      {
        maxBufferedBytes: o.maxBufferedBytes,
        framesPerSecond: o.framesPerSecond,
        burst: o.burst,
        maxHeldFrames: 10_000,
      },
      (c) => this.forget(c),
    );
    this.conns.add(conn);
    const helloTimer = setTimeout(() => {
      if (!conn.role) conn.kill(CLOSE.AUTH_TIMEOUT, 'no hello in time');
    }, o.helloTimeoutMs);
    helloTimer.unref();
    conn.timers.push(helloTimer);

    ws.on('pong', () => {
      conn.alive = true;
      conn.lastFrameAt = Date.now();
    });
    ws.on('error', ignore);
    ws.on('close', () => {
      conn.closed = true;
      this.forget(conn);
    });
    ws.on('message', (data: RawData, isBinary: boolean) => {
      if (conn.closed) return;
      conn.lastFrameAt = Date.now();
      if (!conn.take()) {
        conn.kill(CLOSE.RATE_LIMITED, 'too many frames');
        return;
      }
      if (isBinary) {
        conn.kill(CLOSE.PROTOCOL_ERROR, 'binary frames are not accepted');
        return;
      }
      const parsed = parseClientFrame(rawText(data));
      if (!parsed.ok) {
        // Before hello nothing is trusted; afterwards a bad frame is refused and the socket stays.
        if (!conn.role) conn.kill(CLOSE.PROTOCOL_ERROR, parsed.error);
        else conn.send({ type: 'error', code: 'bad_frame', message: parsed.error });
        return;
      }
      const frame = parsed.frame;
      conn.chain = conn.chain
        .then(() => (conn.closed ? undefined : this.onFrame(conn, frame, req)))
        .catch((err) => this.frameFailed(conn, frame, err));
    });
  }

  private frameFailed(conn: Conn, frame: ClientFrame, err: unknown): void {
    if (err instanceof AuthFailure) {
      conn.kill(err.code, err.message);
      return;
    }
    if (err instanceof AppError) {
      const code =
        err.code === 'not_found' ? 'not_found' : err.code === 'validation' ? 'bad_frame' : 'forbidden';
      conn.send({ type: 'error', code, message: err.message, frame: frame.type });
      return;
    }
    this.deps.log.warn({ err, frame: frame.type }, 'real-time frame failed');
    if (frame.type === 'hello') conn.kill(CLOSE.INTERNAL_ERROR, 'internal error');
    else conn.send({ type: 'error', code: 'unavailable', message: 'Try again later', frame: frame.type });
  }

  private async onFrame(conn: Conn, frame: ClientFrame, req: UpgradeInfo): Promise<void> {
    if (frame.type === 'hello') {
      if (conn.role) throw new AuthFailure(CLOSE.PROTOCOL_ERROR, 'hello was already sent');
      return this.hello(conn, frame, req);
    }
    if (!conn.role) throw new AuthFailure(CLOSE.PROTOCOL_ERROR, 'send hello first');
    switch (frame.type) {
      case 'ping':
        conn.send(frame.id === undefined ? { type: 'pong' } : { type: 'pong', id: frame.id });
        return;
      case 'sync':
        return this.catchUp(conn, frame.since, frame.history ?? true);
      case 'typing':
        return this.typing(conn, frame.conversationId, frame.isTyping);
      case 'read':
        return this.read(conn, frame.conversationId, frame.seq);
      case 'presence':
        if (conn.role !== 'agent') throw new AppError('forbidden', 'Only agents have a presence');
        conn.status = frame.status;
        this.presenceChanged(conn);
        return;
    }
  }

  private async hello(conn: Conn, hello: HelloFrame, req: UpgradeInfo): Promise<void> {
    if (hello.v !== PROTOCOL_VERSION) {
      throw new AuthFailure(CLOSE.UNSUPPORTED_VERSION, `protocol version ${PROTOCOL_VERSION} only`);
    }
    const who = await authenticate(
      { db: this.deps.db, keys: this.deps.keys, secret: this.deps.secret },
      { token: hello.token, key: hello.key, headerCredential: req.credential, origin: req.origin },
      hello,
    );
    if (conn.closed) return;
    // The hello timer is all `timers` holds so far: drop it rather than keep it for the socket's life.
    for (const t of conn.timers) clearTimeout(t);
    conn.timers.length = 0;
    conn.role = who.role;
    conn.locations = who.locations;
    if (who.role === 'visitor') {
      conn.visitor = who.visitor;
      this.expireAt(conn, who.visitor.exp * 1000);
    } else {
      conn.principal = who.principal;
      conn.keyPrefix = who.keyPrefix;
      conn.userId = who.userId;
      conn.agentId = who.agentId;
      conn.status = hello.status ?? 'online';
    }
    // Subscribe first, so that nothing committed from now on is missed; then catch up.
    conn.beginSync();
    await Promise.all(conn.locations.map((id) => this.join(conn, id)));
    if (conn.closed) return;
    const o = this.options;
    conn.send({
      type: 'welcome',
      v: PROTOCOL_VERSION,
      role: who.role,
      sessionId: conn.id,
      locations: conn.locations,
      ...(who.role === 'visitor'
        ? { visitorId: who.visitor.visitorId, contactId: who.visitor.contactId }
        : { agentId: who.agentId }),
      heartbeatMs: o.heartbeatMs,
      limits: { maxFrameBytes: MAX_CLIENT_FRAME_BYTES, framesPerSecond: o.framesPerSecond, burst: o.burst },
    });
    if (who.role === 'agent') this.presenceChanged(conn);
    await this.runCatchUp(conn, hello.since ?? [], hello.history ?? true);
    if (who.role === 'visitor') {
      const locationId = conn.locations[0]!;
      const room = this.rooms.get(locationId);
      const online = room?.agentsOnline ?? (await locationAgentsOnline(this.deps.db, locationId));
      if (room) room.agentsOnline = online;
      conn.push(outgoing({ type: 'presence', locationId, agentsOnline: online }));
    }
  }

  /** Closes a visitor's socket when its token expires (timers cap at ~24 days: re-armed). */
  private expireAt(conn: Conn, at: number): void {
    const wait = at - Date.now();
    const timer = setTimeout(
      () => (wait > 2 ** 31 - 1 ? this.expireAt(conn, at) : conn.kill(CLOSE.TOKEN_EXPIRED, 'token expired')),
      Math.min(Math.max(wait, 0), 2 ** 31 - 1),
    );
    timer.unref();
    conn.timers.push(timer);
  }

  private forget(conn: Conn): void {
    if (!this.conns.delete(conn)) return;
    for (const t of conn.timers) clearTimeout(t);
    for (const id of conn.locations) this.leave(conn, id);
    if (conn.role === 'agent') this.presenceChanged(conn, true);
  }

  private heartbeat(): void {
    const now = Date.now();
    for (const conn of this.conns) {
      if (conn.closed) continue;
      if (!conn.alive) {
        // Missed a whole heartbeat: the peer is gone, a close frame would not arrive either.
        conn.closed = true;
        conn.ws.terminate();
        this.forget(conn);
        continue;
      }
      if (conn.role && now - conn.lastFrameAt > this.options.idleTimeoutMs) {
        conn.kill(CLOSE.IDLE_TIMEOUT, 'idle');
        continue;
      }
      conn.alive = false;
      try {
        conn.ws.ping();
      } catch {
        // closing already
      }
    }
  }

  // ------------------------------------------------------------------------------------------
  // Rooms and bus events

  private join(conn: Conn, locationId: string): Promise<void> {
    let room = this.rooms.get(locationId);
    if (!room) {
      const r: Room = {
        locationId,
        agents: new Set(),
        visitors: new Map(),
        visitorCount: 0,
        unsubscribe: () => {},
        ready: Promise.resolve(),
        probes: new Map(),
        agentsOnline: undefined,
        presenceCheck: undefined,
      };
      r.unsubscribe = this.deps.bus.subscribe(locationChannel(locationId), (m) => this.onEvent(r, m));
      r.ready = this.probe(r);
      this.rooms.set(locationId, r);
      room = r;
    }
    if (conn.role === 'agent') room.agents.add(conn);
    else {
      const contact = conn.visitor?.contactId ?? '';
      let set = room.visitors.get(contact);
      if (!set) {
        set = new Set();
        room.visitors.set(contact, set);
      }
      set.add(conn);
      room.visitorCount++;
    }
    return room.ready;
  }

  private leave(conn: Conn, locationId: string): void {
    const room = this.rooms.get(locationId);
    if (!room) return;
    if (conn.role === 'agent') room.agents.delete(conn);
    else {
      const contact = conn.visitor?.contactId ?? '';
      const set = room.visitors.get(contact);
      if (set?.delete(conn)) {
        room.visitorCount--;
        if (set.size === 0) room.visitors.delete(contact);
      }
    }
    if (room.agents.size === 0 && room.visitorCount === 0) {
      room.unsubscribe();
      clearTimeout(room.presenceCheck);
      this.rooms.delete(locationId);
    }
  }

  /**
   * A subscription (a Redis SUBSCRIBE) becomes live asynchronously: a probe published on the
   * channel and received back proves it is, so a catch-up that follows misses nothing.
   */
  private probe(room: Room): Promise<void> {
    const nonce = randomUUID();
    return new Promise<void>((resolve) => {
      const started = Date.now();
      let timer: NodeJS.Timeout | undefined;
      const done = () => {
        clearTimeout(timer);
        room.probes.delete(nonce);
        resolve();
      };
      room.probes.set(nonce, done);
      const send = () => {
        if (!room.probes.has(nonce)) return;
        if (Date.now() - started > 5000) {
          this.deps.log.warn({ locationId: room.locationId }, 'bus subscription not confirmed; going on');
          done();
          return;
        }
        this.deps.bus
          .publish(locationChannel(room.locationId), {
            id: null,
            topic: PROBE_TOPIC,
            locationId: room.locationId,
            payload: { nonce },
            at: new Date().toISOString(),
          })
          .catch(() => {});
        timer = setTimeout(send, 50);
        timer.unref();
      };
      send();
    });
  }

  private onEvent(room: Room, m: BusMessage): void {
    if (m.topic === PROBE_TOPIC) {
      room.probes.get(String(m.payload.nonce))?.();
      return;
    }
    // The relay delivers at least once: drop repeats by outbox id.
    if (m.id !== null) {
      if (this.recent.has(m.id)) return;
      this.recent.add(m.id);
      if (this.recent.size > RECENT_EVENTS) {
        const oldest = this.recent.values().next().value;
        if (oldest !== undefined) this.recent.delete(oldest);
      }
    }
    const p = m.payload;
    switch (m.topic) {
      case 'message.created':
      case 'message.updated':
        this.pending.push({ room, message: m, event: m.topic === 'message.created' ? 'created' : 'updated' });
        this.scheduleFetch();
        return;
      case 'message.deleted': {
        const out = outgoing({
          type: 'message.deleted',
          locationId: room.locationId,
          conversationId: String(p.conversationId),
          messageId: String(p.messageId),
          seq: Number(p.seq),
        });
        for (const a of room.agents) a.push(out);
        for (const set of room.visitors.values())
          for (const v of set) if (v.conversations.has(String(p.conversationId))) v.push(out);
        return;
      }
      case 'typing':
        void this.deliverTyping(room, p).catch((err) =>
          this.deps.log.warn({ err }, 'typing delivery failed'),
        );
        return;
      case 'conversation.created':
      case 'conversation.updated':
      case 'conversation.deleted':
        void this.deliverConversation(room, m).catch((err) =>
          this.deps.log.warn({ err }, 'conversation event delivery failed'),
        );
        return;
      case 'conversation.read': {
        const conversationId = String(p.conversationId);
        const out = outgoing({
          type: 'read',
          locationId: room.locationId,
          conversationId,
          seq: Number(p.seq),
          by: 'agent',
        });
        for (const a of room.agents) a.push(out);
        for (const v of room.visitors.get(String(p.contactId)) ?? []) v.push(out);
        return;
      }
      case 'presence': {
        const out = outgoing({
          type: 'presence',
          locationId: room.locationId,
          agentId: String(p.agentId),
          status: p.status as 'online' | 'away' | 'offline',
        });
        for (const a of room.agents) a.push(out);
        this.checkPresenceSoon(room);
        return;
      }
    }
  }

  private scheduleFetch(): void {
    if (this.fetchScheduled) return;
    this.fetchScheduled = true;
    // Batches stay in order: the next one starts when the previous one is delivered.
    this.fetching = this.fetching.then(async () => {
      await new Promise((r) => setImmediate(r));
      this.fetchScheduled = false;
      const batch = this.pending;
      this.pending = [];
      try {
        await this.deliverMessages(batch);
      } catch (err) {
        this.deps.log.warn({ err, events: batch.length }, 'message fetch failed; clients will catch up');
        const out = outgoing({ type: 'resync', reason: 'events_lost' });
        for (const { room } of batch) {
          for (const a of room.agents) a.push(out);
          for (const set of room.visitors.values()) for (const v of set) v.push(out);
        }
      }
    });
  }

  private async deliverMessages(batch: PendingFetch[]): Promise<void> {
    const keys = new Map<string, { locationId: string; messageId: string }>();
    for (const { room, message } of batch) {
      const messageId = String(message.payload.messageId);
      keys.set(messageId, { locationId: room.locationId, messageId });
    }
    const rows = await fetchMessages(this.deps.db, [...keys.values()]);
    for (const { room, message, event } of batch) {
      const m = rows.get(String(message.payload.messageId));
      if (!m) continue; // deleted since
      this.deliverMessage(room, m, event);
    }
  }

  private deliverMessage(room: Room, m: WireMessage, event: 'created' | 'updated'): void {
    const out = outgoing(
      { type: 'message', event, message: m },
      event === 'created' ? { conversationId: m.conversationId, seq: m.seq } : undefined,
    );
    for (const a of room.agents) a.push(out);
    if (!visibleToVisitor(m)) return;
    for (const v of room.visitors.get(m.contactId) ?? []) {
      v.conversations.add(m.conversationId);
      v.push(out);
    }
  }

  private async conversation(id: string): Promise<ConversationInfo | undefined> {
    const cached = this.conversationCache.get(id);
    if (cached) return cached;
    const info = await conversationInfo(this.deps.db, id);
    if (info) {
      if (this.conversationCache.size >= CONVERSATION_CACHE) this.conversationCache.clear();
      this.conversationCache.set(id, info);
    }
    return info;
  }

  private async deliverTyping(room: Room, p: Record<string, unknown>): Promise<void> {
    const conversationId = String(p.conversationId);
    const isTyping = p.isTyping === true;
    if (p.from === 'visitor') {
      const out = outgoing({
        type: 'typing',
        locationId: room.locationId,
        conversationId,
        isTyping,
        from: 'visitor',
      });
      for (const a of room.agents) a.push(out);
      return;
    }
    // An agent typing: to the visitor of that conversation (whoever sent it: API or socket).
    const info = await this.conversation(conversationId);
    if (!info || info.locationId !== room.locationId || info.channel !== 'live_chat') return;
    const visitors = room.visitors.get(info.contactId);
    if (!visitors) return;
    const out = outgoing({
      type: 'typing',
      locationId: room.locationId,
      conversationId,
      isTyping,
      from: 'agent',
      userId: typeof p.userId === 'string' ? p.userId : null,
    });
    const now = Date.now();
    for (const v of visitors) {
      if (this.throttled(v, `in:${conversationId}`, isTyping, now)) continue;
      v.conversations.add(conversationId);
      v.push(out);
    }
  }

  /** Typing on/off changes pass at once; the same state repeated passes once per throttle. */
  private throttled(conn: Conn, key: string, isTyping: boolean, now: number): boolean {
    conn.lastTyping ??= new Map();
    const last = conn.lastTyping.get(key);
    if (last && last.isTyping === isTyping && now - last.at < this.options.typingThrottleMs) return true;
    conn.lastTyping.set(key, { isTyping, at: now });
    return false;
  }

  private async deliverConversation(room: Room, m: BusMessage): Promise<void> {
    const p = m.payload;
    const event = m.topic.slice('conversation.'.length) as 'created' | 'updated' | 'deleted';
    const conversationId = String(p.conversationId);
    const contactId = String(p.contactId);
    const status = String(p.status);
    const out = outgoing({
      type: 'conversation',
      event,
      locationId: room.locationId,
      conversationId,
      contactId,
      status,
      assignedTo: typeof p.assignedTo === 'string' ? p.assignedTo : null,
      ...(p.statusChanged ? { statusChanged: true } : {}),
      ...(p.assignmentChanged ? { assignmentChanged: true } : {}),
    });
    for (const a of room.agents) a.push(out);
    const visitors = room.visitors.get(contactId);
    if (!visitors || (event === 'updated' && !p.statusChanged)) return;
    const info = await this.conversation(conversationId);
    if (info?.channel !== 'live_chat') return;
    const toVisitor = outgoing({
      type: 'conversation.status',
      conversationId,
      status: event === 'deleted' ? 'deleted' : status,
    });
    for (const v of visitors) {
      v.conversations.add(conversationId);
      v.push(toVisitor);
    }
  }

  // ------------------------------------------------------------------------------------------
  // Catch-up

  private async catchUp(conn: Conn, since: SyncPoint[], history: boolean): Promise<void> {
    conn.beginSync();
    await this.runCatchUp(conn, since, history);
  }

  /**
   * Runs with the socket already subscribed and holding live frames (beginSync). Replays
   * everything after each seq from the database, then releases the held frames: those the
   * replay already covered (same conversation, seq not above what it returned) are dropped.
   */
  private async runCatchUp(conn: Conn, since: SyncPoint[], history: boolean): Promise<void> {
    const floors = new Map<string, number>();
    try {
      const db = this.deps.db;
      const o = this.options;
      const wanted = new Map(since.map((s) => [s.conversationId, s.seq]));
      let plan: { conversationId: string; locationId: string; after: number | 'recent' | 'none' }[] = [];
      if (conn.role === 'visitor') {
        const v = conn.visitor!;
        if (v.contactId) {
          const convs = await visitorConversations(db, {
            locationId: v.locationId,
            contactId: v.contactId,
            named: [...wanted.keys()],
            limit: VISITOR_CONVERSATIONS,
          });
          plan = convs.map((c) => {
            conn.conversations.add(c.id);
            const after = wanted.get(c.id);
            return {
              conversationId: c.id,
              locationId: v.locationId,
              after: after !== undefined ? after : history ? 'recent' : 'none',
            };
          });
          // Conversations named that are not theirs: nothing, as if they did not exist.
          for (const c of convs) if (!history && !wanted.has(c.id)) floors.set(c.id, c.lastSeq);
        }
      } else {
        for (const [conversationId, after] of wanted) {
          const info = await this.conversation(conversationId);
          if (!info || !conn.locations.includes(info.locationId)) continue;
          plan.push({ conversationId, locationId: info.locationId, after });
        }
      }
      const visitorOnly = conn.role === 'visitor';
      for (const step of plan) {
        if (step.after === 'none') continue;
        let last = step.after === 'recent' ? 0 : step.after;
        if (step.after === 'recent') {
          const recent = await recentVisitorMessages(db, { ...step, limit: o.historyLimit });
          for (const m of recent) this.replay(conn, m);
          if (recent.length) last = recent[recent.length - 1]!.seq;
        } else {
          for (;;) {
            const page = await messagesAfter(db, { ...step, after: last, limit: o.pageSize, visitorOnly });
            for (const m of page) this.replay(conn, m);
            if (page.length) last = page[page.length - 1]!.seq;
            if (page.length < o.pageSize || conn.closed) break;
            await this.drained(conn);
          }
        }
        floors.set(step.conversationId, Math.max(last, floors.get(step.conversationId) ?? 0));
      }
    } finally {
      conn.endSync(floors);
    }
    if (!conn.closed) {
      conn.send({
        type: 'synced',
        since: [...floors].map(([conversationId, seq]) => ({ conversationId, seq })),
      });
    }
  }

  private replay(conn: Conn, m: WireMessage): void {
    conn.send({ type: 'message', event: 'created', message: m, replay: true });
  }

  /** Waits for a socket to send what it holds before the next catch-up page. */
  private async drained(conn: Conn): Promise<void> {
    const deadline = Date.now() + 10_000;
    while (conn.congested && !conn.closed) {
      if (Date.now() > deadline) {
        conn.kill(CLOSE.SLOW_CONSUMER, 'slow consumer');
        return;
      }
      await sleep(10);
    }
  }

  // ------------------------------------------------------------------------------------------
  // Typing, read receipts, presence

  /** Agents act (typing, read) with the scopes the REST routes for the same acts ask for. */
  private requireScope(conn: Conn, scopes: Scope[]): void {
    if (conn.role === 'agent' && !scopes.some((s) => hasScope(conn.principal!, s))) {
      throw new AppError('insufficient_scope', `The key lacks ${scopes.join(' or ')}`);
    }
  }

  private async typing(conn: Conn, conversationId: string, isTyping: boolean): Promise<void> {
    this.requireScope(conn, ['conversations/livechat.write']);
    const info = await this.conversationFor(conn, conversationId);
    if (this.throttled(conn, `out:${conversationId}`, isTyping, Date.now())) return;
    await publishTyping(
      this.deps.bus,
      conn.role === 'visitor'
        ? {
            locationId: info.locationId,
            conversationId,
            isTyping,
            from: 'visitor',
            visitorId: conn.visitor!.visitorId,
          }
        : { locationId: info.locationId, conversationId, isTyping, from: 'agent', userId: conn.userId },
    );
  }

  private async read(conn: Conn, conversationId: string, seq: number | undefined): Promise<void> {
    this.requireScope(conn, ['conversations.write', 'conversations/message.write']);
    const info = await this.conversationFor(conn, conversationId);
    if (conn.role === 'visitor') {
      await markReadByVisitor(this.deps.db, {
        locationId: info.locationId,
        contactId: info.contactId,
        conversationId,
        ...(seq === undefined ? {} : { seq }),
      });
    } else {
      await markReadByAgent(this.deps.db, {
        locationId: info.locationId,
        conversationId,
        userId: conn.userId,
      });
    }
  }

  /** A conversation this socket may act on; others are not found. */
  private async conversationFor(conn: Conn, conversationId: string): Promise<ConversationInfo> {
    const info = await this.conversation(conversationId);
    const allowed =
      info &&
      (conn.role === 'visitor'
        ? info.locationId === conn.visitor!.locationId &&
          info.contactId === conn.visitor!.contactId &&
          info.channel === 'live_chat'
        : conn.locations.includes(info.locationId));
    if (!allowed) throw new AppError('not_found', 'Conversation not found');
    if (conn.role === 'visitor') conn.conversations.add(conversationId);
    return info;
  }

  /** Records this node's view of an agent in each of its locations and tells everyone. */
  private presenceChanged(conn: Conn, gone = false): void {
    if (!conn.agentId) return;
    for (const locationId of conn.locations) {
      const key = `${locationId}\n${conn.agentId}`;
      let entry = this.presence.get(key);
      if (!entry) {
        if (gone) continue;
        entry = { locationId, agentId: conn.agentId, conns: new Set(), written: undefined };
        this.presence.set(key, entry);
      }
      if (gone) entry.conns.delete(conn);
      else entry.conns.add(conn);
      const e = entry;
      // Writes for one node run in order, so the last state wins.
      this.presenceChain = this.presenceChain
        .then(async () => {
          if (this.stopping && !gone) return;
          const status =
            e.conns.size === 0 ? null : [...e.conns].some((c) => c.status === 'online') ? 'online' : 'away';
          // Another socket of an agent already online here changes nothing: no write, and no
          // presence frame to every agent of the location (n sockets would cost n² frames).
          if (status === e.written) return;
          if (status === null) this.presence.delete(key);
          const overall = await setAgentPresence(
            this.deps.db,
            { locationId: e.locationId, agentId: e.agentId, nodeId: this.nodeId, status },
            this.options.presenceTtlMs,
          );
          e.written = status;
          await this.deps.bus.publish(locationChannel(e.locationId), {
            id: null,
            topic: 'presence',
            locationId: e.locationId,
            payload: { agentId: e.agentId, status: overall },
            at: new Date().toISOString(),
          });
        })
        .catch((err) => this.deps.log.warn({ err }, 'presence update failed'));
    }
  }

  /** Tells a room's visitors whether agents are online, when that changed; debounced. */
  private checkPresenceSoon(room: Room): void {
    if (room.visitorCount === 0 || room.presenceCheck) return;
    room.presenceCheck = setTimeout(() => {
      room.presenceCheck = undefined;
      locationAgentsOnline(this.deps.db, room.locationId)
        .then((online) => this.setAgentsOnline(room, online))
        .catch(() => {});
    }, 100);
    room.presenceCheck.unref();
  }

  private setAgentsOnline(room: Room, online: boolean): void {
    if (room.agentsOnline === online) return;
    room.agentsOnline = online;
    const out = outgoing({ type: 'presence', locationId: room.locationId, agentsOnline: online });
    for (const set of room.visitors.values()) for (const v of set) v.push(out);
  }

  /** Heartbeat: this node's agents stay alive; expiry elsewhere (a dead node) reaches visitors. */
  private async refreshPresence(): Promise<void> {
    try {
      await renewNodePresence(this.deps.db, this.nodeId, this.options.presenceTtlMs);
      const watched = [...this.rooms.values()].filter((r) => r.visitorCount > 0);
      const online = await locationsWithAgentsOnline(
        this.deps.db,
        watched.map((r) => r.locationId),
      );
      for (const room of watched) this.setAgentsOnline(room, online.has(room.locationId));
    } catch (err) {
      this.deps.log.warn({ err }, 'presence heartbeat failed');
    }
  }
}

function rawText(data: RawData): string {
  if (Array.isArray(data)) return Buffer.concat(data).toString('utf8');
  if (data instanceof ArrayBuffer) return Buffer.from(data).toString('utf8');
  return data.toString('utf8');
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

const ignore = () => {};
