// Issue 14, point 5: state that stays right.
//   - a disabled customer integration: the credentials endpoint and the proxy answer 400
//     "Integration is not active", as auth-url does, and serve again once it is activated;
//   - an OAUTH2 flow that completes after its user was deleted fails cleanly: the result
//     page shows `invalid_session`, the user stays deleted, no `user.connected` is sent;
//   - AWS keys minted before a re-connect are not served after it, on either of two servers
//     sharing the database; a deleted user gets none;
//   - a first start on a busy port makes no bootstrap key (the port is bound first), so the
//     next start makes and shows it; `workspace list` and `apikey list` show ids, names and
//     times (last use included), never a key or its hash.

import crypto from 'node:crypto';
import net from 'node:net';
import { describe, test, before, after } from 'node:test';
import assert from 'node:assert/strict';

import {
  Context, request, assertError, assertCliOk, getUser, rand, eventually, waitForAdminChange, TIMESTAMP,
} from '../lib/harness.mjs';
import { fetchPage, parseResult } from '../lib/browser.mjs';
import { defineIntegration, connectLink, waitFor } from '../peers/http.mjs';
import { startSts, serviceCredentials, stsServerOptions } from '../peers/sts.mjs';
import {
  getCredentials, deleteUser, setWebhook, startWebhookReceiver, startFakeOAuth, fakeOAuthDefinition,
  connectFakeOAuth, connectForm, startUpstream,
} from '../peers/lifecycle.mjs';
import { scaled } from '../lib/timeouts.mjs';

const proxyPath = (cid, userId, rest) => `/v1/proxy/${cid}/${encodeURIComponent(userId)}/${rest}`;

