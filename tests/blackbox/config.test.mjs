// CONTRACT section 7: flags, environment variables, the generated master key.

import { describe, test, after } from 'node:test';
import assert from 'node:assert/strict';
import crypto from 'node:crypto';
import fs from 'node:fs';
import path from 'node:path';
import {
  Context, startServer, listIntegrations, authUrl, assertAuthUrl, assertUser, getUser, runCli,
  assertCliOk, TIMEOUT_MS, ON_PG,
} from '../lib/harness.mjs';
import { scaled } from '../lib/timeouts.mjs';

describe('config', { concurrency: 1, timeout: scaled(120_000) }, () => {
  const contexts = [];
  function newContext(opts) {
    const c = new Context(opts);
    contexts.push(c);
    return c;
  }

  after(async () => {
    for (const c of contexts) await c.cleanup();
  });

  /** Starts a server that is expected to refuse to start; resolves with its exit. */
  async function expectNoStart(opts) {
    let server;
    try {
      server = await startServer(opts);
    } catch (err) {
      assert.match(err.message, /server exited before listening \(code [1-9]\d*, signal null\)/, err.message);
      return;
    }
    await server.stop('SIGKILL');
    assert.fail(`server started although it should have refused: ${JSON.stringify(opts.extraArgs || [])}`);
  }

  test('TOOLREGISTRY_LISTEN and TOOLREGISTRY_DATABASE are used when no flag is given', async () => {
    const ctx = newContext();
    const s = await startServer({
      env: { ...ctx.env, TOOLREGISTRY_LISTEN: '127.0.0.1:0', TOOLREGISTRY_DATABASE: ctx.database },
      useFlags: false,
    });
    ctx.servers.add(s);
    assert.ok(s.bootstrapKey, `no bootstrap key:\n${s.describe()}`);
    // The bootstrap key proves the variable's (empty) database was the one opened.
    if (!ON_PG) assert.ok(fs.existsSync(ctx.dbPath), 'TOOLREGISTRY_DATABASE was not used');
    assert.equal((await listIntegrations(s, s.bootstrapKey)).status, 200);
    assert.deepEqual(await s.stop('SIGTERM'), { code: 0, signal: null });
  });

  test('flags override TOOLREGISTRY_LISTEN and TOOLREGISTRY_DATABASE', async () => {
    const ctx = newContext();
    const blocker = await ctx.startServer(); // occupies a port, and creates ctx's database
    const env = {
      ...ctx.env,
      TOOLREGISTRY_LISTEN: `127.0.0.1:${blocker.port}`,
      TOOLREGISTRY_DATABASE: ctx.otherDatabase('other.db'),
    };
    const s = await startServer({ env, database: ctx.database, listen: '127.0.0.1:0' });
    ctx.servers.add(s);
    assert.notEqual(s.port, blocker.port);
    assert.equal(s.bootstrapKey, undefined, 'the flag database is not empty, so no bootstrap');
    assert.equal((await listIntegrations(s, blocker.bootstrapKey)).status, 200);
    if (!ON_PG) assert.ok(!fs.existsSync(path.join(ctx.dir, 'other.db')), 'the env database was used despite --database');
  });

  test('--listen takes a host name (localhost) as well as an address', async () => {
    const ctx = newContext();
    const s = await ctx.startServer({ listen: 'localhost:0' });
    assert.equal(new URL(s.url).hostname, '127.0.0.1', 'an IPv4 address of the name, where it has one');
    assert.equal((await fetch(`${s.url}/healthz`)).status, 200);
  });

  test('a listen address already in use makes serve exit non-zero', async () => {
    const ctx = newContext();
    const s = await ctx.startServer();
    await expectNoStart({ env: ctx.env, database: ctx.database, listen: `127.0.0.1:${s.port}` });
  });

  test('--public-url must be an absolute http(s) URL; one with a path prefixes the links and the forms post under it', async () => {
    const ctx = newContext();
    for (const bad of ['not a url', 'javascript:alert(1)', 'ftp://x.example', 'https://a.example/?q=1', 'https://*.a.example']) {
      await expectNoStart({ env: ctx.env, database: ctx.database, publicUrl: bad, extraArgs: [] });
    }
    const s = await ctx.startServer({ publicUrl: 'https://connect.example.com/base/' });
    const ws = await ctx.workspace(s, 'prefix');
    const en = await ctx.enable(ws.workspaceId, 'anthropic');
    const res = await authUrl(s, ws.apiKey, en.customerIntegrationId, 'prefix-user');
    assertAuthUrl(res, 'https://connect.example.com/base');
    // Behind a proxy that strips /base, the page is this server's /connect/<token>.
    const link = new URL(res.json.authorizeUrl);
    const page = await fetch(`${s.url}${link.pathname.replace(/^\/base/, '')}`);
    assert.equal(page.status, 200);
    const action = /<form[^>]* action="([^"]*)"/.exec(await page.text())?.[1];
    assert.ok(action, 'the page has a form');
    assert.equal(new URL(action, link).href, link.href, 'the form posts back to the link, under the prefix');
  });

  test('an unsupported --database makes serve exit non-zero', async () => {
    const ctx = newContext();
    await expectNoStart({ env: ctx.env, database: 'mysql://localhost/db' });
    await expectNoStart({ env: ctx.env, database: 'nonsense' });
  });

  test('a malformed TOOLREGISTRY_MASTER_KEY makes serve exit non-zero', async () => {
    const ctx = newContext();
    for (const key of ['not base64 !!', crypto.randomBytes(16).toString('base64'), crypto.randomBytes(33).toString('base64')]) {
      await expectNoStart({ env: { ...ctx.env, TOOLREGISTRY_MASTER_KEY: key }, database: ctx.database });
    }
  });

  test('--connect-ttl and TOOLREGISTRY_CONNECT_TTL are accepted', async () => {
    const ctx = newContext();
    const s = await ctx.startServer({ connectTtl: 60 });
    const ws = await ctx.workspace(s, 'ttl');
    const cid = (await ctx.enableNone(ws.workspaceId)).customerIntegrationId;
    assertAuthUrl(await authUrl(s, ws.apiKey, cid, 'ttl-user'), s.url);
    assert.deepEqual(await s.stop('SIGTERM'), { code: 0, signal: null });

    const s2 = await startServer({ env: { ...ctx.env, TOOLREGISTRY_CONNECT_TTL: '120' }, database: ctx.database });
    ctx.servers.add(s2);
    assertAuthUrl(await authUrl(s2, ws.apiKey, cid, 'ttl-user-2'), s2.url);
    assert.deepEqual(await s2.stop('SIGTERM'), { code: 0, signal: null });
  });

  test('without TOOLREGISTRY_MASTER_KEY on PostgreSQL, serve and the CLI refuse with a clear error', { skip: !ON_PG && 'PostgreSQL only' }, async () => {
    const ctx = newContext({ masterKey: false });
    await expectNoStart({ env: ctx.env, database: ctx.database });
    const r = await runCli(['workspace', 'create', '--name', 'x', '--json'], { env: ctx.env, database: ctx.database });
    assert.notEqual(r.code, 0);
    assert.match(r.stderr + r.stdout, /TOOLREGISTRY_MASTER_KEY is required with PostgreSQL/);
  });

  test('a database that holds secrets sealed under the server\'s key gets no generated key: the CLI without it refuses', { skip: ON_PG && 'SQLite only: PostgreSQL requires the key' }, async () => {
    const ctx = newContext();
    const ws = await ctx.workspace(undefined, 'envkey');
    await ctx.enable(ws.workspaceId, 'google-calendar', { clientId: 'c', clientSecret: 'sealed-under-env-key' });
    const withoutKey = { ...ctx.env };
    delete withoutKey.TOOLREGISTRY_MASTER_KEY;
    const r = await runCli(['integration', 'enable', '--workspace', ws.workspaceId, '--integration', 'slack',
      '--client-id', 'c', '--client-secret', 'would-be-sealed-under-another-key', '--json'], { env: withoutKey, database: ctx.database });
    assert.notEqual(r.code, 0, r.stdout);
    assert.equal(r.stdout, '');
    assert.match(r.stderr, /TOOLREGISTRY_MASTER_KEY is not set .* holds secrets sealed under master key [0-9a-f]{16}/);
    assert.ok(!fs.existsSync(path.join(ctx.dir, 'master.key')), 'a second key was generated');
    await expectNoStart({ env: withoutKey, database: ctx.database });
  });

  test('without TOOLREGISTRY_MASTER_KEY a key is generated next to the database (0600) and reused', { skip: ON_PG && 'SQLite only: PostgreSQL requires the key' }, async () => {
    const ctx = newContext({ masterKey: false });
    assert.equal(ctx.env.TOOLREGISTRY_MASTER_KEY, undefined);
    const s = await ctx.startServer();
    const keyFile = path.join(ctx.dir, 'master.key');
    assert.ok(fs.existsSync(keyFile), `no master.key beside the database; files: ${fs.readdirSync(ctx.dir)}`);
    assert.equal(fs.statSync(keyFile).mode & 0o777, 0o600, 'master.key must be mode 0600');
    assert.match(s.stderrTail, /master/i, 'no warning about the generated master key on stderr');
    assert.ok(!s.stdoutLines.some((l) => /master/i.test(l) && !l.startsWith('bootstrap')), 'the warning belongs on stderr');
    const keyBytes = fs.readFileSync(keyFile);

    // The admin CLI, without the variable either, uses the same key.
    const ws = await ctx.workspace(s, 'mk');
    const en = await ctx.enable(ws.workspaceId, 'google-calendar', { clientId: 'c', clientSecret: 'generated-key-secret' });
    assertAuthUrl(await authUrl(s, ws.apiKey, en.customerIntegrationId, 'mk-user'), s.url);
    assert.deepEqual(await s.stop('SIGTERM'), { code: 0, signal: null });

    const s2 = await ctx.startServer();
    assert.deepEqual(fs.readFileSync(keyFile), keyBytes, 'master.key was rewritten');
    assertUser(await getUser(s2, ws.apiKey, en.customerIntegrationId, 'mk-user'), 'mk-user', false);
    const l = await runCli(['integration', 'list', '--workspace', ws.workspaceId, '--json'], { env: ctx.env, database: ctx.database, timeout: TIMEOUT_MS });
    assertCliOk(l);
    assert.equal(l.json.integrations.length, 1);
    assert.deepEqual(await s2.stop('SIGTERM'), { code: 0, signal: null });
  });
});
