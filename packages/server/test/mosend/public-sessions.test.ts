import assert from 'node:assert/strict';
import { randomBytes, randomUUID } from 'node:crypto';
import { after, before, describe, test } from 'node:test';
import { setPublicLimits } from '../../src/api/mosend/public/limits.js';
import { hostHashValid } from '../../src/core/visitors/identity.js';
import { verifyVisitorToken } from '../../src/core/visitors/token.js';
import { startSmtp, waitFor } from '../jobs/fixtures.js';
import { startTestCharla, type TestCharla } from '../support/charla.js';
import { client } from '../support/http.js';
import { api, channel, expectError, ORIGIN, RELAXED, sign, type TestChannel } from './public-fixtures.js';

let t: TestCharla;
let smtp: Awaited<ReturnType<typeof startSmtp>>;
const SECRET = 'test-secret-test-secret-test-secret-0123';

before(async () => {
  t = await startTestCharla();
  setPublicLimits(t.charla.ctx, RELAXED);
  smtp = await startSmtp();
  for (const loc of [t.a.locationId, t.b.locationId]) {
    await t.charla.ctx.db.query<any>(
      "INSERT INTO location_smtp (location_id, host, port, from_address) VALUES ($1, '127.0.0.1', $2, 'Shop <shop@x.test>')",
      [loc, smtp.port],
    );
  }
});
after(async () => {
  await t.close();
  await smtp.close();
});

const post = (ch: TestChannel, body: unknown, path = 'sessions') =>
  api(t)('POST', `/web-chat/${ch.token}/${path}`, body);

async function visitorRow(ch: TestChannel, key: string) {
  const { rows } = await t.charla.ctx.db.query<any>(
    'SELECT * FROM visitors WHERE location_id = $1 AND channel_id = $2 AND visitor_key = $3',
    [ch.locationId, ch.id, key],
  );
  return rows[0];
}

async function contactRow(locationId: string, id: string) {
  const { rows } = await t.charla.ctx.db.query<any>(
    'SELECT * FROM contacts WHERE location_id = $1 AND id = $2',
    [locationId, id],
  );
  return rows[0];
}

/** Rotates the channel's identity secret through the Mosend channel API; returns the new secret. */
async function rotate(ch: TestChannel): Promise<string> {
  const res = await client(t.url, { 'x-api-key': t.a.key })(
    'POST',
    `/organizations/${ch.locationId}/web-chat/channels/${ch.id}/identity-secret`,
  );
  assert.equal(res.status, 201, JSON.stringify(res.body));
  return res.body.data.secret;
}

async function mailFor(email: string, after = 0): Promise<string> {
  const mail = await waitFor(`a code mailed to ${email}`, () =>
    smtp.received.slice(after).find((m) => m.envelope.to.includes(email)),
  );
  const code = /\b(\d{6})\b/.exec(mail.mail.text ?? '')?.[1];
  assert.ok(code, 'the mail carries a 6-digit code');
  return code;
}

