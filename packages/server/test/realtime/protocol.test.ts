// The shared protocol's validation of client frames, and a socket's send policy (dedupe, hold
// during catch-up, slow consumers), without a network.
import assert from 'node:assert/strict';
import { randomUUID } from 'node:crypto';
import { describe, test } from 'node:test';
import { CLOSE, parseClientFrame } from '@charla/protocol';
import { WebSocket } from 'ws';
import { Conn, outgoing } from '../../src/realtime/connection.js';

const conv = randomUUID();

describe('client frames', () => {
  test('well-formed frames parse', () => {
    const ok = (text: string) => {
      const r = parseClientFrame(text);
      assert.ok(r.ok, text);
      return r.frame;
    };
    assert.deepEqual(
      ok(
        JSON.stringify({ type: 'hello', v: 1, token: 'vt1.a.b', since: [{ conversationId: conv, seq: 3 }] }),
      ),
      {
        type: 'hello',
        v: 1,
        token: 'vt1.a.b',
        since: [{ conversationId: conv, seq: 3 }],
      },
    );
    assert.deepEqual(ok(JSON.stringify({ type: 'typing', conversationId: conv, isTyping: false })), {
      type: 'typing',
      conversationId: conv,
      isTyping: false,
    });
    assert.deepEqual(ok(JSON.stringify({ type: 'read', conversationId: conv })), {
      type: 'read',
      conversationId: conv,
    });
    assert.deepEqual(ok('{"type":"ping"}'), { type: 'ping' });
  });

  test('anything else is refused with a reason', () => {
    const bad = [
      'nope',
      '[]',
      '{"type":"hello"}',
      '{"type":"hello","v":1,"token":"a","key":"b"}',
      '{"type":"hello","v":1,"locations":["not-a-uuid"]}',
      `{"type":"typing","conversationId":"${conv}","isTyping":"yes"}`,
      `{"type":"read","conversationId":"${conv}","seq":-1}`,
      `{"type":"read","conversationId":"${conv}","extra":1}`,
      '{"type":"presence","status":"busy"}',
      `{"type":"sync","since":[{"conversationId":"${conv}","seq":1.5}]}`,
      '{"type":"shout"}',
    ];
    for (const text of bad) {
      const r = parseClientFrame(text);
      assert.equal(r.ok, false, text);
      assert.ok(!r.ok && r.error.length > 0);
    }
  });
});

/** A stand-in socket that records what is sent and how it is closed. */
function fakeSocket(buffered = 0) {
  const sent: string[] = [];
  const s = {
    readyState: WebSocket.OPEN,
    bufferedAmount: buffered,
    closedWith: undefined as number | undefined,
    send: (data: string) => sent.push(data),
    close: (code: number) => {
      s.closedWith = code;
    },
    terminate: () => {},
  };
  return { s, sent };
}

const limits = { maxBufferedBytes: 1000, framesPerSecond: 10, burst: 3, maxHeldFrames: 5 };
const created = (seq: number) =>
  outgoing({ type: 'resync', reason: String(seq) }, { conversationId: conv, seq });

describe('a socket', () => {
  test('a message arrives once per (conversation, seq), and held frames follow the catch-up', () => {
    const { s, sent } = fakeSocket();
    const conn = new Conn(s as unknown as WebSocket, limits, () => {});
    conn.role = 'visitor';
    conn.beginSync();
    conn.push(created(2));
    conn.push(created(4));
    assert.equal(sent.length, 0);
    conn.endSync(new Map([[conv, 3]]));
    assert.deepEqual(
      sent.map((x) => JSON.parse(x).reason),
      ['4'],
    );
    conn.push(created(4));
    conn.push(created(5));
    conn.push(created(3));
    assert.deepEqual(
      sent.map((x) => JSON.parse(x).reason),
      ['4', '5'],
    );
  });

  test('a slow consumer is closed, not buffered for', () => {
    const { s, sent } = fakeSocket(5000);
    let gone = false;
    const conn = new Conn(s as unknown as WebSocket, limits, () => {
      gone = true;
    });
    conn.push(outgoing({ type: 'pong' }));
    assert.equal(sent.length, 0);
    assert.equal(s.closedWith, CLOSE.SLOW_CONSUMER);
    assert.ok(gone);
  });

  test('too many frames held during a catch-up close the socket', () => {
    const { s } = fakeSocket();
    const conn = new Conn(s as unknown as WebSocket, limits, () => {});
    conn.beginSync();
    for (let i = 0; i < 10; i++) conn.push(outgoing({ type: 'pong' }));
    assert.equal(s.closedWith, CLOSE.SLOW_CONSUMER);
  });

  test('the frame rate is a token bucket', () => {
    const { s } = fakeSocket();
    const conn = new Conn(s as unknown as WebSocket, limits, () => {});
    assert.deepEqual([conn.take(), conn.take(), conn.take(), conn.take()], [true, true, true, false]);
  });
});
