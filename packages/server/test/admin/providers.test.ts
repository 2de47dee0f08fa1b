import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { findProviderForSend, providerIdOfKey } from '../../src/core/providers/service.js';
import { getSmtpConfig } from '../../src/core/smtp/service.js';
import { startTestCharla, type TestCharla } from '../support/charla.js';
import { client } from '../support/http.js';

let t: TestCharla;
let agency: ReturnType<typeof client>;
/** Only the admin scope, only location A. */
let adminA: ReturnType<typeof client>;
const as = (key: string) => client(t.url, { authorization: `Bearer ${key}` });
const db = () => t.charla.ctx.db;

before(async () => {
  t = await startTestCharla();
  agency = as(t.agencyKey);
  adminA = as(await t.key(['admin'], [t.a.locationId]));
});
after(() => t.close());

const providers = (loc: string) => `/admin/v1/locations/${loc}/providers`;
const smtpPath = (loc: string) => `/admin/v1/locations/${loc}/smtp`;

function assertError(res: { status: number; body: any }, status: number, code: string) {
  assert.equal(res.status, status, JSON.stringify(res.body));
  assert.equal(res.body.error.code, code, JSON.stringify(res.body));
}

function assertValidation(res: { status: number; body: any }, mentions: RegExp) {
  assertError(res, 422, 'validation');
  assert.ok(
    res.body.error.details.some((d: string) => mentions.test(d)),
    `${mentions} in ${JSON.stringify(res.body.error.details)}`,
  );
}

const newProvider = (extra: Record<string, unknown> = {}) => ({
  name: 'Twilio bridge',
  type: 'SMS',
  deliveryUrl: 'https://sms.example.com/hook',
  ...extra,
});

/** Registers a provider whose URL need not resolve: private targets are allowed. */
async function create(loc: string, extra: Record<string, unknown> = {}) {
  const res = await adminA('POST', providers(loc), newProvider({ allowPrivate: true, ...extra }));
  assert.equal(res.status, 201, JSON.stringify(res.body));
  return res.body;
}

