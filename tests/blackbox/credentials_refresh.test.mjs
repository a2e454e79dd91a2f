// CONTRACT sections 5 and 9, OAuth refresh against a real OpenID provider
// (oidc-provider on loopback, access tokens living TTL seconds, so that the
// refresh margin min(5 min, half the lifetime) is TTL/2): users connect in
// headless Chromium, then
//   - 50 concurrent credential reads in the margin -> exactly one refresh_token
//     grant at the provider, every read answers the same new token;
//   - two server processes on one database, concurrent reads -> still one;
//   - rotated refresh tokens keep working, across processes;
//   - a grant revoked at the provider -> 409, the user inactive, webhook events
//     user.refresh_failed and user.deactivated (verified with standardwebhooks);
//   - the background sweeper (--refresh-sweep-interval 1) refreshes an idle user.
// Refreshes are counted from the provider's own token endpoint (every
// grant_type=refresh_token request) and its grant.success events.

import { describe, test, before, after } from 'node:test';
import assert from 'node:assert/strict';

import { Context, getUser, assertUser, assertError, rand, TIMESTAMP } from '../lib/harness.mjs';
import { launchBrowser } from '../lib/browser.mjs';
import { defineIntegration, waitFor } from '../peers/http.mjs';
import { startOidcProvider, oidcDefinition } from '../peers/oidc.mjs';
import {
  tuneOidcProvider, revokeAtProvider, connectOidc, getCredentials, setWebhook, startWebhookReceiver,
  waitUntil, refreshPoint,
} from '../peers/lifecycle.mjs';
import { scaled } from '../lib/timeouts.mjs';

const TTL = 8; // seconds an access token lives at the provider; refresh margin 4 s
const CLIENT = 'tr-refresh';

