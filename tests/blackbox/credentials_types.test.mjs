// CONTRACT section 9: GET …/users/{userId}/credentials for every auth type
// (NONE, API_TOKEN with declared fields, AWS_ASSUME_ROLE from a local STS with
// its cache, GOOGLE_SERVICE_ACCOUNT_OAUTH from a local token endpoint, OAUTH2
// from a local authorization server), 409 / 404 / 401, DELETE with RFC 7009
// revocation, what a refresh does with the refresh token (kept / rotated), and
// transient token-endpoint failures (retries, 503, the user stays active).
// Every peer is local; connect flows are driven with fetch.

import { describe, test, before, after } from 'node:test';
import assert from 'node:assert/strict';

import {
  Context, getUser, assertUser, assertError, authUrl, rand, randomUuid, request, userPath, TIMESTAMP,
} from '../lib/harness.mjs';
import { defineIntegration, connectLink } from '../peers/http.mjs';
import { fetchPage } from '../lib/browser.mjs';
import { startSts, serviceCredentials, stsServerOptions } from '../peers/sts.mjs';
import { startGoogleTokenEndpoint, makeServiceAccountKey } from '../peers/google.mjs';
import {
  getCredentials, deleteUser, setWebhook, waitUntil, refreshPoint, startFakeOAuth, fakeOAuthDefinition,
  connectFakeOAuth, connectForm, startWebhookReceiver,
} from '../peers/lifecycle.mjs';
import { scaled } from '../lib/timeouts.mjs';

const PRINCIPAL = 'arn:aws:iam::111122223333:user/toolregistry';
const ROLE_ARN = 'arn:aws:iam::123456789012:role/CredentialsRead';
const GSA_SCOPES = ['https://www.googleapis.com/auth/bigquery'];
const QUICK_TTL = 3; // seconds the `quick` provider's access tokens live: refresh margin 1.5 s