describe('conversation providers', () => {
  test('registering returns the provider, its signing secret and a key bound to it, once', async () => {
    const body = await create(t.a.locationId, { name: 'Bridge', deliveryUrl: 'http://127.0.0.1:9/hook' });
    const p = body.provider;
    assert.deepEqual(
      { ...p, id: undefined, createdAt: undefined },
      {
        id: undefined,
        locationId: t.a.locationId,
        name: 'Bridge',
        type: 'SMS',
        deliveryUrl: 'http://127.0.0.1:9/hook',
        allowPrivate: true,
        isDefault: false,
        createdAt: undefined,
        deletedAt: null,
      },
    );
    assert.match(body.signingSecret, /^whsec_[A-Za-z0-9_-]{43}$/);
    assert.match(body.key, /^ck_live_/);
    assert.equal(p.signingSecret, undefined);

    // The key belongs to the provider and may only post messages for this location.
    const { rows } = await db().query(
      'SELECT id, provider_id, scopes, location_ids FROM api_keys WHERE provider_id = $1',
      [p.id],
    );
    assert.equal(rows.length, 1);
    assert.deepEqual(rows[0]!.scopes.sort(), [
      'conversations/message.readonly',
      'conversations/message.write',
    ]);
    assert.deepEqual(rows[0]!.location_ids, [t.a.locationId]);
    assert.equal(await providerIdOfKey(db(), rows[0]!.id), p.id);
    const verified = await t.charla.ctx.keys.verify(body.key);
    assert.equal(verified?.keyId, rows[0]!.id, 'the key authenticates');
    assert.equal(await providerIdOfKey(db(), (await t.charla.ctx.keys.verify(t.a.key))!.keyId), null);
    assertError(await as(body.key)('GET', providers(t.a.locationId)), 403, 'insufficient_scope');

    // Listing and reading never show the secret.
    const list = await adminA('GET', providers(t.a.locationId));
    assert.equal(list.status, 200);
    const listed = list.body.providers.find((x: any) => x.id === p.id);
    assert.ok(listed);
    assert.equal(listed.signingSecret, undefined);
    const one = await adminA('GET', `${providers(t.a.locationId)}/${p.id}`);
    assert.equal(one.status, 200);
    assert.equal(one.body.provider.id, p.id);
    assert.ok(!JSON.stringify(list.body).includes(body.signingSecret));
    assert.ok(!JSON.stringify(one.body).includes(body.signingSecret));
  });

  test('a new default replaces the previous default of the same type', async () => {
    const first = (await create(t.a.locationId, { type: 'WhatsApp', isDefault: true })).provider;
    const second = (await create(t.a.locationId, { type: 'WhatsApp', isDefault: true })).provider;
    const fb = (await create(t.a.locationId, { type: 'FB', isDefault: true })).provider;
    const list = (await adminA('GET', providers(t.a.locationId))).body.providers;
    const byId = new Map(list.map((x: any) => [x.id, x]));
    assert.equal((byId.get(first.id) as any).isDefault, false);
    assert.equal((byId.get(second.id) as any).isDefault, true);
    assert.equal((byId.get(fb.id) as any).isDefault, true, 'other types keep theirs');
    assert.equal((await findProviderForSend(db(), t.a.locationId, 'WhatsApp'))?.id, second.id);
  });

  test('findProviderForSend: the named one of this location, else the default, else the only one', async () => {
    const loc = t.b.locationId;
    assert.equal(await findProviderForSend(db(), loc, 'IG'), undefined, 'none');
    const bOnly = (await agency('POST', providers(loc), newProvider({ type: 'IG', allowPrivate: true }))).body
      .provider;
    assert.equal((await findProviderForSend(db(), loc, 'IG'))?.id, bOnly.id, 'the only one');
    const bOther = (await agency('POST', providers(loc), newProvider({ type: 'IG', allowPrivate: true })))
      .body.provider;
    assert.equal(await findProviderForSend(db(), loc, 'IG'), undefined, 'two and no default: none');
    assert.equal((await findProviderForSend(db(), loc, 'IG', bOther.id))?.id, bOther.id, 'named');
    const found = await findProviderForSend(db(), loc, 'IG', bOther.id);
    assert.match(found!.signingSecret, /^whsec_/, 'the worker gets the secret');
    assert.equal(await findProviderForSend(db(), t.a.locationId, 'IG', bOther.id), undefined, 'not for A');
    assert.equal(await findProviderForSend(db(), loc, 'IG', 'not-a-uuid'), undefined);
    assert.equal(await findProviderForSend(db(), loc, 'IG', crypto.randomUUID()), undefined);
    await agency('DELETE', `${providers(loc)}/${bOther.id}`);
    assert.equal(await findProviderForSend(db(), loc, 'IG', bOther.id), undefined, 'deleted');
    assert.equal((await findProviderForSend(db(), loc, 'IG'))?.id, bOnly.id, 'the only one again');
  });

  test('deleting a provider hides it and revokes its key', async () => {
    const body = await create(t.a.locationId, { type: 'Custom' });
    const id = body.provider.id;
    assert.ok(await t.charla.ctx.keys.verify(body.key));
    const del = await adminA('DELETE', `${providers(t.a.locationId)}/${id}`);
    assert.equal(del.status, 200, JSON.stringify(del.body));
    assert.ok(del.body.provider.deletedAt);
    assertError(await adminA('GET', `${providers(t.a.locationId)}/${id}`), 404, 'not_found');
    assertError(await adminA('DELETE', `${providers(t.a.locationId)}/${id}`), 404, 'not_found');
    const list = (await adminA('GET', providers(t.a.locationId))).body.providers;
    assert.ok(!list.some((x: any) => x.id === id));
    assert.equal(await t.charla.ctx.keys.verify(body.key), null, 'the key no longer works');
    const { rows } = await db().query('SELECT deleted_at FROM conversation_providers WHERE id = $1', [id]);
    assert.ok(rows[0]!.deleted_at, 'kept, soft-deleted, for the messages that name it');
  });

  test('bad input is a 422 that says what is wrong', async () => {
    const loc = providers(t.a.locationId);
    assertValidation(await adminA('POST', loc, newProvider({ type: 'Pigeon' })), /type must be one of/);
    assertValidation(
      await adminA('POST', loc, { type: 'SMS', deliveryUrl: 'https://x.example' }),
      /name is required/,
    );
    assertValidation(await adminA('POST', loc, newProvider({ name: '  ' })), /name must be 1 to 200/);
    assertValidation(await adminA('POST', loc, newProvider({ deliveryUrl: 'not a url' })), /deliveryUrl/);
    assertValidation(
      await adminA('POST', loc, newProvider({ deliveryUrl: 'ftp://files.example/x', allowPrivate: true })),
      /only http and https/,
    );
    assertValidation(
      await adminA('POST', loc, newProvider({ deliveryUrl: 'https://user:pw@sms.example.com/x' })),
      /credentials/,
    );
    assertValidation(
      await adminA('POST', loc, newProvider({ allowPrivate: 'yes' })),
      /allowPrivate must be boolean/,
    );
    assertValidation(await adminA('POST', loc, newProvider({ extra: 1 })), /extra should not exist/);
  });

  test('private delivery targets are refused unless allowPrivate is set', async () => {
    const loc = providers(t.a.locationId);
    for (const url of [
      'http://127.0.0.1:8080/hook',
      'http://localhost/hook',
      'http://10.0.0.5/hook',
      'http://192.168.1.10/hook',
      'http://169.254.169.254/latest/meta-data',
      'http://[::1]/hook',
      'http://[fd00::1]/hook',
      'http://0.0.0.0/',
    ]) {
      assertValidation(await adminA('POST', loc, newProvider({ deliveryUrl: url })), /private/);
    }
    const res = await adminA(
      'POST',
      loc,
      newProvider({ deliveryUrl: 'http://10.0.0.5/hook', allowPrivate: true }),
    );
    assert.equal(res.status, 201);
    assert.equal(res.body.provider.allowPrivate, true);
  });

  test('another location’s providers are out of reach', async () => {
    const ofB = (await agency('POST', providers(t.b.locationId), newProvider({ allowPrivate: true }))).body
      .provider;
    assertError(await adminA('GET', providers(t.b.locationId)), 403, 'location_forbidden');
    assertError(await adminA('POST', providers(t.b.locationId), newProvider()), 403, 'location_forbidden');
    assertError(await adminA('GET', `${providers(t.b.locationId)}/${ofB.id}`), 403, 'location_forbidden');
    assertError(await adminA('DELETE', `${providers(t.b.locationId)}/${ofB.id}`), 403, 'location_forbidden');
    // B's provider through A's path: not found.
    assertError(await adminA('GET', `${providers(t.a.locationId)}/${ofB.id}`), 404, 'not_found');
    assertError(await adminA('DELETE', `${providers(t.a.locationId)}/${ofB.id}`), 404, 'not_found');
    const { rows } = await db().query('SELECT deleted_at FROM conversation_providers WHERE id = $1', [
      ofB.id,
    ]);
    assert.equal(rows[0]!.deleted_at, null);
    // A key without the admin scope, and an unknown location.
    const reader = as(await t.key(['conversations.readonly'], [t.a.locationId]));
    assertError(await reader('GET', providers(t.a.locationId)), 403, 'insufficient_scope');
    assertError(await agency('GET', `${providers(crypto.randomUUID())}/${ofB.id}`), 404, 'not_found');
    assertError(
      await agency('POST', providers(crypto.randomUUID()), newProvider({ allowPrivate: true })),
      404,
      'not_found',
    );
    assertError(await client(t.url)('GET', providers(t.a.locationId)), 401, 'unauthenticated');
  });
});

