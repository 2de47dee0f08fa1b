import assert from 'node:assert/strict';
import { PassThrough } from 'node:stream';
import { describe, test } from 'node:test';
import Fastify, { type FastifyBaseLogger } from 'fastify';
import { createLogger, redactUrl } from '../../src/http/log.js';

describe('request logs', () => {
  test('credentials in URLs are masked', () => {
    assert.equal(
      redactUrl('/web-chat/tok/history?sessionToken=vt1.abc.def&limit=5'),
      '/web-chat/tok/history?sessionToken=***&limit=5',
    );
    assert.equal(redactUrl('/media/uploads/1?expires=9&sig=abc'), '/media/uploads/1?expires=9&sig=***');
    assert.equal(redactUrl('/media/0190-id/s3cr3t/photo.png'), '/media/0190-id/***/photo.png');
    assert.equal(redactUrl('/conversations/search?query=token'), '/conversations/search?query=token');
  });

  test("a served request's log line never holds the visitor token", async () => {
    const out = new PassThrough();
    const lines: string[] = [];
    out.on('data', (chunk: Buffer) => lines.push(...chunk.toString('utf8').trim().split('\n')));
    const app = Fastify({ loggerInstance: createLogger('info', out) as FastifyBaseLogger });
    app.get('/web-chat/:token/history', async () => ({ data: [] }));
    const res = await app.inject({ url: '/web-chat/abc/history?sessionToken=vt1.SECRET.SIG' });
    assert.equal(res.statusCode, 200);
    await app.close();
    const incoming = lines.map((l) => JSON.parse(l)).find((l) => l.msg === 'incoming request');
    assert.ok(incoming, 'the request was logged');
    assert.equal(incoming.req.url, '/web-chat/abc/history?sessionToken=***');
    assert.ok(!lines.join('\n').includes('SECRET'));
  });
});
