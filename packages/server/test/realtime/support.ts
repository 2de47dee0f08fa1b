// A small WebSocket test client for the real-time hub, and the fixtures its suites share.
import assert from 'node:assert/strict';
import { randomUUID } from 'node:crypto';
import { setTimeout as sleep } from 'node:timers/promises';
import { PROTOCOL_VERSION, SUBPROTOCOL } from '@charla/protocol';
import { WebSocket } from 'ws';
import { signVisitorToken } from '../../src/core/visitors/token.js';
import { client, lc } from '../support/http.js';

export const TEST_SECRET = 'test-secret-test-secret-test-secret-0123';

export class WsClient {
  readonly frames: any[] = [];
  readonly closed: Promise<{ code: number; reason: string }>;
  private cursor = 0;

  private constructor(readonly ws: WebSocket) {
    ws.on('message', (data) => this.frames.push(JSON.parse(String(data))));
    this.closed = new Promise((resolve) =>
      ws.on('close', (code, reason) => resolve({ code, reason: String(reason) })),
    );
    ws.on('error', () => {});
  }

  static async open(
    baseUrl: string,
    opts: { headers?: Record<string, string>; protocols?: string[] } = {},
  ): Promise<WsClient> {
    const ws = new WebSocket(`${baseUrl.replace(/^http/, 'ws')}/ws`, opts.protocols ?? [SUBPROTOCOL], {
      headers: opts.headers ?? {},
    });
    const c = new WsClient(ws);
    await new Promise<void>((resolve, reject) => {
      ws.once('open', () => resolve());
      ws.once('error', reject);
    });
    return c;
  }

  send(frame: unknown): void {
    this.ws.send(typeof frame === 'string' ? frame : JSON.stringify(frame));
  }

  hello(fields: Record<string, unknown>): void {
    this.send({ type: 'hello', v: PROTOCOL_VERSION, ...fields });
  }

  /** The next frame (after the last one taken) that matches; frames skipped stay readable via `frames`. */
  async next(match: (f: any) => boolean, what = 'a frame', ms = 8000): Promise<any> {
    const deadline = Date.now() + ms;
    for (;;) {
      for (let i = this.cursor; i < this.frames.length; i++) {
        if (match(this.frames[i])) {
          this.cursor = i + 1;
          return this.frames[i];
        }
      }
      if (Date.now() > deadline) {
        assert.fail(`timed out waiting for ${what}; got ${JSON.stringify(this.frames.slice(-8))}`);
      }
      await sleep(10);
    }
  }

  /** Connected and caught up: the welcome and the end of the catch-up. */
  async ready(): Promise<{ welcome: any; synced: any }> {
    const welcome = await this.next((f) => f.type === 'welcome', 'welcome');
    const synced = await this.next((f) => f.type === 'synced', 'synced');
    return { welcome, synced };
  }

  messages(conversationId?: string): any[] {
    return this.frames.filter(
      (f) => f.type === 'message' && (!conversationId || f.message.conversationId === conversationId),
    );
  }

  async expectClose(code: number, ms = 8000): Promise<string> {
    const result = await Promise.race([this.closed, sleep(ms).then(() => undefined)]);
    assert.ok(result, `the socket was not closed (wanted ${code})`);
    assert.equal(result.code, code, `close code (reason: ${result.reason})`);
    return result.reason;
  }

  close(): void {
    this.ws.close();
  }
}

/** Waits a moment and checks that nothing matching arrived. */
export async function expectNothing(c: WsClient, match: (f: any) => boolean, ms = 400): Promise<void> {
  await sleep(ms);
  const got = c.frames.filter(match);
  assert.deepEqual(got, [], 'no such frame expected');
}

export function visitorToken(
  claims: { locationId: string; channelId: string; contactId: string | null; visitorId?: string },
  opts: { exp?: number; secret?: string } = {},
): string {
  return signVisitorToken(opts.secret ?? TEST_SECRET, {
    visitorId: claims.visitorId ?? randomUUID(),
    locationId: claims.locationId,
    channelId: claims.channelId,
    contactId: claims.contactId,
    identityVerified: false,
    ...(opts.exp === undefined ? {} : { exp: opts.exp }),
  }).token;
}

export type Api = ReturnType<typeof client>;
export const api = (url: string, key: string): Api => client(url, lc(key));

/** A live-chat widget that accepts pages from `allowed` only. */
export async function widget(req: Api, locationId: string, allowed = ['shop.example']): Promise<string> {
  const res = await req('POST', '/chat-widget/', {
    version: 1,
    chatType: 'liveChat',
    name: `Site ${randomUUID().slice(0, 6)}`,
    locationId,
    settings: { allowedDomains: allowed },
  });
  assert.equal(res.status, 201, JSON.stringify(res.body));
  return res.body._id as string;
}

/** An agent's Live_Chat message to a contact. */
export async function agentSays(req: Api, contactId: string, message: string): Promise<any> {
  const res = await req('POST', '/conversations/messages', { type: 'Live_Chat', contactId, message });
  assert.ok(res.status === 200 || res.status === 201, JSON.stringify(res.body));
  return res.body;
}

/** A visitor's message, recorded as the LeadConnector inbound endpoint does. */
export async function visitorSays(req: Api, conversationId: string, message: string): Promise<any> {
  const res = await req('POST', '/conversations/messages/inbound', {
    type: 'Live_Chat',
    conversationId,
    message,
  });
  assert.ok(res.status === 200 || res.status === 201, JSON.stringify(res.body));
  return res.body;
}

export const ORIGIN = { origin: 'https://shop.example' };
