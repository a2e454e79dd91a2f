// Issue 14 point 2: a failed fsync or write of the database's files (SQLite). The server runs
// under an LD_PRELOAD fault injector (tests/fault/fault.c), armed after start-up by creating
// a trigger file, that makes fdatasync/fsync or the writes of the WAL fail with EIO or ENOSPC.
// Then, in both I/O modes (--sqlite-io=tr and plain):
//   - the request whose commit met the fault gets a 503 JSON error, never 201;
//   - every later write gets 503, also once the disk works again (the fence: a failed fsync
//     cannot be retried safely, docs/decisions.md); reads go on (not with tr after a failed
//     fdatasync: the batch it was for is committed and in every reader's snapshot);
//   - /readyz answers 503 with the reason, /metrics has toolregistry_db_writes_refused 1;
//   - restarted without the fault, the database passes integrity_check, every 201 given
//     before the fault is there, and writes work again.
// SQLite only (PostgreSQL's side is pg_fault.test.mjs); not under a sanitizer (the injector
// would have to come after the sanitizer's runtime).

import { describe, test, after } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

import {
  Context, ON_PG, authUrl, assertAuthUrl, assertError, getUser, request,
} from '../lib/harness.mjs';
import { scaled } from '../lib/timeouts.mjs';

const here = path.dirname(fileURLToPath(import.meta.url));
const SKIP = ON_PG ? 'SQLite only' : process.env.TOOLREGISTRY_TEST_SANITIZER ? 'not under a sanitizer' : false;

/** Compiles the injector with the system's C compiler, as tests/powerloss does its recorder. */
function buildInjector(dir) {
  const out = path.join(dir, 'fault.so');
  const cc = spawnSync('cc', ['-shared', '-fPIC', '-O2', '-Wall', '-o', out,
    path.join(here, '..', 'fault', 'fault.c'), '-ldl', '-lpthread'], { encoding: 'utf8' });
  if (cc.error || cc.status !== 0) throw new Error(`cannot compile tests/fault/fault.c: ${cc.error ?? cc.stderr}`);
  return out;
}

describe('failed fsync or write (SQLite)', { skip: SKIP, concurrency: 1, timeout: scaled(300_000) }, () => {
  const toolDir = fs.mkdtempSync(path.join(os.tmpdir(), 'tr-fault-'));
  let injector;
  after(() => fs.rmSync(toolDir, { recursive: true, force: true }));

  const cases = [];
  for (const io of ['tr', 'plain']) {
    for (const op of ['fdatasync', 'write']) {
      for (const errno of ['EIO', 'ENOSPC']) cases.push({ io, op, errno });
    }
  }

  for (const { io, op, errno } of cases) {
    test(`--sqlite-io=${io}: ${op} of the WAL fails with ${errno} → 503, writes stop, /readyz not ready, consistent after restart`, async () => {
      injector ??= buildInjector(toolDir);
      const ctx = new Context({ sqlite: true });
      try {
        const trigger = path.join(ctx.dir, 'fault-armed');
        const faultEnv = {
          ...ctx.env,
          LD_PRELOAD: injector,
          TR_FAULT_TRIGGER: trigger,
          TR_FAULT_PATH_SUFFIX: '-wal',
          TR_FAULT_OP: op,
          TR_FAULT_ERRNO: errno,
        };
        const ioArgs = ['--sqlite-io', io];
        const server = await ctx.startServer({ env: faultEnv, extraArgs: ioArgs });
        const W = await ctx.workspace(server, 'fault');
        const cid = (await ctx.enableNone(W.workspaceId)).customerIntegrationId;
        const kept = ['before-1', 'before-2'];
        for (const u of kept) assertAuthUrl(await authUrl(server, W.apiKey, cid, u), server.url);
        assert.equal((await request(server, 'GET', '/readyz')).status, 200);

        fs.writeFileSync(trigger, '');
        const during = await authUrl(server, W.apiKey, cid, 'during');
        assertError(during, 503);
        assert.ok(fs.existsSync(`${trigger}.hits`), 'the fault was met');

        // The fence: writes are refused, also once the disk answers again; reads go on.
        assertError(await authUrl(server, W.apiKey, cid, 'later-armed'), 503);
        fs.rmSync(trigger);
        assertError(await authUrl(server, W.apiKey, cid, 'later-disarmed'), 503);
        // Reads go on, but with tr after a failed fdatasync: its batch was committed, so every
        // reader's snapshot holds it, and it is not known to be on disk.
        const readStatus = io === 'tr' && op === 'fdatasync' ? 503 : 200;
        for (const u of kept) assert.equal((await getUser(server, W.apiKey, cid, u)).status, readStatus, u);

        const ready = await request(server, 'GET', '/readyz');
        assertError(ready, 503);
        assert.match(JSON.stringify(ready.json.message), /writes stopped/i);
        const metrics = await request(server, 'GET', '/metrics');
        assert.match(metrics.text, /^toolregistry_db_writes_refused 1$/m);
        assert.match(server.stderrTail, /database writes stopped/);

        assert.deepEqual(await server.stop('SIGTERM'), { code: 0, signal: null }, server.describe());
        ctx.assertDatabaseIntact('after the fault');

        // Restarted without the injector: what was acknowledged is there, writes work.
        const again = await ctx.startServer({ extraArgs: ioArgs });
        assert.equal((await request(again, 'GET', '/readyz')).status, 200);
        for (const u of kept) assert.equal((await getUser(again, W.apiKey, cid, u)).status, 200, u);
        // 503 promises nothing either way; these never reached a commit.
        for (const u of ['later-armed', 'later-disarmed']) assertError(await getUser(again, W.apiKey, cid, u), 404);
        assertAuthUrl(await authUrl(again, W.apiKey, cid, 'after-restart'), again.url);
        assert.deepEqual(await again.stop('SIGTERM'), { code: 0, signal: null }, again.describe());
        ctx.assertDatabaseIntact('after the restart');
      } finally {
        await ctx.cleanup();
      }
    });
  }
});

