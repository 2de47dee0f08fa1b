import assert from 'node:assert/strict';
import type { ClientRequest } from 'node:http';
import { after, before, describe, test } from 'node:test';
import {
  GHLAuthenticationError,
  GHLError,
  GHLForbiddenError,
  GHLNotFoundError,
  GHLRateLimitError,
  GHLValidationError,
  HighLevel,
} from '@gohighlevel/api-client';
import { startTestCharla, type TestCharla } from '../support/charla.js';

// The official LeadConnector SDK, unchanged, pointed at a running Charla: what an integrator
// who already uses it would see.

let t: TestCharla;

before(async () => {
  t = await startTestCharla();
});
after(() => t.close());

/**
 * An SDK client for `url`; `versionsSent` collects the Version header, as it went on the wire, of
 * every request that succeeded.
 */
function sdk(url: string, key: string, config: { apiVersion?: string } = {}) {
  const ghl = new HighLevel({ privateIntegrationToken: key, logLevel: 'none', ...config });
  ghl.getHttpClient().defaults.baseURL = url;
  const versionsSent: string[] = [];
  ghl.getHttpClient().interceptors.response.use((res) => {
    versionsSent.push(String((res.request as ClientRequest).getHeader('version')));
    return res;
  });
  return { ghl, versionsSent };
}

/** The error a promise rejects with (fails when it resolves). */
async function rejection(p: Promise<unknown>): Promise<GHLError> {
  try {
    await p;
  } catch (err) {
    assert.ok(err instanceof GHLError, `expected a GHLError, got ${String(err)}`);
    return err;
  }
  assert.fail('expected the call to fail');
}

