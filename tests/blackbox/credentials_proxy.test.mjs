// CONTRACT section 9, the proxy: ANY /v1/proxy/{cid}/{userId}/{path…} forwards
// to the integration's apiBaseUrl (a local upstream that records every
// request) with the user's auth: API_TOKEN in a header with a prefix or in a
// query parameter, OAUTH2 Bearer, nothing for NONE, SigV4 with the temporary
// STS keys for AWS (checked independently with aws4). The caller's API key and
// hop-by-hop headers stay behind; the upstream's status, headers (set-cookie
// included) and body come back; an OAUTH2 401 is retried once after a forced
// refresh.

import { describe, test, before, after } from 'node:test';
import assert from 'node:assert/strict';

import {
  Context, request, rawRequest, assertError, authUrl, rand, randomUuid,
} from '../lib/harness.mjs';
import { fetchPage } from '../lib/browser.mjs';
import { defineIntegration, connectLink } from '../peers/http.mjs';
import { startSts, serviceCredentials, stsServerOptions } from '../peers/sts.mjs';
import {
  getCredentials, startFakeOAuth, fakeOAuthDefinition, connectFakeOAuth, connectForm, startUpstream, verifySigV4,
  waitUntil,
} from '../peers/lifecycle.mjs';
import { scaled } from '../lib/timeouts.mjs';

const PRINCIPAL = 'arn:aws:iam::111122223333:user/toolregistry';
const ROLE_ARN = 'arn:aws:iam::123456789012:role/ProxyAccess';

