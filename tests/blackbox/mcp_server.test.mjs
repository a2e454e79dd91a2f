// CONTRACT section 10, the MCP server at /v1/mcp, driven with the official TypeScript
// client (@modelcontextprotocol/sdk, StreamableHTTPClientTransport) and with raw HTTP
// where the client would not send what is tested: initialize and version negotiation,
// tools/list in pages of 100, tools/call against a loopback upstream (arguments in path,
// query, header and body; the user's credential in its declared header; structuredContent
// and isError), an OAuth2 user whose token stops working between calls (one refresh, one
// retry), an unconnected user with and without URL elicitation (-32042), the Origin
// check, a bad MCP-Protocol-Version, x-user-id, DELETE, and (PostgreSQL) a session made
// on one node answered by another.

import { describe, test, before, after } from 'node:test';
import assert from 'node:assert/strict';

import { McpError } from '@modelcontextprotocol/sdk/types.js';

import { Context, ON_PG, rand, pipelined } from '../lib/harness.mjs';
import { defineIntegration } from '../peers/http.mjs';
import {
  connectForm, startFakeOAuth, fakeOAuthDefinition, connectFakeOAuth,
} from '../peers/lifecycle.mjs';
import { toolsUpstream, toolsDefinition, toolsOpenApi, mcpClient } from '../peers/tools.mjs';
import { scaled } from '../lib/timeouts.mjs';

const BULK = 120; // extra operations: more tools than one tools/list page

/** One JSON-RPC message (an object, or raw text) POSTed to /v1/mcp with raw fetch; {status, json, headers}. */
async function rpc(url, { key, userId, session, version, origin, body, method = 'POST' }) {
  const headers = { accept: 'application/json, text/event-stream', 'content-type': 'application/json' };
  if (key) headers['x-api-key'] = key;
  if (userId) headers['x-user-id'] = userId;
  if (session) headers['mcp-session-id'] = session;
  if (version) headers['mcp-protocol-version'] = version;
  if (origin) headers.origin = origin;
  const res = await fetch(`${url}/v1/mcp`, {
    method, headers, body: body === undefined || typeof body === 'string' ? body : JSON.stringify(body), signal: AbortSignal.timeout(10_000),
  });
  const text = await res.text();
  let json;
  try { json = JSON.parse(text); } catch { json = undefined; }
  return { status: res.status, json, text, headers: res.headers };
}

// An HTTP-level refusal: its status, a JSON-RPC error without an id, and the statusCode and
// message of every /v1 error.
function assertRefused(r, status) {
  assert.equal(r.status, status, r.text);
  assert.equal(r.json?.jsonrpc, '2.0', r.text);
  assert.equal(r.json.id, null);
  assert.equal(typeof r.json.error?.code, 'number', r.text);
  assert.equal(r.json.statusCode, status);
  assert.equal(typeof r.json.message, 'string');
  assert.equal(r.json.message, r.json.error.message);
}

const initialize = (protocolVersion = '2025-11-25', capabilities = {}) => ({
  jsonrpc: '2.0', id: 1, method: 'initialize',
  params: { protocolVersion, capabilities, clientInfo: { name: 'raw', version: '1' } },
});

