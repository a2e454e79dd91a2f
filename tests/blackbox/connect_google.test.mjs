// CONTRACT section 4, GOOGLE_SERVICE_ACCOUNT_OAUTH: paste or upload a
// service-account JSON key; toolregistry signs an RS256 JWT with it and makes
// a JWT-bearer token request to the key's token_uri, here a local endpoint
// that verifies the assertion with jose.

import crypto from 'node:crypto';
import { describe, test, before, after } from 'node:test';
import assert from 'node:assert/strict';

import { Context, getUser, assertUser, rand } from '../lib/harness.mjs';
import {
  launchBrowser, readResult, assertPageHeaders, assertNoExternalUrls, queryOf, submitAndWait,
  assertFormError, fetchPage, assertFormHtml, findElement,
} from '../lib/browser.mjs';
import { startApp, defineIntegration, connectLink, getCredentials } from '../peers/http.mjs';
import { startGoogleTokenEndpoint, makeServiceAccountKey } from '../peers/google.mjs';
import { scaled } from '../lib/timeouts.mjs';

const SCOPES = ['https://www.googleapis.com/auth/bigquery', 'https://www.googleapis.com/auth/devstorage.read_only'];

describe('connect_google', { concurrency: 1, timeout: scaled(180_000) }, () => {
  const ctx = new Context();
  let server;
  let google;
  let app;
  let browser;
  let W;
  let cid;
  let key; // the registered, valid key

  before(async () => {
    google = await startGoogleTokenEndpoint({ expectedScope: SCOPES.join(' ') });
    key = google.register(makeServiceAccountKey({ tokenUri: google.tokenUri }));
    app = await startApp();
    server = await ctx.startServer({ extraArgs: ['--allow-private-network'] });
    W = await ctx.workspace(server, 'google');
    await defineIntegration(ctx, W.workspaceId, {
      integrationId: 'test-gsa',
      name: 'Test Google service account',
      host: 'bigquery.googleapis.com',
      authTypes: ['GOOGLE_SERVICE_ACCOUNT_OAUTH'],
      googleServiceAccount: { scopes: SCOPES, tokenUrl: google.tokenUri },
    });
    cid = (await ctx.enable(W.workspaceId, 'test-gsa')).customerIntegrationId;
    browser = await launchBrowser();
  });

  after(async () => {
    await browser?.close();
    await app?.close();
    await google?.close();
    await ctx.cleanup();
  });

  const appCb = () => `${app.url}/cb/${rand(6)}`;

  function assertGoodCall(call) {
    assert.ok(call, 'the token endpoint was not called');
    assert.ok(call.ok, `token endpoint refused the assertion: ${call.reason}`);
    assert.equal(call.header.alg, 'RS256');
    assert.equal(call.claims.iss, key.clientEmail);
    assert.equal(call.claims.aud, google.tokenUri);
    assert.equal(call.claims.scope, SCOPES.join(' '));
  }

  test('the form page: key textarea, key file input, multipart form, csrf, headers', async () => {
    const { token, url } = await connectLink(server, W.apiKey, cid, `form-${rand()}`);
    const page = await fetchPage(url);
    assert.equal(page.status, 200, `form page status ${page.status}`);
    assertPageHeaders(page.headers, 'Google form');
    assertNoExternalUrls(page.html, 'Google form');
    assertFormHtml(page.html, token, ['field-keyJson', 'field-keyFile'], 'Google form');
    const form = findElement(page.html, 'connect-form');
    assert.equal((form.attrs.enctype || '').toLowerCase(), 'multipart/form-data');
    const ta = findElement(page.html, 'field-keyJson');
    assert.equal(ta.tag, 'textarea');
    assert.equal(ta.attrs.name, 'keyJson');
    const file = findElement(page.html, 'field-keyFile');
    assert.equal(file.tag, 'input');
    assert.equal(file.attrs.type, 'file');
    assert.equal(file.attrs.name, 'keyFile');
  });

  test('paste the JSON key -> JWT-bearer request verified by the endpoint -> status=success; user active', async () => {
    const userId = `paste-${rand()}`;
    const cb = appCb();
    const { url } = await connectLink(server, W.apiKey, cid, userId, { redirectUri: cb });
    const n = google.calls.length;
    const page = await browser.page();
    await page.goto(url);
    await page.locator('#field-keyJson').fill(key.text);
    await submitAndWait(page);
    assert.ok(page.url().startsWith(`${cb}?`), `should land on the app: ${page.url()}\n${(await page.content()).slice(0, 1000)}`);
    assert.deepEqual(queryOf(page.url()), { status: 'success' });
    assert.equal(google.calls.length, n + 1, 'one token request');
    assertGoodCall(google.calls[n]);
    assertUser(await getUser(server, W.apiKey, cid, userId), userId, true);
    const creds = await getCredentials(server, W.apiKey, cid, userId);
    assert.equal(creds.authType, 'GOOGLE_SERVICE_ACCOUNT_OAUTH');
    assert.equal(creds.accessToken, google.issued.at(-1));
  });

  test('upload the key file (setInputFiles) -> success page', async () => {
    const userId = `upload-${rand()}`;
    const { url } = await connectLink(server, W.apiKey, cid, userId);
    const n = google.calls.length;
    const page = await browser.page();
    await page.goto(url);
    await page.locator('#field-keyFile').setInputFiles({
      name: 'test-project-0123456789ab.json', mimeType: 'application/json', buffer: Buffer.from(key.text),
    });
    const post = page.waitForResponse((r) => r.request().method() === 'POST');
    await submitAndWait(page);
    assertPageHeaders(await (await post).allHeaders(), 'Google success page');
    const r = await readResult(page);
    assert.equal(r.status, 'success', `result: ${JSON.stringify(r)}`);
    assertGoodCall(google.calls[n]);
    assertUser(await getUser(server, W.apiKey, cid, userId), userId, true);
  });

  test('a key whose private key is not the account\'s -> the endpoint rejects it: error on the form', async () => {
    const other = crypto.generateKeyPairSync('rsa', { modulusLength: 2048 }).privateKey;
    const forged = google.register(makeServiceAccountKey({ tokenUri: google.tokenUri, signWith: other }));
    const userId = `forged-${rand()}`;
    const { url } = await connectLink(server, W.apiKey, cid, userId);
    const n = google.calls.length;
    const page = await browser.page();
    await page.goto(url);
    await page.locator('#field-keyJson').fill(forged.text);
    await submitAndWait(page);
    await assertFormError(page, 'forged key');
    assert.equal(google.calls.length, n + 1);
    assert.equal(google.calls[n].ok, false, 'the endpoint must have refused the signature');
    assert.ok(!(await page.content()).includes(forged.privateKeyPem.split('\n')[1]), 'the private key must not be echoed back');
    assertUser(await getUser(server, W.apiKey, cid, userId), userId, false);

    // The same session still accepts the right key.
    await page.locator('#field-keyJson').fill(key.text);
    await submitAndWait(page);
    assert.equal((await readResult(page)).status, 'success');
    assertUser(await getUser(server, W.apiKey, cid, userId), userId, true);
  });

  test('invalid keys are refused on the form without a token request', async () => {
    const weak = makeServiceAccountKey({ tokenUri: google.tokenUri, modulusLength: 1024 });
    const noTokenUri = { ...key.json };
    delete noTokenUri.token_uri;
    const noEmail = { ...key.json };
    delete noEmail.client_email;
    const cases = [
      ['invalid JSON', '{"type": "service_account", '],
      ['not an object', '["service_account"]'],
      ['type is not service_account', JSON.stringify({ ...key.json, type: 'authorized_user' })],
      ['no client_email', JSON.stringify(noEmail)],
      ['no token_uri', JSON.stringify(noTokenUri)],
      ['private key is not a PEM key', JSON.stringify({ ...key.json, private_key: '-----BEGIN PRIVATE KEY-----\nnope\n-----END PRIVATE KEY-----\n' })],
      ['RSA key of 1024 bits', weak.text],
    ];
    const n = google.calls.length;
    // Two attempts per session, well below the attempt limit.
    for (let i = 0; i < cases.length; i += 2) {
      const userId = `invalid-${rand()}`;
      const { url } = await connectLink(server, W.apiKey, cid, userId);
      const page = await browser.page();
      await page.goto(url);
      for (const [what, text] of cases.slice(i, i + 2)) {
        await page.locator('#field-keyJson').fill(text);
        await submitAndWait(page);
        await assertFormError(page, what);
      }
      assertUser(await getUser(server, W.apiKey, cid, userId), userId, false);
    }
    assert.equal(google.calls.length, n, 'no token request for a key that fails validation');
  });

  test('a token endpoint that refuses the scope -> error on the form', async () => {
    const scoped = await startGoogleTokenEndpoint({ expectedScope: 'https://www.googleapis.com/auth/cloud-platform' });
    try {
      const k = scoped.register(makeServiceAccountKey({ tokenUri: scoped.tokenUri }));
      await defineIntegration(ctx, W.workspaceId, {
        integrationId: 'test-gsa-scoped', name: 'Scoped', host: 'bigquery.googleapis.com',
        authTypes: ['GOOGLE_SERVICE_ACCOUNT_OAUTH'], googleServiceAccount: { scopes: SCOPES, tokenUrl: scoped.tokenUri },
      });
      const scopedCid = (await ctx.enable(W.workspaceId, 'test-gsa-scoped')).customerIntegrationId;
      const userId = `scope-${rand()}`;
      const { url } = await connectLink(server, W.apiKey, scopedCid, userId);
      const page = await browser.page();
      await page.goto(url);
      await page.locator('#field-keyJson').fill(k.text);
      await submitAndWait(page);
      await assertFormError(page, 'scope refused');
      assert.equal(scoped.calls.length, 1);
      assert.match(scoped.calls[0].reason || '', /scope/);
      assertUser(await getUser(server, W.apiKey, scopedCid, userId), userId, false);
    } finally {
      await scoped.close();
    }
  });
});
