// Issue 7 point 4: crash consistency. `kill -9` of the server
//   (a) during ~300 concurrent auth-url writes: every request answered 201 is
//       there after a restart on the same database (user and connect session),
//       `PRAGMA integrity_check` (Debian's sqlite3 CLI; amcheck on PostgreSQL) says ok, and the
//       restarted server takes new writes;
//   (b) while an API_TOKEN form submission waits for the verification endpoint:
//       the user stays inactive (credentials 409) and the same link shows the
//       form again and completes; never half-written;
//   (b2) as the verification endpoint answers half of six pending submissions:
//       each user is either completed (active, credentials 200, link used) or
//       retryable (inactive, 409, form shown again, completes) — nothing else,
//       and a success page sent before the kill is never undone;
//   (c) between the provider's redirect and the OAuth callback: the callback,
//       sent after the restart, completes the flow (PKCE verifier and
//       redirect_uri survived);
//   (d) while the code exchange is in flight: the user stays inactive and the
//       link starts the flow again and completes.
// Restarts listen on the port of the killed server, so that links and the
// OAuth callback URL stay the same. Every peer is on 127.0.0.1.

import { describe, test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import crypto from 'node:crypto';

import {
  Context, TIMEOUT_MS, authUrl, getUser, assertUser, assertAuthUrl, assertError, rand,
} from '../lib/harness.mjs';
import { fetchPage, postForm, parseResult } from '../lib/browser.mjs';
import { startPeer, defineIntegration, connectLink, waitFor } from '../peers/http.mjs';
import { getCredentials, startFakeOAuth, fakeOAuthDefinition } from '../peers/lifecycle.mjs';
import { scaled } from '../lib/timeouts.mjs';

const GOOD = `tok_${rand(16)}`;
const SERVER_ARGS = ['--allow-private-network'];


/** SIGKILL and wait for the exit. */
async function kill9(server) {
  server.proc.kill('SIGKILL');
  const { signal } = await server.exited;
  assert.equal(signal, 'SIGKILL');
}

describe('crash', { concurrency: 1, timeout: scaled(60_000) }, () => {
  const ctx = new Context();
  let server; // the live server; each test kills it and leaves a restarted one here
  let verifier;
  let fake;
  let gate;
  let W;
  const cids = {};
  const held = []; // verification requests the verifier has not answered yet: {rec, res}

  before(async () => {
    // The API_TOKEN verification endpoint: answers at once, or parks requests while `hold`.
    verifier = await startPeer((req, res, rec) => {
      if (verifier.hold) {
        held.push({ rec, res });
        return;
      }
      const ok = rec.headers.authorization === `Bearer ${GOOD}`;
      res.writeHead(ok ? 200 : 401, { 'content-type': 'application/json' });
      res.end(ok ? '{"id":1}' : '{"error":"unauthorized"}');
    });
    fake = await startFakeOAuth();
    // A token endpoint in front of `fake` that can hold the code exchange.
    gate = await startPeer(async (req, res, rec) => {
      if (gate.hold) {
        gate.held.push({ rec, res });
        return;
      }
      const headers = { 'content-type': rec.headers['content-type'] || 'application/x-www-form-urlencoded' };
      if (rec.headers.authorization) headers.authorization = rec.headers.authorization;
      const r = await fetch(`${fake.url}${rec.path}`, {
        method: rec.method, headers, body: rec.body, signal: AbortSignal.timeout(TIMEOUT_MS),
      });
      res.writeHead(r.status, { 'content-type': r.headers.get('content-type') || 'application/json' });
      res.end(await r.text());
    });
    gate.held = [];

    server = await ctx.startServer({ extraArgs: SERVER_ARGS });
    W = await ctx.workspace(server, 'crash');
    await defineIntegration(ctx, W.workspaceId, {
      integrationId: 'crash-token',
      name: 'Crash token',
      host: '127.0.0.1',
      authTypes: ['API_TOKEN'],
      apiToken: { verification: { method: 'GET', url: `${verifier.url}/me`, successStatus: 200 } },
    });
    await defineIntegration(ctx, W.workspaceId, fakeOAuthDefinition('crash-oauth', fake));
    await defineIntegration(ctx, W.workspaceId,
      fakeOAuthDefinition('crash-oauth-gated', fake, { tokenUrl: `${gate.url}/token` }));
    const client = { clientId: fake.clientId, clientSecret: fake.clientSecret };
    cids.none = (await ctx.enable(W.workspaceId, 'open-meteo')).customerIntegrationId;
    cids.github = (await ctx.enable(W.workspaceId, 'github', {
      authType: 'OAUTH2', clientId: `gh-${rand(4)}`, clientSecret: `ghs-${rand(12)}`,
    })).customerIntegrationId;
    cids.apiToken = (await ctx.enable(W.workspaceId, 'crash-token')).customerIntegrationId;
    cids.oauth = (await ctx.enable(W.workspaceId, 'crash-oauth', client)).customerIntegrationId;
    cids.gated = (await ctx.enable(W.workspaceId, 'crash-oauth-gated', client)).customerIntegrationId;
  });

  after(async () => {
    for (const h of [...held, ...gate.held]) h.res.destroy();
    await Promise.all([verifier, fake, gate].map((p) => p?.close()));
    await ctx.cleanup();
  });

  /** A new server on the killed one's port and database. */
  async function restart(old) {
    const s = await ctx.startServer({ listen: `127.0.0.1:${old.port}`, extraArgs: SERVER_ARGS });
    assert.equal(s.url, old.url, 'the restart listens where the killed server did');
    assert.equal(s.bootstrapKey, undefined, 'a restart must not bootstrap again');
    return s;
  }

  const creds = (cid, userId) => getCredentials(server, W.apiKey, cid, userId);

  /** GET /connect/<token> on the live server. */
  const openLink = (token) => fetchPage(`${server.url}/connect/${token}`);

  /** The form is shown again: 200, a csrf, no result. Returns the csrf. */
  function assertFormAgain(page, where) {
    assert.equal(page.status, 200, `${where}: ${page.status} ${page.html.slice(0, 400)}`);
    assert.equal(parseResult(page.html), undefined, `${where}: a result page instead of the form: ${page.html.slice(0, 800)}`);
    assert.ok(page.csrf, `${where}: the form has no csrf:\n${page.html.slice(0, 800)}`);
    return page.csrf;
  }

  function assertUsedLink(page, where) {
    const result = parseResult(page.html);
    assert.equal(result?.status, 'error', `${where}: a used link: ${page.status} ${page.html.slice(0, 600)}`);
    assert.equal(result.errorCode, 'session_used', `${where}: ${JSON.stringify(result)}`);
  }

  test('(a) kill -9 during ~300 concurrent auth-url: every 201 survives, integrity_check ok, new writes work', async (t) => {
    const s = server;
    const N = 300;
    const WAVE = 50;
    const KILL_AFTER = 100; // responses
    const runId = rand(3);
    const outcomes = new Array(N);
    const pending = [];
    let settled = 0;
    let launched = 0;
    let inFlightAtKill;
    let resolveKilled;
    const killed = new Promise((r) => { resolveKilled = r; });

    const launchWave = () => {
      const end = Math.min(N, launched + WAVE);
      for (let i = launched; i < end; i++) {
        const cid = i % 2 ? cids.github : cids.none;
        const userId = `crash-${runId}-${i}`;
        pending.push(authUrl(s, W.apiKey, cid, userId)
          .then((r) => { outcomes[i] = { userId, cid, r }; }, (err) => { outcomes[i] = { userId, cid, err }; })
          .finally(onSettled));
      }
      launched = end;
    };
    function onSettled() {
      settled++;
      // The next wave goes out every 15 answers, so that all waves overlap.
      while (launched < N && settled >= (launched / WAVE) * 15) launchWave();
      if (inFlightAtKill === undefined && settled >= KILL_AFTER) {
        inFlightAtKill = launched - settled;
        s.proc.kill('SIGKILL');
        resolveKilled();
      }
    }
    launchWave();
    await waitFor(() => inFlightAtKill !== undefined || settled === N, 'the kill point');
    if (inFlightAtKill === undefined) resolveKilled();
    await killed;
    assert.equal((await s.exited).signal, 'SIGKILL');
    // Everything launched settles now (answered, or a network error).
    await Promise.all(pending);

    const acked = [];
    const unanswered = [];
    const other = {};
    for (const o of outcomes.slice(0, launched)) {
      if (o.err) { unanswered.push(o); continue; }
      if (o.r.status === 201) {
        acked.push({ ...o, token: assertAuthUrl(o.r, s.url), active: o.cid === cids.none });
      } else {
        other[o.r.status] = (other[o.r.status] || 0) + 1;
        assert.ok([429, 503].includes(o.r.status), `unexpected ${o.r.status} during the burst: ${o.r.text}`);
      }
    }
    t.diagnostic(`launched ${launched}, in flight at the kill ${inFlightAtKill}, 201: ${acked.length}, `
      + `no answer: ${unanswered.length}, others: ${JSON.stringify(other)}`);
    assert.equal(launched, N, 'every wave went out before the kill');
    assert.ok(inFlightAtKill > 0, 'the kill came while requests were in flight');
    assert.ok(acked.length >= KILL_AFTER / 2, `only ${acked.length} x 201 before the kill`);

    ctx.assertDatabaseIntact('right after kill -9');
    server = await restart(s);

    const lost = [];
    const wrong = [];
    for (let k = 0; k < acked.length; k += 50) {
      const slice = acked.slice(k, k + 50);
      const got = await Promise.all(slice.map((a) => getUser(server, W.apiKey, a.cid, a.userId)));
      got.forEach((g, j) => {
        if (g.status !== 200) lost.push(`${slice[j].userId}: ${g.status} ${g.text}`);
        else if (g.json.active !== slice[j].active) wrong.push(`${slice[j].userId}: active ${g.json.active}`);
      });
    }
    assert.deepEqual(lost, [], `${lost.length} of ${acked.length} acknowledged users lost after kill -9`);
    assert.deepEqual(wrong, [], 'acknowledged users with the wrong state');

    // The acknowledged connect sessions survived too: an OAuth link still starts its flow.
    const sessionsLost = [];
    const oauthAcked = acked.filter((a) => a.cid === cids.github);
    for (let k = 0; k < oauthAcked.length; k += 50) {
      const pages = await Promise.all(oauthAcked.slice(k, k + 50).map((a) => openLink(a.token)));
      pages.forEach((p, j) => {
        if (p.status !== 302 || !p.location.startsWith('https://github.com/login/oauth/authorize?')) {
          sessionsLost.push(`${oauthAcked[k + j].userId}: ${p.status} ${p.location ?? p.html.slice(0, 200)}`);
        }
      });
    }
    assert.deepEqual(sessionsLost, [], 'acknowledged connect sessions lost after kill -9');

    // Unanswered requests may or may not have been stored; whichever it is, the user is whole.
    let stored = 0;
    for (const u of unanswered.slice(0, 100)) {
      const g = await getUser(server, W.apiKey, u.cid, u.userId);
      assert.ok([200, 404].includes(g.status), `unanswered ${u.userId}: ${g.status} ${g.text}`);
      if (g.status === 200) {
        stored++;
        assertUser(g, u.userId, u.cid === cids.none);
      }
    }
    t.diagnostic(`${stored} of ${Math.min(100, unanswered.length)} unanswered requests checked had been stored`);

    // The restarted server takes new writes, durably.
    const fresh = await Promise.all(Array.from({ length: 20 }, (_, i) =>
      authUrl(server, W.apiKey, i % 2 ? cids.github : cids.none, `after-${runId}-${i}`)));
    for (const r of fresh) assertAuthUrl(r, server.url);
    for (let i = 0; i < 20; i++) {
      assertUser(await getUser(server, W.apiKey, i % 2 ? cids.github : cids.none, `after-${runId}-${i}`),
        `after-${runId}-${i}`, i % 2 === 0);
    }
    assert.deepEqual(await server.stop('SIGTERM'), { code: 0, signal: null }, server.describe());
    ctx.assertDatabaseIntact('after the restarted server stopped');
    server = await ctx.startServer({ listen: `127.0.0.1:${s.port}`, extraArgs: SERVER_ARGS });
  });

  test('(b) kill -9 while the API_TOKEN verification is pending: inactive, 409, the same link shows the form and completes', async () => {
    const userId = `form-${rand()}`;
    const { token, url } = await connectLink(server, W.apiKey, cids.apiToken, userId);
    const csrf = assertFormAgain(await fetchPage(url), 'the form before the crash');

    verifier.hold = true;
    const n = verifier.requests.length;
    const submit = postForm(url, { csrf, token: GOOD }).then((p) => ({ p }), (err) => ({ err }));
    await waitFor(() => verifier.requests.length > n, 'the verification request');
    assert.equal(verifier.requests.at(-1).headers.authorization, `Bearer ${GOOD}`);
    const old = server;
    await kill9(old);
    const answer = await submit;
    assert.ok(answer.err, `the submission was answered although the verification never was: ${answer.p?.status} ${answer.p?.html.slice(0, 400)}`);
    verifier.hold = false;
    for (const h of held.splice(0)) h.res.destroy();

    ctx.assertDatabaseIntact('after kill -9 during the verification');
    server = await restart(old);

    // The verification never answered, so the flow cannot have completed: retryable.
    assertUser(await getUser(server, W.apiKey, cids.apiToken, userId), userId, false);
    assertError(await creds(cids.apiToken, userId), 409);
    const again = assertFormAgain(await openLink(token), 'the link after the restart');
    assert.equal(again, csrf, 'the csrf is bound to the session, which is unchanged');

    const done = await postForm(url, { csrf: again, token: GOOD });
    assert.equal(parseResult(done.html)?.status, 'success', `completing after the restart: ${done.status} ${done.html.slice(0, 800)}`);
    assertUser(await getUser(server, W.apiKey, cids.apiToken, userId), userId, true);
    const c = await creds(cids.apiToken, userId);
    assert.equal(c.status, 200, c.text);
    assert.deepEqual(c.json, { authType: 'API_TOKEN', token: GOOD });
    assertUsedLink(await openLink(token), 'the link after completing');
  });

  test('(b2) kill -9 as verifications answer, six users at once: each completed or retryable, never half', async (t) => {
    const K = 6;
    const flows = [];
    for (let i = 0; i < K; i++) {
      const userId = `race-${i}-${rand(3)}`;
      const { token, url } = await connectLink(server, W.apiKey, cids.apiToken, userId);
      flows.push({ userId, token, url, csrf: assertFormAgain(await fetchPage(url), `form ${i}`) });
    }
    verifier.hold = true;
    const n = verifier.requests.length;
    const submits = flows.map((f) => postForm(f.url, { csrf: f.csrf, token: GOOD }).then((p) => ({ p }), (err) => ({ err })));
    await waitFor(() => verifier.requests.length >= n + K, `${K} verification requests`);
    verifier.hold = false;
    const old = server;
    // Answer half of the verifications (success) and kill at once: those race the kill;
    // the other half never get an answer, so they cannot have completed.
    const parked = held.splice(0);
    for (const h of parked.slice(0, K / 2)) {
      h.res.writeHead(200, { 'content-type': 'application/json' });
      h.res.end('{"id":1}');
    }
    await kill9(old);
    for (const h of parked.slice(K / 2)) h.res.destroy();
    const answers = await Promise.all(submits);

    ctx.assertDatabaseIntact('after kill -9 right after the verifications');
    server = await restart(old);

    const seen = { completed: 0, retryable: 0 };
    for (const [i, f] of flows.entries()) {
      const where = `user ${i}`;
      const u = assertUser(await getUser(server, W.apiKey, cids.apiToken, f.userId), f.userId);
      const c = await creds(cids.apiToken, f.userId);
      const page = await openLink(f.token);
      if (answers[i].p) {
        // The server answered before dying: whatever it said must hold after the restart.
        assert.equal(parseResult(answers[i].p.html)?.status, 'success', `${where}: answered ${answers[i].p.html.slice(0, 400)}`);
        assert.equal(u.active, true, `${where}: a success page was sent, but the user is inactive after the restart`);
      }
      if (u.active) {
        seen.completed++;
        assert.equal(c.status, 200, `${where}: active but credentials ${c.status} ${c.text}`);
        assert.deepEqual(c.json, { authType: 'API_TOKEN', token: GOOD }, `${where}: credentials`);
        assertUsedLink(page, `${where} (completed)`);
      } else {
        seen.retryable++;
        assertError(c, 409);
        const csrf = assertFormAgain(page, `${where} (not completed)`);
        const done = await postForm(f.url, { csrf, token: GOOD });
        assert.equal(parseResult(done.html)?.status, 'success', `${where}: retry: ${done.html.slice(0, 600)}`);
        assertUser(await getUser(server, W.apiKey, cids.apiToken, f.userId), f.userId, true);
        assert.deepEqual((await creds(cids.apiToken, f.userId)).json, { authType: 'API_TOKEN', token: GOOD });
      }
    }
    t.diagnostic(`after the crash: ${seen.completed} completed, ${seen.retryable} retryable `
      + `(${answers.filter((a) => a.p).length} answered before the kill)`);
    assert.ok(seen.retryable >= K / 2, 'the flows whose verification never answered are retryable');
  });

  /** Opens the link and follows the provider's redirect; returns the callback URL (not called). */
  async function toCallback(token, provider) {
    const start = await openLink(token);
    assert.equal(start.status, 302, `connect link: ${start.status} ${start.html.slice(0, 300)}`);
    assert.ok(start.location.startsWith(`${provider.url}/authorize?`), `connect link went to ${start.location}`);
    const back = await fetchPage(start.location);
    assert.equal(back.status, 302, 'the provider redirects back');
    assert.ok(back.location.startsWith(`${server.url}/oauth/callback?`), `provider redirected to ${back.location}`);
    return { authorize: new URL(start.location).searchParams, callback: back.location };
  }

  test('(c) kill -9 between the provider\'s redirect and the callback: the callback after the restart completes', async () => {
    const userId = `oauth-${rand()}`;
    const redirectUri = 'https://app.example.com/connected?x=1';
    const { token } = await connectLink(server, W.apiKey, cids.oauth, userId, { redirectUri });
    const { authorize, callback } = await toCallback(token, fake);
    const exchangesBefore = fake.tokenCalls.length;

    const old = server;
    await kill9(old);
    ctx.assertDatabaseIntact('after kill -9 before the callback');
    server = await restart(old);

    assertUser(await getUser(server, W.apiKey, cids.oauth, userId), userId, false);
    assertError(await creds(cids.oauth, userId), 409);

    const cb = await fetchPage(callback);
    assert.equal(cb.status, 302, `callback after the restart: ${cb.status} ${cb.html.slice(0, 600)}`);
    assert.ok(cb.location.startsWith('https://app.example.com/connected?x=1&status=success'), `callback went to ${cb.location}`);
    const exchanges = fake.tokenCalls.slice(exchangesBefore).filter((c) => c.grantType === 'authorization_code');
    assert.equal(exchanges.length, 1, 'one code exchange');
    const ex = exchanges[0];
    assert.equal(ex.status, 200, `code exchange: ${JSON.stringify(ex.json)}`);
    assert.equal(ex.form.get('code'), new URL(callback).searchParams.get('code'));
    assert.equal(ex.form.get('redirect_uri'), authorize.get('redirect_uri'), 'redirect_uri of the exchange = of the authorization');
    const verifierSent = ex.form.get('code_verifier');
    assert.ok(verifierSent, 'the exchange carries the PKCE verifier');
    assert.equal(crypto.createHash('sha256').update(verifierSent).digest('base64url'), authorize.get('code_challenge'),
      'the PKCE verifier survived the crash (S256 matches the challenge sent before it)');

    assertUser(await getUser(server, W.apiKey, cids.oauth, userId), userId, true);
    const c = await creds(cids.oauth, userId);
    assert.equal(c.status, 200, c.text);
    assert.equal(c.json.accessToken, ex.json.access_token);
    // Replaying the callback does not redo the flow.
    const replay = await fetchPage(callback);
    assert.equal(replay.status, 302);
    assert.match(replay.location, /[?&]status=error\b/, `replayed callback: ${replay.location}`);
    assert.equal(fake.tokenCalls.length, exchangesBefore + 1, 'no second exchange for a replayed callback');
  });

  test('(d) kill -9 while the code exchange is in flight: inactive, 409, the link starts over and completes', async () => {
    const userId = `gated-${rand()}`;
    const { token } = await connectLink(server, W.apiKey, cids.gated, userId);
    const { callback } = await toCallback(token, fake);
    gate.hold = true;
    const cb = fetchPage(callback).then((p) => ({ p }), (err) => ({ err }));
    await waitFor(() => gate.held.length > 0, 'the code exchange at the token endpoint');
    const old = server;
    await kill9(old);
    const answer = await cb;
    assert.ok(answer.err, `the callback was answered although the exchange never was: ${answer.p?.status}`);
    gate.hold = false;
    for (const h of gate.held.splice(0)) h.res.destroy();

    ctx.assertDatabaseIntact('after kill -9 during the code exchange');
    server = await restart(old);
    assertUser(await getUser(server, W.apiKey, cids.gated, userId), userId, false);
    assertError(await creds(cids.gated, userId), 409);

    // The link is not spent: it starts the flow again, and this time it completes.
    const retry = await toCallback(token, fake);
    const done = await fetchPage(retry.callback);
    assert.equal(parseResult(done.html)?.status, 'success', `retried flow: ${done.status} ${done.html.slice(0, 600)}`);
    assertUser(await getUser(server, W.apiKey, cids.gated, userId), userId, true);
    const c = await creds(cids.gated, userId);
    assert.equal(c.status, 200, c.text);
    const ex = fake.tokenCalls.filter((x) => x.grantType === 'authorization_code' && x.status === 200).at(-1);
    assert.equal(c.json.accessToken, ex.json.access_token);
    assertUsedLink(await openLink(token), 'the link after completing');
  });
});