describe('credentials_proxy', { concurrency: 1, timeout: scaled(120_000) }, () => {
  const ctx = new Context();
  const awsCreds = serviceCredentials();
  const rejected = new Set(); // access tokens the upstream answers 401 to
  let server;
  let upstream;
  let sts;
  let fake;
  let W;
  let W2;
  const cids = {};
  const users = {};
  const tokens = {};
  const oauthUsers = {};

  before(async () => {
    upstream = await startUpstream((rec) => {
      const bearer = /^Bearer (.+)$/.exec(rec.headers.authorization || '')?.[1];
      const m = /^\/base\/status\/(\d{3})$/.exec(rec.path);
      if (m) {
        const status = Number(m[1]);
        return {
          status,
          headers: { 'content-type': 'text/plain; charset=utf-8', 'x-upstream': `status-${status}` },
          body: status === 204 || status === 304 ? '' : `upstream says ${status}`,
        };
      }
      if (rec.path === '/base/always401' || (bearer && rejected.has(bearer))) {
        return { status: 401, headers: { 'www-authenticate': 'Bearer error="invalid_token"' }, body: '{"error":"invalid_token"}' };
      }
      return {
        status: rec.method === 'POST' ? 201 : 200,
        headers: { 'x-upstream': 'yes', 'set-cookie': 'sid=upstream-session; HttpOnly', 'cache-control': 'private, max-age=0' },
      };
    });
    sts = await startSts({ credentials: awsCreds });
    fake = await startFakeOAuth();
    W = await ctx.workspace(undefined, 'proxy');
    W2 = await ctx.workspace(undefined, 'proxy-other');
    const apiBaseUrl = `${upstream.url}/base`;
    const tokenDef = (integrationId, apiToken) => ({
      integrationId, name: integrationId, host: '127.0.0.1', apiBaseUrl, authTypes: ['API_TOKEN'], apiToken,
    });
    await defineIntegration(ctx, W.workspaceId, tokenDef('test-tok-header', { header: 'X-Token', prefix: 'Token ' }));
    await defineIntegration(ctx, W.workspaceId, tokenDef('test-tok-bearer', { header: 'Authorization', prefix: 'Bearer ' }));
    await defineIntegration(ctx, W.workspaceId, tokenDef('test-tok-query', { queryParam: 'api_key' }));
    await defineIntegration(ctx, W.workspaceId, {
      integrationId: 'test-none', name: 'none', host: '127.0.0.1', apiBaseUrl, authTypes: ['NONE'],
    });
    await defineIntegration(ctx, W.workspaceId, fakeOAuthDefinition('test-oauth', fake, { apiBaseUrl }));
    await defineIntegration(ctx, W.workspaceId, {
      integrationId: 'test-aws', name: 'aws', host: 'sts.amazonaws.com', apiBaseUrl: `${upstream.url}/`,
      authTypes: ['AWS_ASSUME_ROLE'], awsAssumeRole: { sessionDurationSeconds: 900 },
    });
    for (const id of ['header', 'bearer', 'query']) {
      cids[id] = (await ctx.enable(W.workspaceId, `test-tok-${id}`)).customerIntegrationId;
    }
    cids.none = (await ctx.enable(W.workspaceId, 'test-none')).customerIntegrationId;
    cids.oauth = (await ctx.enable(W.workspaceId, 'test-oauth', { clientId: fake.clientId, clientSecret: fake.clientSecret })).customerIntegrationId;
    cids.aws = (await ctx.enable(W.workspaceId, 'test-aws')).customerIntegrationId;
    cids.foreign = (await ctx.enable(W2.workspaceId, 'open-meteo')).customerIntegrationId;

    const opts = stsServerOptions(sts, ctx.env, awsCreds, PRINCIPAL);
    server = await ctx.startServer({ ...opts, extraArgs: [...opts.extraArgs, '--refresh-sweep-interval', '3600'] });

    for (const id of ['header', 'bearer', 'query']) {
      users[id] = `u-${id}-${rand()}`;
      tokens[id] = `tok_${id}_${rand(12)}`;
      await connectForm(server, W.apiKey, cids[id], users[id], { token: tokens[id] });
    }
    for (const k of ['retry', 'twice']) {
      const userId = `oauth-${k}-${rand()}`;
      oauthUsers[k] = { userId, t: await connectFakeOAuth(fake, server, W.apiKey, cids.oauth, userId) };
    }
    users.none = `u-none/${rand()}`; // a userId with a slash, percent-encoded in the path
    const { url } = await connectLink(server, W.apiKey, cids.none, users.none);
    assert.equal((await fetchPage(url)).status, 200);
  });

  after(async () => {
    await Promise.all([upstream, sts, fake].map((p) => p?.close()));
    await ctx.cleanup();
  });

  const proxyPath = (cid, userId, rest) => `/v1/proxy/${cid}/${encodeURIComponent(userId)}/${rest}`;
  const proxy = (method, cid, userId, rest, opts = {}) => request(server, method, proxyPath(cid, userId, rest), { key: W.apiKey, ...opts });

  /** The requests the upstream received while `fn` ran. */
  async function upstreamSees(fn) {
    const n = upstream.requests.length;
    const res = await fn();
    return { res, recs: upstream.requests.slice(n) };
  }

  /** Nothing of the caller's API key reached the upstream. */
  function assertNoApiKey(rec) {
    assert.equal(rec.headers['x-api-key'], undefined, 'x-api-key must not be forwarded');
    const raw = `${rec.url}\n${JSON.stringify(rec.headers)}\n${rec.body.toString('latin1')}`;
    assert.ok(!raw.includes(W.apiKey), 'the workspace API key reached the upstream');
  }

  test('API_TOKEN header + prefix: GET with a query; path, query, auth header; upstream answer passed through', async () => {
    const { res, recs } = await upstreamSees(() => proxy('GET', cids.header, users.header, 'items/42?a=1&b=two%20words&c=%2F'));
    assert.equal(recs.length, 1, 'one upstream request');
    const rec = recs[0];
    assert.equal(rec.method, 'GET');
    assert.equal(rec.url, '/base/items/42?a=1&b=two%20words&c=%2F', 'apiBaseUrl + path, query kept as sent');
    assert.equal(rec.headers['x-token'], `Token ${tokens.header}`);
    assert.equal(rec.headers.authorization, undefined);
    assertNoApiKey(rec);
    assert.equal(res.status, 200, `proxy: ${res.status} ${res.text}`);
    assert.deepEqual(res.json, { method: 'GET', path: '/base/items/42', query: 'a=1&b=two%20words&c=%2F' });
    assert.equal(res.headers.get('x-upstream'), 'yes', 'upstream headers come back');
    assert.equal(res.headers.get('cache-control'), 'private, max-age=0');
    assert.equal(res.headers.get('set-cookie'), 'sid=upstream-session; HttpOnly', 'set-cookie is passed back');
  });

  test('API_TOKEN header: POST with a JSON body -> same bytes and content-type upstream; 201 passed back', async () => {
    const body = JSON.stringify({ name: 'ünïcode', n: [1, 2, 3], pad: 'x'.repeat(5000) });
    const { res, recs } = await upstreamSees(() => proxy('POST', cids.header, users.header, 'items', {
      body, headers: { 'content-type': 'application/json; charset=utf-8', 'x-end-to-end': 'kept' },
    }));
    assert.equal(recs.length, 1);
    assert.equal(recs[0].method, 'POST');
    assert.equal(recs[0].path, '/base/items');
    assert.equal(recs[0].body.toString('utf8'), body, 'the body reaches the upstream unchanged');
    assert.equal(recs[0].headers['content-type'], 'application/json; charset=utf-8');
    assert.equal(recs[0].headers['x-end-to-end'], 'kept', 'end-to-end request headers are forwarded');
    assert.equal(res.status, 201);
  });

  test('API_TOKEN as Authorization: Bearer: the caller\'s Bearer API key is replaced by the user\'s token', async () => {
    const { res, recs } = await upstreamSees(() => request(server, 'GET', proxyPath(cids.bearer, users.bearer, 'me'), { bearer: W.apiKey }));
    assert.equal(res.status, 200, `proxy with Authorization: Bearer <API key>: ${res.status} ${res.text}`);
    assert.equal(recs.length, 1);
    assert.equal(recs[0].headers.authorization, `Bearer ${tokens.bearer}`);
    assertNoApiKey(recs[0]);
  });

  test('API_TOKEN as a query parameter: added to the caller\'s query, no auth header', async () => {
    const { res, recs } = await upstreamSees(() => proxy('GET', cids.query, users.query, 'search?q=x'));
    assert.equal(res.status, 200, `${res.status} ${res.text}`);
    assert.equal(recs.length, 1);
    assert.equal(recs[0].path, '/base/search');
    assert.equal(recs[0].query.get('q'), 'x');
    assert.equal(recs[0].query.get('api_key'), tokens.query);
    assert.equal(recs[0].headers.authorization, undefined);
    assertNoApiKey(recs[0]);
  });

  test('a credential header or query parameter the caller sent itself is dropped: the upstream sees the user\'s only', async () => {
    const { res, recs } = await upstreamSees(() => proxy('GET', cids.header, users.header, 'me', {
      headers: { 'X-TOKEN': 'caller-1', 'x-token': 'caller-2' },
    }));
    assert.equal(res.status, 200, `${res.status} ${res.text}`);
    // Node joins repeated fields with ", ": one value means one field.
    assert.equal(recs[0].headers['x-token'], `Token ${tokens.header}`);
    const q = await upstreamSees(() => proxy('GET', cids.query, users.query, 'search?api_key=caller&q=x&api%5Fkey=again'));
    assert.equal(q.res.status, 200, `${q.res.status} ${q.res.text}`);
    assert.deepEqual(q.recs[0].query.getAll('api_key'), [tokens.query]);
    assert.equal(q.recs[0].query.get('q'), 'x');
  });

  test('NONE: no credentials added; PUT and DELETE pass; a userId with "/" (percent-encoded) works', async () => {
    for (const method of ['GET', 'PUT', 'DELETE']) {
      const { res, recs } = await upstreamSees(() => proxy(method, cids.none, users.none, 'things/1',
        method === 'PUT' ? { json: { a: 1 } } : {}));
      assert.equal(res.status, 200, `${method}: ${res.status} ${res.text}`);
      assert.equal(recs.length, 1);
      assert.equal(recs[0].method, method);
      assert.equal(recs[0].path, '/base/things/1');
      assert.equal(recs[0].headers.authorization, undefined);
      assertNoApiKey(recs[0]);
      if (method === 'PUT') assert.equal(recs[0].body.toString(), '{"a":1}');
    }
  });

  test('hop-by-hop request headers (Keep-Alive, TE, Proxy-*) and x-api-key are not forwarded', async () => {
    const { res, recs } = await upstreamSees(() => rawRequest(server, 'GET', proxyPath(cids.none, users.none, 'hop'), {
      headers: {
        'x-api-key': W.apiKey,
        'Keep-Alive': 'timeout=5',
        TE: 'trailers',
        'Proxy-Authorization': 'Basic Zm9vOmJhcg==',
        'Proxy-Connection': 'keep-alive',
        'X-End-To-End': 'kept',
      },
    }));
    assert.equal(res.status, 200, `${res.status} ${res.text}`);
    assert.equal(recs.length, 1);
    const h = recs[0].headers;
    for (const name of ['keep-alive', 'te', 'proxy-authorization', 'proxy-connection', 'x-api-key']) {
      assert.equal(h[name], undefined, `${name} must not be forwarded (got "${h[name]}")`);
    }
    assert.equal(h['x-end-to-end'], 'kept');
    assertNoApiKey(recs[0]);
  });

  test('headers named in the caller\'s Connection header are hop-by-hop too (RFC 9110 7.6.1)', async () => {
    const { res, recs } = await upstreamSees(() => rawRequest(server, 'GET', proxyPath(cids.none, users.none, 'hop2'), {
      headers: { 'x-api-key': W.apiKey, Connection: 'X-Hop-Custom', 'X-Hop-Custom': 'drop me', 'X-End-To-End': 'kept' },
    }));
    assert.equal(res.status, 200, `${res.status} ${res.text}`);
    assert.equal(recs.length, 1);
    assert.equal(recs[0].headers['x-end-to-end'], 'kept');
    assert.equal(recs[0].headers['x-hop-custom'], undefined,
      `X-Hop-Custom was named in Connection and must not be forwarded (got "${recs[0].headers['x-hop-custom']}")`);
  });

  test('upstream statuses and bodies pass through: 418, 404, 500, 204', async () => {
    for (const status of [418, 404, 500, 204]) {
      const { res, recs } = await upstreamSees(() => proxy('GET', cids.none, users.none, `status/${status}`));
      assert.equal(recs.length, 1, `${status}: one upstream request`);
      assert.equal(res.status, status, `upstream ${status} came back as ${res.status}: ${res.text}`);
      assert.equal(res.headers.get('x-upstream'), `status-${status}`);
      assert.equal(res.text, status === 204 ? '' : `upstream says ${status}`, `${status}: the upstream's body`);
    }
  });

  /**
   * 401 on `method` /me for the user's current token -> expects exactly one forced
   * refresh and one retry carrying the new token (and the body again).
   */
  async function assertRefreshOn401(userId, t) {
    rejected.add(t.access_token); // the provider revoked the access token early
    const refreshesBefore = fake.refreshCalls().length;
    const body = JSON.stringify({ retry: 'me' });
    const { res, recs } = await upstreamSees(() => proxy('POST', cids.oauth, userId, 'me', { body, headers: { 'content-type': 'application/json' } }));
    const refreshes = fake.refreshCalls().slice(refreshesBefore);
    const seen = `upstream saw ${recs.length} request(s) with ${recs.map((r) => (r.headers.authorization === `Bearer ${t.access_token}` ? 'the rejected token' : r.headers.authorization)).join(', ')}; `
      + `${refreshes.length} refresh_token grant(s); proxied answer ${res.status}`;
    assert.equal(refreshes.length, 1, `one forced refresh expected: ${seen}`);
    assert.equal(recs.length, 2, `one retry expected: ${seen}`);
    assert.equal(recs[0].headers.authorization, `Bearer ${t.access_token}`);
    assert.equal(refreshes[0].form.get('refresh_token'), t.refresh_token);
    const fresh = refreshes[0].json.access_token;
    assert.equal(recs[1].headers.authorization, `Bearer ${fresh}`, `the retry carries the new token: ${seen}`);
    assert.equal(recs[1].body.toString(), body, 'the retry sends the body again');
    assert.equal(res.status, 201, `proxied answer after the retry: ${res.status} ${res.text}`);
    assert.equal((await getCredentials(server, W.apiKey, cids.oauth, userId)).json?.accessToken, fresh);
  }

  test('OAUTH2: Bearer <accessToken>; a 401 from upstream -> one forced refresh and one retry with the new token (body re-sent)', async () => {
    const { userId, t } = oauthUsers.retry;
    const { res, recs } = await upstreamSees(() => proxy('GET', cids.oauth, userId, 'me'));
    assert.equal(res.status, 200);
    assert.equal(recs[0].headers.authorization, `Bearer ${t.access_token}`);
    assertNoApiKey(recs[0]);
    // A token in use for a few seconds, as in real life (connected in before()).
    await waitUntil(t.at + 2500, 'the token to be a few seconds old');
    await assertRefreshOn401(userId, t);
  });

  test('OAUTH2: upstream 401 twice -> retried once only, the 401 passed back', async () => {
    const { userId, t } = oauthUsers.twice;
    await waitUntil(t.at + 2500, 'the token to be a few seconds old');
    const refreshesBefore = fake.refreshCalls().length;
    const { res, recs } = await upstreamSees(() => proxy('GET', cids.oauth, userId, 'always401'));
    assert.equal(recs.length, 2, `upstream requests: ${recs.length}`);
    assert.equal(fake.refreshCalls().length - refreshesBefore, 1, 'one forced refresh');
    assert.equal(res.status, 401);
    assert.equal(res.text, '{"error":"invalid_token"}', "the upstream's 401 body");
    assert.equal(res.headers.get('www-authenticate'), 'Bearer error="invalid_token"');
  });

  test('OAUTH2: a 401 for a token obtained moments ago is refreshed too (not retried with the rejected token)', async () => {
    const userId = `oauth-new-${rand()}`;
    const t = await connectFakeOAuth(fake, server, W.apiKey, cids.oauth, userId);
    await assertRefreshOn401(userId, t);
  });

  test('OAUTH2: a body over 1 MiB streams upstream once; its 401 is passed back (a streamed body cannot be sent again)', async () => {
    const { userId } = oauthUsers.twice;
    const body = Buffer.alloc(1536 * 1024, 'b');
    const refreshesBefore = fake.refreshCalls().length;
    const { res, recs } = await upstreamSees(() => proxy('POST', cids.oauth, userId, 'always401', {
      body, headers: { 'content-type': 'application/octet-stream' },
    }));
    assert.equal(res.status, 401);
    assert.equal(recs.length, 1, 'no retry');
    assert.equal(recs[0].body.length, body.length, 'the whole body reached the upstream');
    assert.equal(fake.refreshCalls().length, refreshesBefore, 'no forced refresh without a retry');
  });

  test('API_TOKEN: an upstream 401 is passed back without a retry', async () => {
    const { res, recs } = await upstreamSees(() => proxy('GET', cids.header, users.header, 'always401'));
    assert.equal(res.status, 401);
    assert.equal(recs.length, 1, 'no retry for API_TOKEN');
  });

  test('AWS_ASSUME_ROLE: SigV4 with the temporary STS keys (service = first host label, us-east-1), body signed', async () => {
    const userId = `aws-${rand()}`;
    await connectForm(server, W.apiKey, cids.aws, userId, { roleArn: ROLE_ARN });
    const keys = (await getCredentials(server, W.apiKey, cids.aws, userId)).json;
    assert.ok(keys?.accessKeyId, 'AWS credentials');
    const body = 'Action=ListUsers&Version=2010-05-08';
    const { res, recs } = await upstreamSees(() => proxy('POST', cids.aws, userId, '?Action=ListUsers', {
      body, headers: { 'content-type': 'application/x-www-form-urlencoded; charset=utf-8' },
    }));
    assert.equal(res.status, 201, `${res.status} ${res.text}`);
    assert.equal(recs.length, 1);
    const rec = recs[0];
    assert.equal(rec.body.toString(), body);
    assertNoApiKey(rec);
    const issued = sts.issued.find((c) => c.accessKeyId === keys.accessKeyId);
    assert.ok(issued, 'the credentials came from the STS peer');
    assert.match(rec.headers.authorization || '', new RegExp(`^AWS4-HMAC-SHA256 Credential=${keys.accessKeyId}/`),
      `Authorization: ${rec.headers.authorization}`);
    assert.equal(rec.headers['x-amz-security-token'], issued.sessionToken, 'X-Amz-Security-Token');
    // 127.0.0.1 is not service.region.amazonaws.com: service = first host label, region us-east-1.
    const check = verifySigV4(rec, issued, { service: '127', region: 'us-east-1' });
    if (!check.ok && check.parts) {
      const own = verifySigV4(rec, issued, { service: check.parts.service, region: check.parts.region });
      assert.fail(`SigV4 scope ${check.parts.service}/${check.parts.region}, expected 127/us-east-1 (${check.reason}); `
        + `the signature ${own.ok ? 'is valid' : `is not valid either (${own.reason})`} for the scope it claims`);
    }
    assert.ok(check.ok, `SigV4: ${check.reason}`);
  });

  test('AWS_ASSUME_ROLE: a body over 1 MiB is refused with 413 (SigV4 signs the whole body), nothing sent', async () => {
    const userId = `aws-big-${rand()}`;
    await connectForm(server, W.apiKey, cids.aws, userId, { roleArn: ROLE_ARN });
    const { res, recs } = await upstreamSees(() => proxy('PUT', cids.aws, userId, 'bucket/key', {
      body: Buffer.alloc(1536 * 1024, 'a'),
    }));
    assertError(res, 413);
    assert.equal(recs.length, 0);
  });

  test('errors: never-connected user 409, unknown user / cid / foreign cid 404, no API key 401 (nothing reaches upstream)', async () => {
    const never = `never-${rand()}`;
    assert.equal((await authUrl(server, W.apiKey, cids.oauth, never)).status, 201);
    const n = upstream.requests.length;
    assertError(await proxy('GET', cids.oauth, never, 'me'), 409);
    assertError(await proxy('GET', cids.header, `nobody-${rand()}`, 'me'), 404);
    assertError(await proxy('GET', randomUuid(), users.header, 'me'), 404);
    assertError(await proxy('GET', cids.foreign, users.header, 'me'), 404);
    assertError(await request(server, 'GET', proxyPath(cids.header, users.header, 'me')), 401);
    assert.equal(upstream.requests.length, n, 'no upstream request for a refused call');
  });
});