describe('credentials_types', { concurrency: 1, timeout: scaled(120_000) }, () => {
  const ctx = new Context();
  const awsCreds = serviceCredentials();
  let server;
  let sts;
  let google;
  let gKey;
  let fake; // long-lived tokens (1 h), revocation endpoint
  let quick; // QUICK_TTL-second tokens
  let receiver;
  let W;
  let W2;
  const cids = {};

  before(async () => {
    sts = await startSts({ credentials: awsCreds });
    google = await startGoogleTokenEndpoint({ expectedScope: GSA_SCOPES.join(' ') });
    gKey = google.register(makeServiceAccountKey({ tokenUri: google.tokenUri }));
    fake = await startFakeOAuth({ expiresIn: 3600 });
    quick = await startFakeOAuth({ expiresIn: QUICK_TTL, authMethod: 'client_secret_post' });
    receiver = await startWebhookReceiver();

    W = await ctx.workspace(undefined, 'creds-a');
    W2 = await ctx.workspace(undefined, 'creds-b');
    receiver.secret = (await setWebhook(ctx, W.workspaceId, `${receiver.url}/hooks`)).secret;
    await defineIntegration(ctx, W.workspaceId, {
      integrationId: 'test-apitoken-fields',
      name: 'API token with two fields',
      host: '127.0.0.1',
      authTypes: ['API_TOKEN'],
      apiToken: {
        header: 'X-Token',
        prefix: 'Token ',
        fields: [
          { name: 'subdomain', label: 'Subdomain', secret: false },
          { name: 'token', label: 'API key', secret: true },
        ],
      },
    });
    await defineIntegration(ctx, W.workspaceId, {
      integrationId: 'test-gsa', name: 'Google service account', host: 'bigquery.googleapis.com',
      authTypes: ['GOOGLE_SERVICE_ACCOUNT_OAUTH'], googleServiceAccount: { scopes: GSA_SCOPES, tokenUrl: google.tokenUri },
    });
    await defineIntegration(ctx, W.workspaceId, fakeOAuthDefinition('test-fake', fake));
    await defineIntegration(ctx, W.workspaceId, fakeOAuthDefinition('test-fake-norevoke', fake, { revocation: false }));
    await defineIntegration(ctx, W.workspaceId, fakeOAuthDefinition('test-quick', quick));
    cids.none = (await ctx.enable(W.workspaceId, 'open-meteo')).customerIntegrationId;
    cids.apiToken = (await ctx.enable(W.workspaceId, 'test-apitoken-fields')).customerIntegrationId;
    cids.aws = (await ctx.enable(W.workspaceId, 'aws')).customerIntegrationId;
    cids.google = (await ctx.enable(W.workspaceId, 'test-gsa')).customerIntegrationId;
    const oauth = { clientId: fake.clientId, clientSecret: fake.clientSecret };
    cids.oauth = (await ctx.enable(W.workspaceId, 'test-fake', oauth)).customerIntegrationId;
    cids.noRevoke = (await ctx.enable(W.workspaceId, 'test-fake-norevoke', oauth)).customerIntegrationId;
    cids.quick = (await ctx.enable(W.workspaceId, 'test-quick', { clientId: quick.clientId, clientSecret: quick.clientSecret })).customerIntegrationId;
    cids.foreign = (await ctx.enable(W2.workspaceId, 'open-meteo')).customerIntegrationId;

    const opts = stsServerOptions(sts, ctx.env, awsCreds, PRINCIPAL);
    server = await ctx.startServer({ ...opts, extraArgs: [...opts.extraArgs, '--refresh-sweep-interval', '3600'] });
  });

  after(async () => {
    await Promise.all([sts, google, fake, quick, receiver].map((p) => p?.close()));
    await ctx.cleanup();
  });

  const creds = (cid, userId, opts) => getCredentials(server, W.apiKey, cid, userId, opts);

  /** 200, JSON, Cache-Control no-store; returns the body. */
  function assertCredentials(res, authType, where) {
    assert.equal(res.status, 200, `${where}: ${res.status} ${res.text}`);
    assert.match(res.headers.get('content-type') || '', /^application\/json\b/i, `${where}: content-type`);
    assert.match(res.headers.get('cache-control') || '', /(^|,)\s*no-store\s*(,|$)/i,
      `${where}: Cache-Control should include no-store, got "${res.headers.get('cache-control')}"`);
    assert.ok(res.headers.get('x-request-id'), `${where}: x-request-id`);
    assert.equal(res.json?.authType, authType, `${where}: ${res.text}`);
    return res.json;
  }

  test('NONE: exactly {"authType":"NONE"}', async () => {
    const userId = `none-${rand()}`;
    const { url } = await connectLink(server, W.apiKey, cids.none, userId);
    assert.equal((await fetchPage(url)).status, 200);
    const body = assertCredentials(await creds(cids.none, userId), 'NONE', 'NONE credentials');
    assert.deepEqual(body, { authType: 'NONE' });
  });

  test('API_TOKEN: the declared fields as entered, nothing else', async () => {
    const userId = `tok-${rand()}`;
    const token = `tok_${rand(16)}`;
    await connectForm(server, W.apiKey, cids.apiToken, userId, { subdomain: 'acme', token });
    const body = assertCredentials(await creds(cids.apiToken, userId), 'API_TOKEN', 'API_TOKEN credentials');
    assert.deepEqual(body, { authType: 'API_TOKEN', subdomain: 'acme', token });
  });

  test('AWS_ASSUME_ROLE: temporary keys from STS; two reads make at most one STS call (cache)', async () => {
    const userId = `aws-${rand()}`;
    await connectForm(server, W.apiKey, cids.aws, userId, { roleArn: ROLE_ARN });
    const callsAfterConnect = sts.calls.length;
    const first = assertCredentials(await creds(cids.aws, userId), 'AWS_ASSUME_ROLE', 'AWS credentials');
    const second = assertCredentials(await creds(cids.aws, userId), 'AWS_ASSUME_ROLE', 'AWS credentials (2nd read)');
    assert.deepEqual(Object.keys(first).sort(),
      ['accessKeyId', 'authType', 'expiration', 'secretAccessKey', 'sessionToken'], `fields: ${JSON.stringify(first)}`);
    assert.deepEqual(second, first, 'the second read answers the cached keys');
    const readCalls = sts.calls.slice(callsAfterConnect);
    assert.ok(readCalls.length <= 1, `two reads made ${readCalls.length} STS calls (expected one at most)`);
    for (const c of readCalls) {
      assert.ok(c.sig.ok, `the read's AssumeRole signature: ${c.sig.reason}`);
      assert.equal(c.form.get('RoleArn'), ROLE_ARN);
      assert.ok(c.form.get('ExternalId'), 'AssumeRole for a read carries the External ID');
    }
    const issued = sts.issued.find((i) => i.accessKeyId === first.accessKeyId);
    assert.ok(issued, `accessKeyId ${first.accessKeyId} was not issued by the STS peer`);
    assert.equal(first.secretAccessKey, issued.secretAccessKey);
    assert.equal(first.sessionToken, issued.sessionToken);
    assert.equal(Date.parse(first.expiration), Date.parse(issued.expiration), `expiration ${first.expiration} vs ${issued.expiration}`);
    assert.ok(Date.parse(first.expiration) > Date.now() + 5 * 60_000, `expiration ${first.expiration} is too close`);
  });

  test('GOOGLE_SERVICE_ACCOUNT_OAUTH: a minted access token and its expiry', async () => {
    const userId = `gsa-${rand()}`;
    await connectForm(server, W.apiKey, cids.google, userId, { keyJson: gKey.text }, { multipart: true });
    const before = google.calls.length;
    const body = assertCredentials(await creds(cids.google, userId), 'GOOGLE_SERVICE_ACCOUNT_OAUTH', 'Google credentials');
    assert.deepEqual(Object.keys(body).sort(), ['accessToken', 'authType', 'expiresAt'], `fields: ${JSON.stringify(body)}`);
    assert.ok(google.issued.includes(body.accessToken), 'accessToken was not issued by the token endpoint');
    assert.match(body.expiresAt, TIMESTAMP);
    const left = Date.parse(body.expiresAt) - Date.now();
    assert.ok(left > 3000_000 && left <= 3600_000, `expiresAt ${body.expiresAt}: ${left} ms from now, expected ~3599 s`);
    for (const c of google.calls.slice(before)) assert.ok(c.ok, `token endpoint refused the read's assertion: ${c.reason}`);
  });

  test('OAUTH2: accessToken, tokenType, expiresAt, scopes; a fresh token is not refreshed', async () => {
    const userId = `oauth-${rand()}`;
    const t = await connectFakeOAuth(fake, server, W.apiKey, cids.oauth, userId);
    const refreshes = fake.refreshCalls().length;
    const body = assertCredentials(await creds(cids.oauth, userId), 'OAUTH2', 'OAUTH2 credentials');
    assert.deepEqual(Object.keys(body).sort(), ['accessToken', 'authType', 'expiresAt', 'scopes', 'tokenType']);
    assert.equal(body.accessToken, t.access_token);
    assert.equal(body.tokenType, 'Bearer');
    assert.match(body.expiresAt, TIMESTAMP);
    assert.ok(Math.abs(Date.parse(body.expiresAt) - (t.at + 3600_000)) < 15_000, `expiresAt ${body.expiresAt}`);
    assert.deepEqual(body.scopes, ['read', 'write']);
    assert.deepEqual((await creds(cids.oauth, userId)).json, body, 'second read');
    assert.equal(fake.refreshCalls().length, refreshes, 'no refresh for a token with an hour left');
  });

  test('409 for a user that never connected (JSON error); the user stays inactive', async () => {
    for (const cid of [cids.oauth, cids.apiToken, cids.aws]) {
      const userId = `never-${rand()}`;
      assert.equal((await authUrl(server, W.apiKey, cid, userId)).status, 201);
      const r = await creds(cid, userId);
      assertError(r, 409);
      assertUser(await getUser(server, W.apiKey, cid, userId), userId, false);
    }
  });

  test('404 for unknown users, unknown, malformed and foreign integrations; 401 without a key', async () => {
    const userId = `nf-${rand()}`;
    const { url } = await connectLink(server, W2.apiKey, cids.foreign, userId);
    assert.equal((await fetchPage(url)).status, 200);
    assert.equal((await getCredentials(server, W2.apiKey, cids.foreign, userId)).status, 200, 'the owner reads it');
    assertError(await creds(cids.foreign, userId), 404);
    assertError(await creds(cids.none, `nobody-${rand()}`), 404);
    assertError(await creds(randomUuid(), userId), 404);
    assertError(await creds('not-a-uuid', userId), 404);
    assertError(await request(server, 'GET', userPath(cids.foreign, userId, { suffix: '/credentials' })), 401);
    assertError(await request(server, 'DELETE', userPath(cids.foreign, userId)), 401);
    assertError(await deleteUser(server, W.apiKey, cids.foreign, userId), 404);
    assert.equal((await getCredentials(server, W2.apiKey, cids.foreign, userId)).status, 200, 'a foreign DELETE did nothing');
  });

  test('DELETE: 204, the refresh token is revoked (RFC 7009, client auth), user and credentials gone, user.deleted', async () => {
    const userId = `del-${rand()}`;
    const t = await connectFakeOAuth(fake, server, W.apiKey, cids.oauth, userId);
    const before = fake.revocations.length;
    const r = await deleteUser(server, W.apiKey, cids.oauth, userId);
    assert.equal(r.status, 204, `DELETE: ${r.status} ${r.text}`);
    assert.equal(r.text, '', '204 has no body');
    const revs = fake.revocations.slice(before);
    assert.equal(revs.length, 1, `revocation requests: ${revs.map((x) => x.form.toString()).join(' | ')}`);
    assert.match(revs[0].headers['content-type'] || '', /^application\/x-www-form-urlencoded\b/i);
    assert.equal(revs[0].form.get('token'), t.refresh_token, 'the refresh token is revoked');
    assert.equal(revs[0].form.get('token_type_hint'), 'refresh_token');
    assert.ok(revs[0].clientOk, 'the client authenticates at the revocation endpoint like at the token endpoint');
    assertError(await getUser(server, W.apiKey, cids.oauth, userId), 404);
    assertError(await creds(cids.oauth, userId), 404);
    assertError(await deleteUser(server, W.apiKey, cids.oauth, userId), 404);
    const ev = await receiver.waitFor((p) => p.type === 'user.deleted' && p.data?.userId === userId, 'user.deleted');
    assert.equal(ev.payload.data.customerIntegrationId, cids.oauth);
  });

  test('DELETE without a revocation endpoint, and for NONE: 204, no revocation call, user gone', async () => {
    const userId = `delnr-${rand()}`;
    await connectFakeOAuth(fake, server, W.apiKey, cids.noRevoke, userId);
    const before = fake.revocations.length;
    assert.equal((await deleteUser(server, W.apiKey, cids.noRevoke, userId)).status, 204);
    assert.equal(fake.revocations.length, before, 'no revocationUrl declared: no revocation request');
    assertError(await getUser(server, W.apiKey, cids.noRevoke, userId), 404);

    const noneUser = `delnone-${rand()}`;
    assert.equal((await authUrl(server, W.apiKey, cids.none, noneUser)).status, 201);
    assert.equal((await deleteUser(server, W.apiKey, cids.none, noneUser)).status, 204);
    assertError(await getUser(server, W.apiKey, cids.none, noneUser), 404);
    assertError(await creds(cids.none, noneUser), 404);
  });

  test('refresh on read: a response without refresh_token keeps the old one; a rotated one replaces it', async () => {
    const userId = `keep-${rand()}`;
    quick.rotate = false;
    const t = await connectFakeOAuth(quick, server, W.apiKey, cids.quick, userId);
    const base = quick.refreshCalls().length;
    let body = assertCredentials(await creds(cids.quick, userId), 'OAUTH2', 'first read');
    assert.equal(body.accessToken, t.access_token, 'a read right after connecting serves the issued token');
    const presented = [];
    let current = body;
    // Two refreshes without rotation, then two with rotation.
    for (const rotate of [false, false, true, true]) {
      quick.rotate = rotate;
      await waitUntil(refreshPoint(current.expiresAt, QUICK_TTL * 1000) + 50, 'the refresh margin');
      const next = assertCredentials(await creds(cids.quick, userId), 'OAUTH2', 'read in the margin');
      const calls = quick.refreshCalls().slice(base);
      assert.equal(calls.length, presented.length + 1, `one refresh per read in the margin (${calls.length})`);
      const call = calls.at(-1);
      assert.equal(call.status, 200);
      assert.ok(call.clientOk, 'client_secret_post client authentication');
      presented.push({ sent: call.form.get('refresh_token'), got: call.json.refresh_token });
      assert.equal(next.accessToken, call.json.access_token, 'the read answers the refreshed token');
      assert.notEqual(next.accessToken, current.accessToken);
      current = next;
    }
    quick.rotate = false;
    assert.equal(presented[0].sent, t.refresh_token);
    assert.equal(presented[1].sent, t.refresh_token, 'no refresh_token in the answer: the old one is kept');
    assert.equal(presented[2].sent, t.refresh_token);
    assert.ok(presented[2].got && presented[2].got !== t.refresh_token, 'the provider rotated');
    assert.equal(presented[3].sent, presented[2].got, 'a rotated refresh token replaces the old one');
    body = assertUser(await getUser(server, W.apiKey, cids.quick, userId), userId, true);
  });

  test('transient failure: token endpoint 500 -> the working token within the margin; once expired 3 tries with backoff, 503 JSON, user active, user.refresh_failed; then recovers', async () => {
    const userId = `flaky-${rand()}`;
    await connectFakeOAuth(quick, server, W.apiKey, cids.quick, userId);
    const first = assertCredentials(await creds(cids.quick, userId), 'OAUTH2', 'first read');
    quick.onRefresh = () => ({ status: 500, json: { error: 'server_error' } });
    try {
      await waitUntil(refreshPoint(first.expiresAt, QUICK_TTL * 1000) + 50, 'the refresh margin');
      const kept = assertCredentials(await creds(cids.quick, userId), 'OAUTH2', 'read within the margin');
      assert.equal(kept.accessToken, first.accessToken, 'the token that still works is served');
      await waitUntil(Date.parse(first.expiresAt) + 50, 'the expiry');
      const base = quick.refreshCalls().length;
      const t0 = Date.now();
      const r = await creds(cids.quick, userId);
      const took = Date.now() - t0;
      assertError(r, 503);
      const calls = quick.refreshCalls().slice(base);
      assert.equal(calls.length, 3, `refresh attempts: ${calls.length} (expected 3 tries)`);
      const gaps = calls.slice(1).map((c, i) => c.at - calls[i].at);
      assert.ok(gaps[0] >= 200 && gaps[1] >= 400 && gaps[1] > gaps[0],
        `backoff between tries should start at 250 ms and double: ${gaps.join(', ')} ms`);
      assert.ok(took < 5000, `the 503 took ${took} ms`);
      assertUser(await getUser(server, W.apiKey, cids.quick, userId), userId, true);
      const ev = await receiver.waitFor((p) => p.type === 'user.refresh_failed' && p.data?.userId === userId, 'user.refresh_failed');
      assert.equal(ev.payload.data.customerIntegrationId, cids.quick);
    } finally {
      quick.onRefresh = undefined;
    }
    const healed = assertCredentials(await creds(cids.quick, userId), 'OAUTH2', 'read after the provider recovered');
    assert.notEqual(healed.accessToken, first.accessToken);
    assert.equal(receiver.of('user.deactivated').filter((d) => d.payload.data?.userId === userId).length, 0,
      'a transient failure must not deactivate the user');
    assert.deepEqual(receiver.unverified(), [], 'every webhook delivery verifies');
  });
});