describe('anonymous and identified sessions', () => {
  test('anonymous: a visitor row, a contact and a token carrying them; the same visitorId reuses them', async () => {
    const ch = await channel(t, t.a.locationId);
    const visitorId = randomUUID();
    const body = {
      visitorId,
      mode: 'anonymous',
      url: 'https://shop.example/pricing',
      referer: 'https://search.example/?q=shop',
      title: 'Pricing',
      lang: 'es-ES',
      utm: { source: 'news', campaign: 'spring' },
      attributes: { plan: 'pro' },
    };
    const res = await post(ch, body);
    assert.equal(res.status, 201, JSON.stringify(res.body));
    assert.ok(!Number.isNaN(Date.parse(res.body.timestamp)));
    const s = res.body.data;
    assert.equal(s.visitorId, visitorId);
    assert.equal(s.identityVerified, false);
    assert.ok(Date.parse(s.expiresAt) > Date.now() + 86_400_000);
    const claims = verifyVisitorToken(SECRET, s.sessionToken)!;
    assert.equal(claims.contactId, s.contactId);
    assert.equal(claims.channelId, ch.id);
    assert.equal(claims.locationId, t.a.locationId);
    const row = await visitorRow(ch, visitorId);
    assert.equal(row.id, claims.visitorId);
    assert.equal(row.contact_id, s.contactId);
    assert.equal(row.page_url, body.url);
    assert.equal(row.referer, body.referer);
    assert.equal(row.title, 'Pricing');
    assert.equal(row.lang, 'es-ES');
    assert.deepEqual(row.metadata.utm, body.utm);
    assert.deepEqual(row.metadata.host, { plan: 'pro' });
    assert.equal((await contactRow(t.a.locationId, s.contactId)).source, 'web_chat');

    const again = await post(ch, { visitorId, mode: 'anonymous', url: 'https://shop.example/cart' });
    assert.equal(again.status, 201);
    assert.equal(again.body.data.contactId, s.contactId);
    assert.equal((await visitorRow(ch, visitorId)).page_url, 'https://shop.example/cart');
  });

  test('identified: typed details land on the visitor own contact, never verified', async () => {
    const ch = await channel(t, t.a.locationId);
    const visitorId = randomUUID();
    const res = await post(ch, { visitorId, mode: 'identified', name: 'Ana', email: 'ana@typed.example' });
    assert.equal(res.status, 201, JSON.stringify(res.body));
    assert.equal(res.body.data.identityVerified, false);
    const c = await contactRow(t.a.locationId, res.body.data.contactId);
    assert.equal(c.name, 'Ana');
    assert.equal(c.email, 'ana@typed.example');
    assert.equal((await visitorRow(ch, visitorId)).identity_verified, false);
    expectError(await post(ch, { visitorId, mode: 'identified' }), 400, /needs at least one/);
  });

  test('an identified visitor typing a verified contact email is not merged into it', async () => {
    const ch = await channel(t, t.a.locationId);
    const secret = await rotate(ch);
    const owner = await post(ch, {
      visitorId: randomUUID(),
      mode: 'host-identified',
      email: 'owner@verified.example',
      hash: sign(secret, 'owner@verified.example'),
    });
    assert.equal(owner.status, 201, JSON.stringify(owner.body));
    assert.equal(owner.body.data.identityVerified, true);
    const impostor = await post(ch, {
      visitorId: randomUUID(),
      mode: 'identified',
      email: 'owner@verified.example',
      name: 'Not the owner',
    });
    assert.equal(impostor.status, 201);
    assert.notEqual(impostor.body.data.contactId, owner.body.data.contactId);
    assert.equal(impostor.body.data.identityVerified, false);
    const ownerContact = await contactRow(t.a.locationId, owner.body.data.contactId);
    assert.equal(ownerContact.email, 'owner@verified.example');
    assert.notEqual(ownerContact.name, 'Not the owner');
    // Reusing the verified visitor's browser id without a signature does not inherit the contact.
    const { rows } = await t.charla.ctx.db.query<any>(
      'SELECT visitor_key FROM visitors WHERE location_id = $1 AND contact_id = $2',
      [t.a.locationId, owner.body.data.contactId],
    );
    const hijack = await post(ch, { visitorId: rows[0].visitor_key, mode: 'anonymous' });
    assert.equal(hijack.status, 201);
    assert.notEqual(hijack.body.data.contactId, owner.body.data.contactId);
  });

  test('a typed claim on an email does not capture the real owner who verifies it later', async () => {
    const ch = await channel(t, t.a.locationId);
    const secret = await rotate(ch);
    const claim = await post(ch, { visitorId: randomUUID(), mode: 'identified', email: 'victim@x.example' });
    assert.equal(claim.status, 201);
    const owner = await post(ch, {
      visitorId: randomUUID(),
      mode: 'host-identified',
      email: 'victim@x.example',
      hash: sign(secret, 'victim@x.example'),
    });
    assert.equal(owner.status, 201, JSON.stringify(owner.body));
    assert.notEqual(owner.body.data.contactId, claim.body.data.contactId);
    assert.equal((await contactRow(t.a.locationId, owner.body.data.contactId)).email, 'victim@x.example');
    assert.equal((await contactRow(t.a.locationId, claim.body.data.contactId)).email, null);
  });
});

