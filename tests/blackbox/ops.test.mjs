// Operability (issue 8): health, readiness, Prometheus metrics checked with promtool,
// structured JSON logs without secrets, and `catalog show`.

import { describe, test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { Context, request, authUrl } from '../lib/harness.mjs';
import { scaled } from '../lib/timeouts.mjs';

describe('ops', { concurrency: 1, timeout: scaled(120_000) }, () => {
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

  test('/healthz and /readyz answer without a key', async () => {
    const health = await request(server, 'GET', '/healthz');
    assert.equal(health.status, 200);
    assert.deepEqual(health.json, { status: 'ok' });
    const ready = await request(server, 'GET', '/readyz');
    assert.equal(ready.status, 200);
    assert.deepEqual(ready.json, { status: 'ready' });
  });

  test('/metrics passes promtool and counts requests and connect flows', async () => {
    const created = await authUrl(server, ws.apiKey, cid, 'metrics-user', { json: {} });
    assert.equal(created.status, 201);
    const page = await fetch(created.json.authorizeUrl, { redirect: 'manual' });
    assert.ok([200, 302].includes(page.status));
    await request(server, 'GET', '/v1/integrations', { key: ws.apiKey });

    const r = await request(server, 'GET', '/metrics');
    assert.equal(r.status, 200);
    assert.match(r.headers.get('content-type'), /^text\/plain/);
    const text = r.text;
    assert.match(text, /toolregistry_http_requests_total\{route="GET \/v1\/integrations",status="200"\} [1-9]/);
    assert.match(text, /toolregistry_http_request_duration_seconds_bucket\{route="GET \/v1\/integrations",le="\+Inf"\} [1-9]/);
    assert.match(text, /toolregistry_connect_flows_total\{event="completed",auth_type="NONE"\} [1-9]/);
    assert.match(text, /toolregistry_db_queued_writes /);

    const check = spawnSync('promtool', ['check', 'metrics'], { input: text, encoding: 'utf8' });
    assert.equal(check.error, undefined, `promtool could not run: ${check.error}`);
    assert.equal(check.status, 0, `promtool check metrics failed:\n${check.stdout}\n${check.stderr}`);
  });

  test('logs are one JSON object per line, the access log has its fields, no API key', async () => {
    await request(server, 'GET', '/v1/integrations', { key: ws.apiKey, headers: { 'x-request-id': 'ops-"quoted"' } });
    // The access line is written after the answer: poll the captured stderr briefly.
    let lines = [];
    for (let i = 0; i < 40; i += 1) {
      lines = server.stderrTail.split('\n').filter((l) => l.trim() !== '');
      if (lines.some((l) => l.includes('ops-'))) break;
      await new Promise((resolve) => setTimeout(resolve, 50));
    }
    assert.ok(lines.length > 0, 'no log lines');
    for (const line of lines.slice(1)) {  // the first may be cut by the tail buffer
      assert.doesNotThrow(() => JSON.parse(line), `not JSON: ${line}`);
    }
    const access = lines.map((l) => { try { return JSON.parse(l); } catch { return undefined; } })
      .find((o) => o && o.request_id === 'ops-"quoted"');
    assert.ok(access, 'no access log line for the request');
    assert.equal(access.route, 'GET /v1/integrations');
    assert.equal(access.status, 200);
    assert.equal(typeof access.latency_ms, 'number');
    assert.ok(typeof access.time === 'string' && typeof access.level === 'string');
    assert.ok(!server.stderrTail.includes(ws.apiKey), 'the API key appears in the log');
  });

  test('catalog show prints one integration in full; unknown ids fail', async () => {
    const github = await ctx.cliJson(['catalog', 'show', 'github']);
    assert.equal(github.integrationId, 'github');
    assert.match(github.oauth2.tokenUrl, /^https:\/\//);
    const missing = await ctx.cli(['catalog', 'show', 'no-such-integration']);
    assert.notEqual(missing.code, 0);
  });
});