describe('the official SDK against Charla', () => {
  test('create → get → list → update (PUT) → patch → clone → delete, then a 404', async () => {
    const { ghl, versionsSent } = sdk(t.url, t.a.key);
    const loc = t.a.locationId;

    const created = await ghl.chatWidget.createChatWidget({
      version: 1,
      chatType: 'liveChat',
      name: 'SDK widget',
      locationId: loc,
      settings: { heading: 'Hello', subHeading: 'We reply fast' },
    });
    assert.match(created._id, /^[0-9a-f-]{36}$/);
    assert.equal(created.version, 1);
    assert.equal(created.name, 'SDK widget');
    assert.equal(created.chatType, 'liveChat');
    assert.equal(created.locationId, loc);
    assert.equal(created.deleted, false);
    assert.equal(created.default, true, 'the first widget of a location is its default');
    assert.equal(created.settings.heading, 'Hello');

    const second = await ghl.chatWidget.createChatWidget({
      version: 1,
      chatType: 'emailChat',
      name: 'Second',
      locationId: loc,
    });
    assert.notEqual(second._id, created._id);
    assert.equal(second.default, false);
    assert.equal(second.chatType, 'emailChat');

    const got = await ghl.chatWidget.getChatWidgetById({ id: created._id, locationId: loc });
    assert.deepEqual(got, created);

    const list = await ghl.chatWidget.listChatWidgets({ locationId: loc, offset: '0', limit: '10' });
    assert.equal(list.totalCount, 2);
    assert.deepEqual(
      list.chatWidgets.map((w) => [w._id, w.default]),
      [
        [created._id, true],
        [second._id, false],
      ],
    );
    const onlyLive = await ghl.chatWidget.listChatWidgets({
      locationId: loc,
      offset: '0',
      limit: '10',
      chatType: 'liveChat',
    });
    assert.deepEqual(
      onlyLive.chatWidgets.map((w) => w._id),
      [created._id],
    );
    const paged = await ghl.chatWidget.listChatWidgets({ locationId: loc, offset: '1', limit: '1' });
    assert.equal(paged.totalCount, 2);
    assert.deepEqual(
      paged.chatWidgets.map((w) => w._id),
      [second._id],
    );

    const updated = await ghl.chatWidget.updateChatWidget(
      { id: created._id, locationId: loc },
      { version: 1, name: 'Renamed', chatType: 'liveChat', settings: { heading: 'New heading' } },
    );
    assert.equal(updated._id, created._id);
    assert.equal(updated.name, 'Renamed');
    assert.equal(updated.version, 2);
    assert.equal(updated.settings.heading, 'New heading');
    assert.equal(updated.settings.subHeading, undefined, 'PUT replaces the settings');
    assert.equal(updated.default, true);

    const patched = await ghl.chatWidget.patchChatWidget(
      { id: created._id, locationId: loc },
      { version: 2, settings: { subHeading: 'Back again' } },
    );
    assert.equal(patched.version, 3);
    assert.equal(patched.name, 'Renamed', 'PATCH keeps what it does not name');
    assert.equal(patched.settings.heading, 'New heading');
    assert.equal(patched.settings.subHeading, 'Back again');

    const stale = await rejection(
      ghl.chatWidget.patchChatWidget({ id: created._id, locationId: loc }, { version: 2, name: 'late' }),
    );
    assert.equal(stale.statusCode, 409);
    assert.match(stale.message, /version/);

    const clone = await ghl.chatWidget.cloneChatWidget({
      locationId: loc,
      chatWidgetId: created._id,
      name: 'Cloned by SDK',
    });
    assert.notEqual(clone._id, created._id);
    assert.equal(clone.name, 'Cloned by SDK');
    assert.equal(clone.default, false);
    assert.equal(clone.deleted, false);
    assert.deepEqual(clone.settings, patched.settings);

    const deleted = await ghl.chatWidget.deleteChatWidget({ id: clone._id, locationId: loc });
    assert.equal(deleted._id, clone._id);
    assert.equal(deleted.deleted, true);

    const gone = await rejection(ghl.chatWidget.getChatWidgetById({ id: clone._id, locationId: loc }));
    assert.ok(gone instanceof GHLNotFoundError, gone.constructor.name);
    assert.equal(gone.statusCode, 404);
    assert.equal(gone.code, 'NOT_FOUND');
    assert.equal(gone.response.statusCode, 404);
    const again = await rejection(ghl.chatWidget.deleteChatWidget({ id: clone._id, locationId: loc }));
    assert.ok(again instanceof GHLNotFoundError);

    const after = await ghl.chatWidget.listChatWidgets({ locationId: loc, offset: '0', limit: '10' });
    assert.equal(after.totalCount, 2);
    assert.ok(!after.chatWidgets.some((w) => w._id === clone._id));

    // The eleven calls that succeeded all went out with the SDK's default Version.
    assert.deepEqual(versionsSent, Array(11).fill('2023-02-21'));
  });

  test('the Version header is really checked: an apiVersion Charla does not know is a 401', async () => {
    const pinned = sdk(t.url, t.a.key, { apiVersion: '2021-04-15' });
    const list = await pinned.ghl.chatWidget.listChatWidgets({
      locationId: t.a.locationId,
      offset: '0',
      limit: '1',
    });
    assert.equal(typeof list.totalCount, 'number');
    assert.deepEqual(pinned.versionsSent, ['2021-04-15']);

    const unknown = sdk(t.url, t.a.key, { apiVersion: '2099-01-01' });
    const err = await rejection(
      unknown.ghl.chatWidget.listChatWidgets({ locationId: t.a.locationId, offset: '0', limit: '1' }),
    );
    assert.ok(err instanceof GHLAuthenticationError, err.constructor.name);
    assert.equal(err.statusCode, 401);
    assert.equal(err.message, 'version header is invalid');
  });

  test("another tenant's location surfaces as the SDK's forbidden error, and nothing changes", async () => {
    const { ghl: asB } = sdk(t.url, t.b.key);
    const { ghl: asA } = sdk(t.url, t.a.key);
    const w = await asA.chatWidget.createChatWidget({
      version: 1,
      chatType: 'liveChat',
      name: 'A private',
      locationId: t.a.locationId,
    });
    const countBefore = (
      await asA.chatWidget.listChatWidgets({ locationId: t.a.locationId, offset: '0', limit: '1' })
    ).totalCount;
    const calls: (() => Promise<unknown>)[] = [
      () => asB.chatWidget.getChatWidgetById({ id: w._id, locationId: t.a.locationId }),
      () => asB.chatWidget.listChatWidgets({ locationId: t.a.locationId, offset: '0', limit: '10' }),
      () => asB.chatWidget.patchChatWidget({ id: w._id, locationId: t.a.locationId }, { name: 'pwned' }),
      () =>
        asB.chatWidget.updateChatWidget(
          { id: w._id, locationId: t.a.locationId },
          { name: 'pwned', chatType: 'liveChat' },
        ),
      () => asB.chatWidget.deleteChatWidget({ id: w._id, locationId: t.a.locationId }),
      () => asB.chatWidget.cloneChatWidget({ locationId: t.a.locationId, chatWidgetId: w._id }),
      () =>
        asB.chatWidget.createChatWidget({
          version: 1,
          chatType: 'liveChat',
          name: 'planted',
          locationId: t.a.locationId,
        }),
    ];
    for (const call of calls) {
      const err = await rejection(call());
      assert.ok(err instanceof GHLForbiddenError, err.constructor.name);
      assert.equal(err.statusCode, 403);
      assert.equal(err.code, 'FORBIDDEN');
      assert.equal(err.message, 'The token does not have access to this location');
    }
    const still = await asA.chatWidget.getChatWidgetById({ id: w._id, locationId: t.a.locationId });
    assert.deepEqual(still, w);
    const list = await asA.chatWidget.listChatWidgets({
      locationId: t.a.locationId,
      offset: '0',
      limit: '100',
    });
    assert.equal(list.totalCount, countBefore, 'nothing was created (no clone, no planted widget)');
  });

  test('validation and authentication failures surface as their SDK error classes', async () => {
    const { ghl } = sdk(t.url, t.a.key);
    const invalid = await rejection(
      ghl.chatWidget.createChatWidget({
        version: 1,
        chatType: 'smokeSignals',
        name: 'x',
        locationId: t.a.locationId,
      }),
    );
    assert.ok(invalid instanceof GHLValidationError, invalid.constructor.name);
    assert.equal(invalid.statusCode, 422);
    assert.match(invalid.message, /chatType must be one of/);
    assert.ok(Array.isArray(invalid.response.message));

    const { ghl: stranger } = sdk(t.url, `ck_live_${'a'.repeat(12)}.${'b'.repeat(43)}`);
    const unauth = await rejection(
      stranger.chatWidget.listChatWidgets({ locationId: t.a.locationId, offset: '0', limit: '1' }),
    );
    assert.ok(unauth instanceof GHLAuthenticationError, unauth.constructor.name);
    assert.equal(unauth.statusCode, 401);
    assert.equal(unauth.message, 'Invalid token: access token is invalid');

    const readOnly = await t.key(['chat-widget.readonly'], [t.a.locationId]);
    const { ghl: reader } = sdk(t.url, readOnly);
    const scope = await rejection(
      reader.chatWidget.createChatWidget({
        version: 1,
        chatType: 'liveChat',
        name: 'x',
        locationId: t.a.locationId,
      }),
    );
    assert.ok(scope instanceof GHLAuthenticationError);
    assert.equal(scope.message, 'The token is not authorized for this scope.');
  });
});

