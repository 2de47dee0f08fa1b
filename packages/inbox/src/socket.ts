// The agent's socket: authenticated by the session cookie (same origin), reconnecting with
// backoff. After a reconnect the app re-reads what it shows, so no catch-up state is kept here.
import {
  CLOSE,
  type ClientFrame,
  FATAL_CLOSE_CODES,
  PROTOCOL_VERSION,
  type PresenceStatus,
  type ServerFrame,
  SUBPROTOCOL,
} from '@charla/protocol';

export class Live {
  private ws: WebSocket | undefined;
  private attempt = 0;
  private stopped = false;
  private everUp = false;

  constructor(
    private readonly locations: string[],
    public status: PresenceStatus,
    private readonly handlers: {
      frame: (f: ServerFrame) => void;
      up: (reconnected: boolean) => void;
      down: () => void;
      signedOut: () => void;
    },
  ) {}

  start(): void {
    const ws = new WebSocket(`${location.protocol === 'https:' ? 'wss' : 'ws'}://${location.host}/ws`, [
      SUBPROTOCOL,
    ]);
    this.ws = ws;
    ws.onopen = () =>
      ws.send(
        JSON.stringify({
          type: 'hello',
          v: PROTOCOL_VERSION,
          locations: this.locations,
          status: this.status,
        }),
      );
    ws.onmessage = (e) => {
      let f: ServerFrame;
      try {
        f = JSON.parse(String(e.data));
      } catch {
        return;
      }
      if (f.type === 'welcome') {
        this.attempt = 0;
        this.handlers.up(this.everUp);
        this.everUp = true;
      } else if (f.type === 'resync') this.handlers.up(true);
      this.handlers.frame(f);
    };
    ws.onclose = (e) => {
      if (this.ws !== ws) return;
      this.ws = undefined;
      if (this.stopped) return;
      this.handlers.down();
      if (e.code === CLOSE.UNAUTHENTICATED) return this.handlers.signedOut();
      const fatal = FATAL_CLOSE_CODES.includes(e.code);
      const wait = Math.min(30_000, 500 * 2 ** this.attempt++) * (fatal ? 4 : 1) * (0.5 + Math.random() / 2);
      setTimeout(() => !this.stopped && this.start(), wait);
    };
  }

  send(frame: ClientFrame): void {
    if (this.ws?.readyState === WebSocket.OPEN) this.ws.send(JSON.stringify(frame));
  }

  setStatus(status: PresenceStatus): void {
    this.status = status;
    this.send({ type: 'presence', status });
  }

  stop(): void {
    this.stopped = true;
    this.ws?.close(1000);
  }
}
