// CONTRACT section 10, the REST tool API: GET /v1/tools lists the tools of the
// workspace's active customer integrations with `connected` per user; POST
// /v1/tools/{name}/call builds the request from the operation (path, query, header,
// JSON body), sends it with the user's credential through the proxy's call path to a
// loopback upstream, and answers {status, contentType, json|body, truncated}. Unknown
// tool 404, invalid arguments 400 with every problem, an unconnected user 409 with a
// fresh connect link.

import { describe, test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';

import { Context, request, rawRequest, assertError, rand, pipelined } from '../lib/harness.mjs';
import { defineIntegration } from '../peers/http.mjs';
import { connectForm } from '../peers/lifecycle.mjs';
import { toolsUpstream, toolsDefinition, mcpClient } from '../peers/tools.mjs';
import { scaled } from '../lib/timeouts.mjs';

describe('tools_rest', { concurrency: 1, timeout: scaled(120_000) }, () => {
  const ctx = new Context();
  let server;
  let upstream;
  let W;
  let W2;
  let cid;
  const integrationId = `tools-${rand(4)}`;
  const userId = `u-${rand()}`;
  const token = `tok_${rand(12)}`;
  let releaseHeld;
  const held = { waiting: 0, release: new Promise((resolve) => { releaseHeld = resolve; }) };

  before(async () => {
    upstream = await toolsUpstream({ credentialOk: (rec) => rec.headers['x-token'] === `Token ${token}`, held });
    W = await ctx.workspace(undefined, 'tools');
    W2 = await ctx.workspace(undefined, 'tools-other');
    await defineIntegration(ctx, W.workspaceId, toolsDefinition(integrationId, upstream));
    cid = (await ctx.enable(W.workspaceId, integrationId)).customerIntegrationId;
    server = await ctx.startServer({ extraArgs: ['--allow-private-network'] });
    await connectForm(server, W.apiKey, cid, userId, { token });
  });

  after(async () => {
    await upstream?.close();
    await ctx.cleanup();
  });

  const name = (op) => `${integrationId}_${op}`.replace(/[^A-Za-z0-9_-]/g, '_');
  const list = (query, key = W.apiKey) => request(server, 'GET', `/v1/tools?${query}`, { key });
  const call = (tool, json, key = W.apiKey) =>
    request(server, 'POST', `/v1/tools/${encodeURIComponent(tool)}/call`, { key, json });

  test('kept lists go out whole: pipelined on one connection, each answer is exactly its Content-Length', async () => {
    // The second of each pair is answered from the cache, its body shared, not copied
    // (docs/decisions.md, Caches); a wrong length would shift every answer after it.
    const tools = { path: `/v1/tools?userId=${encodeURIComponent(userId)}`, headers: { 'x-api-key': W.apiKey } };
    const integrations = { path: '/v1/integrations', headers: { 'x-api-key': W.apiKey } };
    const answers = await pipelined(server, [tools, integrations, tools, integrations, tools]);
    assert.deepEqual(answers.map((a) => a.status), [200, 200, 200, 200, 200]);
    const first = await list(`userId=${encodeURIComponent(userId)}`);
    for (const i of [0, 2, 4]) {
      assert.equal(answers[i].text, first.text, `list answer ${i}`);
      assert.equal(answers[i].json.tools.length, 5);
    }
    assert.equal(answers[3].text, answers[1].text);
    assert.ok(answers[1].json.some((v) => v.customerIntegrationId === cid));
  });

  test('tool calls waiting for their upstream hold no thread (REST and MCP)', async () => {
    const threads = () => Number(/Threads:\s+(\d+)/.exec(fs.readFileSync(`/proc/${server.proc.pid}/status`, 'utf8'))[1]);
    const { client: mcp } = await mcpClient(server, W.apiKey, userId);
    try {
      const before = threads();
      // One call after the other has reached the upstream, REST and MCP in turns. Not in a
      // burst: on PostgreSQL a request starts on the pool (a read is a round trip), and a
      // burst of them would start pool threads however short their work.
      const rest = [];
      const viaMcp = [];
      const deadline = Date.now() + scaled(20_000);
      for (let i = 1; i <= 24; ++i) {
        if (i % 2) {
          rest.push(call(name('getItem'), { userId, arguments: { id: 'held' } }));
        } else {
          viaMcp.push(mcp.callTool({ name: name('getItem'), arguments: { id: 'held' } }));
        }
        while (held.waiting < i && Date.now() < deadline) await new Promise((r) => setTimeout(r, 5));
      }
      assert.equal(held.waiting, 24, 'the calls did not all reach the upstream');
      const waiting = threads();
      releaseHeld();
      for (const res of await Promise.all(rest)) {
        assert.equal(res.status, 200, res.text);
        assert.equal(res.json.json.id, 'held');
      }
      for (const result of await Promise.all(viaMcp)) {
        assert.ok(!result.isError, JSON.stringify(result));
        assert.equal(result.structuredContent.id, 'held');
      }
      // Before, each waiting call held a pool thread: 24 more threads. On PostgreSQL the
      // thread that started a call is free again for the next one.
      const most = before + (process.env.TOOLREGISTRY_TEST_PG_URL ? 4 : 2);
      assert.ok(waiting <= most, `${waiting} threads while 24 calls wait, ${before} before them`);
    } finally {
      await mcp.close();
    }
  });

  test('GET /v1/tools lists the tools with their schema, annotations and connected', async () => {
    const res = await list(`userId=${encodeURIComponent(userId)}`);
    assert.equal(res.status, 200, res.text);
    const tools = res.json.tools;
    assert.deepEqual(tools.map((t) => t.name), ['createItem', 'getItem', 'deleteItem', 'status', 'text'].map(name));
    for (const t of tools) {
      assert.equal(t.customerIntegrationId, cid);
      assert.equal(t.integrationId, integrationId);
      assert.equal(t.connected, true);
      assert.equal(t.inputSchema.type, 'object');
      assert.match(t.name, /^[A-Za-z0-9_-]{1,64}$/);
    }
    const create = tools[0];
    assert.deepEqual(Object.keys(create.inputSchema.properties).sort(), ['X-Trace', 'body', 'dryRun', 'org']);
    assert.ok(!JSON.stringify(create.inputSchema).includes('X-Token'), 'auth stays out of the schema');
    assert.equal(tools[1].annotations.readOnlyHint, true);
    assert.equal(tools[2].annotations.destructiveHint, true);

    const other = await list(`userId=someone-else&customerIntegrationId=${cid}`);
    assert.equal(other.status, 200);
    assert.equal(other.json.tools.length, 5);
    assert.ok(other.json.tools.every((t) => t.connected === false));
  });

  test('GET /v1/tools: userId required, foreign or malformed customerIntegrationId 404, API key 401', async () => {
    assertError(await list(''), 400);
    assertError(await list(`userId=${userId}&customerIntegrationId=not-a-uuid`), 404);
    const foreign = (await ctx.enable(W2.workspaceId, 'open-meteo')).customerIntegrationId;
    assertError(await list(`userId=${userId}&customerIntegrationId=${foreign}`), 404);
    assertError(await list(`userId=${userId}`, 'sk_live_nope'), 401);
    const W3 = await ctx.workspace(undefined, 'tools-empty');
    const empty = await list(`userId=${userId}`, W3.apiKey);
    assert.deepEqual(empty.json, { tools: [] }, 'a workspace without integrations has no tools');
  });

  test('a call puts each argument where the operation declares it, with the user credential', async () => {
    const n = upstream.requests.length;
    const res = await call(name('createItem'), {
      userId,
      arguments: { org: 'acme corp/é', dryRun: true, 'X-Trace': 'trace-1', body: { title: 'Hello', tags: ['a', 'b'] } },
    });
    assert.equal(res.status, 200, res.text);
    const recs = upstream.requests.slice(n);
    assert.equal(recs.length, 1);
    assert.equal(recs[0].path, `/api/orgs/${encodeURIComponent('acme corp/é')}/items`);
    assert.equal(recs[0].headers['x-api-key'], undefined, 'the API key stays behind');
    assert.deepEqual(res.json, {
      status: 201,
      contentType: 'application/json',
      json: {
        org: 'acme corp/é', dryRun: 'true', trace: 'trace-1', contentType: 'application/json',
        body: { title: 'Hello', tags: ['a', 'b'] }, auth: `Token ${token}`,
      },
      truncated: false,
    });
  });

  test('non-JSON and non-2xx answers come back as they are', async () => {
    const text = await call(name('text'), { userId, arguments: {} });
    assert.equal(text.status, 200);
    assert.deepEqual(text.json, { status: 200, contentType: 'text/plain', body: 'plain words', truncated: false });
    const teapot = await call(name('status'), { userId, arguments: { code: 418 } });
    assert.equal(teapot.status, 200);
    assert.equal(teapot.json.status, 418);
    assert.deepEqual(teapot.json.json, { error: 'status 418' });
  });

  test('unknown tool 404; invalid arguments 400 with every problem and nothing sent', async () => {
    assertError(await call(`${integrationId}_nope`, { userId, arguments: {} }), 404);
    const n = upstream.requests.length;
    const res = await call(name('createItem'), { userId, arguments: { dryRun: 'maybe', body: { tags: 'x' } } });
    assertError(res, 400);
    assert.ok(Array.isArray(res.json.message) && res.json.message.length >= 2, res.text);
    assert.equal(upstream.requests.length, n, 'nothing reached the upstream');
    assertError(await call(name('getItem'), { arguments: { id: '1' } }), 400);
    assertError(await call(name('getItem'), { userId, arguments: [1] }), 400);
    // A number beyond a double's range would go upstream as "Infinity", which is not JSON.
    const huge = await request(server, 'POST', `/v1/tools/${name('createItem')}/call`, {
      key: W.apiKey, headers: { 'content-type': 'application/json' },
      body: `{"userId":"${userId}","arguments":{"org":"o","body":{"title":"t","n":1e400}}}`,
    });
    assertError(huge, 400);
    assert.equal(upstream.requests.length, n, 'nothing reached the upstream');
  });

  test('a "." or ".." path value (plain or percent-encoded) is 400, never a call to another path', async () => {
    const n = upstream.requests.length;
    for (const id of ['..', '.', '%2e%2E', '.%2e']) {
      const res = await call(name('getItem'), { userId, arguments: { id } });
      if (id.includes('%')) {
        // A literal "%" is encoded: the segment is "%252e%252E", no dot segment.
        assert.equal(res.status, 200, res.text);
        continue;
      }
      assertError(res, 400);
      assert.match(res.json.message, /'\.' or '\.\.' segment/);
    }
    // The proxy refuses them too, plain or percent-encoded: they would leave apiBaseUrl.
    // (Raw requests: fetch would remove the dot segments before sending.)
    for (const path of ['../secret', 'items/..', '%2E%2e/secret', 'a/.%2E/b', 'items/./1']) {
      const res = await rawRequest(server, 'GET', `/v1/proxy/${cid}/${userId}/${path}`, { headers: { 'x-api-key': W.apiKey } });
      assert.equal(res.status, 400, `${path}: ${res.text}`);
    }
    assert.deepEqual(upstream.requests.slice(n).map((rec) => rec.path), ['/api/items/%252e%252E', '/api/items/.%252e']);
    const dotted = await rawRequest(server, 'GET', `/v1/proxy/${cid}/${userId}/items/a..b?x=/../`, { headers: { 'x-api-key': W.apiKey } });
    assert.notEqual(dotted.status, 400, 'dots inside a segment, and in the query, are not dot segments');
  });

  test('a POST without a body goes without a Content-Type (no form type of curl\'s)', async () => {
    const res = await request(server, 'POST', `/v1/proxy/${cid}/${userId}/orgs/acme/items`, { key: W.apiKey });
    assert.equal(res.status, 201, res.text);
    assert.equal(res.json.contentType, null);
    assert.equal(res.json.body, null);
  });

  test('a user who has not connected gets 409 with a fresh connect link', async () => {
    const res = await call(name('getItem'), { userId: `new-${rand()}`, arguments: { id: '1' } });
    assert.equal(res.status, 409, res.text);
    assert.equal(res.json.statusCode, 409);
    assert.equal(res.json.error, 'Conflict');
    assert.equal(typeof res.json.message, 'string');
    assert.ok(res.json.authorizeUrl.startsWith(`${server.url}/connect/`), res.json.authorizeUrl);
    const page = await fetch(res.json.authorizeUrl);
    assert.equal(page.status, 200, 'the link opens the connect form');
  });
});
