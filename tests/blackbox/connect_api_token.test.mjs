// CONTRACT section 4, API_TOKEN: the hosted form, the verification request
// (token in a header with a prefix, or in a query parameter, URL templates
// with other fields), retries, the attempt limit, CSRF, and the private-network
// guard. Driven in headless Chromium against a local verification endpoint.

import { describe, test, before, after } from 'node:test';
import assert from 'node:assert/strict';

import { Context, getUser, assertUser, rand } from '../lib/harness.mjs';
import {
  launchBrowser, readResult, assertPageHeaders, assertNoExternalUrls, parseResult, queryOf,
  submitAndWait, assertFormError, fetchPage, postForm, assertFormHtml, findElement,
} from '../lib/browser.mjs';
import { startPeer, startApp, defineIntegration, connectLink, getCredentials } from '../peers/http.mjs';
import { scaled } from '../lib/timeouts.mjs';

const GOOD = 'good-token';

describe('connect_api_token', { concurrency: 1, timeout: scaled(180_000) }, () => {
  const ctx = new Context();
  let server; // --allow-private-network
  let guarded; // same database, without --allow-private-network
  let verifier;
  let app;
  let browser;
  let W;
  const cids = {};

  before(async () => {
    // The provider's "who am I" endpoints.
    verifier = await startPeer((req, res, rec) => {
      let ok = false;
      let okStatus = 200;
      let m;
      if (rec.path === '/me') {
        ok = rec.method === 'GET' && rec.headers.authorization === `Bearer ${GOOD}`;
      } else if ((m = /^\/([^/]+)\/me$/.exec(rec.path))) {
        ok = rec.method === 'GET' && m[1] === 'acme' && rec.query.get('api_key') === GOOD;
      } else if (rec.path === '/hdr') {
        ok = rec.method === 'POST' && rec.headers['x-api-key'] === GOOD;
        okStatus = 204;
      }
      if (ok) {
        res.writeHead(okStatus, okStatus === 204 ? {} : { 'content-type': 'application/json' });
        res.end(okStatus === 204 ? undefined : '{"id":1}');
      } else {
        res.writeHead(401, { 'content-type': 'application/json' });
        res.end('{"error":"unauthorized"}');
      }
    });
    app = await startApp();
    server = await ctx.startServer({ extraArgs: ['--allow-private-network'] });
    guarded = await ctx.startServer();
    W = await ctx.workspace(server, 'apitoken');
    const base = { host: '127.0.0.1', authTypes: ['API_TOKEN'] };
    await defineIntegration(ctx, W.workspaceId, {
      ...base,
      integrationId: 'test-apitoken',
      name: 'Test API token (Bearer header)',
      apiToken: { verification: { method: 'GET', url: `${verifier.url}/me`, successStatus: 200 } },
    });
    await defineIntegration(ctx, W.workspaceId, {
      ...base,
      integrationId: 'test-apitoken-query',
      name: 'Test API token (query parameter, subdomain)',
      apiToken: {
        queryParam: 'api_key',
        fields: [
          { name: 'subdomain', label: 'Subdomain', secret: false },
          { name: 'token', label: 'API key', secret: true },
        ],
        verification: { method: 'GET', url: `${verifier.url}/{subdomain}/me`, successStatus: 200 },
      },
    });
    await defineIntegration(ctx, W.workspaceId, {
      ...base,
      integrationId: 'test-apitoken-hdr',
      name: 'Test API token (X-Api-Key, no prefix, POST, 204)',
      apiToken: {
        header: 'X-Api-Key',
        prefix: '',
        verification: { method: 'POST', url: `${verifier.url}/hdr`, successStatus: 204 },
      },
    });
    cids.bearer = (await ctx.enable(W.workspaceId, 'test-apitoken')).customerIntegrationId;
    cids.query = (await ctx.enable(W.workspaceId, 'test-apitoken-query')).customerIntegrationId;
    cids.hdr = (await ctx.enable(W.workspaceId, 'test-apitoken-hdr')).customerIntegrationId;
    browser = await launchBrowser();
  });

  after(async () => {
    await browser?.close();
    await app?.close();
    await verifier?.close();
    await ctx.cleanup();
  });

  const appCb = () => `${app.url}/cb/${rand(6)}`;
  const since = (n) => verifier.requests.slice(n);

  test('the form page: fields, csrf, relative action, headers, no external URLs', async () => {
    const { token, url } = await connectLink(server, W.apiKey, cids.bearer, `form-${rand()}`);
    const page = await fetchPage(url);
    assert.equal(page.status, 200, `form page status ${page.status}`);
    assert.match(page.headers.get('content-type') || '', /^text\/html\b/i);
    assertPageHeaders(page.headers, 'API token form');
    assertNoExternalUrls(page.html, 'API token form');
    assertFormHtml(page.html, token, ['field-token'], 'API token form');

    const q = await connectLink(server, W.apiKey, cids.query, `form-${rand()}`);
    const qPage = await fetchPage(q.url);
    assert.equal(qPage.status, 200);
    assertFormHtml(qPage.html, q.token, ['field-subdomain', 'field-token'], 'API token form with two fields');
  });

  test('wrong token -> #error on the form, retry with the right one -> redirectUri?status=success; user active', async () => {
    const userId = `retry-${rand()}`;
    const cb = appCb();
    const { url } = await connectLink(server, W.apiKey, cids.bearer, userId, { redirectUri: cb });
    const n = verifier.requests.length;
    const page = await browser.page();
    await page.goto(url);
    const wrong = `wrong-${rand(6)}`;
    await page.locator('#field-token').fill(wrong);
    await submitAndWait(page);
    await assertFormError(page, 'after a wrong token');
    assert.ok(!(await page.content()).includes(wrong), 'the rejected secret must not be echoed back in the page');
    const seen = since(n);
    assert.equal(seen.length, 1, 'one verification request');
    assert.equal(seen[0].method, 'GET');
    assert.equal(seen[0].headers.authorization, `Bearer ${wrong}`);
    assertUser(await getUser(server, W.apiKey, cids.bearer, userId), userId, false);

    await page.locator('#field-token').fill(GOOD);
    await submitAndWait(page);
    assert.ok(page.url().startsWith(`${cb}?`), `should land on the app: ${page.url()}`);
    assert.deepEqual(queryOf(page.url()), { status: 'success' });
    assert.equal(since(n).length, 2);
    assertUser(await getUser(server, W.apiKey, cids.bearer, userId), userId, true);
    assert.deepEqual(await getCredentials(server, W.apiKey, cids.bearer, userId), { authType: 'API_TOKEN', token: GOOD });
  });

  test('a failed re-connect (too_many_attempts) leaves an active user with its old credentials', async () => {
    const userId = `keep-${rand()}`;
    const first = await connectLink(server, W.apiKey, cids.bearer, userId);
    const page = await browser.page();
    await page.goto(first.url);
    await page.locator('#field-token').fill(GOOD);
    await submitAndWait(page);
    assert.equal((await readResult(page)).status, 'success');

    const second = await connectLink(server, W.apiKey, cids.bearer, userId);
    assertUser(await getUser(server, W.apiKey, cids.bearer, userId), userId, true);
    await page.goto(second.url);
    for (let i = 1; i <= 6 && !(await page.locator('#result').count()); i++) {
      await page.locator('#field-token').fill(`wrong-${i}`);
      await submitAndWait(page);
    }
    assert.equal((await readResult(page)).errorCode, 'too_many_attempts');
    assertUser(await getUser(server, W.apiKey, cids.bearer, userId), userId, true);
    assert.deepEqual(await getCredentials(server, W.apiKey, cids.bearer, userId), { authType: 'API_TOKEN', token: GOOD });
  });

  test('without redirectUri: success page; the used link then fails (session_used)', async () => {
    const userId = `page-${rand()}`;
    const { url } = await connectLink(server, W.apiKey, cids.bearer, userId);
    const page = await browser.page();
    await page.goto(url);
    await page.locator('#field-token').fill(GOOD);
    const post = page.waitForResponse((r) => r.request().method() === 'POST');
    await submitAndWait(page);
    const res = await post;
    assertPageHeaders(await res.allHeaders(), 'API token success page');
    assert.equal(res.status(), 200);
    assert.deepEqual(await readResult(page).then((r) => ({ status: r.status, errorCode: r.errorCode })),
      { status: 'success', errorCode: undefined });
    assertUser(await getUser(server, W.apiKey, cids.bearer, userId), userId, true);

    const again = await fetchPage(url);
    assert.ok(again.status >= 400 && again.status < 500, `used link status ${again.status}`);
    assertPageHeaders(again.headers, 'used link page');
    const r = parseResult(again.html);
    assert.equal(r?.status, 'error', again.html.slice(0, 500));
    assert.equal(r.errorCode, 'session_used');
  });

  test('query parameter + {subdomain} URL template', async () => {
    const userId = `query-${rand()}`;
    const cb = appCb();
    const { url } = await connectLink(server, W.apiKey, cids.query, userId, { redirectUri: cb });
    const n = verifier.requests.length;
    const page = await browser.page();
    await page.goto(url);
    await page.locator('#field-subdomain').fill('other');
    await page.locator('#field-token').fill(GOOD);
    await submitAndWait(page);
    await assertFormError(page, 'wrong subdomain');
    assert.equal(since(n)[0]?.path, '/other/me');

    await page.locator('#field-subdomain').fill('acme');
    await page.locator('#field-token').fill(GOOD);
    await submitAndWait(page);
    assert.deepEqual(queryOf(page.url()), { status: 'success' }, page.url());
    const last = since(n).at(-1);
    assert.equal(last.path, '/acme/me');
    assert.equal(last.query.get('api_key'), GOOD);
    assert.ok(!(last.headers.authorization || '').includes(GOOD), 'with queryParam the token is not also sent in a header');
    assertUser(await getUser(server, W.apiKey, cids.query, userId), userId, true);
    assert.deepEqual(await getCredentials(server, W.apiKey, cids.query, userId),
      { authType: 'API_TOKEN', subdomain: 'acme', token: GOOD });
  });

  test('custom header without prefix, POST verification with successStatus 204', async () => {
    const userId = `hdr-${rand()}`;
    const cb = appCb();
    const { url } = await connectLink(server, W.apiKey, cids.hdr, userId, { redirectUri: cb });
    const n = verifier.requests.length;
    const page = await browser.page();
    await page.goto(url);
    await page.locator('#field-token').fill(`Bearer ${GOOD}`);
    await submitAndWait(page);
    await assertFormError(page, 'prefixed value for a header without prefix');
    await page.locator('#field-token').fill(GOOD);
    await submitAndWait(page);
    assert.deepEqual(queryOf(page.url()), { status: 'success' }, page.url());
    const last = since(n).at(-1);
    assert.equal(last.method, 'POST');
    assert.equal(last.headers['x-api-key'], GOOD);
    assertUser(await getUser(server, W.apiKey, cids.hdr, userId), userId, true);
  });

  test('too many wrong submissions end the flow (too_many_attempts); the user stays inactive', async () => {
    const userId = `attempts-${rand()}`;
    const { url } = await connectLink(server, W.apiKey, cids.bearer, userId);
    const n = verifier.requests.length;
    const page = await browser.page();
    await page.goto(url);
    let ended = 0;
    for (let i = 1; i <= 6; i++) {
      await page.locator('#field-token').fill(`wrong-${i}`);
      await submitAndWait(page);
      if (await page.locator('#result').count()) { ended = i; break; }
      await assertFormError(page, `wrong submission ${i}`);
    }
    assert.ok(ended >= 5, `the flow should allow at least 4 retries; it ended at submission ${ended}`);
    const r = await readResult(page);
    assert.equal(r.status, 'error');
    assert.equal(r.errorCode, 'too_many_attempts');
    assert.ok(since(n).length <= 5, `at most 5 verification requests, got ${since(n).length}`);

    // The session is over: the link fails and even the right token is no longer checked.
    const again = await fetchPage(url);
    assert.equal(parseResult(again.html)?.status, 'error', again.html.slice(0, 500));
    const m = verifier.requests.length;
    const late = await postForm(url, { csrf: again.csrf || 'x', token: GOOD });
    assert.equal(parseResult(late.html)?.status ?? (late.location && queryOf(late.location).status), 'error',
      `POST after the end: ${late.status} ${late.html.slice(0, 300)}`);
    assert.equal(verifier.requests.length, m, 'no verification after the flow ended');
    assertUser(await getUser(server, W.apiKey, cids.bearer, userId), userId, false);
  });

  test('too_many_attempts with a redirectUri -> status=error&error=too_many_attempts', async () => {
    const userId = `attempts-r-${rand()}`;
    const cb = appCb();
    const { url } = await connectLink(server, W.apiKey, cids.bearer, userId, { redirectUri: cb });
    const page = await browser.page();
    await page.goto(url);
    for (let i = 1; i <= 6 && !page.url().startsWith(cb); i++) {
      await page.locator('#field-token').fill(`wrong-${i}`);
      await submitAndWait(page);
    }
    assert.ok(page.url().startsWith(`${cb}?`), page.url());
    assert.deepEqual(queryOf(page.url()), { status: 'error', error: 'too_many_attempts' });
    assertUser(await getUser(server, W.apiKey, cids.bearer, userId), userId, false);
  });

  test('missing or wrong csrf -> the form again with an error, nothing verified; the form still works', async () => {
    const userId = `csrf-${rand()}`;
    const { token, url } = await connectLink(server, W.apiKey, cids.bearer, userId);
    const first = await fetchPage(url);
    const csrf = assertFormHtml(first.html, token, ['field-token']);
    const n = verifier.requests.length;
    for (const fields of [{ token: GOOD }, { csrf: `${csrf.slice(0, -2)}xx`, token: GOOD }, { csrf: '', token: GOOD }]) {
      const r = await postForm(url, fields);
      assert.ok(r.status === 200 || (r.status >= 400 && r.status < 500), `csrf failure status ${r.status}`);
      assertPageHeaders(r.headers, 'csrf failure page');
      assertFormHtml(r.html, token, ['field-token'], `POST ${JSON.stringify(Object.keys(fields))}`);
      const err = findElement(r.html, 'error');
      assert.ok(err && err.text.length > 0, `csrf failure should show #error: ${r.html.slice(0, 800)}`);
    }
    assert.equal(verifier.requests.length, n, 'a request without a valid csrf is not verified');
    assertUser(await getUser(server, W.apiKey, cids.bearer, userId), userId, false);

    // The session is still usable from the real form.
    const page = await browser.page();
    await page.goto(url);
    await page.locator('#field-token').fill(GOOD);
    await submitAndWait(page);
    assert.equal((await readResult(page)).status, 'success');
    assertUser(await getUser(server, W.apiKey, cids.bearer, userId), userId, true);
  });

  test('an empty token is refused on the form without calling the provider', async () => {
    const userId = `empty-${rand()}`;
    const { token, url } = await connectLink(server, W.apiKey, cids.bearer, userId);
    const first = await fetchPage(url);
    const n = verifier.requests.length;
    const r = await postForm(url, { csrf: first.csrf, token: '' });
    assertFormHtml(r.html, token, ['field-token'], 'empty token');
    assert.ok(findElement(r.html, 'error')?.text, `empty token should show #error: ${r.html.slice(0, 800)}`);
    assert.equal(verifier.requests.length, n);
    assertUser(await getUser(server, W.apiKey, cids.bearer, userId), userId, false);
  });

  test('without --allow-private-network the loopback verification is refused: error on the form', async () => {
    const userId = `guard-${rand()}`;
    const { url } = await connectLink(guarded, W.apiKey, cids.bearer, userId);
    const n = verifier.requests.length;
    const page = await browser.page();
    await page.goto(url);
    await page.locator('#field-token').fill(GOOD);
    await submitAndWait(page);
    await assertFormError(page, 'private network refused');
    assert.equal(verifier.requests.length, n, 'the guarded server must not reach the loopback peer');
    assertUser(await getUser(guarded, W.apiKey, cids.bearer, userId), userId, false);
  });

  test('an unreachable verification endpoint is an error on the form', async () => {
    const dead = await startPeer((req, res) => res.end());
    const deadUrl = dead.url;
    await dead.close();
    await defineIntegration(ctx, W.workspaceId, {
      integrationId: 'test-apitoken-dead',
      name: 'Test API token (unreachable)',
      host: '127.0.0.1',
      authTypes: ['API_TOKEN'],
      apiToken: { verification: { method: 'GET', url: `${deadUrl}/me`, successStatus: 200 } },
    });
    const cid = (await ctx.enable(W.workspaceId, 'test-apitoken-dead')).customerIntegrationId;
    const userId = `dead-${rand()}`;
    const { url } = await connectLink(server, W.apiKey, cid, userId);
    const page = await browser.page();
    await page.goto(url);
    await page.locator('#field-token').fill(GOOD);
    await submitAndWait(page);
    await assertFormError(page, 'unreachable verification endpoint');
    assertUser(await getUser(server, W.apiKey, cid, userId), userId, false);
  });
});
