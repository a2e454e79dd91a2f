// Bootstrap on first start, clean stops, restarts, and CONTRACT section 3's
// promise that a 201 from auth-url survives a crash right after the response.

import { describe, test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import {
  Context, authUrl, getUser, listIntegrations, assertAuthUrl, assertUser, assertError, UUID_V4, API_KEY,
  waitForAdminChange, assertListed,
} from '../lib/harness.mjs';
import { scaled } from '../lib/timeouts.mjs';

describe('durability', { concurrency: 1, timeout: scaled(120_000) }, () => {
  const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/;

  const ctx = new Context();
  let first; // the first server, still running after `before`
  let ws;
  let oauthCid;
  let noneCid;

  before(async () => {
    first = await ctx.startServer();
    ws = await ctx.workspace(first, 'durable');
    oauthCid = (await ctx.enableOauth(ws.workspaceId)).customerIntegrationId;
    noneCid = (await ctx.enableNone(ws.workspaceId)).customerIntegrationId;
    // The list is compared across a restart: wait until the running server lists both
    // (it may have kept the empty list it answered while ctx.workspace waited for the key).
    await waitForAdminChange(() => assertListed(first, ws.apiKey, [oauthCid, noneCid]));
  });

  after(() => ctx.cleanup());

  test('first start prints the bootstrap workspace and key before "listening on"', () => {
    const lines = first.stdoutLines;
    const iWs = lines.findIndex((l) => l.startsWith('bootstrap workspace default: '));
    const iKey = lines.findIndex((l) => l.startsWith('bootstrap api key: '));
    const iListen = lines.findIndex((l) => l.startsWith('listening on http://127.0.0.1:'));
    assert.ok(iWs >= 0 && iKey > iWs && iListen > iKey, `unexpected stdout order:\n${lines.join('\n')}`);
    assert.match(first.bootstrapWorkspace, UUID);
    assert.match(first.bootstrapKey, API_KEY);
    assert.ok(first.port > 0 && first.port < 65536);
    assert.equal(lines.filter((l) => l.startsWith('bootstrap api key: ')).length, 1, 'the key is printed once');
  });

  test('the bootstrap key works and its workspace is empty', async () => {
    const r = await listIntegrations(first, first.bootstrapKey);
    assert.equal(r.status, 200, r.text);
    assert.deepEqual(r.json, []);
    assertError(await listIntegrations(first, undefined), 401);
    const g = await getUser(first, first.bootstrapKey, oauthCid, 'nobody');
    assertError(g, 404); // ws's integration is not the bootstrap workspace's
  });

  test('SIGTERM stops cleanly; a restart keeps everything and prints no bootstrap lines', async () => {
    for (const u of ['kept-1', 'kept-2']) assertAuthUrl(await authUrl(first, ws.apiKey, oauthCid, u), first.url);
    assertAuthUrl(await authUrl(first, ws.apiKey, noneCid, 'kept-none'), first.url);
    const listBefore = (await listIntegrations(first, ws.apiKey)).json;
    const userBefore = (await getUser(first, ws.apiKey, oauthCid, 'kept-1')).json;

    assert.deepEqual(await first.stop('SIGTERM'), { code: 0, signal: null }, `exit after SIGTERM:\n${first.describe()}`);

    const second = await ctx.startServer();
    assert.equal(second.bootstrapKey, undefined, `second start printed a bootstrap key:\n${second.describe()}`);
    assert.equal(second.bootstrapWorkspace, undefined, 'second start printed a bootstrap workspace');
    assert.ok(!second.stdoutLines.some((l) => l.startsWith('bootstrap')));

    assert.deepEqual((await listIntegrations(second, ws.apiKey)).json, listBefore);
    assert.deepEqual(assertUser(await getUser(second, ws.apiKey, oauthCid, 'kept-1'), 'kept-1', false), userBefore);
    assertUser(await getUser(second, ws.apiKey, oauthCid, 'kept-2'), 'kept-2', false);
    assertUser(await getUser(second, ws.apiKey, noneCid, 'kept-none'), 'kept-none', true);
    // The bootstrap key of the first start still works.
    const b = await listIntegrations(second, first.bootstrapKey);
    assert.equal(b.status, 200, b.text);
    assert.deepEqual(b.json, []);

    assert.deepEqual(await second.stop('SIGINT'), { code: 0, signal: null }, `exit after SIGINT:\n${second.describe()}`);
  });

  test('SIGTERM while requests are in flight still exits 0', async () => {
    const s = await ctx.startServer();
    const inflight = Array.from({ length: 20 }, (_, i) => authUrl(s, ws.apiKey, oauthCid, `inflight-${i}`).catch(() => null));
    const exit = s.stop('SIGTERM');
    await Promise.all(inflight);
    assert.deepEqual(await exit, { code: 0, signal: null }, s.describe());
  });

  test('200 concurrent auth-url 201s all survive kill -9', async (t) => {
    const s = await ctx.startServer();
    const N = 200;
    const users = Array.from({ length: N }, (_, i) => `burst-${i}-${'é'.repeat(i % 4)}`);
    const results = await Promise.all(users.map((u, i) =>
      authUrl(s, ws.apiKey, i % 2 ? oauthCid : noneCid, u).then((r) => ({ u, i, r }), (err) => ({ u, i, err }))));
    s.proc.kill('SIGKILL');
    const { signal } = await s.exited;
    assert.equal(signal, 'SIGKILL');

    const acked = [];
    const other = {};
    for (const { u, i, r, err } of results) {
      if (err) { other.network = (other.network || 0) + 1; continue; }
      if (r.status === 201) {
        assertAuthUrl(r, s.url);
        acked.push({ u, cid: i % 2 ? oauthCid : noneCid, active: i % 2 === 0 });
      } else {
        other[r.status] = (other[r.status] || 0) + 1;
        assert.ok([429, 503].includes(r.status), `unexpected ${r.status} during the burst: ${r.text}`);
        if (r.status === 429) assert.ok(r.headers.get('retry-after'), '429 without Retry-After');
      }
    }
    assert.ok(!other.network, `${other.network} requests failed at the network level`);
    assert.ok(acked.length > 0, `no 201 in the burst: ${JSON.stringify(other)}`);
    t.diagnostic(`burst: ${acked.length} x 201, others ${JSON.stringify(other)}`);

    const again = await ctx.startServer();
    assert.equal(again.bootstrapKey, undefined, 'restart after kill -9 printed a bootstrap key');
    const lost = [];
    // Check in slices to stay polite with a rate limit.
    for (let k = 0; k < acked.length; k += 20) {
      const slice = acked.slice(k, k + 20);
      const got = await Promise.all(slice.map((a) => getUser(again, ws.apiKey, a.cid, a.u)));
      got.forEach((g, j) => {
        if (g.status !== 200) lost.push(`${slice[j].u}: ${g.status}`);
        else assertUser(g, slice[j].u, slice[j].active);
      });
    }
    assert.deepEqual(lost, [], `${lost.length} of ${acked.length} acknowledged users lost after kill -9`);
    assert.deepEqual(await again.stop('SIGTERM'), { code: 0, signal: null });
  });

  test('admin commands succeed while the server is busy writing, and in parallel', async () => {
    const s = await ctx.startServer();
    const burst = Promise.all(Array.from({ length: 150 }, (_, i) => authUrl(s, ws.apiKey, noneCid, `busy-${i}`)));
    const admin = [];
    for (let i = 0; i < 4; i++) {
      admin.push(await ctx.cliJson(['workspace', 'create', '--name', `busy-${i}`]));
    }
    // Rounds of processes opening and closing the database together while the server runs:
    // a process that lost its locks on the WAL index would let another truncate it under
    // the mapped readers (SIGBUS).
    for (let round = 0; round < 3; round++) {
      const parallel = await Promise.all(Array.from({ length: 6 }, (_, i) => ctx.cli(['workspace', 'create', '--name', `par-${round}-${i}`, '--json'])));
      for (const r of parallel) {
        assert.equal(r.code, 0, `parallel workspace create failed (signal ${r.signal}): ${r.stderr}`);
        admin.push(r.json);
      }
    }
    const ids = admin.map((a) => a.workspaceId);
    assert.equal(new Set(ids).size, ids.length);
    for (const r of await burst) assert.equal(r.status, 201, r.text);
    await s.stop('SIGTERM');
  });

  test('customer integration ids stay lowercase UUID v4 across restarts', async () => {
    const s = await ctx.startServer();
    const r = await listIntegrations(s, ws.apiKey);
    assert.equal(r.status, 200);
    for (const i of r.json) assert.match(i.customerIntegrationId, UUID_V4);
    await s.stop('SIGTERM');
  });
});