describe('rate limits through the SDK', () => {
  let limited: TestCharla;
  let err: GHLError;
  before(async () => {
    limited = await startTestCharla({ RATE_LIMIT_BURST: '2', RATE_LIMIT_INTERVAL_MS: '3600000' });
    // Stay clear of a window boundary, so the three calls share one window.
    const intoWindow = Date.now() % 3_600_000;
    if (intoWindow > 3_590_000) await new Promise((r) => setTimeout(r, 3_600_000 - intoWindow + 50));
    const { ghl } = sdk(limited.url, limited.a.key);
    const p = { locationId: limited.a.locationId, offset: '0', limit: '1' };
    await ghl.chatWidget.listChatWidgets(p);
    await ghl.chatWidget.listChatWidgets(p);
    err = await rejection(ghl.chatWidget.listChatWidgets(p));
  });
  after(() => limited.close());

  test("a 429 surfaces as the SDK's rate-limit error, with the limit headers parsed", () => {
    assert.ok(err instanceof GHLRateLimitError, err.constructor.name);
    assert.equal(err.statusCode, 429);
    assert.equal(err.code, 'RATE_LIMIT');
    const rl = err.rateLimit!;
    assert.equal(rl.scope, 'burst');
    assert.equal(rl.max, 2);
    assert.equal(rl.remaining, 0);
    assert.equal(rl.intervalMs, 3_600_000);
    assert.equal(rl.dailyLimit, 200_000);
    assert.equal(rl.dailyRemaining, 200_000 - 3);
  });

  // The SDK reads X-RateLimit-Daily-Reset as "milliseconds until the daily limit resets"
  // (RateLimitInfo.dailyResetMs in @gohighlevel/api-client).
  test('the SDK reads X-RateLimit-Daily-Reset as the milliseconds left until the daily reset', () => {
    assert.ok(err instanceof GHLRateLimitError);
    const resetMs = err.rateLimit!.dailyResetMs!;
    assert.ok(resetMs > 0 && resetMs <= 86_400_000, `dailyResetMs = ${resetMs}`);
  });
});
