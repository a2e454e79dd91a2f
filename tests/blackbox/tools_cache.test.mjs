// The tool lists are cached (docs/decisions.md, "Caches"; issue 16 point 7), and never stale
// beyond what the contract allows. Two servers, A and B, on one database (a SQLite file, or
// PostgreSQL when TOOLREGISTRY_TEST_PG_URL is set). Each reads GET /v1/tools and calls a tool
// first, so that both hold the workspace's tools and the list's body; then:
//   - a user who connects through A sees the tools as connected on A at once, and on B within
//     the second (polled); a call through either node is sent upstream;
//   - the integration redefined with the CLI (one more tool, one gone) is listed (REST and MCP
//     tools/list, whose pages are cached too) and callable on both nodes within the second,
//     and the tool gone is 404;
//   - the customer integration disabled with the CLI: its tools are gone on both nodes.

import { describe, test, before, after } from 'node:test';
import assert from 'node:assert/strict';

import { Context, request, rand, waitForAdminChange } from '../lib/harness.mjs';
import { defineIntegration } from '../peers/http.mjs';
import { connectForm } from '../peers/lifecycle.mjs';
import { toolsUpstream, toolsDefinition, mcpClient } from '../peers/tools.mjs';
import { scaled } from '../lib/timeouts.mjs';

describe('tools_cache', { concurrency: 1, timeout: scaled(120_000) }, () => {
  const ctx = new Context();
  let upstream;
  let A;
  let B;
  let W;
  let cid;
  const integrationId = `cached-${rand(4)}`;
  const userId = `u-${rand()}`;
  const definition = (bulk) => toolsDefinition(integrationId, upstream, { bulk });

  before(async () => {
    upstream = await toolsUpstream();
    W = await ctx.workspace(undefined, 'tools-cache');
    await defineIntegration(ctx, W.workspaceId, definition(2));
    cid = (await ctx.enable(W.workspaceId, integrationId)).customerIntegrationId;
    A = await ctx.startServer({ extraArgs: ['--allow-private-network'] });
    B = await ctx.startServer({ extraArgs: ['--allow-private-network'] });
  });

  const clients = [];
  after(async () => {
    for (const c of clients) await c.client.close().catch(() => {});
    await upstream?.close();
    await ctx.cleanup();
  });

  const list = async (server, user = userId) => {
    const r = await request(server, 'GET', `/v1/tools?userId=${user}&customerIntegrationId=${cid}`, { key: W.apiKey });
    assert.equal(r.status, 200, r.text);
    return r.json.tools;
  };
  const names = (tools) => tools.map((t) => t.name);
  const call = (server, tool) => request(server, 'POST', `/v1/tools/${encodeURIComponent(tool)}/call`,
    { key: W.apiKey, json: { userId, arguments: {} } });
  const mcpNames = async (server) => {
    let c = clients.find((x) => x.server === server);
    if (!c) clients.push(c = { server, ...(await mcpClient(server, W.apiKey, userId)) });
    return names((await c.client.listTools()).tools);
  };
  const bulkName = async (n) => (await list(A)).find((t) => t.name.endsWith(`bulk${String(n).padStart(3, '0')}`))?.name;

  test('both nodes list and call before the user connects: not connected, 409', async () => {
    for (const server of [A, B]) {
      for (let i = 0; i < 3; i++) {
        const tools = await list(server);
        assert.equal(tools.length, 7, names(tools).join(', '));
        assert.ok(tools.every((t) => t.connected === false), JSON.stringify(tools.map((t) => [t.name, t.connected])));
      }
      const c = await call(server, await bulkName(1));
      assert.equal(c.status, 409, c.text);
    }
  });

  test('a user who connects through A is connected on A at once and on B within the second', async () => {
    const other = `o-${rand()}`;
    await list(A, other);  // another user's body, cached beside this user's
    await connectForm(A, W.apiKey, cid, userId, { token: 'secret-token' });
    const onA = await list(A);
    assert.ok(onA.every((t) => t.connected === true), 'connected on A right after the flow');
    await waitForAdminChange(async () => {
      assert.ok((await list(B)).every((t) => t.connected === true), 'connected on B');
    });
    assert.ok((await list(A, other)).every((t) => t.connected === false), 'the other user is not');
    for (const server of [A, B]) {
      const c = await call(server, await bulkName(1));
      assert.equal(c.status, 200, c.text);
      assert.deepEqual(c.json.json, { n: 1 });
      assert.equal(upstream.requests.at(-1).headers['x-token'], 'Token secret-token');
    }
  });

  test('a redefinition is listed and called on both nodes within the second', async () => {
    for (const server of [A, B]) assert.equal((await mcpNames(server)).length, 7);
    await defineIntegration(ctx, W.workspaceId, definition(3));  // bulk002 added
    for (const server of [A, B]) {
      const added = await waitForAdminChange(async () => {
        const tools = await list(server);
        assert.equal(tools.length, 8, names(tools).join(', '));
        return tools.find((t) => t.name.endsWith('bulk002')).name;
      });
      const c = await call(server, added);
      assert.equal(c.status, 200, c.text);
      assert.deepEqual(c.json.json, { n: 2 });
      assert.ok((await mcpNames(server)).includes(added), 'MCP tools/list');
    }
    const gone = await bulkName(1);
    await defineIntegration(ctx, W.workspaceId, definition(1));  // bulk001 and bulk002 gone
    for (const server of [A, B]) {
      await waitForAdminChange(async () => {
        const tools = await list(server);
        assert.equal(tools.length, 6, names(tools).join(', '));
        assert.ok(!names(tools).includes(gone));
      });
      const c = await call(server, gone);
      assert.equal(c.status, 404, c.text);
      assert.equal((await mcpNames(server)).length, 6, 'MCP tools/list');
    }
  });

  test('a disabled customer integration has no tools on either node', async () => {
    const tool = (await list(A)).find((t) => t.name.endsWith('bulk000')).name;
    await ctx.cliJson(['integration', 'disable', '--id', cid]);
    for (const server of [A, B]) {
      await waitForAdminChange(async () => {
        assert.deepEqual(await list(server), []);
        const c = await call(server, tool);
        assert.equal(c.status, 404, c.text);
      });
    }
  });
});
