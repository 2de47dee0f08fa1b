import { randomUUID } from 'node:crypto';
import { CLOSE, type PresenceStatus, type ServerFrame } from '@charla/protocol';
import { WebSocket } from 'ws';
import type { Principal } from '../core/keys/principal.js';
import type { VisitorClaims } from '../core/visitors/token.js';

/** A frame serialised once for every recipient, with what dedupe needs to know about it. */
export interface Outgoing {
  json: string;
  /** A message.created: dropped when this socket already has (conversationId, seq). */
  created?: { conversationId: string; seq: number };
}

export const outgoing = (frame: ServerFrame, created?: Outgoing['created']): Outgoing =>
  created ? { json: JSON.stringify(frame), created } : { json: JSON.stringify(frame) };

export interface ConnLimits {
  maxBufferedBytes: number;
  framesPerSecond: number;
  burst: number;
  /** Frames held while a catch-up runs; more and the client is too far behind. */
  maxHeldFrames: number;
}

/** What a socket has of one conversation: every seq up to `floor`, and these above it. */
interface Seen {
  floor: number;
  above: Set<number>;
}

/** One WebSocket and what the hub knows about it. */
export class Conn {
  readonly id = randomUUID();
  role: 'visitor' | 'agent' | undefined;
  visitor: VisitorClaims | undefined;
  principal: Principal | undefined;
  keyPrefix: string | undefined;
  agentId: string | undefined;
  userId: string | null = null;
  status: PresenceStatus = 'online';
  locations: string[] = [];
  /** Visitors: conversations known to be theirs. */
  readonly conversations = new Set<string>();
  alive = true;
  lastFrameAt = Date.now();
  closed = false;
  /** Client frames run one after another, in order. */
  chain: Promise<void> = Promise.resolve();
  readonly timers: NodeJS.Timeout[] = [];
  // Made on first use (as is `seen`): most sockets never type nor catch up, and an empty Map is
  // a few hundred bytes on each of tens of thousands of idle sockets.
  lastTyping: Map<string, { isTyping: boolean; at: number }> | undefined;
  private tokens: number;
  private refilledAt = Date.now();
  private syncing = 0;
  private held: Outgoing[] = [];
  private seen: Map<string, Seen> | undefined;

  constructor(
    readonly ws: WebSocket,
    private readonly limits: ConnLimits,
    private readonly onClosed: (conn: Conn) => void,
  ) {
    this.tokens = limits.burst;
  }

  /** Token bucket for client frames; false when the client is over its rate. */
  take(): boolean {
    const now = Date.now();
    this.tokens = Math.min(
      this.limits.burst,
      this.tokens + ((now - this.refilledAt) / 1000) * this.limits.framesPerSecond,
    );
    this.refilledAt = now;
    if (this.tokens < 1) return false;
    this.tokens -= 1;
    return true;
  }

  /** Sends now, or holds the frame while a catch-up is running. */
  push(out: Outgoing): void {
    if (this.closed) return;
    if (this.syncing > 0) {
      this.held.push(out);
      if (this.held.length > this.limits.maxHeldFrames) this.kill(CLOSE.SLOW_CONSUMER, 'too far behind');
      return;
    }
    this.deliver(out);
  }

  /** Sends at once (catch-up pages, replies), bypassing the hold. */
  send(frame: ServerFrame): void {
    this.write(JSON.stringify(frame));
  }

  beginSync(): void {
    this.syncing++;
  }

  /** After a catch-up: where the socket now stands, then the held live frames, deduped. */
  endSync(floors: Map<string, number>): void {
    for (const [conversationId, seq] of floors) this.markUpTo(conversationId, seq);
    this.syncing--;
    if (this.syncing > 0) return;
    const held = this.held;
    this.held = [];
    for (const out of held) this.deliver(out);
  }

  /** Records a catch-up's replayed messages and the point everything up to is known. */
  markUpTo(conversationId: string, seq: number): void {
    this.seen ??= new Map();
    const s = this.seen.get(conversationId);
    if (!s) {
      this.seen.set(conversationId, { floor: seq, above: new Set() });
      return;
    }
    if (seq > s.floor) s.floor = seq;
    this.compact(s);
  }

  private compact(s: Seen): void {
    for (const n of s.above) if (n <= s.floor) s.above.delete(n);
    while (s.above.delete(s.floor + 1)) s.floor++;
  }

  private deliver(out: Outgoing): void {
    const c = out.created;
    if (c) {
      let s = this.seen?.get(c.conversationId);
      // Agents track only conversations they caught up on; visitors track all of theirs.
      if (!s && this.role === 'visitor') {
        s = { floor: 0, above: new Set() };
        this.seen ??= new Map();
        this.seen.set(c.conversationId, s);
      }
      if (s) {
        if (c.seq <= s.floor || s.above.has(c.seq)) return;
        s.above.add(c.seq);
        this.compact(s);
      }
    }
    this.write(out.json);
  }

  /** Whether a send is wise now: false once the socket holds more than it may. */
  get congested(): boolean {
    return this.ws.bufferedAmount > this.limits.maxBufferedBytes / 2;
  }

  private write(json: string): void {
    if (this.closed || this.ws.readyState !== WebSocket.OPEN) return;
    // A client that does not read is dropped, not buffered for without bound.
    if (this.ws.bufferedAmount > this.limits.maxBufferedBytes) {
      this.kill(CLOSE.SLOW_CONSUMER, 'slow consumer');
      return;
    }
    this.ws.send(json);
  }

  /** Closes with a code, and cuts the connection if the close handshake does not finish soon. */
  kill(code: number, reason: string): void {
    if (this.closed) return;
    this.closed = true;
    this.held = [];
    try {
      this.ws.close(code, reason);
    } catch {
      this.ws.terminate();
    }
    const cut = setTimeout(() => this.ws.terminate(), 2000);
    cut.unref();
    this.onClosed(this);
  }
}
