// Issue 14 point 4: bounded storage. With a short retention (--retention 1) and connect
// sessions that expire at once (--connect-ttl 1), a load of auth-url calls for users who never
// connect leaves nothing behind: their sessions and users are deleted, the database file
// comes back to within 10% of its size before the load (SQLite: auto_vacuum=INCREMENTAL and
// the janitor's incremental vacuum), connected users are kept, and a deleted user leaves no
// row anywhere. RETENTION_CALLS (default 5,000) sets the load; the 1,000,000 is
// `make bench`'s scenario (r) (bench/run.sh).

import { describe, test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';
import { spawnSync } from 'node:child_process';

import { Context, ON_PG, TIMEOUT_MS, authUrl, getUser, rand } from '../lib/harness.mjs';
import { fetchPage } from '../lib/browser.mjs';
import { connectLink } from '../peers/http.mjs';
import { deleteUser } from '../peers/lifecycle.mjs';
import { scaled } from '../lib/timeouts.mjs';

const CALLS = Number(process.env.RETENTION_CALLS || 5_000);
const SERVER = { connectTtl: 1, extraArgs: ['--retention', '1', '--rate-limit', '0'] };

describe('retention', { skip: ON_PG && 'the file-size checks are SQLite\'s; PostgreSQL runs the store tests', timeout: scaled(20 * 60_000) }, () => {
  const ctx = new Context({ sqlite: true });
  let server;
  let W;
  let cid;      // NONE: its users are active from their first link
  let tokenCid; // API_TOKEN: the load's users, who never connect
  const connected = [];

  const sql = (query) => {
    const r = spawnSync('sqlite3', [ctx.dbPath, query], { encoding: 'utf8', timeout: TIMEOUT_MS });
    assert.equal(r.status, 0, `sqlite3 ${query}: ${r.stderr}`);
    return r.stdout.trim();
  };
  const rows = () => Number(sql('SELECT (SELECT COUNT(*) FROM connect_sessions) + '
    + '(SELECT COUNT(*) FROM integration_users)'));
  const fileSize = () => fs.statSync(ctx.dbPath).size;

  /** Stops the server (its last connection checkpoints the WAL into the file) and starts it again. */
  async function restart() {
    await server.stop();
    const size = fileSize();
    server = await ctx.startServer(SERVER);
    return size;
  }

  before(async () => {
    server = await ctx.startServer(SERVER);
    W = await ctx.workspace(server);
    cid = (await ctx.enable(W.workspaceId, 'open-meteo')).customerIntegrationId;
    const tokenEntry = await ctx.catalogEntry((e) => e.authTypes[0] === 'API_TOKEN');
    tokenCid = (await ctx.enable(W.workspaceId, tokenEntry.integrationId)).customerIntegrationId;
    // The data that must stay: users who connected (NONE completes when the link is opened).
    for (let i = 0; i < 200; ++i) {
      const userId = `kept-${i}`;
      const { url } = await connectLink(server, W.apiKey, cid, userId);
      assert.equal((await fetchPage(url)).status, 200, 'NONE connect');
      connected.push(userId);
    }
  });

  after(() => ctx.cleanup());

  test(`after ${CALLS} auth-url calls whose sessions expired, rows and file come back within 10%`, async () => {
    // The baseline: the connected users' own sessions expired and were deleted.
    const settled = Date.now() + 60_000;
    while (rows() !== connected.length) {
      assert.ok(Date.now() < settled, `baseline never settled: ${rows()} rows`);
      await new Promise((r) => setTimeout(r, 100));
    }
    const rowsBefore = rows();
    const sizeBefore = await restart();

    let next = 0;
    let failed = 0;
    const worker = async () => {
      while (next < CALLS) {
        const i = next++;
        const r = await authUrl(server, W.apiKey, tokenCid, `gone-${i}`);
        if (r.status !== 201) failed += 1;
      }
    };
    await Promise.all(Array.from({ length: 32 }, worker));
    assert.equal(failed, 0, 'every auth-url call answered 201');
    const sizeLoaded = fileSize() + fs.statSync(`${ctx.dbPath}-wal`).size;

    // The janitor deletes what expired; then its incremental vacuum gives the pages back.
    const deadline = Date.now() + 5 * 60_000;
    while (rows() !== rowsBefore) {
      assert.ok(Date.now() < deadline, `rows never came back: ${rows()} of ${rowsBefore}`);
      await new Promise((r) => setTimeout(r, 200));
    }
    assert.equal((await getUser(server, W.apiKey, tokenCid, 'gone-0')).status, 404, 'a never-connected user is gone');
    for (const userId of [connected[0], connected.at(-1)]) {
      const r = await getUser(server, W.apiKey, cid, userId);
      assert.equal(r.status, 200, `${userId} kept`);
      assert.equal(r.json.active, true);
    }
    let sizeAfter;
    const compacted = Date.now() + 2 * 60_000;
    for (;;) {
      await new Promise((r) => setTimeout(r, 500));  // a janitor pass or two
      sizeAfter = await restart();
      if (sizeAfter <= sizeBefore * 1.1 || Date.now() > compacted) break;
    }
    console.log(`retention: ${CALLS} calls; rows ${rowsBefore} -> ${rowsBefore}; file ${sizeBefore} B, `
      + `${sizeLoaded} B loaded (with WAL), ${sizeAfter} B after (${(sizeAfter / sizeBefore).toFixed(3)}x)`);
    assert.ok(sizeLoaded > sizeBefore * 2, `the load grew the database (${sizeBefore} -> ${sizeLoaded})`);
    assert.ok(sizeAfter <= sizeBefore * 1.1, `file ${sizeAfter} B > 1.1 x ${sizeBefore} B`);
  });

  test('a deleted user leaves no row behind', async () => {
    const userId = `deleted-${rand()}`;
    const { url } = await connectLink(server, W.apiKey, cid, userId);
    assert.equal((await fetchPage(url)).status, 200);
    await authUrl(server, W.apiKey, cid, userId);  // a pending session too
    const del = await deleteUser(server, W.apiKey, cid, userId);
    assert.ok(del.status >= 200 && del.status < 300, `delete: ${del.status} ${del.text}`);
    const tables = sql("SELECT name FROM sqlite_master WHERE type = 'table'").split('\n');
    for (const table of tables) {
      const columns = sql(`SELECT name FROM pragma_table_info('${table}')`).split('\n');
      if (!columns.includes('user_id')) continue;
      assert.equal(sql(`SELECT COUNT(*) FROM ${table} WHERE user_id = '${userId}'`), '0', `${table} still holds the user`);
    }
  });
});