describe('verify-otp', () => {
  test('the code is mailed through the location SMTP server, and verifies the email', async () => {
    const ch = await channel(t, t.a.locationId);
    const visitorId = randomUUID();
    const email = `otp-${randomBytes(3).toString('hex')}@visitor.example`;
    const n = smtp.received.length;
    const first = await post(ch, { visitorId, mode: 'verify-otp', email });
    assert.equal(first.status, 201, JSON.stringify(first.body));
    assert.equal(first.body.data.otpSent, true);
    assert.equal(first.body.data.identityVerified, false);
    const expires = Date.parse(first.body.data.otpExpiresAt) - Date.now();
    assert.ok(expires > 9 * 60_000 && expires <= 10 * 60_000);
    const code = await mailFor(email, n);
    const mail = smtp.received.slice(n).find((m) => m.envelope.to.includes(email))!;
    assert.equal(mail.envelope.from, 'shop@x.test');
    // Only a keyed hash is stored, and the job payload holds no plain code.
    const { rows } = await t.charla.ctx.db.query<any>(
      "SELECT o.code_hash, j.payload::text AS payload FROM visitor_otps o JOIN jobs j ON j.ref = o.id::text AND j.kind = 'visitor.otp' WHERE lower(o.email) = $1",
      [email],
    );
    assert.equal(rows.length, 1);
    assert.ok(!rows[0].code_hash.includes(code));
    assert.ok(!rows[0].payload.includes(`"${code}"`));

    const wrong = code === '000000' ? '000001' : '000000';
    expectError(
      await post(ch, { visitorId, mode: 'verify-otp', email, otp: wrong }),
      401,
      /not valid \(4 attempts left\)/,
    );
    const ok = await post(ch, { visitorId, mode: 'verify-otp', email, otp: code });
    assert.equal(ok.status, 201, JSON.stringify(ok.body));
    assert.equal(ok.body.data.identityVerified, true);
    assert.equal(verifyVisitorToken(SECRET, ok.body.data.sessionToken)!.identityVerified, true);
    assert.equal(ok.body.data.contactId, first.body.data.contactId, 'the visitor keeps their contact');
    assert.equal((await contactRow(t.a.locationId, ok.body.data.contactId)).email, email);
    // A code works once.
    expectError(
      await post(ch, { visitorId, mode: 'verify-otp', email, otp: code }),
      401,
      /request one first/,
    );
  });

  test('five wrong codes use the code up; expiry; resend replaces the code and is rate limited', async () => {
    const ch = await channel(t, t.a.locationId);
    const visitorId = randomUUID();
    const email = `tries-${randomBytes(3).toString('hex')}@visitor.example`;
    let n = smtp.received.length;
    assert.equal((await post(ch, { visitorId, mode: 'verify-otp', email })).status, 201);
    const code = await mailFor(email, n);
    const wrong = code === '111111' ? '222222' : '111111';
    for (let i = 0; i < 5; i++) {
      expectError(await post(ch, { visitorId, mode: 'verify-otp', email, otp: wrong }), 401);
    }
    expectError(await post(ch, { visitorId, mode: 'verify-otp', email, otp: code }), 401, /Too many wrong/);
    expectError(await post(ch, { visitorId, mode: 'verify-otp', email, otp: '12ab' }), 400, /6 digits/);

    n = smtp.received.length;
    const resent = await post(ch, { email }, 'sessions/resend-otp');
    assert.equal(resent.status, 201, JSON.stringify(resent.body));
    assert.equal(resent.body.data.otpSent, true);
    const second = await mailFor(email, n);
    await t.charla.ctx.db.query<any>(
      "UPDATE visitor_otps SET expires_at = now() - interval '1 second' WHERE location_id = $1 AND lower(email) = $2 AND used_at IS NULL",
      [ch.locationId, email],
    );
    expectError(await post(ch, { visitorId, mode: 'verify-otp', email, otp: second }), 401, /expired/);

    // Three codes per email per ten minutes: the first call and the resend took two.
    assert.equal((await post(ch, { email }, 'sessions/resend-otp')).status, 201);
    const limited = await post(ch, { email }, 'sessions/resend-otp');
    expectError(limited, 429);
    assert.ok(Number(limited.headers.get('retry-after')) > 0);
    assert.equal(limited.headers.get('access-control-allow-origin'), ORIGIN);
  });

  test('an old code stops working once another is sent; no SMTP server: 400', async () => {
    const ch = await channel(t, t.a.locationId);
    const email = `old-${randomBytes(3).toString('hex')}@visitor.example`;
    let n = smtp.received.length;
    assert.equal((await post(ch, { visitorId: randomUUID(), mode: 'verify-otp', email })).status, 201);
    const old = await mailFor(email, n);
    n = smtp.received.length;
    assert.equal((await post(ch, { email }, 'sessions/resend-otp')).status, 201);
    const fresh = await mailFor(email, n);
    if (old !== fresh) {
      expectError(await post(ch, { visitorId: randomUUID(), mode: 'verify-otp', email, otp: old }), 401);
    }
    const ok = await post(ch, { visitorId: randomUUID(), mode: 'verify-otp', email, otp: fresh });
    assert.equal(ok.status, 201, JSON.stringify(ok.body));

    const { rows } = await t.charla.ctx.db.query<any>(
      "INSERT INTO locations (id, name) VALUES (gen_random_uuid(), 'No mail') RETURNING id",
    );
    const noMail = await channel(t, rows[0].id);
    expectError(
      await post(noMail, { visitorId: randomUUID(), mode: 'verify-otp', email }),
      400,
      /not available/,
    );
  });
});

