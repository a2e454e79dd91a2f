// Issue 7 point 5 / CONTRACT section 2: workspace isolation. Workspace A owns
// customer integrations of several auth types (NONE from the catalog's
// `open-meteo`, a custom API_TOKEN one with a user connected through the form,
// OAUTH2 from the catalog's `github` with a client id and secret) and users.
// Every /v1 route, called with another workspace's key on A's objects, answers
// 404 with the standard JSON error and reveals nothing: the body and headers
// carry none of A's ids, names, tokens or secrets, the answer is the same
// (status, content-type, JSON body) as for an unknown or malformed
// customerIntegrationId, nothing changes on A's side, and the proxy never
// reaches the upstream. Two intruders: B (an empty workspace) and C (which
// enabled the same catalog integration and uses the same userIds as A).
//
// Loopback only: the server runs on a copy of the shipped catalog in which
// open-meteo and github have their apiBaseUrl pointed at a local upstream, so
// that even a broken isolation could not make the proxy leave the machine.

import { describe, test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';

import {
  Context, REPO_ROOT, request, assertError, assertUser, authUrl, getUser, listIntegrations, rand, randomUuid,
  userPath, waitForAdminChange, probeInactive, assertListed, assertCliError,
} from '../lib/harness.mjs';
import { fetchPage } from '../lib/browser.mjs';
import { startPeer, defineIntegration, connectLink } from '../peers/http.mjs';
import { getCredentials, connectForm, startUpstream } from '../peers/lifecycle.mjs';
import { scaled } from '../lib/timeouts.mjs';

const GOOD = `tok_${rand(16)}`;

describe('isolation', { concurrency: 1, timeout: scaled(60_000) }, () => {
  const ctx = new Context();
  let server;
  let upstream;
  let verifier;
  let catalogDir;
  let A;
  let B;
  let C;
  const cids = {}; // A's customer integrations: none, apiToken, oauth
  const users = {}; // A's userId per customer integration
  const secrets = []; // strings no foreign answer may contain
  const connectTokens = [];
  let customId;
  let ghSecret;
  let cCid; // C's own open-meteo

  before(async () => {
    upstream = await startUpstream();
    verifier = await startPeer((req, res, rec) => {
      const ok = rec.headers.authorization === `Bearer ${GOOD}`;
      res.writeHead(ok ? 200 : 401, { 'content-type': 'application/json' });
      res.end(ok ? '{"id":1}' : '{"error":"unauthorized"}');
    });

    // The shipped catalog, with open-meteo's and github's API at the local upstream.
    catalogDir = path.join(ctx.dir, 'catalog');
    fs.mkdirSync(catalogDir);
    const shipped = path.join(REPO_ROOT, 'catalog');
    for (const f of fs.readdirSync(shipped).filter((n) => n.endsWith('.json'))) {
      const def = JSON.parse(fs.readFileSync(path.join(shipped, f), 'utf8'));
      if (def.integrationId === 'open-meteo' || def.integrationId === 'github') {
        def.apiBaseUrl = `${upstream.url}/${def.integrationId}`;
      }
      fs.writeFileSync(path.join(catalogDir, f), JSON.stringify(def));
    }
    // The OpenAPI documents the definitions' `tools` name, beside them as shipped.
    fs.cpSync(path.join(shipped, 'openapi'), path.join(catalogDir, 'openapi'), { recursive: true });
    server = await ctx.startServer({ catalog: catalogDir, extraArgs: ['--allow-private-network'] });

    A = await ctx.workspace(server, `iso-a-${rand(3)}`);
    B = await ctx.workspace(server, `iso-b-${rand(3)}`);
    C = await ctx.workspace(server, `iso-c-${rand(3)}`);

    customId = `iso-token-${rand(3)}`;
    await defineIntegration(ctx, A.workspaceId, {
      integrationId: customId,
      name: `Isolated Token Service ${rand(3)}`,
      host: '127.0.0.1',
      apiBaseUrl: `${upstream.url}/custom`,
      authTypes: ['API_TOKEN'],
      apiToken: {
        header: 'Authorization',
        prefix: 'Bearer ',
        verification: { method: 'GET', url: `${verifier.url}/me`, successStatus: 200 },
      },
    });
    ghSecret = `gh-secret-${rand(12)}`;
    cids.none = (await ctx.enable(A.workspaceId, 'open-meteo')).customerIntegrationId;
    cids.apiToken = (await ctx.enable(A.workspaceId, customId)).customerIntegrationId;
    cids.oauth = (await ctx.enable(A.workspaceId, 'github', {
      authType: 'OAUTH2', clientId: `gh-client-${rand(4)}`, clientSecret: ghSecret,
    })).customerIntegrationId;
    cCid = (await ctx.enable(C.workspaceId, 'open-meteo')).customerIntegrationId;
    // The lists read below, once these enables are in effect on the server.
    await waitForAdminChange(async () => {
      await assertListed(server, A.apiKey, Object.values(cids));
      await assertListed(server, C.apiKey, [cCid]);
    });

    // A's users: NONE (active once the link is opened), API_TOKEN connected with the form, OAUTH2 created by auth-url.
    users.none = `alice-none-${rand(3)}`;
    users.apiToken = `alice-token-${rand(3)}`;
    users.oauth = `alice-oauth-${rand(3)}`;
    const none = await connectLink(server, A.apiKey, cids.none, users.none);
    connectTokens.push(none.token);
    assert.equal((await fetchPage(none.url)).status, 200);
    await connectForm(server, A.apiKey, cids.apiToken, users.apiToken, { token: GOOD });
    const oauth = await connectLink(server, A.apiKey, cids.oauth, users.oauth);
    connectTokens.push(oauth.token);
    assertUser(await getUser(server, A.apiKey, cids.none, users.none), users.none, true);
    assertUser(await getUser(server, A.apiKey, cids.apiToken, users.apiToken), users.apiToken, true);
    assertUser(await getUser(server, A.apiKey, cids.oauth, users.oauth), users.oauth, false);

    // C uses the same userId on its own open-meteo, and is connected.
    const cLink = await connectLink(server, C.apiKey, cCid, users.none);
    assert.equal((await fetchPage(cLink.url)).status, 200);

    secrets.push(
      A.apiKey, A.workspaceId, A.keyId, A.name, GOOD, ghSecret, customId, 'Isolated Token Service',
      'Open-Meteo', 'GitHub', 'open-meteo', ...Object.values(cids), ...Object.values(users), ...connectTokens,
    );
  });

  after(async () => {
    await Promise.all([upstream, verifier].map((p) => p?.close()));
    await ctx.cleanup();
  });

  /** Every header value and the body of an answer, as one string. */
  const wholeAnswer = (r) => `${[...r.headers].map(([k, v]) => `${k}: ${v}`).join('\n')}\n\n${r.text}`;

  function assertRevealsNothing(r, where) {
    const all = wholeAnswer(r);
    for (const s of secrets) {
      assert.ok(!all.includes(s), `${where}: the answer reveals "${s}":\n${all}`);
    }
  }

  /** What a 404 answer must look like, reduced to the parts compared across variants. */
  const shape = (r) => ({ status: r.status, contentType: r.headers.get('content-type'), json: r.json });

  // Every /v1 route that takes a customerIntegrationId: [label, method, path(cid, userId), json body].
  const ROUTES = [
    ['GET user', 'GET', (cid, u) => userPath(cid, u), undefined],
    ['POST auth-url', 'POST', (cid, u) => userPath(cid, u, { suffix: '/auth-url' }), {}],
    ['POST auth-url with redirectUri', 'POST', (cid, u) => userPath(cid, u, { suffix: '/auth-url' }),
      { redirectUri: 'https://app.example.com/done' }],
    ['GET credentials', 'GET', (cid, u) => userPath(cid, u, { suffix: '/credentials' }), undefined],
    ['DELETE user', 'DELETE', (cid, u) => userPath(cid, u), undefined],
    ['GET proxy', 'GET', (cid, u) => `/v1/proxy/${cid}/${encodeURIComponent(u)}/x`, undefined],
    ['GET proxy with query', 'GET', (cid, u) => `/v1/proxy/${cid}/${encodeURIComponent(u)}/x/y?q=1`, undefined],
    ['POST proxy', 'POST', (cid, u) => `/v1/proxy/${cid}/${encodeURIComponent(u)}/x`, { hello: 'world' }],
    ['PUT proxy', 'PUT', (cid, u) => `/v1/proxy/${cid}/${encodeURIComponent(u)}/x`, { hello: 'world' }],
    ['DELETE proxy', 'DELETE', (cid, u) => `/v1/proxy/${cid}/${encodeURIComponent(u)}/x`, undefined],
  ];
  const KINDS = ['none', 'apiToken', 'oauth'];
  const intruders = () => [['B (empty workspace)', B], ['C (same catalog integration and userIds)', C]];

  test('GET /v1/integrations: B sees [], C sees only its own; neither sees A\'s', async () => {
    for (const active of [undefined, 'true', 'false']) {
      const b = await listIntegrations(server, B.apiKey, active);
      assert.equal(b.status, 200, b.text);
      assert.deepEqual(b.json, [], `B's list (active=${active}): ${b.text}`);
      assertRevealsNothing(b, `B list active=${active}`);
      const c = await listIntegrations(server, C.apiKey, active);
      assert.equal(c.status, 200, c.text);
      const ids = c.json.map((i) => i.customerIntegrationId);
      assert.deepEqual(ids, active === 'false' ? [] : [cCid], `C's list (active=${active}): ${c.text}`);
      for (const id of Object.values(cids)) assert.ok(!c.text.includes(id), `C's list shows A's ${id}`);
    }
    const a = await listIntegrations(server, A.apiKey);
    assert.deepEqual(a.json.map((i) => i.customerIntegrationId).sort(), Object.values(cids).sort(), 'A sees its three');
  });

  test('the owner reaches every route (so that the foreign 404s below are isolation, not broken routes)', async () => {
    const before = upstream.requests.length;
    for (const kind of ['none', 'apiToken']) {
      const g = await request(server, 'GET', `/v1/proxy/${cids[kind]}/${encodeURIComponent(users[kind])}/x`, { key: A.apiKey });
      assert.equal(g.status, 200, `A's own proxy call (${kind}): ${g.status} ${g.text}`);
    }
    assert.equal(upstream.requests.length, before + 2, 'A\'s proxy calls reach the local upstream');
    assert.equal(upstream.requests.at(-1).headers.authorization, `Bearer ${GOOD}`);
    assert.deepEqual(await getCredentials(server, A.apiKey, cids.apiToken, users.apiToken).then((r) => r.json),
      { authType: 'API_TOKEN', token: GOOD });
    assertError(await getCredentials(server, A.apiKey, cids.oauth, users.oauth), 409);
  });

  test('every route with a foreign key on A\'s objects: 404, standard body, nothing revealed, same as unknown/malformed', async (t) => {
    const upstreamBefore = upstream.requests.length;
    const verifierBefore = verifier.requests.length;
    const problems = [];
    let checked = 0;
    // One case per (intruder, route, A's integration); the cases of one intruder and route run together.
    const checkCase = async (who, X, [label, method, pathOf, json], kind) => {
      const cid = cids[kind];
      const userId = users[kind];
      // The variants must be indistinguishable from one another.
      const variants = [
        ['A\'s cid, A\'s user', cid, userId],
        ['A\'s cid, a user A does not have', cid, `nobody-${rand(4)}`],
        ['unknown cid, A\'s user', randomUuid(), userId],
        ['malformed cid, A\'s user', 'not-a-uuid', userId],
        ['uppercase of A\'s cid, A\'s user', cid.toUpperCase(), userId],
      ];
      const answers = [];
      for (const [what, vcid, vuser] of variants) {
        const where = `${who} ${label} on A's ${kind} (${what})`;
        const r = await request(server, method, pathOf(vcid, vuser), { key: X.apiKey, json });
        checked++;
        try {
          assertError(r, 404);
          assert.deepEqual(Object.keys(r.json).sort(), ['error', 'message', 'statusCode'], `${where}: body fields ${r.text}`);
          if (vcid === cid) assertRevealsNothing(r, where);
        } catch (err) {
          problems.push(`${where}: ${err.message.split('\n')[0]} — got ${r.status} ${r.text}`);
        }
        answers.push([what, shape(r), r.text]);
      }
      const [refWhat, ref] = answers[2]; // the unknown cid
      for (const [what, s, text] of answers) {
        try {
          assert.deepEqual(s, ref);
        } catch {
          problems.push(`${who} ${label} on A's ${kind}: "${what}" answers ${s.status} ${text}, `
            + `but "${refWhat}" answers ${ref.status} ${JSON.stringify(ref.json)} (distinguishable)`);
        }
      }
    };
    for (const [who, X] of intruders()) {
      for (const route of ROUTES) {
        await Promise.all(KINDS.map((kind) => checkCase(who, X, route, kind)));
      }
    }
    t.diagnostic(`${checked} foreign requests checked`);
    assert.ok(problems.length === 0, `${problems.length} isolation problems:\n${problems.join('\n')}`);
    assert.equal(upstream.requests.length, upstreamBefore, 'a foreign proxy call reached the upstream');
    assert.equal(verifier.requests.length, verifierBefore, 'a foreign call reached the verification endpoint');
  });

  test('nothing changed on A\'s side: users, credentials, no user created by a foreign auth-url', async () => {
    assertUser(await getUser(server, A.apiKey, cids.none, users.none), users.none, true);
    assertUser(await getUser(server, A.apiKey, cids.apiToken, users.apiToken), users.apiToken, true);
    assertUser(await getUser(server, A.apiKey, cids.oauth, users.oauth), users.oauth, false);
    const creds = await getCredentials(server, A.apiKey, cids.apiToken, users.apiToken);
    assert.equal(creds.status, 200, `A's credentials after the foreign DELETEs: ${creds.status} ${creds.text}`);
    assert.deepEqual(creds.json, { authType: 'API_TOKEN', token: GOOD });
    assert.deepEqual((await getCredentials(server, A.apiKey, cids.none, users.none)).json, { authType: 'NONE' });

    // A foreign auth-url for a new user must not create it in A's integration.
    for (const kind of KINDS) {
      const fresh = `fresh-${rand(4)}`;
      assertError(await authUrl(server, B.apiKey, cids[kind], fresh), 404);
      assertError(await authUrl(server, C.apiKey, cids[kind], fresh), 404);
      assertError(await getUser(server, A.apiKey, cids[kind], fresh), 404);
    }
    // A's links still work (a foreign auth-url did not replace or spend them).
    const page = await fetchPage(`${server.url}/connect/${connectTokens[1]}`);
    assert.equal(page.status, 302, `A's OAuth link after the foreign calls: ${page.status}`);
    assert.ok(page.location.startsWith('https://github.com/login/oauth/authorize?'), page.location);
    // C's own user with the same userId is C's, and was not touched either.
    assertUser(await getUser(server, C.apiKey, cCid, users.none), users.none, true);
    assertError(await getUser(server, C.apiKey, cids.none, users.none), 404);
  });

  test('A\'s own key on unknown and malformed ids gets the same 404 as a foreign key', async () => {
    for (const [label, method, pathOf, json] of ROUTES) {
      const foreign = await request(server, method, pathOf(cids.none, users.none), { key: B.apiKey, json });
      const unknown = await request(server, method, pathOf(randomUuid(), users.none), { key: A.apiKey, json });
      const malformed = await request(server, method, pathOf('1234', users.none), { key: A.apiKey, json });
      const cOnA = await request(server, method, pathOf(cCid, users.none), { key: A.apiKey, json });
      assertError(unknown, 404);
      assert.deepEqual(shape(malformed), shape(unknown), `${label}: malformed vs unknown`);
      assert.deepEqual(shape(foreign), shape(unknown), `${label}: foreign vs unknown`);
      assert.deepEqual(shape(cOnA), shape(unknown), `${label}: A on C's cid vs unknown`);
    }
  });

  test('admin: `integration disable --id` is an operator command (no workspace in it); the API stays isolated', async () => {
    // Works on A's id (it exists), fails for an id that does not exist.
    await ctx.cliJson(['integration', 'disable', '--id', cids.oauth]);
    const unknown = await ctx.cli(['integration', 'disable', '--id', randomUuid()]);
    assertCliError(unknown);
    // The owner's auth-url itself shows the disable in effect (A's list showing it says nothing
    // about auth-url); each try names a new user, so a try before the change leaves nothing
    // that is looked at.
    await waitForAdminChange(async () => {
      await probeInactive(server, A.apiKey, cids.oauth);
      await assertListed(server, A.apiKey, [cids.oauth], 'false');
    });
    // Disabled or not, B gets the same 404 (not the owner's 400 "Integration is not active").
    const own = await authUrl(server, A.apiKey, cids.oauth, users.oauth);
    assertError(own, 400, { message: 'Integration is not active' });
    const foreign = await authUrl(server, B.apiKey, cids.oauth, users.oauth);
    const unknownCid = await authUrl(server, B.apiKey, randomUuid(), users.oauth);
    assertError(foreign, 404);
    assert.deepEqual(shape(foreign), shape(unknownCid), 'a disabled foreign integration is still indistinguishable');
    assertRevealsNothing(foreign, 'B auth-url on A\'s disabled integration');
    assert.deepEqual((await listIntegrations(server, B.apiKey, 'false')).json, [], 'B\'s inactive list');
    await ctx.cliJson(['integration', 'activate', '--id', cids.oauth]);
    // Refused tries leave nothing behind; the first 201 ends the wait.
    await waitForAdminChange(async () => {
      assert.equal((await authUrl(server, A.apiKey, cids.oauth, users.oauth)).status, 201);
    });
  });
});
