// Issue 5: several nodes on one PostgreSQL database (PostgreSQL only: skipped unless
// TOOLREGISTRY_TEST_PG_URL is set, see tests/lib/pg.mjs). Two `toolregistry serve`
// processes, A and B, share one database behind Debian's nginx running deploy/nginx.conf:
//   - a connect session created through A completes through B's OAuth callback;
//   - full OAuth flows through nginx (alternating nodes) all complete;
//   - concurrent credential reads in the refresh margin spread over A and B cause one
//     refresh at the provider (the lease is in the database);
//   - an admin change (API key revoked, customer integration disabled) made with the CLI
//     is in effect on both nodes within the documented bound of one second (a node keeps
//     what it read until it sees the database's change stamp move, polled every 100 ms).

import { describe, test, before, after } from 'node:test';
import assert from 'node:assert/strict';

import {
  Context, ON_PG, authUrl, assertAuthUrl, assertError, waitForAdminChange, probeInactive, getUser,
  assertUser, rand, listIntegrations,
} from '../lib/harness.mjs';
import { fetchPage, parseResult } from '../lib/browser.mjs';
import { defineIntegration } from '../peers/http.mjs';
import {
  startFakeOAuth, fakeOAuthDefinition, connectFakeOAuth, getCredentials, waitUntil, refreshPoint,
} from '../peers/lifecycle.mjs';
import { startNginx, freePort } from '../lib/nginx.mjs';
import { scaled } from '../lib/timeouts.mjs';

const LIFETIME_S = 6; // access tokens of the fake provider; refresh margin 3 s

describe('multinode', { skip: !ON_PG && 'PostgreSQL only (set TOOLREGISTRY_TEST_PG_URL)', concurrency: 1, timeout: scaled(90_000) }, () => {
  let ctx;
  let A;
  let B;
  let proxy;
  let fake;
  let W;
  let cid;

  before(async () => {
    ctx = new Context();
    const port = await freePort();
    const publicUrl = `http://127.0.0.1:${port}`;
    const args = ['--allow-private-network', '--refresh-sweep-interval', '3600'];
    A = await ctx.startServer({ publicUrl, extraArgs: args });
    B = await ctx.startServer({ publicUrl, extraArgs: args });
    proxy = await startNginx({ port, nodes: [A, B] });
    fake = await startFakeOAuth({ expiresIn: LIFETIME_S });
    W = await ctx.workspace(A, 'multinode');
    await defineIntegration(ctx, W.workspaceId, fakeOAuthDefinition('mn-oauth', fake));
    cid = (await ctx.enable(W.workspaceId, 'mn-oauth', { clientId: fake.clientId, clientSecret: fake.clientSecret }))
      .customerIntegrationId;
  });

  after(async () => {
    await proxy?.stop();
    await fake?.close();
    await ctx?.cleanup();
  });

  test('a connect session created through node A completes through node B\'s callback', async () => {
    const userId = `ab-${rand()}`;
    const token = assertAuthUrl(await authUrl(A, W.apiKey, cid, userId), proxy.url);
    const start = await fetchPage(`${B.url}/connect/${token}`);
    assert.equal(start.status, 302, `connect link on B: ${start.status} ${start.html.slice(0, 300)}`);
    const back = await fetchPage(start.location);
    assert.equal(back.status, 302);
    const callback = new URL(back.location);
    assert.equal(callback.origin, proxy.url, 'the callback URL is the public (nginx) one');
    const cb = await fetchPage(`${B.url}${callback.pathname}${callback.search}`);
    const result = cb.status === 302 ? { status: new URL(cb.location).searchParams.get('status') } : parseResult(cb.html);
    assert.equal(result?.status, 'success', `callback on B: ${cb.status} ${cb.html.slice(0, 400)}`);
    assertUser(await getUser(A, W.apiKey, cid, userId), userId, true);
    assertUser(await getUser(B, W.apiKey, cid, userId), userId, true);
  });

  test('OAuth flows through nginx complete whichever node serves each step', async () => {
    const viaProxy = { url: proxy.url };
    for (let i = 0; i < 4; i++) {
      const userId = `lb-${i}-${rand(4)}`;
      const t = await connectFakeOAuth(fake, viaProxy, W.apiKey, cid, userId);
      for (const node of [A, B]) {
        const c = await getCredentials(node, W.apiKey, cid, userId);
        assert.equal(c.status, 200, c.text);
        assert.equal(c.json.accessToken, t.access_token);
      }
    }
  });

  test('concurrent reads on both nodes in the refresh margin: one refresh at the provider', async () => {
    const userId = `refresh-${rand()}`;
    await connectFakeOAuth(fake, { url: proxy.url }, W.apiKey, cid, userId);
    const first = await getCredentials(A, W.apiKey, cid, userId);
    assert.equal(first.status, 200, first.text);
    await waitUntil(refreshPoint(first.json.expiresAt, LIFETIME_S * 1000) + 100, 'the refresh margin');
    const before = fake.refreshCalls().length;
    const reads = await Promise.all(Array.from({ length: 20 }, (_, i) =>
      getCredentials(i % 2 ? A : B, W.apiKey, cid, userId)));
    for (const r of reads) assert.equal(r.status, 200, r.text);
    const tokens = new Set(reads.map((r) => r.json.accessToken));
    assert.equal(fake.refreshCalls().length - before, 1, 'refresh_token grants across the two nodes');
    assert.equal(tokens.size, 1, `every read answers the one new token: ${[...tokens]}`);
    assert.notEqual([...tokens][0], first.json.accessToken);
  });

  test('admin changes through the CLI are in effect on both nodes within one second', async () => {
    const key = await ctx.cliJson(['apikey', 'create', '--workspace', W.workspaceId]);
    for (const node of [A, B]) {
      await waitForAdminChange(async () => assert.equal((await listIntegrations(node, key.apiKey)).status, 200));
    }
    await ctx.cliJson(['apikey', 'revoke', '--key-id', key.keyId]);
    const revokedAt = Date.now();
    for (const node of [A, B]) {
      await waitForAdminChange(async () => assertError(await listIntegrations(node, key.apiKey), 401));
    }
    assert.ok(Date.now() - revokedAt < 1000, `revoked key refused by both nodes after ${Date.now() - revokedAt} ms`);

    // auth-url names a new user on every try: a try that came before the disable took effect
    // created its user, and only the refused one (no user created) is looked at.
    await ctx.cliJson(['integration', 'disable', '--id', cid]);
    const disabledAt = Date.now();
    for (const node of [A, B]) await waitForAdminChange(() => probeInactive(node, W.apiKey, cid));
    assert.ok(Date.now() - disabledAt < 1000, `disable in effect on both nodes after ${Date.now() - disabledAt} ms`);
    await ctx.cliJson(['integration', 'activate', '--id', cid]);
  });
});