describe('host-identified', () => {
  test("a verified visitor's token stops working once an unsigned session takes its visitor id", async () => {
    const ch = await channel(t, t.a.locationId);
    const secret = await rotate(ch);
    const visitorId = randomUUID();
    const verified = await post(ch, {
      visitorId,
      mode: 'host-identified',
      userId: 'u-77',
      hash: sign(secret, 'u-77'),
    });
    assert.equal(verified.status, 201, JSON.stringify(verified.body));
    const history = (token: string) =>
      api(t)('GET', `/web-chat/${ch.token}/history?sessionToken=${encodeURIComponent(token)}`);
    assert.equal((await history(verified.body.data.sessionToken)).status, 200);
    const unsigned = await post(ch, { visitorId, mode: 'anonymous' });
    assert.equal(unsigned.status, 201);
    assert.notEqual(unsigned.body.data.contactId, verified.body.data.contactId);
    expectError(await history(verified.body.data.sessionToken), 401, /no longer valid/);
    assert.equal((await history(unsigned.body.data.sessionToken)).status, 200);
  });

  test('a valid signature verifies; the same userId reaches the same contact', async () => {
    const ch = await channel(t, t.a.locationId, { identityRequired: true });
    const secret = await rotate(ch);
    const a = await post(ch, {
      visitorId: randomUUID(),
      mode: 'host-identified',
      userId: 'u-42',
      hash: sign(secret, 'u-42'),
      name: 'Pat',
    });
    assert.equal(a.status, 201, JSON.stringify(a.body));
    assert.equal(a.body.data.identityVerified, true);
    const b = await post(ch, {
      visitorId: randomUUID(),
      mode: 'host-identified',
      userId: 'u-42',
      hash: sign(secret, 'u-42'),
    });
    assert.equal(b.status, 201);
    assert.equal(b.body.data.contactId, a.body.data.contactId);
    assert.equal(verifyVisitorToken(SECRET, b.body.data.sessionToken)!.contactId, a.body.data.contactId);
    // With a userId only the userId is signed: an email sent alongside is not trusted.
    const withEmail = await post(ch, {
      visitorId: randomUUID(),
      mode: 'host-identified',
      userId: 'u-attacker',
      email: 'owner@verified.example',
      hash: sign(secret, 'u-attacker'),
    });
    assert.equal(withEmail.status, 201);
    const { rows } = await t.charla.ctx.db.query<any>(
      'SELECT id FROM contacts WHERE location_id = $1 AND lower(email) = $2',
      [t.a.locationId, 'owner@verified.example'],
    );
    for (const r of rows) assert.notEqual(r.id, withEmail.body.data.contactId);
  });

  test('forged, truncated, wrong-case and empty hashes are refused, thousands of them', async () => {
    setPublicLimits(t.charla.ctx, {
      sessionPerIp: { burst: 1_000_000, intervalMs: 60_000, daily: 1_000_000 },
      sessionPerVisitor: { burst: 1_000_000, intervalMs: 60_000, daily: 1_000_000 },
    });
    try {
      const ch = await channel(t, t.a.locationId, { identityRequired: true });
      const secret = await rotate(ch);
      const good = sign(secret, 'victim');
      const verifiedBefore = await t.charla.ctx.db.query<any>(
        'SELECT count(*)::int AS n FROM visitors WHERE location_id = $1 AND identity_verified',
        [t.a.locationId],
      );
      const forged: string[] = [
        good.toUpperCase(),
        good.slice(0, 63),
        good.slice(0, 32),
        good.slice(0, 1),
        '',
        `${good}0`,
        `${good.slice(0, 63)}${good[63] === 'a' ? 'b' : 'a'}`,
        sign('not-the-secret', 'victim'),
        sign(secret, 'Victim'),
        ` ${good}`.slice(0, 64),
        Buffer.from(good, 'hex').toString('base64'),
        'g'.repeat(64),
      ];
      for (let i = 0; i < 1000; i++) forged.push(randomBytes(32).toString('hex'));
      for (let i = 0; i < forged.length; i += 100) {
        const batch = forged.slice(i, i + 100);
        const replies = await Promise.all(
          batch.map((hash) =>
            post(ch, { visitorId: randomUUID(), mode: 'host-identified', userId: 'victim', hash }),
          ),
        );
        for (const [j, r] of replies.entries())
          expectError(r, 401, /not valid/, `hash ${JSON.stringify(batch[j])}`);
      }
      // And many more straight at the check.
      for (let i = 0; i < 20_000; i++)
        assert.equal(hostHashValid(secret, 'victim', randomBytes(32).toString('hex')), false);
      assert.equal(hostHashValid(secret, 'victim', good), true);
      expectError(
        await post(ch, { visitorId: randomUUID(), mode: 'host-identified', userId: 'victim' }),
        401,
        /requires a signed identity/,
      );
      expectError(
        await post(ch, { visitorId: randomUUID(), mode: 'identified', userId: 'victim' }),
        400,
        /host-identified/,
      );
      expectError(
        await post(ch, { visitorId: randomUUID(), mode: 'host-identified', hash: good }),
        400,
        /userId or email/,
      );
      const verifiedAfter = await t.charla.ctx.db.query<any>(
        'SELECT count(*)::int AS n FROM visitors WHERE location_id = $1 AND identity_verified',
        [t.a.locationId],
      );
      assert.equal(verifiedAfter.rows[0].n, verifiedBefore.rows[0].n, 'no forged identity was verified');
      const ok = await post(ch, {
        visitorId: randomUUID(),
        mode: 'host-identified',
        userId: 'victim',
        hash: good,
      });
      assert.equal(ok.status, 201);
    } finally {
      setPublicLimits(t.charla.ctx, RELAXED);
    }
  });

  test('rotating the secret invalidates the old one; no secret at all: 403', async () => {
    const ch = await channel(t, t.a.locationId, { identityRequired: true });
    expectError(
      await post(ch, {
        visitorId: randomUUID(),
        mode: 'host-identified',
        userId: 'u1',
        hash: 'a'.repeat(64),
      }),
      403,
      /not set up/,
    );
    const old = await rotate(ch);
    assert.equal(
      (
        await post(ch, {
          visitorId: randomUUID(),
          mode: 'host-identified',
          userId: 'u1',
          hash: sign(old, 'u1'),
        })
      ).status,
      201,
    );
    const fresh = await rotate(ch);
    expectError(
      await post(ch, {
        visitorId: randomUUID(),
        mode: 'host-identified',
        userId: 'u1',
        hash: sign(old, 'u1'),
      }),
      401,
    );
    assert.equal(
      (
        await post(ch, {
          visitorId: randomUUID(),
          mode: 'host-identified',
          userId: 'u1',
          hash: sign(fresh, 'u1'),
        })
      ).status,
      201,
    );
  });

  test('without identityRequired an unsigned host identity is kept unverified; a bad signature is still refused', async () => {
    const ch = await channel(t, t.a.locationId);
    const secret = await rotate(ch);
    const unsigned = await post(ch, {
      visitorId: randomUUID(),
      mode: 'host-identified',
      email: 'x@unsigned.example',
    });
    assert.equal(unsigned.status, 201);
    assert.equal(unsigned.body.data.identityVerified, false);
    expectError(
      await post(ch, {
        visitorId: randomUUID(),
        mode: 'host-identified',
        userId: 'u',
        hash: sign(secret, 'v'),
      }),
      401,
    );
  });
});