describe('state_fixes', { concurrency: 1, timeout: scaled(120_000) }, () => {
  const ctx = new Context();
  let server;
  let upstream;
  let fake;
  let receiver;
  let W;

  before(async () => {
    upstream = await startUpstream(() => ({ status: 200, headers: { 'x-upstream': 'yes' } }));
    fake = await startFakeOAuth();
    receiver = await startWebhookReceiver();
    W = await ctx.workspace(undefined, 'state');
    receiver.secret = (await setWebhook(ctx, W.workspaceId, `${receiver.url}/hooks`)).secret;
    await defineIntegration(ctx, W.workspaceId, {
      integrationId: 'state-token', name: 'state-token', host: '127.0.0.1', apiBaseUrl: `${upstream.url}/base`,
      authTypes: ['API_TOKEN'], apiToken: { header: 'X-Token' },
    });
    await defineIntegration(ctx, W.workspaceId, fakeOAuthDefinition('state-oauth', fake));
    server = await ctx.startServer({ extraArgs: ['--allow-private-network', '--refresh-sweep-interval', '3600'] });
  });

  after(async () => {
    await ctx.cleanup();
    await Promise.all([upstream, fake, receiver].filter(Boolean).map((p) => p.close()));
  });

  test('a disabled customer integration: credentials and proxy answer 400 "Integration is not active"', async () => {
    const cid = (await ctx.enable(W.workspaceId, 'state-token')).customerIntegrationId;
    const userId = `tok-${rand()}`;
    await connectForm(server, W.apiKey, cid, userId, { token: `t-${rand(12)}` });
    assert.equal((await getCredentials(server, W.apiKey, cid, userId)).status, 200);
    assert.equal((await request(server, 'GET', proxyPath(cid, userId, 'x'), { key: W.apiKey })).status, 200);
    const seenBefore = upstream.requests.length;

    await ctx.cliJson(['integration', 'disable', '--id', cid]);
    await waitForAdminChange(async () => {
      assertError(await getCredentials(server, W.apiKey, cid, userId), 400, { message: 'Integration is not active' });
    });
    // Not even a user that does not exist is looked at: the same 400 as auth-url.
    assertError(await getCredentials(server, W.apiKey, cid, `nobody-${rand()}`), 400,
      { message: 'Integration is not active' });
    for (const method of ['GET', 'POST', 'DELETE']) {
      const r = await request(server, method, proxyPath(cid, userId, 'x'), { key: W.apiKey, body: method === 'POST' ? '{}' : undefined });
      assertError(r, 400, { message: 'Integration is not active' });
    }
    assert.equal(upstream.requests.length, seenBefore, 'the proxy reached the upstream for a disabled integration');

    await ctx.cliJson(['integration', 'activate', '--id', cid]);
    await waitForAdminChange(async () => {
      assert.equal((await getCredentials(server, W.apiKey, cid, userId)).status, 200);
    });
    assert.equal((await request(server, 'GET', proxyPath(cid, userId, 'x'), { key: W.apiKey })).status, 200);
  });

  test('an OAUTH2 flow that completes after its user was deleted fails, and sends no user.connected', async () => {
    const cid = (await ctx.enable(W.workspaceId, 'state-oauth', { clientId: fake.clientId, clientSecret: fake.clientSecret }))
      .customerIntegrationId;
    const userId = `gone-${rand()}`;
    const { url } = await connectLink(server, W.apiKey, cid, userId);
    const start = await fetchPage(url);
    assert.equal(start.status, 302, `connect link: ${start.status}`);
    const back = await fetchPage(start.location);
    assert.equal(back.status, 302);
    // The user is deleted while toolregistry exchanges the code at the provider.
    let deleted;
    fake.onCode = async () => { deleted = await deleteUser(server, W.apiKey, cid, userId); };
    let cb;
    try {
      cb = await fetchPage(back.location);
    } finally {
      fake.onCode = undefined;
    }
    assert.equal(deleted?.status, 204, `DELETE during the flow: ${deleted?.status} ${deleted?.text}`);
    const result = parseResult(cb.html);
    assert.equal(result?.status, 'error', `callback after the delete: ${cb.status} ${cb.html.slice(0, 500)}`);
    assert.equal(result.errorCode, 'invalid_session');
    assert.equal(cb.status, 404, 'the result page of a link that is no longer valid');
    assertError(await getUser(server, W.apiKey, cid, userId), 404);

    // A later flow's user.connected arrives: by then the deleted user's would have too.
    const later = `later-${rand()}`;
    await connectFakeOAuth(fake, server, W.apiKey, cid, later);
    await waitFor(() => receiver.of('user.connected').some((d) => d.payload.data.userId === later),
      'user.connected of the later flow');
    await waitFor(() => receiver.of('user.deleted').some((d) => d.payload.data.userId === userId),
      'user.deleted of the deleted user');
    assert.deepEqual(receiver.of('user.connected').filter((d) => d.payload.data.userId === userId), [],
      'user.connected sent for a user deleted before its flow completed');
  });

  test('a first start on a busy port makes no bootstrap key; the next start shows it', async () => {
    const fresh = new Context();
    const blocker = net.createServer();
    try {
      await new Promise((resolve, reject) => {
        blocker.once('error', reject);
        blocker.listen(0, '127.0.0.1', resolve);
      });
      const busy = await fresh.cli(['serve', '--listen', `127.0.0.1:${blocker.address().port}`]);
      assert.notEqual(busy.code, 0, `serve on a busy port exited ${busy.code}: ${busy.stdout}`);
      assert.doesNotMatch(busy.stdout, /bootstrap/, 'a start that could not bind made the bootstrap key');

      const srv = await fresh.startServer();
      assert.ok(srv.bootstrapKey, `the next start showed no bootstrap key:\n${srv.describe()}`);
      assert.ok(srv.bootstrapWorkspace);
      assert.deepEqual((await fresh.cliJson(['workspace', 'list'])).workspaces.map((w) => [w.workspaceId, w.name]),
        [[srv.bootstrapWorkspace, 'default']], 'one bootstrap workspace, made by the start that serves');
      assert.equal((await request(srv, 'GET', '/v1/integrations', { key: srv.bootstrapKey })).status, 200);
      const again = await fresh.startServer();
      assert.equal(again.bootstrapKey, undefined, 'a third start showed a bootstrap key again');
    } finally {
      blocker.close();
      await fresh.cleanup();
    }
  });

  test('workspace list and apikey list: ids, names, created, last used; never a key', async () => {
    const other = await ctx.workspace(undefined, `listed-${rand(4)}`);
    const unused = await ctx.cliJson(['apikey', 'create', '--workspace', W.workspaceId]);
    await ctx.cliJson(['apikey', 'revoke', '--key-id', unused.keyId]);
    const secrets = [W.apiKey, other.apiKey, unused.apiKey];
    const hashes = secrets.map((k) => crypto.createHash('sha256').update(k).digest('hex'));
    const assertNoSecret = (text, where) => {
      assert.doesNotMatch(text, /sk_live_/, `${where} shows an API key`);
      for (const h of hashes) assert.ok(!text.toLowerCase().includes(h), `${where} shows a key hash`);
    };

    const listed = await ctx.cliJson(['workspace', 'list']);
    assertNoSecret(JSON.stringify(listed), 'workspace list --json');
    const mine = listed.workspaces.filter((w) => [W.workspaceId, other.workspaceId].includes(w.workspaceId));
    assert.deepEqual(mine.map((w) => w.name), ['state', other.name], 'oldest first, with their names');
    for (const w of listed.workspaces) {
      assert.deepEqual(Object.keys(w).sort(), ['createdAt', 'name', 'workspaceId']);
      assert.match(w.createdAt, TIMESTAMP);
    }
    const text = await ctx.cli(['workspace', 'list']);
    assertCliOk(text);
    assert.match(text.stdout, new RegExp(`workspaceId=${other.workspaceId}\\s+name=${other.name}\\s+createdAt=`));

    // W's key has been used by the tests above: its use is on record (the first use in a
    // minute is written, without holding the answer for it).
    await request(server, 'GET', '/v1/integrations', { key: W.apiKey });
    const keys = await eventually(async () => {
      const r = await ctx.cliJson(['apikey', 'list', '--workspace', W.workspaceId]);
      const used = r.apiKeys.find((k) => k.keyId === W.keyId);
      assert.ok(used?.lastUsedAt, `no lastUsedAt for a used key: ${JSON.stringify(r)}`);
      return r;
    }, { timeout: 5000 });
    assertNoSecret(JSON.stringify(keys), 'apikey list --json');
    assert.equal(keys.workspaceId, W.workspaceId);
    assert.deepEqual(keys.apiKeys.map((k) => k.keyId), [W.keyId, unused.keyId]);
    for (const k of keys.apiKeys) {
      assert.deepEqual(Object.keys(k).sort(), ['createdAt', 'keyId', 'lastUsedAt', 'revokedAt']);
      assert.match(k.createdAt, TIMESTAMP);
    }
    const [used, revoked] = keys.apiKeys;
    assert.match(used.lastUsedAt, TIMESTAMP);
    assert.ok(Date.parse(used.lastUsedAt) <= Date.now() && Date.parse(used.lastUsedAt) >= Date.parse(used.createdAt));
    assert.equal(used.revokedAt, null);
    assert.equal(revoked.lastUsedAt, null);
    assert.match(revoked.revokedAt, TIMESTAMP);

    const keysText = await ctx.cli(['apikey', 'list', '--workspace', W.workspaceId]);
    assertCliOk(keysText);
    assertNoSecret(keysText.stdout, 'apikey list');
    assert.match(keysText.stdout, new RegExp(`keyId=${W.keyId}\\s+createdAt=\\S+\\s+lastUsedAt=\\d{4}-`));

    const unknown = await ctx.cli(['apikey', 'list', '--workspace', `ws-${rand()}`]);
    assert.notEqual(unknown.code, 0);
    assert.match(unknown.stderr, /not found/i);
  });
});

