// CONTRACT section 4, OAUTH2: the hosted connect flow against a real OpenID
// Connect provider (oidc-provider on loopback), driven in headless Chromium:
// GET /connect/<token> -> provider login and consent -> GET /oauth/callback ->
// code exchange -> the workspace's app (redirectUri) or a result page.

import { describe, test, before, after } from 'node:test';
import assert from 'node:assert/strict';

import { Context, getUser, assertUser, rand, request } from '../lib/harness.mjs';
import {
  launchBrowser, readResult, assertPageHeaders, assertNoExternalUrls, parseResult, queryOf,
} from '../lib/browser.mjs';
import { startApp, defineIntegration, connectLink, getCredentials, waitFor } from '../peers/http.mjs';
import { startOidcProvider, oidcDefinition } from '../peers/oidc.mjs';
import { scaled } from '../lib/timeouts.mjs';

describe('connect_oauth', { concurrency: 1, timeout: scaled(180_000) }, () => {
  const ctx = new Context();
  let server; // --allow-private-network
  let shortServer; // same database, --connect-ttl 1
  let app;
  let op;
  let browser;
  let W;
  const cids = {};
  const basicSecret = `cs-basic-${rand(12)}`;
  const postSecret = `cs-post-${rand(12)}`;

  before(async () => {
    server = await ctx.startServer({ extraArgs: ['--allow-private-network'] });
    shortServer = await ctx.startServer({ connectTtl: 1, extraArgs: ['--allow-private-network'] });
    app = await startApp();
    const redirectUris = [`${server.url}/oauth/callback`, `${shortServer.url}/oauth/callback`];
    op = await startOidcProvider({
      clients: [
        { client_id: 'tr-basic', client_secret: basicSecret, redirect_uris: redirectUris, token_endpoint_auth_method: 'client_secret_basic' },
        { client_id: 'tr-post', client_secret: postSecret, redirect_uris: redirectUris, token_endpoint_auth_method: 'client_secret_post' },
      ],
    });
    W = await ctx.workspace(server, 'oauth');
    await defineIntegration(ctx, W.workspaceId, oidcDefinition('test-oidc', op.issuer));
    await defineIntegration(ctx, W.workspaceId,
      oidcDefinition('test-oidc-post', op.issuer, { tokenEndpointAuthMethod: 'client_secret_post' }));
    await defineIntegration(ctx, W.workspaceId,
      oidcDefinition('test-oidc-badiss', op.issuer, { issuer: 'http://127.0.0.1:9/not-the-issuer' }));
    cids.basic = (await ctx.enable(W.workspaceId, 'test-oidc', { clientId: 'tr-basic', clientSecret: basicSecret })).customerIntegrationId;
    cids.post = (await ctx.enable(W.workspaceId, 'test-oidc-post', { clientId: 'tr-post', clientSecret: postSecret })).customerIntegrationId;
    cids.badiss = (await ctx.enable(W.workspaceId, 'test-oidc-badiss', { clientId: 'tr-basic', clientSecret: basicSecret })).customerIntegrationId;
    browser = await launchBrowser();
  });

  after(async () => {
    await browser?.close();
    await op?.close();
    await app?.close();
    await ctx.cleanup();
  });

  /** A connect link for a user of workspace W (on `srv`, default the main server). */
  const link = (cid, userId, { redirectUri, srv = server } = {}) => connectLink(srv, W.apiKey, cid, userId, { redirectUri });

  const appCb = () => `${app.url}/cb/${rand(6)}`;

  /** On the provider: log in with any login/password, then Continue (or Cancel) on consent. */
  async function loginAndConsent(page, { consent = true } = {}) {
    await page.waitForURL((u) => u.href.startsWith(`${op.issuer}/interaction/`));
    await page.locator('input[name="login"]').fill(`alice-${rand(3)}`);
    await page.locator('input[name="password"]').fill('any password');
    await page.locator('button[type="submit"]').click();
    await page.locator('input[name="prompt"][value="consent"]').waitFor({ state: 'attached' });
    if (consent) await page.locator('button:has-text("Continue")').click();
    else await page.locator('a:has-text("Cancel")').click();
  }

  /** Waits until the browser is on the app's `cb` and returns the query it received. */
  async function landing(page, cb) {
    await page.waitForURL((u) => u.href.startsWith(cb));
    const rec = await waitFor(() => app.requests.find((r) => `${app.url}${r.path}` === cb), `app request for ${cb}`);
    return Object.fromEntries(rec.query);
  }

  function tokenRequestsFor(clientId) {
    return op.tokenRequests.filter((t) => t.clientId === clientId);
  }

  test('consent -> code exchange (client_secret_basic, PKCE) -> redirectUri?status=success; user active', async () => {
    const userId = `ok-${rand()}`;
    const cb = appCb();
    const { url } = await link(cids.basic, userId, { redirectUri: cb });
    assertUser(await getUser(server, W.apiKey, cids.basic, userId), userId, false);

    // The connect link itself: 302 to the provider's authorization endpoint.
    const before = op.authRequests.length;
    const tokensBefore = tokenRequestsFor('tr-basic').length;
    const grantsBefore = op.events['grant.success'] || 0;
    const page = await browser.page();
    await page.goto(url);
    await loginAndConsent(page);
    const q = await landing(page, cb);
    assert.equal(q.status, 'success', `app landing query: ${JSON.stringify(q)}`);
    assert.equal(q.error, undefined);

    const auth = op.authRequests[before];
    assert.ok(auth, 'the provider saw no authorization request');
    assert.equal(auth.get('response_type'), 'code');
    assert.equal(auth.get('client_id'), 'tr-basic');
    assert.equal(auth.get('redirect_uri'), `${server.url}/oauth/callback`);
    assert.equal(auth.get('scope'), 'openid offline_access');
    assert.equal(auth.get('prompt'), 'consent');
    assert.equal(auth.get('code_challenge_method'), 'S256');
    assert.match(auth.get('code_challenge') || '', /^[A-Za-z0-9_-]{43}$/);
    assert.ok((auth.get('state') || '').length >= 16, `state should be long and random: ${auth.get('state')}`);

    const tokenReqs = tokenRequestsFor('tr-basic').slice(tokensBefore);
    assert.equal(tokenReqs.length, 1, `exactly one token request: ${JSON.stringify(tokenReqs)}`);
    assert.equal(op.events['grant.success'] - grantsBefore, 1, 'one grant.success at the provider');
    assert.equal(tokenReqs[0].status, 200);
    assert.equal(tokenReqs[0].authScheme, 'Basic', 'client_secret_basic: HTTP Basic client authentication');
    assert.equal(tokenReqs[0].grantType, 'authorization_code');
    assert.match(tokenReqs[0].codeVerifier || '', /^[A-Za-z0-9._~-]{43,128}$/, 'PKCE code_verifier sent');
    assert.ok(tokenReqs[0].body.refresh_token, 'the provider issued a refresh token (offline_access + consent)');

    assertUser(await getUser(server, W.apiKey, cids.basic, userId), userId, true);
    // What was stored is what the provider issued (CONTRACT section 9).
    const creds = await getCredentials(server, W.apiKey, cids.basic, userId);
    assert.equal(creds.authType, 'OAUTH2');
    assert.equal(creds.accessToken, tokenReqs[0].body.access_token);
    assert.equal(creds.tokenType, 'Bearer');
  });

  test('client_secret_post integration: the client authenticates in the form body', async () => {
    const userId = `post-${rand()}`;
    const cb = appCb();
    const { url } = await link(cids.post, userId, { redirectUri: cb });
    const tokensBefore = tokenRequestsFor('tr-post').length;
    const page = await browser.page();
    await page.goto(url);
    await loginAndConsent(page);
    const q = await landing(page, cb);
    assert.equal(q.status, 'success', `app landing query: ${JSON.stringify(q)}`);
    const reqs = tokenRequestsFor('tr-post').slice(tokensBefore);
    assert.equal(reqs.length, 1, `exactly one token request: ${JSON.stringify(reqs)}`);
    assert.equal(reqs[0].status, 200);
    assert.equal(reqs[0].authScheme, undefined, 'client_secret_post sends no Authorization header');
    assertUser(await getUser(server, W.apiKey, cids.post, userId), userId, true);
  });

  test('without redirectUri: an HTML success page (#result data-status=success) with the connect headers', async () => {
    const userId = `page-${rand()}`;
    const { url } = await link(cids.basic, userId);
    const page = await browser.page();
    const callbackResponse = page.waitForResponse((r) => r.url().startsWith(`${server.url}/oauth/callback`));
    await page.goto(url);
    await loginAndConsent(page);
    const res = await callbackResponse;
    assert.equal(res.status(), 200, `callback page status ${res.status()}`);
    assertPageHeaders(await res.allHeaders(), 'OAuth success page');
    const html = await res.text();
    assertNoExternalUrls(html, 'OAuth success page');
    const result = await readResult(page);
    assert.equal(result.status, 'success', `result page: ${JSON.stringify(result)}`);
    assert.equal(result.errorCode, undefined, 'a success page has no #error-code');
    assertUser(await getUser(server, W.apiKey, cids.basic, userId), userId, true);
  });

  test('deny at consent ([ Cancel ]) -> status=error; a fresh user stays inactive; no token request', async () => {
    const userId = `deny-${rand()}`;
    const cb = appCb();
    const { url } = await link(cids.basic, userId, { redirectUri: cb });
    const tokensBefore = op.tokenRequests.length;
    const page = await browser.page();
    await page.goto(url);
    await loginAndConsent(page, { consent: false });
    const q = await landing(page, cb);
    assert.equal(q.status, 'error', `app landing query: ${JSON.stringify(q)}`);
    assert.equal(op.tokenRequests.length, tokensBefore, 'a denied flow makes no token request');
    assertUser(await getUser(server, W.apiKey, cids.basic, userId), userId, false);
  });

  test('deny while re-connecting: an active user stays active with its old credentials', async () => {
    const userId = `reconnect-${rand()}`;
    const cb1 = appCb();
    const first = await link(cids.basic, userId, { redirectUri: cb1 });
    let page = await browser.page();
    await page.goto(first.url);
    await loginAndConsent(page);
    assert.equal((await landing(page, cb1)).status, 'success');
    assertUser(await getUser(server, W.apiKey, cids.basic, userId), userId, true);
    const before = await getCredentials(server, W.apiKey, cids.basic, userId);
    assert.ok(before.accessToken);

    const cb2 = appCb();
    const second = await link(cids.basic, userId, { redirectUri: cb2 });
    assertUser(await getUser(server, W.apiKey, cids.basic, userId), userId, true);
    page = await browser.page();
    await page.goto(second.url);
    await loginAndConsent(page, { consent: false });
    assert.equal((await landing(page, cb2)).status, 'error');
    assertUser(await getUser(server, W.apiKey, cids.basic, userId), userId, true);
    const after = await getCredentials(server, W.apiKey, cids.basic, userId);
    assert.equal(after.accessToken, before.accessToken, 'the old credentials are kept');
  });

  test('a used link fails (session_used); replaying the callback makes no second token request', async () => {
    const userId = `reuse-${rand()}`;
    const cb = appCb();
    const { url } = await link(cids.basic, userId, { redirectUri: cb });
    const page = await browser.page();
    let callbackUrl;
    page.on('request', (r) => { if (r.url().startsWith(`${server.url}/oauth/callback`)) callbackUrl = r.url(); });
    await page.goto(url);
    await loginAndConsent(page);
    assert.equal((await landing(page, cb)).status, 'success');
    assert.ok(callbackUrl, 'the browser went through /oauth/callback');
    const tokensAfter = op.tokenRequests.length;

    // The link again: the error redirect (the session is known).
    const again = await request(url, 'GET', '');
    assert.equal(again.status, 302, `used link: ${again.status} ${again.text.slice(0, 300)}`);
    const loc = again.headers.get('location');
    assert.ok(loc.startsWith(`${cb}?`), `used link should redirect to the app: ${loc}`);
    assert.deepEqual(queryOf(loc), { status: 'error', error: 'session_used' });

    // The same link in the browser ends on the app with the same error.
    await page.goto(url);
    assert.ok(page.url().startsWith(`${cb}?`), page.url());
    assert.deepEqual(queryOf(page.url()), { status: 'error', error: 'session_used' });

    // The provider's callback again (same code and state): a failure, no code exchange.
    const replay = await request(callbackUrl, 'GET', '');
    if (replay.status === 302) {
      assert.equal(queryOf(replay.headers.get('location')).status, 'error', `replayed callback: ${replay.headers.get('location')}`);
    } else {
      assert.equal(parseResult(replay.text)?.status, 'error', `replayed callback page: ${replay.status} ${replay.text.slice(0, 500)}`);
    }
    assert.equal(op.tokenRequests.length, tokensAfter, 'a replayed callback must not exchange the code again');
    assertUser(await getUser(server, W.apiKey, cids.basic, userId), userId, true);
  });

  test('an expired link fails (expired_session); the user stays inactive', async () => {
    const userId = `expired-${rand()}`;
    const cb = appCb();
    const { url } = await link(cids.basic, userId, { redirectUri: cb, srv: shortServer });
    // --connect-ttl 1: wait until more than one second has passed since the link was made
    // (counted from the answer: the server stamps the session before it answers).
    const created = Date.now();
    await new Promise((r) => setTimeout(r, Math.max(0, created + 1100 - Date.now())));
    await waitFor(() => Date.now() - created > 1100, 'one second to pass');
    const authBefore = op.authRequests.length;
    const page = await browser.page();
    await page.goto(url);
    await page.waitForURL((u) => u.href.startsWith(cb));
    assert.deepEqual(queryOf(page.url()), { status: 'error', error: 'expired_session' });
    assert.equal(op.authRequests.length, authBefore, 'an expired link must not reach the provider');
    assertUser(await getUser(shortServer, W.apiKey, cids.basic, userId), userId, false);

    // Without a redirectUri: the failure page.
    const plainUser = `expired-page-${rand()}`;
    const plain = await link(cids.basic, plainUser, { srv: shortServer });
    const t0 = Date.now();
    await new Promise((r) => setTimeout(r, Math.max(0, t0 + 1100 - Date.now())));
    await waitFor(() => Date.now() - t0 > 1100, 'one second to pass');
    const res = await request(plain.url, 'GET', '');
    assert.ok(res.status >= 400 && res.status < 500, `expired link page status ${res.status} ${res.headers.get("location")}`);
    assertPageHeaders(res.headers, 'expired page');
    assert.deepEqual({ ...parseResult(res.text), message: undefined }, { status: 'error', errorCode: 'expired_session', message: undefined },
      `expired page: ${res.text.slice(0, 500)}`);
  });

  test('a session that expires while the user is at the provider fails at the callback', async () => {
    const userId = `expired-mid-${rand()}`;
    const cb = appCb();
    const { url } = await link(cids.basic, userId, { redirectUri: cb, srv: shortServer });
    const created = Date.now();
    const page = await browser.page();
    await page.goto(url);
    await page.waitForURL((u) => u.href.startsWith(`${op.issuer}/interaction/`));
    await new Promise((r) => setTimeout(r, Math.max(0, created + 1100 - Date.now())));
    await waitFor(() => Date.now() - created > 1100, 'one second to pass');
    const tokensBefore = op.tokenRequests.length;
    await loginAndConsent(page);
    const q = await landing(page, cb);
    assert.deepEqual(q, { status: 'error', error: 'expired_session' });
    assert.equal(op.tokenRequests.length, tokensBefore, 'an expired session must not exchange the code');
    assertUser(await getUser(shortServer, W.apiKey, cids.basic, userId), userId, false);
  });

  test('iss mismatch (definition issuer differs from the provider\'s) -> failure, no code exchange', async () => {
    const userId = `iss-${rand()}`;
    const cb = appCb();
    const { url } = await link(cids.badiss, userId, { redirectUri: cb });
    const tokensBefore = op.tokenRequests.length;
    const page = await browser.page();
    let callbackUrl;
    page.on('request', (r) => { if (r.url().startsWith(`${server.url}/oauth/callback`)) callbackUrl = r.url(); });
    await page.goto(url);
    await loginAndConsent(page);
    const q = await landing(page, cb);
    assert.equal(q.status, 'error', `app landing query: ${JSON.stringify(q)}`);
    assert.equal(queryOf(callbackUrl).iss, op.issuer, 'the provider sent iss on the callback');
    assert.equal(op.tokenRequests.length, tokensBefore, 'the code must not be exchanged when iss mismatches');
    assertUser(await getUser(server, W.apiKey, cids.badiss, userId), userId, false);
  });

  test('a code the provider rejects -> status=error; the user stays inactive', async () => {
    const userId = `badcode-${rand()}`;
    const cb = appCb();
    const { url } = await link(cids.basic, userId, { redirectUri: cb });
    const before = op.authRequests.length;
    const start = await request(url, 'GET', '');
    assert.equal(start.status, 302, `connect link: ${start.status}`);
    assert.ok(start.headers.get('location').startsWith(`${op.issuer}/auth?`), start.headers.get('location'));
    const state = queryOf(start.headers.get('location')).state;
    assert.equal(op.authRequests.length, before, 'fetching the link does not reach the provider by itself');
    const tokensBefore = op.tokenRequests.length;
    const cbRes = await request(server, 'GET',
      `/oauth/callback?code=${encodeURIComponent(`bogus-${rand()}`)}&state=${encodeURIComponent(state)}&iss=${encodeURIComponent(op.issuer)}`);
    assert.equal(cbRes.status, 302, `callback: ${cbRes.status} ${cbRes.text.slice(0, 300)}`);
    const loc = cbRes.headers.get('location');
    assert.ok(loc.startsWith(`${cb}?`), loc);
    assert.equal(queryOf(loc).status, 'error');
    assert.equal(op.tokenRequests.length, tokensBefore + 1, 'one (rejected) token request');
    assert.equal(op.tokenRequests.at(-1).status, 400);
    assertUser(await getUser(server, W.apiKey, cids.basic, userId), userId, false);
  });

  test('callback with an unknown or missing state -> failure page, nothing exchanged', async () => {
    const tokensBefore = op.tokenRequests.length;
    for (const q of [`code=x&state=${rand(16)}`, 'code=x', 'error=access_denied', `error=access_denied&state=${rand(16)}`, '']) {
      const res = await request(server, 'GET', `/oauth/callback${q ? `?${q}` : ''}`);
      assert.ok(res.status >= 400 && res.status < 500, `callback ?${q}: status ${res.status}`);
      assertPageHeaders(res.headers, `callback ?${q}`);
      assert.equal(parseResult(res.text)?.status, 'error', `callback ?${q}: ${res.text.slice(0, 500)}`);
      assertNoExternalUrls(res.text, `callback ?${q}`);
    }
    assert.equal(op.tokenRequests.length, tokensBefore);
  });

  test('the OAuth redirects carry no-store and no-referrer', async () => {
    const { url } = await link(cids.basic, `hdr-${rand()}`, { redirectUri: appCb() });
    const res = await request(url, 'GET', '');
    assert.equal(res.status, 302);
    assert.match(res.headers.get('cache-control') || '', /no-store/i, '302 to the provider: Cache-Control');
    assert.equal(res.headers.get('referrer-policy'), 'no-referrer', '302 to the provider: Referrer-Policy');
  });
});