describe('behind a reverse proxy', () => {
  test('with TRUST_PROXY the per-IP limits count the client of X-Forwarded-For, not the proxy', async () => {
    const limits = { ...RELAXED, sessionPerIp: { burst: 1, intervalMs: 60_000, daily: 100 } };
    const direct = t;
    const proxied = await startTestCharla({ TRUST_PROXY: 'loopback' });
    try {
      for (const [s, expected] of [
        [direct, 429],
        [proxied, 201],
      ] as const) {
        setPublicLimits(s.charla.ctx, limits);
        const ch = await channel(s, s.a.locationId);
        const open = (client: string) =>
          api(s)(
            'POST',
            `/web-chat/${ch.token}/sessions`,
            { visitorId: randomUUID(), mode: 'anonymous' },
            { 'x-forwarded-for': client },
          );
        assert.equal((await open('203.0.113.1')).status, 201);
        // Another client behind the same proxy: its own allowance only when the proxy is trusted.
        assert.equal((await open('203.0.113.2')).status, expected);
        assert.equal((await open('203.0.113.1')).status, 429, 'the first client has used its own');
      }
    } finally {
      setPublicLimits(direct.charla.ctx, RELAXED);
      await proxied.close();
    }
  });
});

describe('channel rules', () => {
  const prechatFields = [
    { id: 'name', type: 'text', label: 'Name', required: true, maxLength: 50 },
    { id: 'mail', type: 'email', label: 'Email' },
    { id: 'topic', type: 'select', label: 'Topic', options: [{ value: 'sales' }, { value: 'support' }] },
    { id: 'order', type: 'text', label: 'Order', regex: '^ORD-[0-9]{4}$' },
    { id: 'consent', type: 'checkbox', label: 'OK?' },
  ];

  test('a backtracking pre-chat pattern runs out of time instead of freezing the server', async () => {
    const ch = await channel(t, t.a.locationId, {
      prechatFields: [{ id: 'code', type: 'text', label: 'Code', regex: '^(a|a)*$' }],
    });
    const started = Date.now();
    const [slow, other] = await Promise.all([
      post(ch, { visitorId: randomUUID(), mode: 'anonymous', prechat: { code: `${'a'.repeat(60)}!` } }),
      api(t)('GET', `/web-chat/${ch.token}/config`),
    ]);
    expectError(slow, 400, /prechat.code does not have the expected format/);
    assert.equal(other.status, 200);
    // Unbounded, this pattern takes longer than the age of the universe on that answer.
    assert.ok(Date.now() - started < 5000, `answered in ${Date.now() - started} ms`);
    const ok = await post(ch, { visitorId: randomUUID(), mode: 'anonymous', prechat: { code: 'aaaa' } });
    assert.equal(ok.status, 201, JSON.stringify(ok.body));
  });

  test('pre-chat answers are checked against the fields', async () => {
    const ch = await channel(t, t.a.locationId, { prechatFields });
    const bad = await post(ch, {
      visitorId: randomUUID(),
      mode: 'anonymous',
      prechat: { mail: 'nope', topic: 'billing', order: 'X-1', consent: 'yes', extra: 1 },
    });
    expectError(bad, 400);
    const text = bad.body.message.join(' | ');
    for (const p of [
      /prechat.name is required/,
      /prechat.mail must be an email/,
      /prechat.topic must be one of/,
      /prechat.order does not have/,
      /prechat.consent must be a boolean/,
      /prechat.extra is not/,
    ]) {
      assert.match(text, p);
    }
    expectError(
      await post(ch, { visitorId: randomUUID(), mode: 'anonymous', prechat: { name: 'x'.repeat(51) } }),
      400,
      /shorter/,
    );
    const visitorId = randomUUID();
    const ok = await post(ch, {
      visitorId,
      mode: 'anonymous',
      prechat: { name: 'Ana', mail: 'ana@pre.example', topic: 'sales', order: 'ORD-1234', consent: true },
    });
    assert.equal(ok.status, 201, JSON.stringify(ok.body));
    assert.deepEqual((await visitorRow(ch, visitorId)).metadata.prechat, {
      name: 'Ana',
      mail: 'ana@pre.example',
      topic: 'sales',
      order: 'ORD-1234',
      consent: true,
    });
    // A returning visitor need not answer again.
    assert.equal((await post(ch, { visitorId, mode: 'anonymous' })).status, 201);
  });

  test('departmentId must be a department of the channel; requireEmailUpfront; disabled channel', async () => {
    const ch = await channel(t, t.a.locationId, {
      departments: [{ id: 'sales', name: 'Sales' }],
      requireEmailUpfront: true,
    });
    expectError(
      await post(ch, {
        visitorId: randomUUID(),
        mode: 'anonymous',
        email: 'a@b.example',
        departmentId: 'nope',
      }),
      400,
      /departments/,
    );
    expectError(await post(ch, { visitorId: randomUUID(), mode: 'anonymous' }), 400, /email before the chat/);
    const visitorId = randomUUID();
    const ok = await post(ch, {
      visitorId,
      mode: 'identified',
      email: 'dept@x.example',
      departmentId: 'sales',
    });
    assert.equal(ok.status, 201, JSON.stringify(ok.body));
    assert.equal((await visitorRow(ch, visitorId)).department_id, 'sales');

    const off = await channel(t, t.a.locationId, { enabled: false });
    expectError(await post(off, { visitorId: randomUUID(), mode: 'anonymous' }), 403, /disabled/);
    expectError(await post(off, { email: 'a@b.example' }, 'sessions/resend-otp'), 403, /disabled/);
  });

  test('bad input is a 400 in the Mosend shape, never a 500', async () => {
    const ch = await channel(t, t.a.locationId);
    const cases: unknown[] = [
      {},
      { visitorId: randomUUID() },
      { visitorId: randomUUID(), mode: 'ghost' },
      { visitorId: '', mode: 'anonymous' },
      { visitorId: 'a b', mode: 'anonymous' },
      { visitorId: randomUUID(), mode: 'identified', email: 'not-an-email' },
      { visitorId: randomUUID(), mode: 'anonymous', name: 'x'.repeat(201) },
      { visitorId: randomUUID(), mode: 'anonymous', url: 'x'.repeat(501) },
      { visitorId: randomUUID(), mode: 'anonymous', utm: { source: 1 } },
      { visitorId: randomUUID(), mode: 'anonymous', acceptOffline: 'yes' },
      { visitorId: randomUUID(), mode: 'anonymous', prechat: 'x' },
      { visitorId: randomUUID(), mode: 'anonymous', hash: 'a'.repeat(129) },
      { visitorId: randomUUID(), mode: 'anonymous', unknown: 1 },
      [],
      'null',
      '{"visitorId":',
    ];
    for (const c of cases) {
      const res = await post(ch, c);
      expectError(res, 400, undefined, JSON.stringify(c));
    }
    expectError(
      await api(t)('POST', '/web-chat/nope-nope-nope/sessions', { visitorId: 'v', mode: 'anonymous' }),
      404,
    );
    expectError(await api(t)('POST', '/web-chat/%00/sessions', { visitorId: 'v', mode: 'anonymous' }), 404);
  });

  test('session creation is rate limited per visitor and per IP: 429 with Retry-After', async () => {
    const ch = await channel(t, t.a.locationId);
    setPublicLimits(t.charla.ctx, {
      ...RELAXED,
      sessionPerVisitor: { burst: 3, intervalMs: 60_000, daily: 1000 },
    });
    try {
      const visitorId = randomUUID();
      const statuses: number[] = [];
      let limited: Awaited<ReturnType<typeof post>> | undefined;
      for (let i = 0; i < 10; i++) {
        const r = await post(ch, { visitorId, mode: 'anonymous' });
        statuses.push(r.status);
        if (r.status === 429) limited = r;
      }
      assert.ok(limited, `a 429 among ${statuses}`);
      expectError(limited, 429, /Too many requests/);
      assert.ok(Number(limited.headers.get('retry-after')) >= 1);
      // Another visitor is not held back.
      assert.equal((await post(ch, { visitorId: randomUUID(), mode: 'anonymous' })).status, 201);
      setPublicLimits(t.charla.ctx, {
        ...RELAXED,
        sessionPerIp: { burst: 2, intervalMs: 60_000, daily: 1000 },
      });
      const ip: number[] = [];
      for (let i = 0; i < 8; i++)
        ip.push((await post(ch, { visitorId: randomUUID(), mode: 'anonymous' })).status);
      assert.ok(ip.includes(429), `${ip}`);
    } finally {
      setPublicLimits(t.charla.ctx, RELAXED);
    }
  });
});