describe('state_fixes: minted AWS keys and re-connects', { concurrency: 1, timeout: scaled(120_000) }, () => {
  const ctx = new Context();
  const awsCreds = serviceCredentials();
  const ROLE_A = 'arn:aws:iam::123456789012:role/StateA';
  const ROLE_B = 'arn:aws:iam::123456789012:role/StateB';
  let sts;
  let A;
  let B;
  let W;

  before(async () => {
    sts = await startSts({ credentials: awsCreds });
    const opts = stsServerOptions(sts, ctx.env, awsCreds, 'arn:aws:iam::111122223333:user/toolregistry');
    A = await ctx.startServer(opts);
    B = await ctx.startServer(opts);
    W = await ctx.workspace(A, 'state-aws');
  });

  after(async () => {
    await ctx.cleanup();
    await sts?.close();
  });

  const accessKey = async (srv, cid, userId) => {
    const r = await getCredentials(srv, W.apiKey, cid, userId);
    assert.equal(r.status, 200, `credentials: ${r.status} ${r.text}`);
    return r.json.accessKeyId;
  };
  // RoleArns of the AssumeRole calls that minted keys (not the connect form's verification).
  const mintedRoles = () => sts.calls.filter((c) => c.form.get('RoleSessionName') === 'toolregistry')
    .map((c) => c.form.get('RoleArn'));

  test('a re-connect invalidates minted keys on every server; a deleted user gets none', async () => {
    const cid = (await ctx.enable(W.workspaceId, 'aws')).customerIntegrationId;
    const userId = `aws-${rand()}`;
    await connectForm(A, W.apiKey, cid, userId, { roleArn: ROLE_A });
    const onA = await accessKey(A, cid, userId);
    const onB = await accessKey(B, cid, userId);
    assert.equal(await accessKey(A, cid, userId), onA, 'A cached its keys');
    assert.equal(await accessKey(B, cid, userId), onB, 'B cached its keys');
    const mintsBefore = mintedRoles().length;

    await connectForm(A, W.apiKey, cid, userId, { roleArn: ROLE_B });
    const afterOnA = await accessKey(A, cid, userId);
    const afterOnB = await accessKey(B, cid, userId);
    assert.ok(![onA, onB].includes(afterOnA), 'A served keys minted before the re-connect');
    assert.ok(![onA, onB].includes(afterOnB), 'B served keys minted before the re-connect');
    assert.deepEqual(mintedRoles().slice(mintsBefore), [ROLE_B, ROLE_B], 'one mint per server, for the new role');
    assert.equal(await accessKey(B, cid, userId), afterOnB, 'B caches the new keys');

    const deleted = await deleteUser(A, W.apiKey, cid, userId);
    assert.equal(deleted.status, 204);
    for (const srv of [A, B]) assertError(await getCredentials(srv, W.apiKey, cid, userId), 404);
  });
});
