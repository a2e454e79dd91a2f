// CONTRACT section 4, AWS_ASSUME_ROLE: the role-ARN form with the workspace's
// External ID, verified with an STS AssumeRole call signed with Signature V4,
// against a local STS endpoint that checks the signature itself (aws4).

import { describe, test, before, after } from 'node:test';
import assert from 'node:assert/strict';

import { Context, getUser, assertUser, rand } from '../lib/harness.mjs';
import {
  launchBrowser, readResult, assertPageHeaders, assertNoExternalUrls, queryOf, submitAndWait,
  assertFormError, fetchPage, postForm, assertFormHtml, findElement,
} from '../lib/browser.mjs';
import { startApp, defineIntegration, connectLink, getCredentials } from '../peers/http.mjs';
import { startSts, serviceCredentials, stsServerOptions } from '../peers/sts.mjs';
import { scaled } from '../lib/timeouts.mjs';

const PRINCIPAL = 'arn:aws:iam::111122223333:user/toolregistry';
const GOOD_ARN = 'arn:aws:iam::123456789012:role/ToolregistryAccess';
const DENIED_ARN = 'arn:aws:iam::999999999999:role/ToolregistryAccess';

describe('connect_aws', { concurrency: 1, timeout: scaled(180_000) }, () => {
  const ctx = new Context();
  let server;
  let badSigServer; // same database, wrong AWS secret
  let sts;
  let app;
  let browser;
  let W;
  let W2;
  const creds = serviceCredentials();
  const cids = {};

  before(async () => {
    sts = await startSts({ credentials: creds });
    app = await startApp();
    server = await ctx.startServer(stsServerOptions(sts, ctx.env, creds, PRINCIPAL));
    badSigServer = await ctx.startServer(stsServerOptions(sts, ctx.env,
      { ...creds, secretAccessKey: `${creds.secretAccessKey}x` }, PRINCIPAL));
    W = await ctx.workspace(server, 'aws-a');
    W2 = await ctx.workspace(server, 'aws-b');
    cids.catalog = (await ctx.enable(W.workspaceId, 'aws')).customerIntegrationId;
    await defineIntegration(ctx, W.workspaceId, {
      integrationId: 'test-aws',
      name: 'Test AWS (15 minute sessions)',
      host: 'sts.amazonaws.com',
      authTypes: ['AWS_ASSUME_ROLE'],
      awsAssumeRole: { sessionDurationSeconds: 900 },
    });
    cids.custom = (await ctx.enable(W.workspaceId, 'test-aws')).customerIntegrationId;
    cids.other = (await ctx.enable(W2.workspaceId, 'aws')).customerIntegrationId;
    browser = await launchBrowser();
  });

  after(async () => {
    await browser?.close();
    await app?.close();
    await sts?.close();
    await ctx.cleanup();
  });

  const appCb = () => `${app.url}/cb/${rand(6)}`;
  const externalIdOf = (html) => findElement(html, 'external-id')?.text;

  test('the form page: role ARN field, External ID, principal, csrf, headers, no external URLs', async () => {
    const { token, url } = await connectLink(server, W.apiKey, cids.catalog, `form-${rand()}`);
    const page = await fetchPage(url);
    assert.equal(page.status, 200, `form page status ${page.status}`);
    assert.match(page.headers.get('content-type') || '', /^text\/html\b/i);
    assertPageHeaders(page.headers, 'AWS form');
    assertNoExternalUrls(page.html, 'AWS form');
    assertFormHtml(page.html, token, ['field-roleArn', 'external-id', 'principal'], 'AWS form');
    const ext = externalIdOf(page.html);
    assert.ok(ext && ext.length >= 16 && /^[\w+=,.@:/-]+$/.test(ext), `External ID should be a long STS-valid string: "${ext}"`);
    assert.equal(findElement(page.html, 'principal').text, PRINCIPAL);
  });

  test('the External ID is the same for every session of a customer integration, and differs between workspaces', async () => {
    const a = await fetchPage((await connectLink(server, W.apiKey, cids.catalog, `ext-a-${rand()}`)).url);
    const b = await fetchPage((await connectLink(server, W.apiKey, cids.catalog, `ext-b-${rand()}`)).url);
    const a2 = await fetchPage((await connectLink(server, W.apiKey, cids.catalog, `ext-a-${rand()}`)).url);
    assert.ok(externalIdOf(a.html));
    assert.equal(externalIdOf(b.html), externalIdOf(a.html), 'two users of one customer integration');
    assert.equal(externalIdOf(a2.html), externalIdOf(a.html), 'two sessions');
    const other = await fetchPage((await connectLink(server, W2.apiKey, cids.other, `ext-o-${rand()}`)).url);
    assert.ok(externalIdOf(other.html));
    assert.notEqual(externalIdOf(other.html), externalIdOf(a.html), 'another workspace gets another External ID');
  });

  test('invalid ARN -> error on the form, STS not called; AccessDenied -> error; good ARN -> success, user active', async () => {
    const userId = `flow-${rand()}`;
    const cb = appCb();
    const { url } = await connectLink(server, W.apiKey, cids.catalog, userId, { redirectUri: cb });
    const page = await browser.page();
    await page.goto(url);
    const externalId = (await page.locator('#external-id').innerText()).trim();
    assert.equal((await page.locator('#principal').innerText()).trim(), PRINCIPAL);

    const n = sts.calls.length;
    await page.locator('#field-roleArn').fill('arn:aws:iam::12345:role/Short');
    await submitAndWait(page);
    await assertFormError(page, 'invalid ARN');
    assert.equal(sts.calls.length, n, 'an invalid ARN is refused before calling STS');

    await page.locator('#field-roleArn').fill(DENIED_ARN);
    await submitAndWait(page);
    await assertFormError(page, 'AccessDenied');
    assert.equal(sts.calls.length, n + 1);
    assert.ok(sts.calls[n].sig.ok, `SigV4: ${sts.calls[n].sig.reason}`);
    assertUser(await getUser(server, W.apiKey, cids.catalog, userId), userId, false);

    await page.locator('#field-roleArn').fill(GOOD_ARN);
    await submitAndWait(page);
    assert.ok(page.url().startsWith(`${cb}?`), `should land on the app: ${page.url()}`);
    assert.deepEqual(queryOf(page.url()), { status: 'success' });
    assertUser(await getUser(server, W.apiKey, cids.catalog, userId), userId, true);

    const call = sts.calls.at(-1);
    assert.ok(call.sig.ok, `SigV4 check failed: ${call.sig.reason}`);
    assert.equal(call.rec.method, 'POST');
    assert.match(call.rec.headers['content-type'] || '', /^application\/x-www-form-urlencoded\b/i);
    assert.equal(call.form.get('Action'), 'AssumeRole');
    assert.equal(call.form.get('Version'), '2011-06-15');
    assert.equal(call.form.get('RoleArn'), GOOD_ARN);
    assert.equal(call.form.get('ExternalId'), externalId, 'ExternalId is the one shown on the page');
    assert.equal(call.form.get('DurationSeconds'), '3600');
    assert.match(call.form.get('RoleSessionName') || '', /^[\w+=,.@-]{2,64}$/, 'RoleSessionName');

    // The credentials handed out are ones STS issued (CONTRACT section 9); a server may
    // assume the role again when they are read, so compare with the latest.
    const creds = await getCredentials(server, W.apiKey, cids.catalog, userId);
    const issued = sts.issued.at(-1);
    assert.equal(creds.authType, 'AWS_ASSUME_ROLE');
    assert.equal(creds.accessKeyId, issued.accessKeyId);
    assert.equal(creds.secretAccessKey, issued.secretAccessKey);
    assert.equal(creds.sessionToken, issued.sessionToken);
    assert.equal(Date.parse(creds.expiration), Date.parse(issued.expiration));
  });

  test('invalid ARNs are refused on the form without calling STS', async () => {
    const bad = [
      'not-an-arn', 'arn:aws:iam::123456789012:user/Someone', 'arn:aws:iam::12345678901a:role/X',
      'arn:aws:iam::123456789012:role/', ' ', 'arn:aws:s3:::bucket',
    ];
    const n = sts.calls.length;
    for (let i = 0; i < bad.length; i += 2) {
      const { token, url } = await connectLink(server, W.apiKey, cids.catalog, `bad-${rand()}`);
      let csrf = (await fetchPage(url)).csrf;
      for (const arn of bad.slice(i, i + 2)) {
        const r = await postForm(url, { csrf, roleArn: arn });
        csrf = assertFormHtml(r.html, token, ['field-roleArn'], `ARN "${arn}"`);
        assert.ok(findElement(r.html, 'error')?.text, `ARN "${arn}" should show #error`);
      }
    }
    assert.equal(sts.calls.length, n, 'STS must not be called for a malformed ARN');
  });

  test('STS answers that are not a 200 AssumeRoleResponse are errors on the form', async () => {
    const userId = `garbage-${rand()}`;
    const { url } = await connectLink(server, W.apiKey, cids.catalog, userId);
    const page = await browser.page();
    await page.goto(url);
    for (const arn of ['arn:aws:iam::123456789012:role/Garbage', 'arn:aws:iam::123456789012:role/Broken']) {
      await page.locator('#field-roleArn').fill(arn);
      await submitAndWait(page);
      await assertFormError(page, arn);
    }
    assertUser(await getUser(server, W.apiKey, cids.catalog, userId), userId, false);
  });

  test('a request signed with the wrong secret is rejected by STS: error on the form', async () => {
    const userId = `badsig-${rand()}`;
    const { url } = await connectLink(badSigServer, W.apiKey, cids.catalog, userId);
    const n = sts.calls.length;
    const page = await browser.page();
    await page.goto(url);
    await page.locator('#field-roleArn').fill(GOOD_ARN);
    await submitAndWait(page);
    await assertFormError(page, 'SignatureDoesNotMatch');
    assert.equal(sts.calls.length, n + 1);
    assert.equal(sts.calls[n].sig.ok, false, 'the peer must see a bad signature');
    assertUser(await getUser(server, W.apiKey, cids.catalog, userId), userId, false);
  });

  test('custom integration: sessionDurationSeconds is sent; success page without redirectUri', async () => {
    const userId = `custom-${rand()}`;
    const { url } = await connectLink(server, W.apiKey, cids.custom, userId);
    const page = await browser.page();
    await page.goto(url);
    await page.locator('#field-roleArn').fill(GOOD_ARN);
    const post = page.waitForResponse((r) => r.request().method() === 'POST');
    await submitAndWait(page);
    assertPageHeaders(await (await post).allHeaders(), 'AWS success page');
    assert.equal((await readResult(page)).status, 'success');
    const call = sts.calls.at(-1);
    assert.ok(call.sig.ok, call.sig.reason);
    assert.equal(call.form.get('DurationSeconds'), '900');
    assertUser(await getUser(server, W.apiKey, cids.custom, userId), userId, true);
  });
});