describe('mcp_server', { concurrency: 1, timeout: scaled(180_000) }, () => {
  const ctx = new Context();
  let server;
  let upstream;
  let oauthUpstream;
  let fake;
  let W;
  const rejected = new Set(); // OAuth access tokens the upstream answers 401 to
  const integrationId = `mcp-${rand(4)}`;
  const oauthId = `mcp-oauth-${rand(4)}`;
  const userId = `u-${rand()}`;
  const oauthUser = `o-${rand()}`;
  const token = `tok_${rand(12)}`;
  const clients = [];

  before(async () => {
    upstream = await toolsUpstream({ credentialOk: (rec) => rec.headers['x-token'] === `Token ${token}` });
    oauthUpstream = await toolsUpstream({
      credentialOk: (rec) => {
        const bearer = /^Bearer (at-.+)$/.exec(rec.headers.authorization || '')?.[1];
        return bearer !== undefined && !rejected.has(bearer);
      },
    });
    fake = await startFakeOAuth();
    W = await ctx.workspace(undefined, 'mcp');
    await defineIntegration(ctx, W.workspaceId, toolsDefinition(integrationId, upstream, { bulk: BULK }));
    await defineIntegration(ctx, W.workspaceId, {
      ...fakeOAuthDefinition(oauthId, fake, { apiBaseUrl: `${oauthUpstream.url}/api` }),
      tools: { openapi: toolsOpenApi(oauthUpstream), include: ['getItem'] },
    });
    const cid = (await ctx.enable(W.workspaceId, integrationId)).customerIntegrationId;
    const oauthCid = (await ctx.enable(W.workspaceId, oauthId, { clientId: fake.clientId, clientSecret: fake.clientSecret }))
      .customerIntegrationId;
    server = await ctx.startServer({ extraArgs: ['--allow-private-network', '--refresh-sweep-interval', '3600'] });
    await connectForm(server, W.apiKey, cid, userId, { token });
    await connectFakeOAuth(fake, server, W.apiKey, oauthCid, oauthUser);
  });

  after(async () => {
    for (const c of clients) await c.client.close().catch(() => {});
    await Promise.all([upstream, oauthUpstream, fake].map((p) => p?.close()));
    await ctx.cleanup();
  });

  const name = (id, op) => `${id}_${op}`.replace(/[^A-Za-z0-9_-]/g, '_');
  async function connect(user, opts) {
    const c = await mcpClient(server, W.apiKey, user, opts);
    clients.push(c);
    return c;
  }

  test('initialize: 2025-11-25, a session id, the tools capability', async () => {
    const { client, transport } = await connect(userId);
    assert.match(transport.sessionId, /^[\x21-\x7e]+$/);
    assert.equal(transport.protocolVersion, '2025-11-25');
    assert.ok(client.getServerCapabilities().tools, 'tools capability');
    assert.equal(client.getServerVersion().name, 'toolregistry');
    await client.ping();
  });

  test('version negotiation: 2025-06-18 and 2025-03-26 are kept, an unknown one gets 2025-11-25', async () => {
    for (const [asked, got] of [['2025-06-18', '2025-06-18'], ['2025-03-26', '2025-03-26'], ['2024-01-01', '2025-11-25']]) {
      const res = await rpc(server.url, { key: W.apiKey, userId, body: initialize(asked) });
      assert.equal(res.status, 200, res.text);
      assert.equal(res.json.result.protocolVersion, got);
      assert.ok(res.headers.get('mcp-session-id'));
    }
  });

  test('tools/list pages of at most 100 with nextCursor', async () => {
    const { client } = await connect(userId);
    const first = await client.listTools();
    assert.equal(first.tools.length, 100);
    assert.ok(first.nextCursor, 'a second page');
    const second = await client.listTools({ cursor: first.nextCursor });
    const total = 5 + BULK + 1; // this integration's tools and the OAuth one's getItem
    assert.equal(second.tools.length, total - 100);
    assert.equal(second.nextCursor, undefined);
    const names = [...first.tools, ...second.tools].map((t) => t.name);
    assert.equal(new Set(names).size, total, 'names are unique');
    const create = first.tools.find((t) => t.name === name(integrationId, 'createItem'));
    assert.equal(create.inputSchema.type, 'object');
    assert.equal(first.tools.find((t) => t.name === name(integrationId, 'getItem')).annotations.readOnlyHint, true);
    for (const cursor of ['garbage', '18446744073709551616', '99999999999999999999', '-1', '']) {
      await assert.rejects(client.listTools({ cursor }), (e) => e instanceof McpError && e.code === -32602, cursor);
    }
  });

  test('tools/list pages kept in the cache are answered around each request id, pipelined on one connection', async () => {
    // A kept page is written between the JSON-RPC envelope's two ends without a copy
    // (docs/decisions.md, Caches): each answer must carry its own id and its exact length.
    const init = await rpc(server.url, { key: W.apiKey, userId, body: initialize() });
    const session = init.headers.get('mcp-session-id');
    const headers = {
      'x-api-key': W.apiKey, 'x-user-id': userId, 'mcp-session-id': session, 'mcp-protocol-version': '2025-11-25',
      accept: 'application/json, text/event-stream', 'content-type': 'application/json',
    };
    const list = (id, params = {}) => ({
      method: 'POST', path: '/v1/mcp', headers, body: JSON.stringify({ jsonrpc: '2.0', id, method: 'tools/list', params }),
    });
    const ids = [1, 'two', 0, 'x"\\y', 5];
    const answers = await pipelined(server, [...ids.map((id) => list(id)), list(6, { cursor: '100' })]);
    assert.equal(answers.length, ids.length + 1);
    for (const [i, id] of ids.entries()) {
      assert.equal(answers[i].status, 200, answers[i].text);
      assert.equal(answers[i].json.jsonrpc, '2.0');
      assert.equal(answers[i].json.id, id);
      assert.equal(answers[i].json.result.tools.length, 100);
      assert.deepEqual(answers[i].json.result, answers[0].json.result);
    }
    const last = answers[ids.length].json;
    assert.equal(last.id, 6);
    assert.equal(last.result.tools.length, 5 + BULK + 1 - 100);
  });

  test('tools/call: arguments land in path, query, header and body; the credential in X-Token', async () => {
    const { client } = await connect(userId);
    const n = upstream.requests.length;
    const result = await client.callTool({
      name: name(integrationId, 'createItem'),
      arguments: { org: 'org 1', dryRun: false, 'X-Trace': 'tr-9', body: { title: 'T', tags: ['x'] } },
    });
    assert.equal(upstream.requests.length, n + 1);
    const expected = {
      org: 'org 1', dryRun: 'false', trace: 'tr-9', contentType: 'application/json',
      body: { title: 'T', tags: ['x'] }, auth: `Token ${token}`,
    };
    assert.deepEqual(result.structuredContent, expected);
    assert.equal(result.content.length, 1);
    assert.equal(result.content[0].type, 'text');
    assert.deepEqual(JSON.parse(result.content[0].text), expected);
    assert.ok(!result.isError);
  });

  test('tools/call: non-2xx and invalid arguments are isError results; an unknown tool is -32602', async () => {
    const { client } = await connect(userId);
    const missing = await client.callTool({ name: name(integrationId, 'status'), arguments: { code: 404 } });
    assert.equal(missing.isError, true);
    assert.match(missing.content[0].text, /404/);
    const n = upstream.requests.length;
    const invalid = await client.callTool({ name: name(integrationId, 'createItem'), arguments: { org: 'o' } });
    assert.equal(invalid.isError, true);
    assert.match(invalid.content[0].text, /body/);
    assert.equal(upstream.requests.length, n, 'nothing sent for invalid arguments');
    await assert.rejects(client.callTool({ name: 'no_such_tool', arguments: {} }),
      (e) => e instanceof McpError && e.code === -32602);
  });

  test('an OAuth2 token that stops working between calls: one refresh, one retry', async () => {
    const { client } = await connect(oauthUser);
    const tool = name(oauthId, 'getItem');
    const first = await client.callTool({ name: tool, arguments: { id: 'a' } });
    assert.ok(!first.isError, first.content[0].text);
    const used = /^Bearer (.+)$/.exec(first.structuredContent.auth)[1];
    rejected.add(used); // expired early at the provider
    const refreshes = fake.refreshCalls().length;
    const n = oauthUpstream.requests.length;
    const second = await client.callTool({ name: tool, arguments: { id: 'b' } });
    assert.ok(!second.isError, second.content[0].text);
    assert.equal(second.structuredContent.id, 'b');
    assert.notEqual(second.structuredContent.auth, `Bearer ${used}`);
    assert.equal(fake.refreshCalls().length, refreshes + 1, 'one refresh');
    assert.equal(oauthUpstream.requests.length, n + 2, 'the 401 and one retry');
  });

  test('an unconnected user: URL elicitation (-32042) when declared, else isError with the link', async () => {
    const stranger = `s-${rand()}`;
    const { client } = await connect(stranger, { elicitation: true });
    const tool = name(integrationId, 'getItem');
    await assert.rejects(client.callTool({ name: tool, arguments: { id: '1' } }), (e) => {
      assert.equal(e.code, -32042, String(e));
      const [item] = e.data.elicitations;
      assert.equal(item.mode, 'url');
      assert.ok(item.elicitationId);
      assert.ok(item.message);
      assert.ok(item.url.startsWith(`${server.url}/connect/`), item.url);
      return true;
    });
    const plain = (await connect(stranger)).client;
    const result = await plain.callTool({ name: tool, arguments: { id: '1' } });
    assert.equal(result.isError, true);
    assert.match(result.content[0].text, new RegExp(`${server.url}/connect/\\S+`));
  });

  test('Origin: another site 403, the public URL allowed', async () => {
    const bad = await rpc(server.url, { key: W.apiKey, userId, origin: 'https://evil.example', body: initialize() });
    assertRefused(bad, 403);
    const good = await rpc(server.url, { key: W.apiKey, userId, origin: server.url, body: initialize() });
    assert.equal(good.status, 200, good.text);
  });

  test('a bad MCP-Protocol-Version 400; x-user-id required; API key required; GET 405', async () => {
    const init = await rpc(server.url, { key: W.apiKey, userId, body: initialize() });
    const session = init.headers.get('mcp-session-id');
    const ping = { jsonrpc: '2.0', id: 2, method: 'ping' };
    assert.equal((await rpc(server.url, { key: W.apiKey, userId, session, version: '2025-11-25', body: ping })).status, 200);
    assertRefused(await rpc(server.url, { key: W.apiKey, userId, session, version: '1999-12-31', body: ping }), 400);
    assertRefused(await rpc(server.url, { key: W.apiKey, session, body: ping }), 400);
    assert.equal((await rpc(server.url, { userId, session, body: ping })).status, 401);
    assertRefused(await rpc(server.url, { key: W.apiKey, userId, body: ping }), 400);
    assertRefused(await rpc(server.url, { key: W.apiKey, userId, session, method: 'GET' }), 405);
    // A number beyond a double's range would reach an upstream as "Infinity", which is not JSON.
    const huge = await rpc(server.url, { key: W.apiKey, userId, session,
      body: '{"jsonrpc":"2.0","id":3,"method":"tools/call","params":{"name":"x","arguments":{"n":1e400}}}' });
    assertRefused(huge, 400);
    assert.equal(huge.json.error.code, -32700);
  });

  test('DELETE ends the session; it then answers 404', async () => {
    const { client, transport } = await connect(userId);
    const session = transport.sessionId;
    await transport.terminateSession();
    const ping = { jsonrpc: '2.0', id: 2, method: 'ping' };
    assertRefused(await rpc(server.url, { key: W.apiKey, userId, session, body: ping }), 404);
    assertRefused(await rpc(server.url, { key: W.apiKey, userId, session, method: 'DELETE' }), 404);
    await client.close();
  });
});