describe('SMTP settings', () => {
  const settings = (extra: Record<string, unknown> = {}) => ({
    host: 'smtp.example.com',
    port: 587,
    secure: false,
    username: 'mailer',
    password: 'hunter2',
    fromAddress: 'Acme <support@acme.example>',
    ...extra,
  });

  test('set, read (never the password), keep the password, remove it, delete', async () => {
    const path = smtpPath(t.a.locationId);
    assertError(await adminA('GET', path), 404, 'not_found');
    const put = await adminA('PUT', path, settings());
    assert.equal(put.status, 200, JSON.stringify(put.body));
    assert.deepEqual(
      { ...put.body.smtp, updatedAt: undefined },
      {
        host: 'smtp.example.com',
        port: 587,
        secure: false,
        username: 'mailer',
        hasPassword: true,
        fromAddress: 'Acme <support@acme.example>',
        updatedAt: undefined,
      },
    );
    const got = await adminA('GET', path);
    assert.equal(got.status, 200);
    assert.deepEqual(got.body.smtp, put.body.smtp);
    assert.ok(!JSON.stringify(got.body).includes('hunter2'));

    // Left out: the stored password stays.
    const { password: _, ...noPassword } = settings({ port: 465, secure: true });
    const kept = await adminA('PUT', path, noPassword);
    assert.equal(kept.status, 200);
    assert.equal(kept.body.smtp.hasPassword, true);
    assert.equal(kept.body.smtp.port, 465);
    assert.equal((await getSmtpConfig(db(), t.a.locationId))?.password, 'hunter2');

    // null: removed.
    const cleared = await adminA('PUT', path, settings({ password: null, username: null }));
    assert.equal(cleared.body.smtp.hasPassword, false);
    assert.equal(cleared.body.smtp.username, null);
    assert.equal((await getSmtpConfig(db(), t.a.locationId))?.password, null);

    const del = await adminA('DELETE', path);
    assert.equal(del.status, 200);
    assertError(await adminA('GET', path), 404, 'not_found');
    assertError(await adminA('DELETE', path), 404, 'not_found');
    assert.equal(await getSmtpConfig(db(), t.a.locationId), undefined);
  });

  test('bad settings are a 422', async () => {
    const path = smtpPath(t.a.locationId);
    assertValidation(await adminA('PUT', path, settings({ port: 0 })), /port/);
    assertValidation(await adminA('PUT', path, settings({ port: 70000 })), /port/);
    assertValidation(await adminA('PUT', path, settings({ port: '25' })), /port must be integer/);
    assertValidation(
      await adminA('PUT', path, settings({ host: 'smtp example.com' })),
      /host must be a host name/,
    );
    assertValidation(await adminA('PUT', path, settings({ fromAddress: 'nobody' })), /fromAddress/);
    assertValidation(
      await adminA('PUT', path, settings({ fromAddress: 'a@b.example\r\nBcc: x@y.example' })),
      /fromAddress/,
    );
    assertValidation(await adminA('PUT', path, settings({ secure: 'no' })), /secure must be boolean/);
    const { fromAddress: _, ...missing } = settings();
    assertValidation(await adminA('PUT', path, missing), /fromAddress is required/);
    assert.equal(await getSmtpConfig(db(), t.a.locationId), undefined, 'nothing was stored');
  });

  test('another location’s mail server is out of reach', async () => {
    const path = smtpPath(t.b.locationId);
    assert.equal((await agency('PUT', path, settings())).status, 200);
    assertError(await adminA('GET', path), 403, 'location_forbidden');
    assertError(await adminA('PUT', path, settings()), 403, 'location_forbidden');
    assertError(await adminA('DELETE', path), 403, 'location_forbidden');
    assert.ok(await getSmtpConfig(db(), t.b.locationId), 'still there');
    assertError(await agency('PUT', smtpPath(crypto.randomUUID()), settings()), 404, 'not_found');
  });
});
