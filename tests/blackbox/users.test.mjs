// CONTRACT sections 2 and 3: GET /v1/integrations/{cid}/users/{userId}, and the
// userId rules shared with POST …/auth-url.

import { describe, test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import {
  Context, authUrl, getUser, assertError, assertUser, assertAuthUrl, randomUuid, request,
} from '../lib/harness.mjs';
import { scaled } from '../lib/timeouts.mjs';

describe('users', { concurrency: 1, timeout: scaled(120_000) }, () => {
  const ctx = new Context();
  let server;
  let A;
  let B;
  let oauthCid; // OAUTH2 integration of A
  let noneCid; // NONE integration of A
  let bCid; // B's integration

  before(async () => {
    server = await ctx.startServer();
    A = await ctx.workspace(server, 'users-a');
    B = await ctx.workspace(server, 'users-b');
    oauthCid = (await ctx.enableOauth(A.workspaceId)).customerIntegrationId;
    noneCid = (await ctx.enableNone(A.workspaceId)).customerIntegrationId;
    bCid = (await ctx.enableNone(B.workspaceId)).customerIntegrationId;
  });

  after(() => ctx.cleanup());

  test('unknown user on a known integration -> 404', async () => {
    assertError(await getUser(server, A.apiKey, oauthCid, 'nobody-here'), 404);
    assertError(await getUser(server, A.apiKey, noneCid, 'nobody-here'), 404);
  });

  test('malformed or unknown customerIntegrationId -> 404 on GET and POST', async () => {
    const bad = [
      'not-a-uuid', '123', randomUuid(), randomUuid().replace(/-/g, ''),
      '00000000-0000-0000-0000-000000000000', `${randomUuid()}x`, encodeURIComponent("' OR 1=1 --"),
    ];
    for (const cid of bad) {
      assertError(await getUser(server, A.apiKey, cid, 'alice'), 404);
      assertError(await authUrl(server, A.apiKey, cid, 'alice'), 404);
    }
  });

  test('another workspace\'s customer integration -> 404, indistinguishable from unknown', async () => {
    assertAuthUrl(await authUrl(server, A.apiKey, oauthCid, 'shared-user'), server.url);
    assertAuthUrl(await authUrl(server, B.apiKey, bCid, 'b-user'), server.url);
    const unknown = await getUser(server, B.apiKey, randomUuid(), 'shared-user');
    assertError(unknown, 404);
    const foreign = await getUser(server, B.apiKey, oauthCid, 'shared-user');
    assertError(foreign, 404);
    assert.deepEqual(foreign.json, unknown.json, 'a foreign id must look like an unknown one');
    assertError(await authUrl(server, B.apiKey, oauthCid, 'shared-user'), 404);
    assertError(await getUser(server, A.apiKey, bCid, 'b-user'), 404);
    assertError(await authUrl(server, A.apiKey, bCid, 'b-user'), 404);
    // A's user is untouched by B's attempts.
    assertUser(await getUser(server, A.apiKey, oauthCid, 'shared-user'), 'shared-user', false);
  });

  test('users are per customer integration', async () => {
    assertAuthUrl(await authUrl(server, A.apiKey, oauthCid, 'only-oauth'), server.url);
    assertError(await getUser(server, A.apiKey, noneCid, 'only-oauth'), 404);
  });

  test('OAUTH2 user: created by auth-url, inactive', async () => {
    assertError(await getUser(server, A.apiKey, oauthCid, 'carol'), 404);
    assertAuthUrl(await authUrl(server, A.apiKey, oauthCid, 'carol'), server.url);
    const u = assertUser(await getUser(server, A.apiKey, oauthCid, 'carol'), 'carol', false);
    assert.deepEqual(Object.keys(u).sort(), ['active', 'createdAt', 'updatedAt', 'userId']);
  });

  test('NONE user: active from creation', async () => {
    assertAuthUrl(await authUrl(server, A.apiKey, noneCid, 'dave'), server.url);
    assertUser(await getUser(server, A.apiKey, noneCid, 'dave'), 'dave', true);
  });

  test('userId is returned exactly as given (unicode, %2F, spaces, %, +, ?, #)', async () => {
    const ids = [
      'alice@example.com',
      'ユーザー-😀',
      'ünïcödé Ω',
      'a/b',
      'john doe',
      '100%',
      'a+b',
      'x?y#z',
      'x%2Fy', // literally, with a percent sign
      '  padded  ',
      'tab\u00a0nbsp',
      '...',
    ];
    for (const id of ids) {
      const r = await authUrl(server, A.apiKey, oauthCid, id);
      assertAuthUrl(r, server.url);
      const g = await getUser(server, A.apiKey, oauthCid, id);
      assertUser(g, id, false);
    }
    // The literal "x%2Fy" is not the same user as "x/y".
    assertError(await getUser(server, A.apiKey, oauthCid, 'x/y'), 404);
  });

  test('userId is compared after percent-decoding', async () => {
    assertAuthUrl(await authUrl(server, A.apiKey, oauthCid, 'p%2Fq', { raw: true }), server.url);
    assertUser(await getUser(server, A.apiKey, oauthCid, 'p%2fq', { raw: true }), 'p/q', false);
    assertAuthUrl(await authUrl(server, A.apiKey, oauthCid, 'b%6Fb', { raw: true }), server.url);
    assertUser(await getUser(server, A.apiKey, oauthCid, 'bob', { raw: true }), 'bob', false);
    // A raw '+' in a path is a plus, not a space.
    assertAuthUrl(await authUrl(server, A.apiKey, oauthCid, 'plus+sign', { raw: true }), server.url);
    assertUser(await getUser(server, A.apiKey, oauthCid, 'plus%2Bsign', { raw: true }), 'plus+sign', false);
    assertError(await getUser(server, A.apiKey, oauthCid, 'plus sign'), 404);
  });

  test('userId length: 255 bytes OK, 256 bytes -> 400 (counted in UTF-8 bytes)', async () => {
    const ok = ['a'.repeat(255), 'é'.repeat(127) + 'a', '😀'.repeat(63) + 'abc'];
    const tooLong = ['a'.repeat(256), 'é'.repeat(128), '😀'.repeat(64), 'a'.repeat(1000)];
    for (const id of ok) {
      assert.equal(Buffer.byteLength(id), 255);
      assertAuthUrl(await authUrl(server, A.apiKey, oauthCid, id), server.url);
      assertUser(await getUser(server, A.apiKey, oauthCid, id), id, false);
    }
    for (const id of tooLong) {
      assert.ok(Buffer.byteLength(id) >= 256);
      assertError(await authUrl(server, A.apiKey, oauthCid, id), 400);
      assertError(await getUser(server, A.apiKey, oauthCid, id), 400);
    }
  });

  test('control characters, invalid UTF-8 and bad escapes in userId -> 400', async () => {
    const bad = ['%01', 'a%00b', 'line%0Abreak', 'cr%0D', 'tab%09x', 'x%1F', 'del%7F', '%FF', 'a%C3%28', 'a%zz', 'trail%'];
    for (const raw of bad) {
      assertError(await authUrl(server, A.apiKey, oauthCid, raw, { raw: true }), 400);
      assertError(await getUser(server, A.apiKey, oauthCid, raw, { raw: true }), 400);
    }
  });

  test('empty userId is refused (400 or 404)', async () => {
    for (const r of [
      await request(server, 'POST', `/v1/integrations/${oauthCid}/users//auth-url`, { key: A.apiKey, json: {} }),
      await request(server, 'GET', `/v1/integrations/${oauthCid}/users/`, { key: A.apiKey }),
    ]) {
      assert.ok([400, 404].includes(r.status), `expected 400/404, got ${r.status} ${r.text}`);
      assertError(r, r.status);
    }
  });

  test('GET user body validates against the seed schema and has stable createdAt', async () => {
    assertAuthUrl(await authUrl(server, A.apiKey, oauthCid, 'stable'), server.url);
    const first = assertUser(await getUser(server, A.apiKey, oauthCid, 'stable'), 'stable', false);
    assertAuthUrl(await authUrl(server, A.apiKey, oauthCid, 'stable'), server.url);
    const second = assertUser(await getUser(server, A.apiKey, oauthCid, 'stable'), 'stable', false);
    assert.equal(second.createdAt, first.createdAt);
  });
});
