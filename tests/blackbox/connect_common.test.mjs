// CONTRACT section 4, what every connect flow shares: NONE completing at once,
// unknown / used links, how the status is appended to a redirectUri, the
// security headers of every connect page and pages that load nothing from
// elsewhere. Plain HTTP (fetch, redirects not followed): no browser needed.

import { describe, test, before, after } from 'node:test';
import assert from 'node:assert/strict';

import {
  Context, getUser, assertUser, rand, waitForAdminChange, request,
} from '../lib/harness.mjs';
import {
  assertPageHeaders, assertNoExternalUrls, parseResult, fetchPage, postForm, assertFormHtml,
} from '../lib/browser.mjs';
import { connectLink } from '../peers/http.mjs';
import { scaled } from '../lib/timeouts.mjs';

describe('connect_common', { concurrency: 1, timeout: scaled(120_000) }, () => {
  const ctx = new Context();
  let server;
  let W;
  const cids = {};

  before(async () => {
    server = await ctx.startServer({ extraArgs: ['--aws-principal-arn', 'arn:aws:iam::111122223333:user/toolregistry'] });
    W = await ctx.workspace(server, 'common');
    cids.none = (await ctx.enable(W.workspaceId, 'open-meteo')).customerIntegrationId;
    cids.apiToken = (await ctx.enable(W.workspaceId, 'anthropic')).customerIntegrationId;
    cids.aws = (await ctx.enable(W.workspaceId, 'aws')).customerIntegrationId;
    cids.google = (await ctx.enable(W.workspaceId, 'google-bigquery')).customerIntegrationId;
    cids.oauth = (await ctx.enableOauth(W.workspaceId)).customerIntegrationId;
  });

  after(() => ctx.cleanup());

  /** Asserts a result page: HTML, headers, no external URLs, #result data-status; returns the result. */
  function assertResultPage(page, status, httpStatus, where) {
    assert.equal(page.status, httpStatus, `${where}: HTTP status ${page.status}\n${page.html.slice(0, 500)}`);
    assert.match(page.headers.get('content-type') || '', /^text\/html\b/i, `${where}: content-type`);
    assertPageHeaders(page.headers, where);
    assertNoExternalUrls(page.html, where);
    const r = parseResult(page.html);
    assert.ok(r, `${where}: no #result in\n${page.html.slice(0, 800)}`);
    assert.equal(r.status, status, `${where}: data-status`);
    assert.ok(r.message && r.message.length > 0, `${where}: #message is empty`);
    if (status === 'success') assert.equal(r.errorCode, undefined, `${where}: a success page has no #error-code`);
    else assert.ok(r.errorCode, `${where}: an error page has an #error-code`);
    return r;
  }

  test('NONE (open-meteo) completes at once: 302 to redirectUri?status=success; the user is active', async () => {
    const userId = `none-${rand()}`;
    const { url } = await connectLink(server, W.apiKey, cids.none, userId, { redirectUri: 'https://app.example/cb' });
    const r = await fetchPage(url);
    assert.equal(r.status, 302, `NONE connect: ${r.status} ${r.html.slice(0, 300)}`);
    assert.equal(r.location, 'https://app.example/cb?status=success');
    assertUser(await getUser(server, W.apiKey, cids.none, userId), userId, true);
  });

  test('NONE without redirectUri: success page (200, #result data-status=success)', async () => {
    const userId = `none-page-${rand()}`;
    const { url } = await connectLink(server, W.apiKey, cids.none, userId);
    assertResultPage(await fetchPage(url), 'success', 200, 'NONE success page');
    assertUser(await getUser(server, W.apiKey, cids.none, userId), userId, true);
  });

  test('a used link: error redirect (session_used) or, without redirectUri, a failure page', async () => {
    const withRedirect = await connectLink(server, W.apiKey, cids.none, `used-${rand()}`, { redirectUri: 'https://app.example/cb?x=1' });
    assert.equal((await fetchPage(withRedirect.url)).location, 'https://app.example/cb?x=1&status=success');
    const again = await fetchPage(withRedirect.url);
    assert.equal(again.status, 302);
    assert.equal(again.location, 'https://app.example/cb?x=1&status=error&error=session_used');

    const plain = await connectLink(server, W.apiKey, cids.none, `used-${rand()}`);
    assert.equal((await fetchPage(plain.url)).status, 200);
    const r = assertResultPage(await fetchPage(plain.url), 'error', 400, 'used link page');
    assert.equal(r.errorCode, 'session_used');
  });

  test('unknown, malformed and oversized tokens: 404 failure page (invalid_session)', async () => {
    const tokens = [
      'A'.repeat(43), rand(16), 'abc', `${rand(16)}-_`, '%00', '..%2F..%2Fetc', 'x'.repeat(5000),
    ];
    for (const t of tokens) {
      const where = `GET /connect/${t.slice(0, 40)}`;
      const r = assertResultPage(await fetchPage(`${server.url}/connect/${t}`), 'error', 404, where);
      assert.equal(r.errorCode, 'invalid_session', where);
    }
    // A form post to an unknown token is no better.
    const post = await postForm(`${server.url}/connect/${rand(16)}`, { csrf: 'x', token: 'y' });
    const r = assertResultPage(post, 'error', 404, 'POST to an unknown token');
    assert.equal(r.errorCode, 'invalid_session');
  });

  test('status is appended with ? or &, before the fragment, the fragment kept', async () => {
    const cases = [
      ['https://app.example/cb', 'https://app.example/cb?status=success'],
      ['https://app.example/cb?x=1', 'https://app.example/cb?x=1&status=success'],
      ['https://app.example/cb#frag', 'https://app.example/cb?status=success#frag'],
      ['https://app.example/cb?x=1&y=a%20b#frag/x?y', 'https://app.example/cb?x=1&y=a%20b&status=success#frag/x?y'],
      ['http://localhost:3000/', 'http://localhost:3000/?status=success'],
    ];
    for (const [redirectUri, expected] of cases) {
      const { url } = await connectLink(server, W.apiKey, cids.none, `redir-${rand()}`, { redirectUri });
      const r = await fetchPage(url);
      assert.equal(r.status, 302, `${redirectUri}: ${r.status}`);
      assert.equal(r.location, expected, `redirectUri ${redirectUri}`);
    }
    // A bare "?" may stay or go, but no "?&" or "??".
    {
      const { url } = await connectLink(server, W.apiKey, cids.none, `redir-${rand()}`, { redirectUri: 'https://app.example/cb?' });
      const r = await fetchPage(url);
      assert.ok(['https://app.example/cb?status=success', 'https://app.example/cb?&status=success'].includes(r.location),
        `https://app.example/cb? -> ${r.location}`);
    }
    // The error redirect follows the same rules.
    const { url } = await connectLink(server, W.apiKey, cids.none, `redir-${rand()}`, { redirectUri: 'https://app.example/cb#frag' });
    await fetchPage(url);
    assert.equal((await fetchPage(url)).location, 'https://app.example/cb?status=error&error=session_used#frag');
  });

  test('form pages (API_TOKEN, AWS_ASSUME_ROLE, GOOGLE_SERVICE_ACCOUNT_OAUTH): headers, csrf, nothing external', async () => {
    for (const [kind, cid, fields] of [
      ['API_TOKEN', cids.apiToken, ['field-token']],
      ['AWS_ASSUME_ROLE', cids.aws, ['field-roleArn', 'external-id', 'principal']],
      ['GOOGLE_SERVICE_ACCOUNT_OAUTH', cids.google, ['field-keyJson', 'field-keyFile']],
    ]) {
      const userId = `form-${rand()}`;
      const { token, url } = await connectLink(server, W.apiKey, cid, userId);
      const page = await fetchPage(url);
      assert.equal(page.status, 200, `${kind} form: ${page.status}`);
      assert.match(page.headers.get('content-type') || '', /^text\/html\b/i);
      assertPageHeaders(page.headers, `${kind} form`);
      assertNoExternalUrls(page.html, `${kind} form`);
      assertFormHtml(page.html, token, fields, `${kind} form`);
      assert.equal(parseResult(page.html), undefined, `${kind}: a form is not a result page`);
      // The form again after a bad post (no csrf): same headers, still nothing external.
      const again = await postForm(url, { nothing: 'here' });
      assertPageHeaders(again.headers, `${kind} form after a bad post`);
      assertNoExternalUrls(again.html, `${kind} form after a bad post`);
      assertFormHtml(again.html, token, fields, `${kind} form after a bad post`);
      assertUser(await getUser(server, W.apiKey, cid, userId), userId, false);
    }
  });

  test('OAUTH2: GET /connect/<token> is a 302 to the provider; the connect token does not leak into it', async () => {
    const { token, url } = await connectLink(server, W.apiKey, cids.oauth, `oauth-${rand()}`, { redirectUri: 'https://app.example/cb' });
    const r = await fetchPage(url);
    assert.equal(r.status, 302);
    assert.ok(r.location.startsWith('https://accounts.google.com/o/oauth2/v2/auth?'), r.location);
    const q = new URL(r.location).searchParams;
    assert.equal(q.get('redirect_uri'), `${server.url}/oauth/callback`);
    assert.ok(!r.location.includes(token), 'the connect token must not be sent to the provider');
    assert.notEqual(q.get('state'), token, 'state is not the connect token');
    assert.equal(q.get('access_type'), 'offline', 'authorizationParams are added');
  });

  test('a link of a customer integration disabled since: a failure page', async () => {
    const cid = (await ctx.enable(W.workspaceId, 'hacker-news')).customerIntegrationId;
    // Opening a NONE link completes it, so a try made before the disable took effect spends
    // its link (and the next try on it would fail as session_used). Each try opens a link of
    // its own, all made before the disable; the page must fail because of the disable.
    const links = await Promise.all(Array.from({ length: 32 }, () =>
      connectLink(server, W.apiKey, cid, `disabled-${rand()}`)));
    const r0 = await ctx.cli(['integration', 'disable', '--id', cid, '--json']);
    assert.equal(r0.code, 0, r0.stderr);
    const unused = [...links];
    await waitForAdminChange(async () => {
      const link = unused.shift();
      assert.ok(link, `every one of the ${links.length} links was opened before the disable took effect`);
      const page = await fetchPage(link.url);
      assert.ok(page.status >= 400 && page.status < 500, `disabled: ${page.status}`);
      const result = parseResult(page.html);
      assert.equal(result?.status, 'error');
      assert.equal(result.errorCode, 'integration_inactive', `disabled: ${JSON.stringify(result)}`);
      assertPageHeaders(page.headers, 'disabled integration page');
    });
  });

  test('connect routes do not need an API key and ignore one', async () => {
    const { url } = await connectLink(server, W.apiKey, cids.none, `nokey-${rand()}`);
    const r = await request(url, 'GET', '', { key: 'sk_live_not-a-key' });
    assert.equal(r.status, 200, `with a bogus x-api-key: ${r.status}`);
    assert.equal(parseResult(r.text)?.status, 'success');
  });
});
