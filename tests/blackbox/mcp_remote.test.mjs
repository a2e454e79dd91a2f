// CONTRACT section 11, a remote MCP server's tools next to the OpenAPI ones: npm
// @modelcontextprotocol/server-everything (Streamable HTTP, no auth) on loopback, defined
// as a custom integration with mcp.url. A user who is not connected sees none of its tools
// and gets the connect link on a call; once connected (NONE completes when the link is
// opened) its tools are listed in GET /v1/tools and in /v1/mcp (the official SDK client),
// named <integrationId>_<tool>, and echo, get-sum and get-structured-content are called
// through REST (status 200, contentType application/json, json = the MCP result) and
// through /v1/mcp (the result as the server sent it, structuredContent included).

import { describe, test, before, after } from 'node:test';
import assert from 'node:assert/strict';

import { Context, request, rand } from '../lib/harness.mjs';
import { fetchPage } from '../lib/browser.mjs';
import { defineIntegration, connectLink } from '../peers/http.mjs';
import { mcpClient } from '../peers/tools.mjs';
import { startEverything, everythingInstalled } from '../peers/mcp_everything.mjs';
import { scaled } from '../lib/timeouts.mjs';

describe('mcp_remote', { concurrency: 1, timeout: scaled(120_000), skip: !everythingInstalled() && 'server-everything is not installed' }, () => {
  const ctx = new Context();
  let server;
  let everything;
  let W;
  let cid;
  const integrationId = `everything-${rand(4)}`;
  const userId = `u-${rand()}`;
  const clients = [];
  const name = (tool) => `${integrationId}_${tool}`.replace(/[^A-Za-z0-9_-]/g, '_');

  before(async () => {
    everything = await startEverything();
    W = await ctx.workspace(undefined, 'mcp-remote');
    await defineIntegration(ctx, W.workspaceId, {
      integrationId,
      name: 'Everything',
      authTypes: ['NONE'],
      mcp: { url: everything.url },
      tools: { names: { 'get-sum': 'everything_sum' }, exclude: ['trigger-long-running-operation'] },
    });
    cid = (await ctx.enable(W.workspaceId, integrationId)).customerIntegrationId;
    server = await ctx.startServer({ extraArgs: ['--allow-private-network'] });
  });

  after(async () => {
    for (const c of clients) await c.client.close().catch(() => {});
    await everything?.stop();
    await ctx.cleanup();
  });

  const list = (query) => request(server, 'GET', `/v1/tools?${query}`, { key: W.apiKey });
  const call = (tool, json) =>
    request(server, 'POST', `/v1/tools/${encodeURIComponent(tool)}/call`, { key: W.apiKey, json });

  test('a user who is not connected: no tools listed, a call gets 409 with authorizeUrl', async () => {
    const stranger = `s-${rand()}`;
    const r = await list(`userId=${stranger}`);
    assert.equal(r.status, 200, r.text);
    assert.deepEqual(r.json.tools.filter((t) => t.customerIntegrationId === cid), []);
    const c = await call(name('echo'), { userId: stranger, arguments: { message: 'hi' } });
    assert.equal(c.status, 409, c.text);
    assert.match(c.json.authorizeUrl, /^http/);
  });

  test('connected: its tools in GET /v1/tools, named and selected by the definition', async () => {
    const { url } = await connectLink(server, W.apiKey, cid, userId);
    const page = await fetchPage(url);
    assert.equal(page.status, 200, page.html.slice(0, 300));
    const r = await list(`userId=${userId}&customerIntegrationId=${cid}`);
    assert.equal(r.status, 200, r.text);
    const names = r.json.tools.map((t) => t.name);
    assert.ok(names.includes(name('echo')), names.join(', '));
    assert.ok(names.includes(name('get-structured-content')), names.join(', '));
    assert.ok(names.includes('everything_sum'), 'the names override');
    assert.ok(!names.includes(name('get-sum')));
    assert.ok(!names.includes(name('trigger-long-running-operation')), 'excluded');
    for (const t of r.json.tools) {
      assert.match(t.name, /^[A-Za-z0-9_-]{1,64}$/);
      assert.equal(t.integrationId, integrationId);
      assert.equal(t.connected, true);
      assert.equal(typeof t.inputSchema, 'object');
    }
    const echo = r.json.tools.find((t) => t.name === name('echo'));
    assert.ok(echo.inputSchema.properties.message, JSON.stringify(echo.inputSchema));
  });

  // A request that must wait for a remote server (its tools are read from it) cannot run on
  // the I/O thread: it stops there and runs again on the pool. The second run is the same
  // request: it is not counted again against the key's rate limit.
  test('a list run again on the pool counts once against the rate limit', async () => {
    // 1 request per second per key, 4 at once; the limiter is this process's own.
    const limited = await ctx.startServer({ extraArgs: ['--allow-private-network', '--rate-limit', '1', '--rate-burst', '4'] });
    try {
      const statuses = [];
      for (let i = 0; i < 4; i += 1) {
        const r = await request(limited, 'GET', `/v1/tools?userId=${userId}&customerIntegrationId=${cid}`, { key: W.apiKey });
        statuses.push(r.status);
      }
      // Counted twice, the third would be refused (unless a second passed meanwhile).
      assert.deepEqual(statuses, [200, 200, 200, 200]);
      // The limit does apply: quick requests get a 429 once the bucket (4 at most) is empty.
      for (let i = 0; i < 10 && !statuses.includes(429); i += 1) {
        statuses.push((await request(limited, 'GET', '/v1/integrations', { key: W.apiKey })).status);
      }
      assert.ok(statuses.includes(429), `the limit never applied: ${statuses}`);
    } finally {
      await limited.stop();
    }
  });

  test('REST calls: the MCP result as json, passed through', async () => {
    const echo = await call(name('echo'), { userId, arguments: { message: 'hello there' } });
    assert.equal(echo.status, 200, echo.text);
    assert.equal(echo.json.status, 200);
    assert.equal(echo.json.contentType, 'application/json');
    assert.equal(echo.json.truncated, false);
    assert.deepEqual(echo.json.json.content, [{ type: 'text', text: 'Echo: hello there' }]);

    const sum = await call('everything_sum', { userId, arguments: { a: 2, b: 40 } });
    assert.equal(sum.status, 200, sum.text);
    assert.match(sum.json.json.content[0].text, /42/);

    const structured = await call(name('get-structured-content'), { userId, arguments: { location: 'New York' } });
    assert.equal(structured.status, 200, structured.text);
    assert.equal(typeof structured.json.json.structuredContent, 'object', structured.text);
    assert.ok('temperature' in structured.json.json.structuredContent, structured.text);
  });

  test('/v1/mcp: listed next to the others, called with the result as the server sent it', async () => {
    const c = await mcpClient(server, W.apiKey, userId);
    clients.push(c);
    const tools = [];
    let cursor;
    do {
      const page = await c.client.listTools(cursor ? { cursor } : {});
      tools.push(...page.tools);
      cursor = page.nextCursor;
    } while (cursor);
    const names = tools.map((t) => t.name);
    assert.ok(names.includes(name('echo')) && names.includes('everything_sum'), names.join(', '));

    const echo = await c.client.callTool({ name: name('echo'), arguments: { message: 'via mcp' } });
    assert.deepEqual(echo.content, [{ type: 'text', text: 'Echo: via mcp' }]);
    assert.ok(!echo.isError);

    const sum = await c.client.callTool({ name: 'everything_sum', arguments: { a: 1, b: 2 } });
    assert.match(sum.content[0].text, /3/);

    const structured = await c.client.callTool({
      name: name('get-structured-content'), arguments: { location: 'Chicago' },
    });
    assert.equal(typeof structured.structuredContent, 'object', JSON.stringify(structured));
    assert.ok('temperature' in structured.structuredContent);
    // The same result through REST: passed through unchanged both ways.
    const rest = await call(name('get-structured-content'), { userId, arguments: { location: 'Chicago' } });
    assert.deepEqual(rest.json.json.structuredContent, structured.structuredContent);
  });
});
