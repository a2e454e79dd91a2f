// CONTRACT sections 2 and 3: POST /v1/integrations/{cid}/users/{userId}/auth-url,
// and what GET /connect/<token> may (not) claim.

import { describe, test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import {
  Context, authUrl, getUser, assertError, assertUser, assertAuthUrl, randomUuid, userPath, request,
  waitForAdminChange, probeInactive, rand, startServer, rawRequest,
} from '../lib/harness.mjs';
import { scaled } from '../lib/timeouts.mjs';

describe('auth_url', { concurrency: 1, timeout: scaled(120_000) }, () => {
  const ctx = new Context();
  let server;
  let A; // no redirect allow-list
  let C; // with a redirect allow-list
  let oauthCid;
  let noneCid;
  let cCid;

  const MiB = 1024 * 1024;

  before(async () => {
    server = await ctx.startServer();
    A = await ctx.workspace(server, 'authurl-a');
    C = await ctx.workspace(server, 'authurl-c');
    oauthCid = (await ctx.enableOauth(A.workspaceId)).customerIntegrationId;
    noneCid = (await ctx.enableNone(A.workspaceId)).customerIntegrationId;
    cCid = (await ctx.enableNone(C.workspaceId)).customerIntegrationId;
  });

  after(() => ctx.cleanup());

  function post(userId, opts) {
    return request(server, 'POST', userPath(oauthCid, userId, { suffix: '/auth-url' }), { key: A.apiKey, ...opts });
  }

  test('201 {authorizeUrl} = <public url>/connect/<token>, JSON', async () => {
    const r = await authUrl(server, A.apiKey, oauthCid, `u-${rand()}`);
    assertAuthUrl(r, server.url);
    assert.match(r.headers.get('content-type') || '', /^application\/json\b/i);
    assert.ok(r.headers.get('x-request-id'));
  });

  test('accepted bodies: {}, empty, no body, redirectUri, unknown fields', async () => {
    const cases = [
      { json: {} },
      { body: '', headers: { 'content-type': 'application/json' } },
      {},
      { json: { redirectUri: 'https://app.example.com/cb' } },
      { json: { redirectUri: 'http://localhost:3000/cb?x=1' } },
      { json: { foo: 1, nested: { a: [1, 2] }, redirectUri: 'https://app.example.com/cb' } },
      { json: { unknownOnly: true } },
      { body: '  {}  \n', headers: { 'content-type': 'application/json' } },
      { json: {}, headers: { 'content-type': 'application/json; charset=utf-8' } },
    ];
    for (const c of cases) {
      const userId = `body-${rand()}`;
      const r = await post(userId, c);
      assertAuthUrl(r, server.url);
      assertUser(await getUser(server, A.apiKey, oauthCid, userId), userId, false);
    }
  });

  test('redirectUri with a fragment is accepted (section 4 keeps the fragment)', async () => {
    for (const redirectUri of ['https://app.example.com/cb#done', 'http://localhost:3000/cb?x=1#frag']) {
      assertAuthUrl(await post(`frag-${rand()}`, { json: { redirectUri } }), server.url);
    }
  });

  test('malformed JSON -> 400 and no user is created', async () => {
    for (const body of ['{', '{"redirectUri":', 'not json', '{"a":1,}', "{'a':1}", '{}{}', '\u0000']) {
      const userId = `bad-${rand()}`;
      assertError(await post(userId, { body, headers: { 'content-type': 'application/json' } }), 400);
      assertError(await getUser(server, A.apiKey, oauthCid, userId), 404);
    }
  });

  test('JSON that is not an object -> 400', async () => {
    for (const body of ['[]', '"x"', '1', 'null', 'true', '[{"redirectUri":"https://app.example.com/cb"}]']) {
      const userId = `nonobj-${rand()}`;
      assertError(await post(userId, { body, headers: { 'content-type': 'application/json' } }), 400);
      assertError(await getUser(server, A.apiKey, oauthCid, userId), 404);
    }
  });

  test('invalid redirectUri -> 400 and no user is created', async () => {
    const base = 'https://app.example.com/';
    const bad = [
      123, true, {}, ['https://app.example.com/cb'],
      '', '/cb', 'cb', '//app.example.com/cb', 'app.example.com/cb',
      'ftp://app.example.com/cb', 'javascript:alert(1)', 'data:text/html,hi', 'file:///etc/passwd',
      'mailto:a@example.com', 'https://', 'http://',
      base + 'a'.repeat(2049 - base.length),
      base + 'a'.repeat(10_000),
    ];
    for (const redirectUri of bad) {
      const userId = `redir-${rand()}`;
      const r = await post(userId, { json: { redirectUri } });
      assertError(r, 400);
      assertError(await getUser(server, A.apiKey, oauthCid, userId), 404);
    }
  });

  test('redirectUri of exactly 2048 bytes is accepted', async () => {
    const base = 'https://app.example.com/';
    const uri = base + 'a'.repeat(2048 - base.length);
    assert.equal(Buffer.byteLength(uri), 2048);
    assertAuthUrl(await post(`len-${rand()}`, { json: { redirectUri: uri } }), server.url);
  });

  // Oversized bodies are sent over a plain socket (see rawRequest): a server may
  // answer before reading the whole body, and that answer is what is checked.
  function padded(total) {
    const head = '{"redirectUri":"https://app.example.com/cb","pad":"';
    const tail = '"}';
    return Buffer.from(head + 'x'.repeat(total - head.length - tail.length) + tail);
  }
  const jsonHeaders = () => ({ 'content-type': 'application/json', 'x-api-key': A.apiKey, 'x-request-id': `big-${rand(4)}` });

  test('body of exactly 1 MiB is accepted', async () => {
    const exact = padded(MiB);
    assert.equal(exact.length, MiB);
    assertAuthUrl(await post(`mib-${rand()}`, { body: exact, headers: { 'content-type': 'application/json' } }), server.url);
  });

  for (const expectContinue of [false, true]) {
    const how = expectContinue ? 'with Expect: 100-continue' : 'body sent at once';
    test(`body over 1 MiB (Content-Length, ${how}) -> 413, no user created`, async () => {
      const userId = `big-${rand()}`;
      for (const size of [MiB + 1, 3 * MiB]) {
        const headers = jsonHeaders();
        let r;
        try {
          r = await rawRequest(server, 'POST', userPath(oauthCid, userId, { suffix: '/auth-url' }), { headers, body: padded(size), expectContinue });
        } catch (err) {
          assert.fail(`${size}-byte body: ${err.message}`);
        }
        assertError(r, 413);
        assert.equal(r.headers.get('x-request-id'), headers['x-request-id'], 'x-request-id not echoed on 413');
      }
      assertError(await getUser(server, A.apiKey, oauthCid, userId), 404);
    });
  }

  test('chunked body over 1 MiB (no Content-Length) -> 413, no user created', async () => {
    const userId = `chunked-${rand()}`;
    const headers = jsonHeaders();
    const r = await rawRequest(server, 'POST', userPath(oauthCid, userId, { suffix: '/auth-url' }), { headers, body: padded(2 * MiB), chunked: true });
    assertError(r, 413);
    assert.equal(r.headers.get('x-request-id'), headers['x-request-id'], 'x-request-id not echoed on 413');
    assertError(await getUser(server, A.apiKey, oauthCid, userId), 404);
  });

  test('the server still serves requests after the 413s', async () => {
    assertAuthUrl(await authUrl(server, A.apiKey, oauthCid, `after-413-${rand()}`), server.url);
  });

  test('disabled customer integration -> 400 "Integration is not active"; activation restores it', async () => {
    const cid = (await ctx.enableCatalog(A.workspaceId, 'slack')).customerIntegrationId;
    assertAuthUrl(await authUrl(server, A.apiKey, cid, 'before-disable'), server.url);
    await ctx.cliJson(['integration', 'disable', '--id', cid]);
    // Each try names a new user: a try that came before the disable took effect created its
    // user, and only the refused one (no user created) is looked at.
    const whileDisabled = await waitForAdminChange(() => probeInactive(server, A.apiKey, cid));
    assertError(await authUrl(server, A.apiKey, cid, whileDisabled), 400, { message: 'Integration is not active' });
    assertError(await getUser(server, A.apiKey, cid, whileDisabled), 404);
    assertError(await authUrl(server, A.apiKey, cid, 'before-disable'), 400, { message: 'Integration is not active' });

    await ctx.cliJson(['integration', 'activate', '--id', cid]);
    // Refused tries leave nothing behind; the first 201 is the one asserted.
    await waitForAdminChange(async () => {
      assertAuthUrl(await authUrl(server, A.apiKey, cid, 'after-activate'), server.url);
    });
    assertUser(await getUser(server, A.apiKey, cid, 'after-activate'), 'after-activate');
  });

  test('unknown, malformed and foreign customer integration -> 404', async () => {
    assertError(await authUrl(server, A.apiKey, randomUuid(), 'x'), 404);
    assertError(await authUrl(server, A.apiKey, 'not-a-uuid', 'x'), 404);
    assertError(await authUrl(server, A.apiKey, cCid, 'x'), 404);
    assertError(await authUrl(server, C.apiKey, oauthCid, 'x'), 404);
  });

  test('calling twice makes two sessions; the user keeps its state', async () => {
    for (const [cid, active] of [[oauthCid, false], [noneCid, true]]) {
      const userId = `twice-${rand()}`;
      const t1 = assertAuthUrl(await authUrl(server, A.apiKey, cid, userId), server.url);
      const u1 = assertUser(await getUser(server, A.apiKey, cid, userId), userId, active);
      const t2 = assertAuthUrl(await authUrl(server, A.apiKey, cid, userId, { json: { redirectUri: 'https://app.example.com/again' } }), server.url);
      assert.notEqual(t1, t2);
      const u2 = assertUser(await getUser(server, A.apiKey, cid, userId), userId, active);
      assert.equal(u2.createdAt, u1.createdAt);
    }
  });

  test('tokens are unique and carry enough entropy', async () => {
    const tokens = new Set();
    for (let i = 0; i < 30; i++) {
      tokens.add(assertAuthUrl(await authUrl(server, A.apiKey, oauthCid, `tok-${i % 3}`), server.url));
    }
    assert.equal(tokens.size, 30);
    // At least 128 bits: judge the alphabet the tokens actually use (hex needs 32 characters,
    // base64url 22).
    const chars = new Set([...tokens].join(''));
    const bitsPerChar = chars.size <= 16 ? 4 : chars.size <= 32 ? 5 : 6;
    const shortest = Math.min(...[...tokens].map((t) => t.length));
    assert.ok(shortest * bitsPerChar >= 128, `tokens of ${shortest} chars over ${chars.size} symbols carry < 128 bits`);
  });

  test('redirect allow-list: only listed origins are accepted (in effect within 1 s)', async () => {
    assertAuthUrl(await authUrl(server, C.apiKey, cCid, 'c1', { json: { redirectUri: 'https://evil.example.com/cb' } }), server.url);
    const set = await ctx.cliJson(['workspace', 'allow-redirect', '--workspace', C.workspaceId, '--origin', 'https://app.example.com']);
    assert.deepEqual(set.origins, ['https://app.example.com']);

    // A new userId per try: a try that came before the allow-list took effect created its user.
    const refusedUser = await waitForAdminChange(async () => {
      const userId = `c-${rand()}`;
      assertError(await authUrl(server, C.apiKey, cCid, userId, { json: { redirectUri: 'https://evil.example.com/cb' } }), 400);
      return userId;
    });
    assertError(await getUser(server, C.apiKey, cCid, refusedUser), 404);
    const refused = [
      'https://evil.example.com/cb',
      'http://app.example.com/cb',
      'https://app.example.com:8443/cb',
      'https://app.example.com.evil.test/cb',
      'https://app.example.com@evil.test/cb',
      'https://evil.test/?next=https://app.example.com',
      'https://sub.app.example.com/cb',
    ];
    for (const redirectUri of refused) {
      assertError(await authUrl(server, C.apiKey, cCid, `c-${rand()}`, { json: { redirectUri } }), 400);
    }
    for (const redirectUri of ['https://app.example.com/cb', 'https://app.example.com/cb?x=1', 'https://app.example.com']) {
      assertAuthUrl(await authUrl(server, C.apiKey, cCid, `c-${rand()}`, { json: { redirectUri } }), server.url);
    }
    // No redirectUri at all is still fine.
    assertAuthUrl(await authUrl(server, C.apiKey, cCid, `c-${rand()}`), server.url);

    // A second origin is added, the first one kept.
    const two = await ctx.cliJson(['workspace', 'allow-redirect', '--workspace', C.workspaceId, '--origin', 'http://localhost:3000']);
    assert.deepEqual([...two.origins].sort(), ['http://localhost:3000', 'https://app.example.com']);
    await waitForAdminChange(async () => {
      assertAuthUrl(await authUrl(server, C.apiKey, cCid, `c-${rand()}`, { json: { redirectUri: 'http://localhost:3000/cb' } }), server.url);
    });
    assertAuthUrl(await authUrl(server, C.apiKey, cCid, `c-${rand()}`, { json: { redirectUri: 'https://app.example.com/cb' } }), server.url);
    assertError(await authUrl(server, C.apiKey, cCid, `c-${rand()}`, { json: { redirectUri: 'http://localhost:3001/cb' } }), 400);

    // Another workspace's allow-list does not apply to A.
    assertAuthUrl(await authUrl(server, A.apiKey, oauthCid, `a-${rand()}`, { json: { redirectUri: 'https://evil.example.com/cb' } }), server.url);
  });

  // Words a page would use to tell the end user that the connection worked.
  const SUCCESS_TEXT = /\bsuccess(?:ful|fully)?\b|\b(?:are|is|was|been|now|successfully) connected\b|\byou(?:'re| are) all set\b|connection (?:was |is )?established/i;

  const NEGATION = /\b(?:not|nothing|never|no|failed|unable|cannot|can't|couldn't|isn't|wasn't|error|expired|invalid)\b/i;

  /** True when the page's visible text, outside negated sentences, reports a success. */
  function claimsSuccess(html) {
    const text = html
      .replace(/<script\b[\s\S]*?<\/script>/gi, ' ')
      .replace(/<style\b[\s\S]*?<\/style>/gi, ' ')
      .replace(/<[^>]*>/g, '\n');
    return text.split(/[.!?\n]+/).some((sentence) => !NEGATION.test(sentence) && SUCCESS_TEXT.test(sentence));
  }

  test('GET /connect/<token> for OAUTH2 does not pretend success; the user stays inactive', async () => {
    const userId = `connect-${rand()}`;
    const r = await authUrl(server, A.apiKey, oauthCid, userId, { json: { redirectUri: 'https://app.example.com/cb' } });
    const token = assertAuthUrl(r, server.url);
    const page = await request(server, 'GET', `/connect/${token}`);
    assert.ok(page.headers.get('x-request-id'), 'connect page lacks x-request-id');
    if (page.status >= 300 && page.status < 400) {
      const loc = page.headers.get('location') || '';
      assert.ok(!loc.startsWith('https://app.example.com/cb'), `redirected to the app before any authorization: ${loc}`);
      assert.ok(!/status=success/.test(loc), `success redirect without authorization: ${loc}`);
    } else {
      assert.match(page.headers.get('content-type') || '', /^text\/html\b/i, `connect page is not HTML: ${page.status}`);
      assert.ok(!claimsSuccess(page.text), `connect page claims success:\n${page.text.slice(0, 2000)}`);
    }
    assertUser(await getUser(server, A.apiKey, oauthCid, userId), userId, false);
  });

  test('GET /connect/<unknown token> is an HTML failure page, not a success', async () => {
    for (const token of ['AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA', 'short', rand(16)]) {
      const page = await request(server, 'GET', `/connect/${token}`);
      assert.ok(page.headers.get('x-request-id'), 'failure page lacks x-request-id');
    assert.ok(page.headers.get('x-request-id'), 'connect page lacks x-request-id');
      assert.ok(page.status < 300 || page.status >= 400, `unknown token redirected: ${page.status} ${page.headers.get('location')}`);
      assert.match(page.headers.get('content-type') || '', /^text\/html\b/i, `failure page is not HTML: ${page.status} ${page.text.slice(0, 200)}`);
      assert.ok(!claimsSuccess(page.text), `unknown token page claims success:\n${page.text.slice(0, 2000)}`);
    }
  });

  test('--public-url sets the authorizeUrl prefix; the flag overrides TOOLREGISTRY_PUBLIC_URL', async () => {
    const s1 = await startServer({ env: ctx.env, database: ctx.database, publicUrl: 'https://connect.example.test' });
    ctx.servers.add(s1);
    const s2 = await startServer({ env: { ...ctx.env, TOOLREGISTRY_PUBLIC_URL: 'https://env.example.test' }, database: ctx.database });
    ctx.servers.add(s2);
    const s3 = await startServer({
      env: { ...ctx.env, TOOLREGISTRY_PUBLIC_URL: 'https://env.example.test' }, database: ctx.database, publicUrl: 'https://flag.example.test',
    });
    ctx.servers.add(s3);
    try {
      assertAuthUrl(await authUrl(s1, A.apiKey, oauthCid, 'pub-1'), 'https://connect.example.test');
      assertAuthUrl(await authUrl(s2, A.apiKey, oauthCid, 'pub-2'), 'https://env.example.test');
      assertAuthUrl(await authUrl(s3, A.apiKey, oauthCid, 'pub-3'), 'https://flag.example.test');
      // The default is http:// + the listen address (the real port).
      assertAuthUrl(await authUrl(server, A.apiKey, oauthCid, 'pub-0'), `http://127.0.0.1:${server.port}`);
    } finally {
      for (const s of [s1, s2, s3]) assert.deepEqual(await s.stop('SIGTERM'), { code: 0, signal: null });
    }
  });
});
