// CONTRACT section 2: API keys, error bodies, x-request-id, unknown routes.

import { describe, test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import {
  Context, request, assertError, assertCliOk, waitForAdminChange, listIntegrations, authUrl,
  getUser, randomUuid, userPath,
} from '../lib/harness.mjs';
import { scaled } from '../lib/timeouts.mjs';

describe('auth', { concurrency: 1, timeout: scaled(120_000) }, () => {
  const ctx = new Context();
  let server;
  let ws;
  let cid;

  before(async () => {
    server = await ctx.startServer();
    ws = await ctx.workspace(server);
    cid = (await ctx.enableNone(ws.workspaceId)).customerIntegrationId;
  });

  after(() => ctx.cleanup());

  // The three seed routes, each with a request that would otherwise succeed.
  function seedRoutes() {
    return [
      ['GET', '/v1/integrations', undefined],
      ['GET', userPath(cid, 'alice'), undefined],
      ['POST', userPath(cid, 'alice', { suffix: '/auth-url' }), {}],
    ];
  }

  test('no API key -> 401 on every seed route', async () => {
    for (const [method, p, json] of seedRoutes()) {
      const r = await request(server, method, p, { json });
      assertError(r, 401);
    }
  });

  test('unknown API keys -> 401', async () => {
    const bogus = ['sk_live_' + 'A'.repeat(43), 'sk_live_', 'not-a-key', ws.apiKey + 'x', ws.apiKey.slice(0, -1)];
    for (const key of bogus) {
      for (const [method, p, json] of seedRoutes()) {
        assertError(await request(server, method, p, { key, json }), 401);
        assertError(await request(server, method, p, { bearer: key, json }), 401);
      }
    }
  });

  test('empty x-api-key and empty/odd Authorization headers -> 401', async () => {
    const cases = [
      { 'x-api-key': '' },
      { authorization: 'Bearer' },
      { authorization: 'Bearer ' },
      { authorization: 'Bearer    ' },
      { authorization: `Basic ${ws.apiKey}` },
      { authorization: ws.apiKey },
    ];
    for (const headers of cases) {
      assertError(await request(server, 'GET', '/v1/integrations', { headers }), 401);
    }
  });

  test('x-api-key and Authorization: Bearer are both accepted', async () => {
    const a = await request(server, 'GET', '/v1/integrations', { key: ws.apiKey });
    assert.equal(a.status, 200, a.text);
    const b = await request(server, 'GET', '/v1/integrations', { bearer: ws.apiKey });
    assert.equal(b.status, 200, b.text);
    assert.deepEqual(a.json, b.json);
    // RFC 6750: "Bearer" 1*SP token; the scheme in any case.
    for (const authorization of [`Bearer   ${ws.apiKey}`, `bearer ${ws.apiKey}`]) {
      const c = await request(server, 'GET', '/v1/integrations', { headers: { authorization } });
      assert.equal(c.status, 200, `${authorization.slice(0, 10)}: ${c.text}`);
    }

    const u = await authUrl(server, undefined, cid, 'bearer-user', { bearer: ws.apiKey });
    assert.equal(u.status, 201, u.text);
    const g = await getUser(server, undefined, cid, 'bearer-user', { bearer: ws.apiKey });
    assert.equal(g.status, 200, g.text);
  });

  test('401 body is exactly the NestJS shape', async () => {
    const r = await request(server, 'GET', '/v1/integrations');
    assertError(r, 401);
    assert.deepEqual(Object.keys(r.json).sort(), ['error', 'message', 'statusCode']);
    assert.equal(typeof r.json.message, 'string');
  });

  test('401 takes precedence over 404 for an unknown customer integration', async () => {
    assertError(await getUser(server, undefined, randomUuid(), 'x'), 401);
    assertError(await authUrl(server, 'sk_live_nope', randomUuid(), 'x'), 401);
  });

  test('revoked key -> 401 within one second; other keys keep working', async () => {
    const second = await ctx.cliJson(['apikey', 'create', '--workspace', ws.workspaceId]);
    await waitForAdminChange(async () => {
      assert.equal((await listIntegrations(server, second.apiKey)).status, 200);
    });
    const revoked = await ctx.cliJson(['apikey', 'revoke', '--key-id', String(second.keyId)]);
    assert.equal(revoked.revoked, true);

    await waitForAdminChange(async () => {
      assertError(await listIntegrations(server, second.apiKey), 401);
    });
    // Revoked on every route and with either header.
    for (const [method, p, json] of seedRoutes()) {
      assertError(await request(server, method, p, { key: second.apiKey, json }), 401);
      assertError(await request(server, method, p, { bearer: second.apiKey, json }), 401);
    }
    assert.equal((await listIntegrations(server, ws.apiKey)).status, 200);
  });

  test('a key revoked before the server starts is refused from the start', async () => {
    const k = await ctx.cliJson(['apikey', 'create', '--workspace', ws.workspaceId]);
    await ctx.cliJson(['apikey', 'revoke', '--key-id', String(k.keyId)]);
    const fresh = await ctx.startServer();
    try {
      assertError(await listIntegrations(fresh, k.apiKey), 401);
      assert.equal((await listIntegrations(fresh, ws.apiKey)).status, 200);
    } finally {
      await fresh.stop('SIGTERM');
    }
  });

  test('x-request-id is echoed when sent, on success and on every error', async () => {
    const cases = [
      ['GET', '/v1/integrations', { key: ws.apiKey }, 200],
      ['GET', '/v1/integrations', {}, 401],
      ['GET', '/v1/integrations?active=maybe', { key: ws.apiKey }, 400],
      ['GET', userPath(randomUuid(), 'u'), { key: ws.apiKey }, 404],
      ['GET', '/v1/no-such-route', { key: ws.apiKey }, 404],
      ['POST', userPath(cid, 'rid-user', { suffix: '/auth-url' }), { key: ws.apiKey, json: {} }, 201],
      ['POST', userPath(cid, 'rid-user', { suffix: '/auth-url' }), { key: ws.apiKey, body: '{', headers: { 'content-type': 'application/json' } }, 400],
    ];
    for (const [method, p, opts, status] of cases) {
      const id = `req-${Math.random().toString(36).slice(2)}`;
      const r = await request(server, method, p, { ...opts, headers: { ...(opts.headers || {}), 'x-request-id': id } });
      assert.equal(r.status, status, `${method} ${p}: ${r.text}`);
      assert.equal(r.headers.get('x-request-id'), id, `${method} ${p} did not echo x-request-id`);
    }
  });

  test('x-request-id is generated when not sent, and differs per request', async () => {
    const seen = new Set();
    const calls = [
      () => listIntegrations(server, ws.apiKey),
      () => listIntegrations(server, undefined),
      () => listIntegrations(server, ws.apiKey, 'maybe'),
      () => getUser(server, ws.apiKey, randomUuid(), 'u'),
      () => request(server, 'GET', '/nope'),
      () => authUrl(server, ws.apiKey, cid, 'gen-rid'),
    ];
    for (const call of calls) {
      const r = await call();
      const id = r.headers.get('x-request-id');
      assert.ok(id && id.trim().length > 0, `missing x-request-id on a ${r.status}`);
      assert.ok(!seen.has(id), `x-request-id ${id} repeated`);
      seen.add(id);
    }
  });

  test('unknown routes -> 404 JSON', async () => {
    assertError(await request(server, 'GET', '/v1/no-such-route', { key: ws.apiKey }), 404);
    assertError(await request(server, 'GET', '/v1/integrations/extra/segments/here', { key: ws.apiKey }), 404);
    assertError(await request(server, 'GET', '/definitely-not-a-route'), 404);
    assertError(await request(server, 'POST', '/definitely-not-a-route', { json: {} }), 404);
  });

  test('wrong method on a known path -> 404 or 405, JSON', async () => {
    for (const [method, p] of [
      ['PUT', '/v1/integrations'],
      ['POST', '/v1/integrations'],
      ['GET', userPath(cid, 'alice', { suffix: '/auth-url' })],
    ]) {
      const r = await request(server, method, p, { key: ws.apiKey, json: method === 'GET' ? undefined : {} });
      assert.ok([404, 405].includes(r.status), `${method} ${p}: expected 404/405, got ${r.status} ${r.text}`);
      assertError(r, r.status);
    }
  });

  test('the workspace bootstrap printed on first start is usable and empty', async () => {
    assert.ok(server.bootstrapKey, `first start printed no bootstrap key:\n${server.describe()}`);
    assert.ok(server.bootstrapWorkspace, 'first start printed no bootstrap workspace');
    const r = await listIntegrations(server, server.bootstrapKey);
    assert.equal(r.status, 200, r.text);
    assert.deepEqual(r.json, []);
    // The bootstrap key belongs to its own workspace, not to ws.
    const other = await getUser(server, server.bootstrapKey, cid, 'bearer-user');
    assertError(other, 404);
    // The bootstrap workspace is a real workspace for the admin CLI.
    const l = await ctx.cli(['integration', 'list', '--workspace', server.bootstrapWorkspace, '--json']);
    assertCliOk(l);
    assert.deepEqual(l.json.integrations, []);
  });
});