describe('credentials_refresh', { concurrency: 1, timeout: scaled(150_000) }, () => {
  const ctx = new Context(); // servers A and B share its database
  const sweepCtx = new Context(); // server S, with a 1 s sweep, on its own database
  const clientSecret = `cs-${rand(12)}`;
  let A;
  let B;
  let S;
  let op;
  let browser;
  let receiver;
  let W;
  let WS;
  let cid;
  let sweepCid;

  before(async () => {
    receiver = await startWebhookReceiver();
    W = await ctx.workspace(undefined, 'refresh');
    receiver.secret = (await setWebhook(ctx, W.workspaceId, `${receiver.url}/hooks`)).secret;
    WS = await sweepCtx.workspace(undefined, 'sweep');
    const quiet = ['--allow-private-network', '--refresh-sweep-interval', '3600'];
    A = await ctx.startServer({ extraArgs: quiet });
    B = await ctx.startServer({ extraArgs: quiet });
    S = await sweepCtx.startServer({ extraArgs: ['--allow-private-network', '--refresh-sweep-interval', '1'] });
    op = await startOidcProvider({
      clients: [{
        client_id: CLIENT,
        client_secret: clientSecret,
        redirect_uris: [A, B, S].map((s) => `${s.url}/oauth/callback`),
        token_endpoint_auth_method: 'client_secret_basic',
      }],
    });
    tuneOidcProvider(op, { accessTokenTtl: TTL });
    await defineIntegration(ctx, W.workspaceId, oidcDefinition('test-oidc', op.issuer));
    cid = (await ctx.enable(W.workspaceId, 'test-oidc', { clientId: CLIENT, clientSecret })).customerIntegrationId;
    await defineIntegration(sweepCtx, WS.workspaceId, oidcDefinition('test-oidc', op.issuer));
    sweepCid = (await sweepCtx.enable(WS.workspaceId, 'test-oidc', { clientId: CLIENT, clientSecret })).customerIntegrationId;
    browser = await launchBrowser();
  });

  after(async () => {
    await browser?.close();
    await op?.close();
    await receiver?.close();
    await ctx.cleanup();
    await sweepCtx.cleanup();
  });

  const refreshes = () => op.refreshGrants(CLIENT);
  /** Every POST /token with grant_type=refresh_token the provider answered (any status). */
  const refreshRequests = () => op.tokenRequests.filter((r) => r.grantType === 'refresh_token').length;
  const creds = (srv, userId, c = cid, key = W.apiKey) => getCredentials(srv, key, c, userId);

  /** A 200 OAUTH2 credentials answer; returns the body. */
  function assertOauth(res, where) {
    assert.equal(res.status, 200, `${where}: ${res.status} ${res.text}`);
    assert.equal(res.json?.authType, 'OAUTH2', `${where}: ${res.text}`);
    assert.match(res.headers.get('cache-control') || '', /no-store/i, `${where}: Cache-Control`);
    assert.equal(res.json.tokenType, 'Bearer');
    assert.match(res.json.expiresAt, TIMESTAMP);
    assert.deepEqual([...res.json.scopes].sort(), ['offline_access', 'openid']);
    return res.json;
  }

  /** Connects `userId` on `srv` and reads once (before the margin): the issued token. */
  async function connectAndRead(srv, userId) {
    const t = await connectOidc(browser, op, srv, W.apiKey, cid, userId);
    const n = refreshes().length;
    const first = assertOauth(await creds(srv, userId), 'read right after connecting');
    assert.equal(first.accessToken, t.access_token, 'the first read serves the token of the code exchange');
    assert.equal(refreshes().length, n, 'a read outside the margin does not refresh');
    const left = Date.parse(first.expiresAt) - Date.now();
    assert.ok(left > 0 && left <= TTL * 1000 + 1000, `expiresAt ${first.expiresAt} (${left} ms left, TTL ${TTL} s)`);
    return { t, first };
  }

  /** Asserts that `results` are all 200 with one and the same token; returns it. */
  function assertOneToken(results, where) {
    const bad = results.filter((r) => r.status !== 200);
    assert.deepEqual(bad.map((r) => `${r.status} ${r.text}`), [], `${where}: every read answers 200`);
    const tokens = new Set(results.map((r) => r.json.accessToken));
    assert.equal(tokens.size, 1, `${where}: ${tokens.size} different access tokens`);
    return assertOauth(results[0], where);
  }

  test('50 concurrent reads in the margin: exactly one refresh grant, one new token for all', async () => {
    const userId = `burst-${rand()}`;
    const { t, first } = await connectAndRead(A, userId);
    await waitUntil(refreshPoint(first.expiresAt, TTL * 1000) + 100, 'the refresh margin');
    const before = refreshes().length;
    const successes = op.events['grant.success'] || 0;
    const tokenEndpointBefore = refreshRequests();
    const results = await Promise.all(Array.from({ length: 50 }, () => creds(A, userId)));
    const fresh = assertOneToken(results, '50 concurrent reads');
    const grants = refreshes().slice(before);
    assert.equal(grants.length, 1, `refresh_token grants at the provider: ${grants.length}`);
    assert.equal((op.events['grant.success'] || 0) - successes, 1, 'grant.success events at the provider');
    assert.equal(refreshRequests() - tokenEndpointBefore, 1, 'grant_type=refresh_token requests at the token endpoint');
    assert.equal(grants[0].status, 200);
    assert.equal(grants[0].refreshToken, t.refresh_token, 'the refresh presented the stored refresh token');
    assert.equal(fresh.accessToken, grants[0].body.access_token, 'every read answers the refreshed token');
    assert.notEqual(fresh.accessToken, first.accessToken);
    assert.ok(await op.provider.AccessToken.find(fresh.accessToken), 'the provider knows the new access token');
    assert.ok(Date.parse(fresh.expiresAt) > Date.parse(first.expiresAt), 'expiresAt moved on');

    const again = await Promise.all(Array.from({ length: 10 }, () => creds(A, userId)));
    assert.equal(assertOneToken(again, 'reads after the refresh').accessToken, fresh.accessToken);
    assert.equal(refreshes().length, before + 1, 'a fresh token is not refreshed again');
  });

  test('two server processes on one database: concurrent reads in the margin -> one refresh (twice in a row)', async () => {
    const userId = `nodes-${rand()}`;
    const { first } = await connectAndRead(A, userId);
    let current = first;
    for (const round of [1, 2]) {
      await waitUntil(refreshPoint(current.expiresAt, TTL * 1000) + 100, `the refresh margin (round ${round})`);
      const before = refreshes().length;
      const results = await Promise.all(Array.from({ length: 40 }, (_, i) => creds(i % 2 ? B : A, userId)));
      const fresh = assertOneToken(results, `round ${round}: 20 reads on each process`);
      const grants = refreshes().slice(before);
      assert.equal(grants.length, 1, `round ${round}: refresh_token grants at the provider across two processes: ${grants.length}`);
      assert.equal(fresh.accessToken, grants[0].body.access_token);
      assert.notEqual(fresh.accessToken, current.accessToken);
      current = fresh;
    }
    assertUser(await getUser(B, W.apiKey, cid, userId), userId, true);
  });

  test('rotated refresh tokens (rotateRefreshToken: true) keep working across refreshes and processes', async () => {
    tuneOidcProvider(op, { rotateRefreshToken: true });
    try {
      const userId = `rotate-${rand()}`;
      const { t, first } = await connectAndRead(A, userId);
      const base = refreshes().length;
      const revokedBefore = op.events['grant.revoked'] || 0;
      await waitUntil(refreshPoint(first.expiresAt, TTL * 1000) + 100, 'the refresh margin (1)');
      const r1 = assertOauth(await creds(A, userId), 'first refresh (process A)');
      await waitUntil(refreshPoint(r1.expiresAt, TTL * 1000) + 100, 'the refresh margin (2)');
      const burst = await Promise.all(Array.from({ length: 20 }, (_, i) => creds(i % 2 ? A : B, userId)));
      const r2 = assertOneToken(burst, 'second refresh (both processes)');
      const grants = refreshes().slice(base);
      assert.deepEqual(grants.map((g) => g.status), [200, 200], `refresh grants: ${JSON.stringify(grants.map((g) => [g.status, g.body?.error]))}`);
      assert.equal(grants[0].refreshToken, t.refresh_token);
      assert.ok(grants[0].body.refresh_token && grants[0].body.refresh_token !== t.refresh_token, 'the provider rotated');
      assert.equal(grants[1].refreshToken, grants[0].body.refresh_token, 'the second refresh presents the rotated token');
      assert.equal(r2.accessToken, grants[1].body.access_token);
      assert.equal((op.events['grant.revoked'] || 0) - revokedBefore, 0, 'no reuse of a consumed refresh token (the provider would revoke the grant)');
      assertUser(await getUser(A, W.apiKey, cid, userId), userId, true);
    } finally {
      tuneOidcProvider(op, { rotateRefreshToken: undefined });
    }
  });

  test('grant revoked at the provider: invalid_grant -> 409, user inactive, user.refresh_failed + user.deactivated', async () => {
    const userId = `revoked-${rand()}`;
    const { t, first } = await connectAndRead(A, userId);
    await revokeAtProvider(op, t.refresh_token);
    await waitUntil(refreshPoint(first.expiresAt, TTL * 1000) + 100, 'the refresh margin');
    const before = refreshes().length;
    const results = await Promise.all(Array.from({ length: 10 }, (_, i) => creds(i % 2 ? B : A, userId)));
    for (const r of results) assertError(r, 409);
    const grants = refreshes().slice(before);
    assert.equal(grants.length, 1, `refresh attempts for 10 concurrent reads: ${grants.length}`);
    assert.equal(grants[0].status, 400);
    assert.equal(grants[0].body?.error, 'invalid_grant');
    assertUser(await getUser(A, W.apiKey, cid, userId), userId, false);
    assertUser(await getUser(B, W.apiKey, cid, userId), userId, false);
    assertError(await creds(A, userId), 409);
    assert.equal(refreshes().length, before + 1, 'an inactive user is not refreshed again');

    const failed = await receiver.waitFor((p) => p.type === 'user.refresh_failed' && p.data?.userId === userId, 'user.refresh_failed');
    const deactivated = await receiver.waitFor((p) => p.type === 'user.deactivated' && p.data?.userId === userId, 'user.deactivated');
    for (const d of [failed, deactivated]) {
      assert.equal(d.payload.data.customerIntegrationId, cid);
      assert.match(d.payload.timestamp, TIMESTAMP);
    }
    assert.notEqual(failed.id, deactivated.id);
    assert.deepEqual(receiver.unverified(), [], 'every webhook delivery verifies (standardwebhooks)');
    const dups = receiver.of('user.deactivated').filter((d) => d.payload.data.userId === userId);
    assert.equal(new Set(dups.map((d) => d.id)).size, 1, 'one user.deactivated event');
  });

  test('the background sweeper (--refresh-sweep-interval 1) refreshes an idle user before its token expires', async () => {
    const userId = `idle-${rand()}`;
    const t = await connectOidc(browser, op, S, WS.apiKey, sweepCid, userId);
    const expiry = t.at + TTL * 1000;
    const mine = () => refreshes().filter((g) => g.refreshToken === t.refresh_token);
    const g = await waitFor(() => mine()[0], 'a sweeper refresh', TTL * 1000 + 5000);
    assert.equal(g.status, 200);
    assert.ok(g.at < expiry, `the sweeper refreshed ${g.at - expiry} ms after the token expired`);
    // No read so far; now one: the token the sweeper fetched (or a later sweep's).
    const sweeps = mine().length;
    const res = assertOauth(await creds(S, userId, sweepCid, WS.apiKey), 'read after the sweep');
    const issued = mine().filter((x) => x.status === 200).map((x) => x.body.access_token);
    assert.ok(issued.includes(res.accessToken), 'the read serves a token the sweeper obtained');
    assert.notEqual(res.accessToken, t.access_token);
    assert.ok(Date.parse(res.expiresAt) > Date.now(), 'not expired');
    // Still idle: the sweeper keeps the user fresh.
    await waitFor(() => mine().length > sweeps, 'a second sweeper refresh', TTL * 1000 + 5000);
    assert.ok(mine().every((x) => x.status === 200), 'every sweeper refresh succeeded');
    assertUser(await getUser(S, WS.apiKey, sweepCid, userId), userId, true);
  });
});
