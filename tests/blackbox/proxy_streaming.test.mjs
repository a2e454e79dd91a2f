// The proxy streams bodies both ways (issue 4, point 5): a request body larger than the
// 1 MiB the rest of the API allows goes to the upstream as it arrives, and the upstream's
// answer comes back as it arrives, neither held whole. The tests prove the streaming
// itself, not only the sizes: the upstream sees the first part of an upload before the
// caller has sent the rest, and the caller reads the first part of an answer before the
// upstream has written the rest. An upstream that breaks off mid-body ends the caller's
// answer short; --max-proxy-body bounds the upload.

import { describe, test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import crypto from 'node:crypto';
import fs from 'node:fs';
import http from 'node:http';
import net from 'node:net';

import { Context, request, assertError, rand, TIMEOUT_MS } from '../lib/harness.mjs';
import { fetchPage } from '../lib/browser.mjs';
import { defineIntegration, connectLink, closeServer } from '../peers/http.mjs';
import { connectForm } from '../peers/lifecycle.mjs';
import { scaled } from '../lib/timeouts.mjs';

const MiB = 1024 * 1024;

/** `n` bytes that are the same for the same `seed` (so both ends can check them). */
function bytes(n, seed = 'x') {
  const out = Buffer.alloc(n);
  let block = crypto.createHash('sha256').update(seed).digest();
  for (let i = 0; i < n; i += block.length) {
    block.copy(out, i);
    block = crypto.createHash('sha256').update(block).digest();
  }
  return out;
}

const sha256 = (buf) => crypto.createHash('sha256').update(buf).digest('hex');

/** A promise with its resolve function, for hand-shakes between the two ends. */
function signal() {
  let resolve;
  const promise = new Promise((r) => { resolve = r; });
  return { promise, resolve };
}

/** Resolves `promise`, or fails the test after `ms`. */
function within(promise, what, ms = TIMEOUT_MS) {
  let timer;
  const timeout = new Promise((_, reject) => {
    timer = setTimeout(() => reject(new Error(`timed out waiting for ${what}`)), ms);
  });
  return Promise.race([promise, timeout]).finally(() => clearTimeout(timer));
}

/**
 * An upstream that streams: unlike the recording peers it never reads a body
 * whole. Routes (under /base):
 *   POST /hash            the body's length and sha256, and the framing it came with
 *   POST /upload-hold     like /hash, and resolves `firstPiece` on the first bytes
 *   GET  /download?bytes=N[&chunked=1]   N seeded bytes, with Content-Length unless chunked
 *   GET  /hold            'first-piece\n', then waits for `release`, then 'the-rest\n'
 *   GET  /break?chunked=1 promises 1 MiB (or chunks), sends 100 KiB, then drops the socket
 */
async function startStreamingUpstream() {
  const state = { firstPiece: signal(), release: signal(), requests: [] };
  const server = http.createServer((req, res) => {
    const u = new URL(req.url, 'http://127.0.0.1');
    state.requests.push({ method: req.method, path: u.pathname, headers: req.headers });
    if (req.method === 'POST') {
      const hash = crypto.createHash('sha256');
      let n = 0;
      req.on('data', (c) => {
        if (n === 0 && u.pathname === '/base/upload-hold') state.firstPiece.resolve(c.length);
        n += c.length;
        hash.update(c);
      });
      req.on('end', () => {
        res.writeHead(200, { 'content-type': 'application/json' });
        res.end(JSON.stringify({
          bytes: n,
          sha256: hash.digest('hex'),
          contentLength: req.headers['content-length'] ?? null,
          transferEncoding: req.headers['transfer-encoding'] ?? null,
          token: req.headers['x-token'] ?? null,
        }));
      });
      return;
    }
    if (u.pathname === '/base/download') {
      const body = bytes(Number(u.searchParams.get('bytes')), 'download');
      const headers = { 'content-type': 'application/octet-stream', 'x-sha256': sha256(body) };
      if (!u.searchParams.get('chunked')) headers['content-length'] = String(body.length);
      res.writeHead(200, headers);
      if (req.method === 'HEAD') return res.end();
      let i = 0;
      const step = 256 * 1024;
      const pump = () => {
        while (i < body.length) {
          const ok = res.write(body.subarray(i, i + step));
          i += step;
          if (!ok) return res.once('drain', pump);
        }
        res.end();
      };
      return pump();
    }
    if (u.pathname === '/base/hold') {
      res.writeHead(200, { 'content-type': 'text/plain' });
      res.write('first-piece\n');
      state.release.promise.then(() => res.end('the-rest\n'));
      return;
    }
    if (u.pathname === '/base/break') {
      const chunked = u.searchParams.get('chunked');
      res.writeHead(200, chunked ? { 'content-type': 'application/octet-stream' }
        : { 'content-type': 'application/octet-stream', 'content-length': String(MiB) });
      res.write(bytes(100 * 1024, 'break'), () => setTimeout(() => res.socket.destroy(), 50));
      return;
    }
    res.writeHead(404).end();
  });
  await new Promise((resolve) => server.listen(0, '127.0.0.1', resolve));
  state.url = `http://127.0.0.1:${server.address().port}`;
  state.close = () => closeServer(server);
  return state;
}

/** A ReadableStream of `parts` (Buffers), each pulled after `before(i)` resolves. */
function streamOf(parts, before = async () => {}) {
  let i = 0;
  return new ReadableStream({
    async pull(controller) {
      if (i === parts.length) return controller.close();
      await before(i);
      controller.enqueue(new Uint8Array(parts[i]));
      i += 1;
    },
  });
}

/** Peak resident memory of a process, in bytes (Linux). */
function peakRss(pid) {
  const m = /VmHWM:\s+(\d+) kB/.exec(fs.readFileSync(`/proc/${pid}/status`, 'utf8'));
  return Number(m[1]) * 1024;
}

describe('proxy_streaming', { concurrency: 1, timeout: scaled(180_000) }, () => {
  const ctx = new Context();
  let upstream;
  let server;
  let small; // a server with --max-proxy-body 2 MiB
  let W;
  let noneCid;
  let tokenCid;
  const noneUser = `u-none-${rand()}`;
  const tokenUser = `u-tok-${rand()}`;
  const token = `tok_${rand(12)}`;

  before(async () => {
    upstream = await startStreamingUpstream();
    W = await ctx.workspace(undefined, 'streaming');
    const apiBaseUrl = `${upstream.url}/base`;
    await defineIntegration(ctx, W.workspaceId, {
      integrationId: 'stream-none', name: 'none', host: '127.0.0.1', apiBaseUrl, authTypes: ['NONE'],
    });
    await defineIntegration(ctx, W.workspaceId, {
      integrationId: 'stream-token', name: 'token', host: '127.0.0.1', apiBaseUrl, authTypes: ['API_TOKEN'],
      apiToken: { header: 'X-Token', prefix: 'Token ' },
    });
    noneCid = (await ctx.enable(W.workspaceId, 'stream-none')).customerIntegrationId;
    tokenCid = (await ctx.enable(W.workspaceId, 'stream-token')).customerIntegrationId;
    server = await ctx.startServer({ extraArgs: ['--allow-private-network'] });
    small = await ctx.startServer({ extraArgs: ['--allow-private-network', '--max-proxy-body', String(2 * MiB)] });
    const { url } = await connectLink(server, W.apiKey, noneCid, noneUser);
    assert.equal((await fetchPage(url)).status, 200);
    await connectForm(server, W.apiKey, tokenCid, tokenUser, { token });
  });

  after(async () => {
    upstream?.release.resolve();
    await upstream?.close();
    await ctx.cleanup();
  });

  const path = (cid, userId, rest) => `/v1/proxy/${cid}/${encodeURIComponent(userId)}/${rest}`;

  /** fetch() through the proxy, the response not yet read. */
  function open(srv, method, cid, userId, rest, { body, headers = {} } = {}) {
    const init = {
      method, body, headers: { 'x-api-key': W.apiKey, ...headers }, signal: AbortSignal.timeout(60_000),
    };
    if (body && typeof body.getReader === 'function') init.duplex = 'half';
    return fetch(srv.url + path(cid, userId, rest), init);
  }

  test('a 10 MiB upload with Content-Length streams to the upstream: same bytes, length kept, auth added', async () => {
    const body = bytes(10 * MiB, 'upload');
    const res = await open(server, 'POST', tokenCid, tokenUser, 'hash', {
      body, headers: { 'content-type': 'application/octet-stream' },
    });
    const got = await res.json();
    assert.equal(res.status, 200, JSON.stringify(got));
    assert.equal(got.bytes, body.length);
    assert.equal(got.sha256, sha256(body));
    assert.equal(got.contentLength, String(body.length), 'the caller\'s Content-Length is kept');
    assert.equal(got.token, `Token ${token}`, 'the user\'s API token is added');
  });

  test('a chunked 3 MiB upload (no length) streams to the upstream chunked', async () => {
    const whole = bytes(3 * MiB, 'chunked');
    const parts = [];
    for (let i = 0; i < whole.length; i += 200 * 1024) parts.push(whole.subarray(i, i + 200 * 1024));
    const res = await open(server, 'POST', noneCid, noneUser, 'hash', { body: streamOf(parts) });
    const got = await res.json();
    assert.equal(res.status, 200, JSON.stringify(got));
    assert.equal(got.bytes, whole.length);
    assert.equal(got.sha256, sha256(whole));
    assert.equal(got.transferEncoding, 'chunked');
    assert.equal(got.contentLength, null);
  });

  test('the upstream gets the first part of a large upload before the caller has sent the rest', async () => {
    upstream.firstPiece = signal();
    const first = bytes(1.5 * MiB, 'first');
    const rest = bytes(MiB, 'rest');
    // The rest is sent only once the upstream has seen bytes: a proxy that buffered the
    // whole body first would wait for it forever (and the test would time out).
    const body = streamOf([first, rest], async (i) => {
      if (i === 1) await within(upstream.firstPiece.promise, 'the upstream to receive the first part');
    });
    const res = await open(server, 'POST', noneCid, noneUser, 'upload-hold', { body });
    const got = await res.json();
    assert.equal(res.status, 200, JSON.stringify(got));
    assert.equal(got.bytes, first.length + rest.length);
    assert.equal(got.sha256, sha256(Buffer.concat([first, rest])));
  });

  test('a 48 MiB download streams back with its Content-Length, the server\'s memory bounded', async () => {
    const n = 48 * MiB;
    const res = await open(server, 'GET', noneCid, noneUser, `download?bytes=${n}`);
    assert.equal(res.status, 200);
    assert.equal(res.headers.get('content-length'), String(n));
    assert.equal(res.headers.get('content-type'), 'application/octet-stream');
    const body = Buffer.from(await res.arrayBuffer());
    assert.equal(body.length, n);
    assert.equal(sha256(body), res.headers.get('x-sha256'));
    // A proxy holding the body would peak above 48 MiB; the streaming one holds a few
    // pieces. (Sanitizer builds keep freed memory in quarantine: not measured there.)
    if (!process.env.ASAN_OPTIONS && !process.env.TSAN_OPTIONS) {
      const peak = peakRss(server.proc.pid);
      assert.ok(peak < 40 * MiB, `server peak RSS ${(peak / MiB).toFixed(1)} MiB`);
    }
  });

  test('a download without Content-Length streams back chunked', async () => {
    const n = 5 * MiB + 123;
    const res = await open(server, 'GET', noneCid, noneUser, `download?bytes=${n}&chunked=1`);
    assert.equal(res.status, 200);
    assert.equal(res.headers.get('content-length'), null);
    const body = Buffer.from(await res.arrayBuffer());
    assert.equal(body.length, n);
    assert.equal(sha256(body), res.headers.get('x-sha256'));
  });

  test('the caller reads the first part of an answer before the upstream has written the rest', async () => {
    upstream.release = signal();
    const res = await open(server, 'GET', noneCid, noneUser, 'hold');
    assert.equal(res.status, 200);
    const reader = res.body.getReader();
    const decoder = new TextDecoder();
    let text = '';
    while (!text.includes('\n')) {
      const { value, done } = await within(reader.read(), 'the first part of the answer');
      assert.ok(!done, 'the answer ended before its first part');
      text += decoder.decode(value, { stream: true });
    }
    assert.equal(text, 'first-piece\n');
    upstream.release.resolve();
    for (;;) {
      const { value, done } = await within(reader.read(), 'the rest of the answer');
      if (done) break;
      text += decoder.decode(value, { stream: true });
    }
    assert.equal(text, 'first-piece\nthe-rest\n');
  });

  test('an upstream that breaks off mid-body ends the caller\'s answer short, never complete-looking', async () => {
    for (const rest of ['break', 'break?chunked=1']) {
      const res = await open(server, 'GET', noneCid, noneUser, rest);
      assert.equal(res.status, 200);
      await assert.rejects(res.arrayBuffer(), `${rest}: the answer must not end as if complete`);
    }
    // The server goes on serving.
    const res = await open(server, 'GET', noneCid, noneUser, 'download?bytes=10');
    assert.equal(res.status, 200);
    assert.equal((await res.arrayBuffer()).byteLength, 10);
  });

  test('HEAD through the proxy: the upstream\'s head, Content-Length included, and no body', async () => {
    const res = await open(server, 'HEAD', noneCid, noneUser, `download?bytes=${MiB}`);
    assert.equal(res.status, 200);
    assert.equal(res.headers.get('content-length'), String(MiB));
    assert.equal((await res.arrayBuffer()).byteLength, 0);
  });

  test('--max-proxy-body: a larger upload gets 413 (by Content-Length at once; chunked once past it), nothing lost after', async () => {
    const before = upstream.requests.length;
    const declared = await request(small, 'POST', path(noneCid, noneUser, 'hash'), {
      key: W.apiKey, body: bytes(3 * MiB, 'big'),
    });
    assertError(declared, 413);
    assert.equal(upstream.requests.length, before, 'nothing reached the upstream');

    const whole = bytes(3 * MiB, 'big-chunked');
    const parts = [];
    for (let i = 0; i < whole.length; i += 256 * 1024) parts.push(whole.subarray(i, i + 256 * 1024));
    const chunked = await request(small, 'POST', path(noneCid, noneUser, 'hash'), {
      key: W.apiKey, body: streamOf(parts),
    });
    assertError(chunked, 413);

    const within2 = await request(small, 'POST', path(noneCid, noneUser, 'hash'), {
      key: W.apiKey, body: bytes(1.5 * MiB, 'fits'),
    });
    assert.equal(within2.status, 200, within2.text);
    assert.equal(within2.json.bytes, 1.5 * MiB);
  });

  test('keep-alive: after a streamed upload read to its end, the same connection serves the next request', async () => {
    const body = bytes(1.5 * MiB, 'keep-alive');
    const sock = net.connect({ host: '127.0.0.1', port: server.port });
    let text = '';
    const seen = (pattern) => within(new Promise((resolve) => {
      const check = () => { if (pattern.test(text)) { sock.off('data', check); resolve(); } };
      sock.on('data', check);
      check();
    }), `${pattern} on the connection`);
    sock.on('data', (c) => { text += c.toString('latin1'); });
    const closed = new Promise((resolve) => sock.once('close', resolve));
    await new Promise((resolve) => sock.once('connect', resolve));
    sock.write(`POST ${path(noneCid, noneUser, 'hash')} HTTP/1.1\r\nHost: x\r\nx-api-key: ${W.apiKey}\r\n`
      + `Content-Length: ${body.length}\r\n\r\n`);
    sock.write(body);
    await seen(/"sha256":"[0-9a-f]{64}"/);
    sock.write(`GET ${path(noneCid, noneUser, 'download?bytes=10')} HTTP/1.1\r\nHost: x\r\nx-api-key: ${W.apiKey}\r\n`
      + 'Connection: close\r\n\r\n');
    await within(closed, 'the server to close after the second answer');
    const heads = text.match(/HTTP\/1\.1 \d{3}/g);
    assert.deepEqual(heads, ['HTTP/1.1 200', 'HTTP/1.1 200'], text.slice(0, 500));
    assert.ok(text.includes(`"sha256":"${sha256(body)}"`));
    assert.ok(!/^connection: close/im.test(text.split('HTTP/1.1 200')[1]), 'the first answer keeps the connection');
  });

  test('outside the proxy the 1 MiB body limit still holds', async () => {
    const res = await request(server, 'POST', `/v1/integrations/${noneCid}/users/u-1/auth-url`, {
      key: W.apiKey, body: bytes(2 * MiB, 'api'), headers: { 'content-type': 'application/json' },
    });
    assertError(res, 413);
  });
});