describe('mcp_server multinode', { skip: !ON_PG && 'PostgreSQL only (set TOOLREGISTRY_TEST_PG_URL)', concurrency: 1, timeout: scaled(90_000) }, () => {
  const ctx = new Context();
  let A;
  let B;
  let upstream;
  let W;
  const integrationId = `mn-tools-${rand(4)}`;
  const userId = `u-${rand()}`;
  const token = `tok_${rand(12)}`;

  before(async () => {
    upstream = await toolsUpstream({ credentialOk: (rec) => rec.headers['x-token'] === `Token ${token}` });
    A = await ctx.startServer({ extraArgs: ['--allow-private-network'] });
    B = await ctx.startServer({ extraArgs: ['--allow-private-network'] });
    W = await ctx.workspace(A, 'mcp-multinode');
    await defineIntegration(ctx, W.workspaceId, toolsDefinition(integrationId, upstream));
    const cid = (await ctx.enable(W.workspaceId, integrationId)).customerIntegrationId;
    await connectForm(A, W.apiKey, cid, userId, { token });
  });

  after(async () => {
    await upstream?.close();
    await ctx.cleanup();
  });

  test('a session made on node A is answered by node B, and ended there for both', async () => {
    const { client, transport } = await mcpClient(A, W.apiKey, userId);
    const session = transport.sessionId;
    const call = {
      jsonrpc: '2.0', id: 7, method: 'tools/call',
      params: { name: `${integrationId}_getItem`.replace(/[^A-Za-z0-9_-]/g, '_'), arguments: { id: 'on-b' } },
    };
    const onB = await rpc(B.url, { key: W.apiKey, userId, session, version: '2025-11-25', body: call });
    assert.equal(onB.status, 200, onB.text);
    assert.equal(onB.json.result.structuredContent.id, 'on-b');
    assert.equal((await rpc(B.url, { key: W.apiKey, userId, session, method: 'DELETE' })).status, 204);
    const ping = { jsonrpc: '2.0', id: 8, method: 'ping' };
    assert.equal((await rpc(A.url, { key: W.apiKey, userId, session, body: ping })).status, 404);
    await client.close();
  });
});
