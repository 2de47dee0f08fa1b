// Shared by the job tests: rows made directly with SQL, local SMTP and HTTP servers, polling.
import assert from 'node:assert/strict';
import { randomUUID } from 'node:crypto';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { setTimeout as sleep } from 'node:timers/promises';
import { type ParsedMail, simpleParser } from 'mailparser';
import { SMTPServer, type SMTPServerAddress } from 'smtp-server';
import { enqueueJob } from '../../src/jobs/queue.js';
import type { Queryable } from '../../src/storage/db.js';

/** Polls `check` until it returns something truthy; fails after `ms`. */
export async function waitFor<T>(
  what: string,
  check: () => T | Promise<T>,
  ms = 8000,
): Promise<NonNullable<T>> {
  const deadline = Date.now() + ms;
  for (;;) {
    const v = await check();
    if (v) return v as NonNullable<T>;
    if (Date.now() > deadline) assert.fail(`timed out waiting for ${what}`);
    await sleep(20);
  }
}

import type { Thread } from '../support/threads.js';

export { seedThread, type Thread } from '../support/threads.js';

export interface NewMessage {
  type: string;
  status?: string;
  body?: string;
  html?: string;
  subject?: string;
  attachments?: string[];
  providerId?: string;
  userId?: string;
  email?: Record<string, unknown>;
  meta?: Record<string, unknown>;
}

/** An outbound message at the end of the conversation. */
export async function insertMessage(q: Queryable, thread: Thread, m: NewMessage): Promise<string> {
  const id = randomUUID();
  const { rows } = await q.query<{ last_seq: string }>(
    'UPDATE conversations SET last_seq = last_seq + 1 WHERE location_id = $1 AND id = $2 RETURNING last_seq',
    [thread.locationId, thread.conversationId],
  );
  await q.query(
    `INSERT INTO messages (location_id, id, conversation_id, contact_id, seq, type, direction, status, body, html,
       subject, attachments, provider_id, user_id, email, meta)
     VALUES ($1, $2, $3, $4, $5, $6, 'outbound', $7, $8, $9, $10, $11, $12, $13, $14, $15)`,
    [
      thread.locationId,
      id,
      thread.conversationId,
      thread.contactId,
      rows[0]!.last_seq,
      m.type,
      m.status ?? 'pending',
      m.body ?? null,
      m.html ?? null,
      m.subject ?? null,
      m.attachments ?? [],
      m.providerId ?? null,
      m.userId ?? null,
      m.email ? JSON.stringify(m.email) : null,
      JSON.stringify(m.meta ?? {}),
    ],
  );
  return id;
}

/** Enqueues the message's `message.dispatch` job, as the send path does. */
export function dispatchJob(
  q: Queryable,
  thread: Thread,
  messageId: string,
  options: { runAt?: Date; maxAttempts?: number } = {},
): Promise<number> {
  return enqueueJob(q, {
    locationId: thread.locationId,
    kind: 'message.dispatch',
    payload: { messageId },
    ref: messageId,
    ...options,
  });
}

export interface JobState {
  status: string;
  attempts: number;
  last_error: string | null;
  run_at: Date;
  updated_at: Date;
}

export async function jobState(q: Queryable, id: number): Promise<JobState> {
  const { rows } = await q.query<JobState>(
    'SELECT status, attempts, last_error, run_at, updated_at FROM jobs WHERE id = $1',
    [id],
  );
  return rows[0]!;
}

/** Waits until the job is settled (done, failed or canceled) and returns it. */
export function settled(q: Queryable, id: number, ms = 8000): Promise<JobState> {
  return waitFor(
    `job ${id} to settle`,
    async () => {
      const j = await jobState(q, id);
      return ['done', 'failed', 'canceled'].includes(j.status) ? j : undefined;
    },
    ms,
  );
}

export async function messageRow(q: Queryable, locationId: string, id: string) {
  const { rows } = await q.query('SELECT * FROM messages WHERE location_id = $1 AND id = $2', [
    locationId,
    id,
  ]);
  return rows[0]!;
}

export async function outboxFor(q: Queryable, messageId: string) {
  const { rows } = await q.query<{ topic: string; location_id: string; payload: Record<string, unknown> }>(
    "SELECT topic, location_id, payload FROM outbox WHERE payload->>'messageId' = $1 ORDER BY id",
    [messageId],
  );
  return rows;
}

export interface ReceivedMail {
  envelope: { from: string; to: string[] };
  mail: ParsedMail;
}

/**
 * A real SMTP server on 127.0.0.1 (no TLS, no auth required). `rcpt` may refuse a recipient with
 * an SMTP error (`{responseCode, message}`), to provoke permanent or temporary failures.
 */
export async function startSmtp(
  rcpt: (address: string) => { responseCode: number; message: string } | undefined = () => undefined,
) {
  const received: ReceivedMail[] = [];
  const logins: { username: string; password: string }[] = [];
  const server = new SMTPServer({
    secure: false,
    disabledCommands: ['STARTTLS'],
    authOptional: true,
    allowInsecureAuth: true,
    logger: false,
    onAuth(auth, _session, cb) {
      logins.push({ username: auth.username ?? '', password: auth.password ?? '' });
      cb(null, { user: auth.username });
    },
    onRcptTo(address: SMTPServerAddress, _session, cb) {
      const refusal = rcpt(address.address);
      if (!refusal) return cb();
      const err = new Error(refusal.message) as Error & { responseCode: number };
      err.responseCode = refusal.responseCode;
      cb(err);
    },
    onData(stream, session, cb) {
      simpleParser(stream)
        .then((mail) => {
          received.push({
            envelope: {
              from: session.envelope.mailFrom ? session.envelope.mailFrom.address : '',
              to: session.envelope.rcptTo.map((r) => r.address),
            },
            mail,
          });
          cb();
        })
        .catch(cb);
    },
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const port = (server.server.address() as AddressInfo).port;
  return {
    port,
    received,
    logins,
    close: () => new Promise<void>((resolve) => server.close(() => resolve())),
  };
}

export interface Delivery {
  method: string;
  url: string;
  headers: http.IncomingHttpHeaders;
  raw: string;
  body: any;
  at: number;
}

/** A real HTTP server on 127.0.0.1 standing in for a provider; `answer` picks each status. */
export async function startProviderServer(answer: (d: Delivery, n: number) => number = () => 200) {
  const deliveries: Delivery[] = [];
  const server = http.createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => {
      const raw = Buffer.concat(chunks).toString('utf8');
      let body: unknown;
      try {
        body = JSON.parse(raw);
      } catch {
        body = undefined;
      }
      const d: Delivery = {
        method: req.method ?? '',
        url: req.url ?? '',
        headers: req.headers,
        raw,
        body,
        at: Date.now(),
      };
      deliveries.push(d);
      const status = answer(d, deliveries.length);
      res.writeHead(status, { 'content-type': 'application/json' });
      res.end(JSON.stringify(status < 300 ? { ok: true } : { error: 'nope' }));
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const port = (server.address() as AddressInfo).port;
  return {
    url: `http://127.0.0.1:${port}/deliver`,
    port,
    deliveries,
    close: () =>
      new Promise<void>((resolve) => {
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  };
}
