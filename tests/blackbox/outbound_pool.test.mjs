// Outbound calls reuse connections (issue 15). The upstreams here count the TCP connections
// the server opens to them: proxied calls in turn share one connection, concurrent calls
// stay within the pool's bound per origin (32), two upstreams never share a connection,
// and an HTTPS upstream (a CA of the test's own, trusted through SSL_CERT_FILE) sees one
// full TLS handshake for many calls, and a resumed session when a new connection is needed.
// The address check still runs on every new connection, and the server's threads follow its
// work: few when idle, none more while calls wait for their upstream, more while answers
// of unknown length stream, few again after.

import { describe, test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import http from 'node:http';
import https from 'node:https';

import { Context, request, assertError, rand } from '../lib/harness.mjs';
import { fetchPage } from '../lib/browser.mjs';
import { defineIntegration, connectLink, closeServer } from '../peers/http.mjs';
import { scaled } from '../lib/timeouts.mjs';
import { makeCertificates } from '../lib/tls.mjs';

const POOL_BOUND = 32;  // CurlOptions::max_connections_per_origin
const IDLE_WORKER_SECONDS = 10;  // kWorkerIdleTimeout in src/http/server.cpp

/**
 * An upstream that counts connections. Routes under /base: /item (a small JSON body),
 * /slow (the same after 150 ms), /held (the same once `release` is resolved), /close
 * (answers, then closes the connection). With `tls`
 * it is an HTTPS server, and records for each connection whether its TLS session was
 * resumed.
 */
async function startCountingUpstream(name, tls) {
  const state = { name, connections: 0, open: 0, peakOpen: 0, resumed: [], requests: 0, held: 0 };
  state.release = Promise.withResolvers ? Promise.withResolvers() : (() => {
    let resolve;
    const promise = new Promise((r) => { resolve = r; });
    return { promise, resolve };
  })();
  const handler = (req, res) => {
    state.requests += 1;
    const body = JSON.stringify({ upstream: name, path: req.url });
    const send = (headers = {}) => {
      res.writeHead(200, { 'content-type': 'application/json', ...headers });
      res.end(body);
    };
    if (req.url.startsWith('/base/slow')) return setTimeout(send, 150);
    if (req.url.startsWith('/base/held')) {
      state.held += 1;
      return state.release.promise.then(() => send());
    }
    if (req.url.startsWith('/base/close')) return send({ connection: 'close' });
    return send();
  };
  const server = tls ? https.createServer({ key: tls.key, cert: tls.cert }, handler) : http.createServer(handler);
  server.keepAliveTimeout = 60_000;
  server.on('connection', (socket) => {
    state.connections += 1;
    state.open += 1;
    state.peakOpen = Math.max(state.peakOpen, state.open);
    socket.once('close', () => { state.open -= 1; });
  });
  if (tls) server.on('secureConnection', (socket) => state.resumed.push(socket.isSessionReused()));
  await new Promise((resolve) => server.listen(0, '127.0.0.1', resolve));
  state.url = `${tls ? 'https' : 'http'}://127.0.0.1:${server.address().port}`;
  state.close = () => closeServer(server);
  return state;
}

/** The server's thread count (Linux). */
function threadsOf(pid) {
  return Number(/Threads:\s+(\d+)/.exec(fs.readFileSync(`/proc/${pid}/status`, 'utf8'))[1]);
}

describe('outbound_pool', { concurrency: 1, timeout: scaled(180_000) }, () => {
  const ctx = new Context();
  const upstreams = {};
  const cids = {};
  const userId = `u-pool-${rand()}`;
  let server;
  let W;
  let idleThreads;

  before(async () => {
    const tls = makeCertificates(ctx.dir);
    upstreams.a = await startCountingUpstream('a');
    upstreams.b = await startCountingUpstream('b');
    upstreams.held = await startCountingUpstream('held');
    upstreams.tls = await startCountingUpstream('tls', tls);
    W = await ctx.workspace(undefined, 'pool');
    for (const [key, upstream] of Object.entries(upstreams)) {
      const integrationId = `pool-${key}`;
      await defineIntegration(ctx, W.workspaceId, {
        integrationId, name: integrationId, host: '127.0.0.1', apiBaseUrl: `${upstream.url}/base`, authTypes: ['NONE'],
      });
      cids[key] = (await ctx.enable(W.workspaceId, integrationId)).customerIntegrationId;
    }
    // The server trusts the test's CA through OpenSSL's environment variable (curl's own,
    // CURL_CA_BUNDLE, would come first: it is left out).
    const env = { ...ctx.env, SSL_CERT_FILE: tls.caFile };
    delete env.CURL_CA_BUNDLE;
    server = await ctx.startServer({ env, extraArgs: ['--allow-private-network'] });
    idleThreads = threadsOf(server.proc.pid);
    for (const cid of Object.values(cids)) {
      const { url } = await connectLink(server, W.apiKey, cid, userId);
      assert.equal((await fetchPage(url)).status, 200);
    }
  });

  after(async () => {
    await Promise.all(Object.values(upstreams).map((u) => u.close()));
    await ctx.cleanup();
  });

  const proxied = (key, rest) => `/v1/proxy/${cids[key]}/${encodeURIComponent(userId)}/${rest}`;

  /** One proxied GET; asserts a 200 from the right upstream. */
  async function call(key, rest = 'item', srv = server) {
    const res = await request(srv, 'GET', proxied(key, rest), { key: W.apiKey });
    assert.equal(res.status, 200, `${key}/${rest}: ${res.status} ${res.text}`);
    assert.equal(res.json.upstream, upstreams[key].name);
    return res;
  }

  test('an idle server runs a few threads, not pools of 64', () => {
    assert.ok(idleThreads <= 24, `${idleThreads} threads when idle`);
  });

  test(`a call waiting for its upstream holds no thread: ${POOL_BOUND} of them, none added`, async () => {
    // Before any other call, so that no pool thread of an earlier one is still about. As many
    // calls as the pool has connections for one origin, so that none waits for one.
    const a = upstreams.held;
    const before = threadsOf(server.proc.pid);
    // One call after the other has reached the upstream and waits there for its answer. In
    // turn, not in a burst: on PostgreSQL a request starts on the pool (a read is a round
    // trip), and a burst of them would start pool threads however short their work.
    const calls = [];
    const deadline = Date.now() + scaled(20_000);
    for (let i = 1; i <= POOL_BOUND; ++i) {
      calls.push(call('held', 'held'));
      while (a.held < i && Date.now() < deadline) await new Promise((r) => setTimeout(r, 5));
    }
    assert.equal(a.held, POOL_BOUND, 'the calls did not all reach the upstream');
    const waiting = threadsOf(server.proc.pid);
    a.release.resolve();
    await Promise.all(calls);
    // Before, each waiting call held a pool thread (64 at most): 32 more threads. On
    // PostgreSQL the thread that started a call is free again for the next one.
    const most = before + (process.env.TOOLREGISTRY_TEST_PG_URL ? 4 : 2);
    assert.ok(waiting <= most, `${waiting} threads while ${POOL_BOUND} calls wait, ${before} before them`);
  });

  test('200 proxied calls in turn to one upstream use at most 2 connections', async () => {
    const before = upstreams.a.connections;
    for (let i = 0; i < 200; i += 1) await call('a');
    const used = upstreams.a.connections - before;
    assert.ok(used >= 1 && used <= 2, `${used} connections for 200 calls`);
  });

  test(`50 concurrent calls stay within the pool's bound (${POOL_BOUND} per origin), all answered`, async () => {
    const before = upstreams.b.connections;
    upstreams.b.peakOpen = upstreams.b.open;
    let peakThreads = 0;
    const sampler = setInterval(() => { peakThreads = Math.max(peakThreads, threadsOf(server.proc.pid)); }, 20);
    try {
      await Promise.all(Array.from({ length: 50 }, () => call('b', 'slow')));
    } finally {
      clearInterval(sampler);
    }
    const used = upstreams.b.connections - before;
    assert.ok(used <= POOL_BOUND, `${used} connections for 50 concurrent calls`);
    assert.ok(upstreams.b.peakOpen <= POOL_BOUND, `${upstreams.b.peakOpen} connections open at once`);
    assert.ok(used > 2, `${used} connections: the calls did not overlap`);
    // These answers are chunked (Node's writeHead + end): an answer of unknown length is
    // written piece by piece from the streaming pool, so threads rise while they stream.
    // (Waiting for the upstream holds none: the test before this one.)
    assert.ok(peakThreads > idleThreads, `${peakThreads} threads at most during the calls, ${idleThreads} idle`);
    // Afterwards the pool serves calls in turn on its open connections.
    const after = upstreams.b.connections;
    for (let i = 0; i < 20; i += 1) await call('b');
    assert.equal(upstreams.b.connections, after, 'no new connection for calls in turn');
  });

  test('two upstreams in turn: each gets only its own calls, on its own connections', async () => {
    const beforeA = upstreams.a.connections;
    const beforeB = upstreams.b.connections;
    const requestsA = upstreams.a.requests;
    const requestsB = upstreams.b.requests;
    for (let i = 0; i < 40; i += 1) await call(i % 2 ? 'a' : 'b');
    assert.equal(upstreams.a.requests - requestsA, 20);
    assert.equal(upstreams.b.requests - requestsB, 20);
    assert.ok(upstreams.a.connections - beforeA <= 1, 'a: its pooled connection is reused');
    assert.ok(upstreams.b.connections - beforeB <= 1, 'b: its pooled connections are reused');
  });

  test('HTTPS: 100 calls in turn make one full TLS handshake', async () => {
    const before = upstreams.tls.resumed.length;
    for (let i = 0; i < 100; i += 1) await call('tls');
    const handshakes = upstreams.tls.resumed.slice(before);
    assert.ok(handshakes.length >= 1 && handshakes.length <= 2, `${handshakes.length} TLS connections for 100 calls`);
    assert.equal(handshakes.filter((resumed) => !resumed).length, 1, 'one full handshake');
  });

  test('HTTPS: a new connection resumes the pooled TLS session', async () => {
    const before = upstreams.tls.resumed.length;
    // The upstream closes the connection after each answer: the first goes on the pooled
    // connection, each next one needs a new connection.
    for (let i = 0; i < 5; i += 1) await call('tls', 'close');
    await call('tls');
    const handshakes = upstreams.tls.resumed.slice(before);
    assert.equal(handshakes.length, 5, 'one new connection per closed one');
    // The first resumes the session of the pooled connection. TLS 1.3 tickets are used
    // once, and this server gives a resumed connection none to replace it before it
    // closes, so the next one after a resumed one makes a full handshake (curl's own tool
    // does the same against it): every other one at worst.
    assert.equal(handshakes[0], true, `the first new connection resumed: ${handshakes}`);
    assert.ok(handshakes.filter(Boolean).length >= 3, `resumed: ${handshakes}`);
  });

  test('the address check runs on every new connection: without --allow-private-network, 502 and no connection', async () => {
    const strict = await ctx.startServer({ env: { ...ctx.env } });
    const before = upstreams.a.connections;
    const res = await request(strict, 'GET', proxied('a', 'item'), { key: W.apiKey });
    assertError(res, 502);
    assert.equal(upstreams.a.connections, before, 'the upstream saw no connection');
    await strict.stop();
    // The permissive server's pool is its own, and still works.
    await call('a');
  });

  test(`threads end once idle (${IDLE_WORKER_SECONDS} s)`, async () => {
    const deadline = Date.now() + (IDLE_WORKER_SECONDS + 8) * 1000;
    let now = threadsOf(server.proc.pid);
    while (now > idleThreads + 2 && Date.now() < deadline) {
      await new Promise((resolve) => setTimeout(resolve, 250));
      now = threadsOf(server.proc.pid);
    }
    assert.ok(now <= idleThreads + 2, `${now} threads after the calls, ${idleThreads} before them`);
  });
});
