// The official MCP conformance suite (@modelcontextprotocol/conformance, server mode) against
// /v1/mcp. Failures other than those in tests/conformance/expected-failures.yml fail the test,
// and so does a listed scenario that passes (a stale baseline): the suite checks both.
//
// The suite's client sends no headers of its own, so a small loopback proxy (test code, not
// the product) adds the API key and x-user-id and forwards to /v1/mcp; the server's public
// URL is the proxy's, so the suite's localhost Origin is the allowed one. The fixture tools
// the suite calls (test_simple_text, test_error_handling) are ordinary tools: operations of an
// OpenAPI document in a NONE custom integration, renamed with `tools.names`, answered by a
// loopback upstream. Nothing in the product knows about the suite.

import { describe, test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import http from 'node:http';
import path from 'node:path';

import { Context, REPO_ROOT, authUrl, rand } from '../lib/harness.mjs';
import { defineIntegration } from '../peers/http.mjs';
import { startUpstream } from '../peers/lifecycle.mjs';
import { scaled } from '../lib/timeouts.mjs';

const CLI = path.join(REPO_ROOT, 'tests', 'node_modules', '@modelcontextprotocol', 'conformance', 'dist', 'index.js');
const BASELINE = path.join(REPO_ROOT, 'tests', 'conformance', 'expected-failures.yml');

/** A proxy on 127.0.0.1:0 that sends every request to `target()` + /v1/mcp with `headers` added. */
async function startHeaderProxy(target, headers) {
  const server = http.createServer((req, res) => {
    const url = new URL(`${target()}/v1/mcp`);
    const out = http.request({
      host: url.hostname, port: url.port, path: url.pathname, method: req.method,
      headers: { ...req.headers, ...headers, host: url.host },
    }, (answer) => {
      res.writeHead(answer.statusCode, answer.headers);
      answer.pipe(res);
    });
    out.on('error', () => { res.writeHead(502); res.end(); });
    req.pipe(out);
  });
  await new Promise((resolve) => server.listen(0, '127.0.0.1', resolve));
  return { url: `http://127.0.0.1:${server.address().port}`, close: () => new Promise((r) => server.close(r)) };
}

function fixtureDefinition(integrationId, upstream) {
  const op = (operationId, summary) => ({ get: { operationId, summary, responses: { 200: { description: 'ok' } } } });
  return {
    integrationId,
    name: 'Conformance fixtures',
    host: '127.0.0.1',
    apiBaseUrl: upstream.url,
    authTypes: ['NONE'],
    tools: {
      openapi: {
        openapi: '3.1.0',
        info: { title: 'Conformance fixtures', version: '1.0.0' },
        servers: [{ url: upstream.url }],
        paths: {
          '/simple-text': op('simpleText', 'Answers with a simple text'),
          '/error': op('errorHandling', 'Answers with an error'),
        },
      },
      names: { simpleText: 'test_simple_text', errorHandling: 'test_error_handling' },
    },
  };
}

describe('mcp_conformance', { concurrency: 1, timeout: scaled(300_000) }, () => {
  const ctx = new Context();
  let server;
  let upstream;
  let proxy;

  before(async () => {
    upstream = await startUpstream((rec) => {
      if (rec.path === '/simple-text') {
        return { headers: { 'content-type': 'text/plain' }, body: 'This is a simple text response for testing.' };
      }
      if (rec.path === '/error') {
        return { status: 500, headers: { 'content-type': 'text/plain' }, body: 'This tool intentionally returns an error for testing' };
      }
      return { status: 404, body: '{}' };
    });
    const W = await ctx.workspace(undefined, 'conformance');
    const integrationId = `conformance-${rand(4)}`;
    const userId = `conformance-${rand()}`;
    await defineIntegration(ctx, W.workspaceId, fixtureDefinition(integrationId, upstream));
    const cid = (await ctx.enable(W.workspaceId, integrationId)).customerIntegrationId;
    let target;
    proxy = await startHeaderProxy(() => target, { 'x-api-key': W.apiKey, 'x-user-id': userId });
    server = await ctx.startServer({ publicUrl: proxy.url, extraArgs: ['--allow-private-network'] });
    target = server.url;
    // A NONE user is active from its connect link on.
    assert.equal((await authUrl(server, W.apiKey, cid, userId)).status, 201);
  });

  after(async () => {
    await proxy?.close();
    await upstream?.close();
    await ctx.cleanup();
  });

  test('conformance server suite: only the baseline fails', async () => {
    const child = spawn(process.execPath, [CLI, 'server', '--url', `${proxy.url}/mcp`, '--expected-failures', BASELINE],
      { stdio: ['ignore', 'pipe', 'pipe'] });
    let output = '';
    child.stdout.on('data', (d) => { output += d; });
    child.stderr.on('data', (d) => { output += d; });
    const code = await new Promise((resolve) => child.on('exit', resolve));
    assert.equal(code, 0, `conformance suite:\n${output.slice(-6000)}`);
  });
});