// Issue 14 point 3: the tr VFS checks at start-up the private SQLite layout it relies on
// (SqliteStore::Open, CheckTrVfs); a failed check falls back to plain SQLite with a log line.
// TOOLREGISTRY_TEST_VFS_CHECK=fail (read only at start-up) makes the check fail.
describe('the tr VFS start-up check (SQLite)', { skip: ON_PG && 'SQLite only', timeout: scaled(60_000) }, () => {
  test('a failed check falls back to plain SQLite with a warning, and answers stay right', async () => {
    const ctx = new Context({ sqlite: true });
    try {
      const env = { ...ctx.env, TOOLREGISTRY_TEST_VFS_CHECK: 'fail' };
      const server = await ctx.startServer({ env });
      assert.match(server.stderrTail, /tr VFS's start-up check failed \(TOOLREGISTRY_TEST_VFS_CHECK=fail\): falling back to plain SQLite/);
      assert.match(server.stderrTail, /sqlite I\/O for [^"]*: plain/);
      const W = await ctx.workspace(server, 'fallback');
      const cid = (await ctx.enableNone(W.workspaceId)).customerIntegrationId;
      const users = ['fb-1', 'fb-2', 'fb-3'];
      for (const u of users) assertAuthUrl(await authUrl(server, W.apiKey, cid, u), server.url);
      for (const u of users) assert.equal((await getUser(server, W.apiKey, cid, u)).status, 200, u);
      assertError(await getUser(server, W.apiKey, cid, 'never'), 404);
      // A 201 is durable before it is sent: SIGKILL right after it loses nothing.
      assertAuthUrl(await authUrl(server, W.apiKey, cid, 'fb-last'), server.url);
      await server.stop('SIGKILL');
      ctx.assertDatabaseIntact('after SIGKILL under the fall-back');

      // Without the hook the check passes: the default I/O again, on the same file.
      const again = await ctx.startServer();
      assert.match(again.stderrTail, /sqlite I\/O for [^"]*: tr/);
      assert.doesNotMatch(again.stderrTail, /falling back/);
      for (const u of [...users, 'fb-last']) assert.equal((await getUser(again, W.apiKey, cid, u)).status, 200, u);
    } finally {
      await ctx.cleanup();
    }
  });
});
