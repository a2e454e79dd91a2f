// Hostile input over raw TCP (issue 13): what an attacker on the network can send before any
// authentication. Every case talks to the real binary on its own connection with raw bytes,
// then checks that the server still answers a normal request on a new connection and that
// its resident memory stays bounded. Refusals are the documented status with a JSON error
// body (docs/architecture.md, "Limits and timeouts"), or a clean close.

import { describe, test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import net from 'node:net';
import { Context } from '../lib/harness.mjs';
import { scaled } from '../lib/timeouts.mjs';

const SANITIZED = Boolean(process.env.TOOLREGISTRY_TEST_SANITIZER);
// Resident memory allowed after any case. Sanitizer builds keep freed memory in quarantine
// and shadow memory besides, so they get more room.
const RSS_LIMIT_MIB = SANITIZED ? 1024 : 160;
const READ_TIMEOUT_S = 3;  // --read-timeout: a slowloris is cut after this long

const REASON = {
  200: 'OK',
  400: 'Bad Request',
  401: 'Unauthorized',
  413: 'Payload Too Large',
  414: 'URI Too Long',
  431: 'Request Header Fields Too Large',
  501: 'Not Implemented',
};

/**
 * Opens a connection, writes `parts` (Buffers or strings) one after the other, half-closes
 * unless `halfClose` is false, and resolves once the server closed the connection (or
 * `timeout` ms passed) with everything it sent: {raw, closedByServer, error}.
 */
function exchange(server, parts, { halfClose = true, timeout = 15_000, gapMs = 0 } = {}) {
  return new Promise((resolve) => {
    const sock = net.connect({ host: '127.0.0.1', port: server.port });
    const chunks = [];
    let error;
    let done = false;
    const finish = (closedByServer) => {
      if (done) return;
      done = true;
      clearTimeout(timer);
      sock.destroy();
      resolve({ raw: Buffer.concat(chunks), closedByServer, error });
    };
    const timer = setTimeout(() => finish(false), timeout);
    sock.on('data', (c) => chunks.push(c));
    sock.on('error', (e) => { error = e.code || e.message; });
    sock.on('close', () => finish(true));
    sock.on('connect', async () => {
      for (const part of [].concat(parts)) {
        if (sock.destroyed) return;
        sock.write(part);
        if (gapMs) await new Promise((r) => setTimeout(r, gapMs));
      }
      if (halfClose && !sock.destroyed) sock.end();
    });
  });
}

/** The responses in `raw`, in order: [{status, headers, body}]; interim 1xx ones included. */
function parseResponses(raw) {
  const out = [];
  let rest = raw;
  while (rest.length > 0) {
    const end = rest.indexOf('\r\n\r\n');
    if (end < 0) break;
    const lines = rest.subarray(0, end).toString('latin1').split('\r\n');
    const m = /^HTTP\/1\.1 (\d{3}) /.exec(lines[0]);
    assert.ok(m, `not an HTTP/1.1 status line: ${JSON.stringify(lines[0].slice(0, 200))}`);
    const headers = {};
    for (const l of lines.slice(1)) {
      const i = l.indexOf(':');
      headers[l.slice(0, i).trim().toLowerCase()] = l.slice(i + 1).trim();
    }
    rest = rest.subarray(end + 4);
    const status = Number(m[1]);
    const length = Number(headers['content-length'] || 0);
    out.push({ status, headers, body: rest.subarray(0, length).toString('utf8') });
    rest = rest.subarray(length);
  }
  return out;
}

/** Asserts that the first (final) answer in `result` is a JSON error with one of `statuses`. */
function assertRefused(result, statuses) {
  const responses = parseResponses(result.raw).filter((r) => r.status >= 200);
  assert.ok(responses.length >= 1, `no answer (closed: ${result.closedByServer}, error: ${result.error})`);
  const res = responses[0];
  assert.ok([].concat(statuses).includes(res.status), `status ${res.status}, expected ${statuses}: ${res.body}`);
  assert.match(res.headers['content-type'] || '', /^application\/json/);
  const body = JSON.parse(res.body);
  assert.equal(body.statusCode, res.status);
  assert.equal(body.error, REASON[res.status]);
  assert.equal(typeof body.message, 'string');
  assert.ok(res.headers['x-request-id'], 'x-request-id');
  assert.equal(res.headers.connection, 'close');
  assert.ok(result.closedByServer, 'the server closes the connection after a refusal');
  return res;
}

/** A refusal as above, or a clean close with nothing sent (for bytes that are not HTTP). */
function assertRefusedOrClosed(result, statuses) {
  if (result.raw.length === 0) {
    assert.ok(result.closedByServer, 'nothing answered and the connection left open');
    return;
  }
  assertRefused(result, statuses);
}

function rssMiB(pid) {
  const status = fs.readFileSync(`/proc/${pid}/status`, 'utf8');
  return Number(/VmRSS:\s+(\d+) kB/.exec(status)[1]) / 1024;
}

const request = (target, headers = '') => `GET ${target} HTTP/1.1\r\nHost: x\r\n${headers}\r\n`;

describe('hostile input over raw TCP', { concurrency: 1, timeout: scaled(300_000) }, () => {
  const ctx = new Context();
  let server;

  before(async () => {
    server = await ctx.startServer({ extraArgs: ['--read-timeout', String(READ_TIMEOUT_S)] });
  });
  after(() => ctx.cleanup());

  // After every case: a new connection gets a normal answer promptly, and memory is bounded.
  async function assertServing(what) {
    const started = Date.now();
    const result = await exchange(server, request('/healthz', 'Connection: close\r\n'), { timeout: 5_000 });
    const responses = parseResponses(result.raw);
    assert.equal(responses[0]?.status, 200, `after ${what}: /healthz on a new connection: ${result.raw.toString().slice(0, 300)}`);
    assert.ok(Date.now() - started < 2_000, `after ${what}: /healthz took ${Date.now() - started} ms`);
    const rss = rssMiB(server.proc.pid);
    assert.ok(rss < RSS_LIMIT_MIB, `after ${what}: RSS ${rss.toFixed(1)} MiB over ${RSS_LIMIT_MIB}`);
  }

  const cases = [
    // The request line and the head: 16 KiB in all (docs/architecture.md).
    ['a request line of 16 KiB', () => request(`/${'a'.repeat(16 * 1024)}`), 414],
    ['a request line of 100 KB', () => request(`/${'a'.repeat(100_000)}`), 414],
    ['a request line of 1 MB', () => request(`/${'a'.repeat(1_000_000)}`), 414],
    ['1,000 headers', () => request('/healthz', Array.from({ length: 1000 }, (_, i) => `X-Header-${i}: value\r\n`).join('')), 431],
    ['10,000 headers', () => request('/healthz', Array.from({ length: 10000 }, (_, i) => `X-Header-${i}: value\r\n`).join('')), 431],
    ['one header of 64 KB', () => request('/healthz', `X-Big: ${'b'.repeat(64 * 1024)}\r\n`), 431],
    ['one header of 1 MB', () => request('/healthz', `X-Big: ${'b'.repeat(1024 * 1024)}\r\n`), 431],
    // Not HTTP/1.x.
    ['no HTTP version', () => 'GET /healthz\r\nHost: x\r\n\r\n', 400],
    ['HTTP/2 preface on the plain port', () => 'PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n', 400],
    ['HTTP/3.0 in the request line', () => 'GET /healthz HTTP/3.0\r\nHost: x\r\n\r\n', 400],
    // Line ends and bytes that are not allowed.
    ['bare LF line ends', () => 'GET /healthz HTTP/1.1\nHost: x\n\n', 400],
    ['NUL in the method', () => 'G\0T /healthz HTTP/1.1\r\nHost: x\r\n\r\n', 400],
    ['NUL in the target', () => 'GET /health\0z HTTP/1.1\r\nHost: x\r\n\r\n', 400],
    ['NUL in a header value', () => request('/healthz', 'X-A: a\0b\r\n'), 400],
    ['a control byte in a header name', () => request('/healthz', 'X-\x01A: b\r\n'), 400],
    ['DEL in the target', () => 'GET /he\x7fz HTTP/1.1\r\nHost: x\r\n\r\n', 400],
    ['a space in a header name', () => request('/healthz', 'X A: b\r\n'), 400],
    // Body framing.
    ['two equal Content-Length headers', () => 'POST /healthz HTTP/1.1\r\nHost: x\r\nContent-Length: 3\r\nContent-Length: 3\r\n\r\nabc', 400],
    ['conflicting Content-Length headers', () => 'POST /healthz HTTP/1.1\r\nHost: x\r\nContent-Length: 3\r\nContent-Length: 30\r\n\r\nabc', 400],
    ['a Content-Length list', () => 'POST /healthz HTTP/1.1\r\nHost: x\r\nContent-Length: 3, 3\r\n\r\nabc', 400],
    ['a negative Content-Length', () => 'POST /healthz HTTP/1.1\r\nHost: x\r\nContent-Length: -1\r\n\r\n', 400],
    ['Content-Length with Transfer-Encoding', () => 'POST /healthz HTTP/1.1\r\nHost: x\r\nContent-Length: 5\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n', 400],
    ['Transfer-Encoding with Content-Length', () => 'POST /healthz HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\nContent-Length: 5\r\n\r\n0\r\n\r\n', 400],
    ['Transfer-Encoding: gzip', () => 'POST /healthz HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: gzip\r\n\r\nabc', 501],
    ['Transfer-Encoding: gzip, chunked', () => 'POST /healthz HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: gzip, chunked\r\n\r\n3\r\nabc\r\n0\r\n\r\n', 501],
    ['Transfer-Encoding: chunked twice', () => 'POST /healthz HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n', [400, 501]],
    ['a chunk size that overflows 64 bits', () => 'POST /healthz HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\nfffffffffffffffffffff\r\nabc\r\n0\r\n\r\n', [400, 413]],
    ['a chunk size over the body limit', () => 'POST /healthz HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\nffffffff\r\nabc\r\n0\r\n\r\n', 413],
    ['a chunk extension of 1 MB', () => `POST /healthz HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n3;ext=${'e'.repeat(1024 * 1024)}\r\nabc\r\n0\r\n\r\n`, 400],
    ['a trailer of 1 MB', () => `POST /healthz HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n3\r\nabc\r\n0\r\nX-T: ${'t'.repeat(1024 * 1024)}\r\n\r\n`, [400, 431]],
    ['a body over 1 MiB announced', () => 'POST /v1/integrations HTTP/1.1\r\nHost: x\r\nContent-Length: 2000000\r\n\r\n', 413],
  ];

  for (const [name, make, statuses] of cases) {
    test(name, async () => {
      const result = await exchange(server, make());
      assertRefused(result, statuses);
      await assertServing(name);
    });
  }

  test('100 headers are served', async () => {
    const headers = Array.from({ length: 100 }, (_, i) => `X-Header-${i}: value\r\n`).join('');
    const result = await exchange(server, request('/healthz', `${headers}Connection: close\r\n`));
    assert.equal(parseResponses(result.raw)[0]?.status, 200);
    await assertServing('100 headers');
  });

  test('HTTP/0.9 (a request line alone)', async () => {
    assertRefusedOrClosed(await exchange(server, 'GET /healthz\r\n'), 400);
    await assertServing('HTTP/0.9');
  });

  test('a TLS ClientHello on the plain port', async () => {
    // The record header, a handshake header and the start of a ClientHello (TLS 1.2, random).
    const hello = Buffer.concat([
      Buffer.from([0x16, 0x03, 0x01, 0x00, 0xa5, 0x01, 0x00, 0x00, 0xa1, 0x03, 0x03]),
      Buffer.alloc(32, 0x5a),
      Buffer.from([0x00, 0x00, 0x04, 0x13, 0x01, 0x13, 0x02, 0x01, 0x00]),
    ]);
    assertRefusedOrClosed(await exchange(server, hello), 400);
    await assertServing('a TLS ClientHello');
  });

  test('obs-fold: a folded header is refused or unfolded, never taken for a new header', async () => {
    const result = await exchange(server, request('/healthz', 'X-A: a\r\n Host: evil\r\nConnection: close\r\n'));
    const res = parseResponses(result.raw)[0];
    assert.ok(res && [200, 400].includes(res.status), `status ${res?.status}`);
    if (res.status === 400) assertRefused(result, 400);
    await assertServing('obs-fold');
  });

  test('trailers after a chunked body are read, and the request is answered', async () => {
    const body = '{"redirectUri":"https://app.example/x"}';
    const result = await exchange(server,
      'POST /v1/integrations/00000000-0000-4000-8000-000000000000/users/u/auth-url HTTP/1.1\r\nHost: x\r\n'
      + `Transfer-Encoding: chunked\r\nConnection: close\r\n\r\n${body.length.toString(16)}\r\n${body}\r\n0\r\nX-Trailer: t\r\n\r\n`);
    assert.equal(parseResponses(result.raw).filter((r) => r.status >= 200)[0]?.status, 401);
    await assertServing('trailers');
  });

  test('Expect: 100-continue with a body: 100, then the answer', async () => {
    const body = '{}';
    const sock = net.connect({ host: '127.0.0.1', port: server.port });
    const got = await new Promise((resolve, reject) => {
      const chunks = [];
      let sent = false;
      const timer = setTimeout(() => { sock.destroy(); reject(new Error('no answer')); }, 10_000);
      sock.on('connect', () => sock.write('POST /v1/integrations/00000000-0000-4000-8000-000000000000/users/u/auth-url HTTP/1.1\r\n'
        + `Host: x\r\nExpect: 100-continue\r\nContent-Length: ${body.length}\r\nConnection: close\r\n\r\n`));
      sock.on('data', (c) => {
        chunks.push(c);
        const text = Buffer.concat(chunks).toString('latin1');
        if (!sent && /^HTTP\/1\.1 100 /.test(text) && text.includes('\r\n\r\n')) {
          sent = true;
          sock.write(body);
        }
      });
      sock.on('error', () => {});
      sock.on('close', () => { clearTimeout(timer); resolve(Buffer.concat(chunks)); });
    });
    const responses = parseResponses(got);
    assert.deepEqual(responses.map((r) => r.status), [100, 401]);
    await assertServing('100-continue with a body');
  });

  test('Expect: 100-continue without a body', async () => {
    const result = await exchange(server, 'GET /healthz HTTP/1.1\r\nHost: x\r\nExpect: 100-continue\r\nConnection: close\r\n\r\n');
    const finals = parseResponses(result.raw).filter((r) => r.status >= 200);
    assert.equal(finals[0]?.status, 200);
    await assertServing('100-continue without a body');
  });

  test('10,000 pipelined requests in one write are answered in order', async () => {
    const count = 10_000;
    const one = 'GET /healthz HTTP/1.1\r\nHost: x\r\n\r\n';
    const all = one.repeat(count - 1) + 'GET /healthz HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n';
    const result = await exchange(server, all, { timeout: 60_000 });
    const responses = parseResponses(result.raw);
    assert.equal(responses.length, count);
    assert.ok(responses.every((r) => r.status === 200));
    await assertServing('a pipelined flood');
  });

  test('a flood of pipelined requests the client never reads ends the connection, not the server', async () => {
    // 10,000 requests whose answers the client does not read: the server's writes block on a
    // full socket buffer, so it stops reading; nothing piles up in its memory.
    const sock = net.connect({ host: '127.0.0.1', port: server.port });
    await new Promise((r) => sock.on('connect', r));
    sock.on('error', () => {});
    sock.pause();
    sock.write('GET /healthz HTTP/1.1\r\nHost: x\r\n\r\n'.repeat(10_000));
    await assertServing('an unread flood');
    sock.destroy();
  });

  test('a half-closed client still gets its answer', async () => {
    const result = await exchange(server, request('/healthz'), { halfClose: true });
    assert.equal(parseResponses(result.raw)[0]?.status, 200);
    assert.ok(result.closedByServer);
    await assertServing('a half-closed client');
  });

  test('a reset in the middle of a body', async () => {
    const sock = net.connect({ host: '127.0.0.1', port: server.port });
    await new Promise((r) => sock.on('connect', r));
    sock.on('error', () => {});
    sock.write('POST /v1/integrations/00000000-0000-4000-8000-000000000000/users/u/auth-url HTTP/1.1\r\nHost: x\r\nContent-Length: 100000\r\n\r\n');
    sock.write('x'.repeat(1000));
    await new Promise((r) => setTimeout(r, 50));
    sock.resetAndDestroy();
    await assertServing('a reset mid-body');
  });

  test('a slowloris (one byte a second) does not hold up other clients, and is cut off', async () => {
    const head = request('/healthz');
    const sock = net.connect({ host: '127.0.0.1', port: server.port });
    sock.on('error', () => {});
    const closed = new Promise((r) => sock.on('close', r));
    await new Promise((r) => sock.on('connect', r));
    const started = Date.now();
    let sent = 0;
    const drip = setInterval(() => {
      if (!sock.destroyed && sent < head.length - 2) sock.write(head[sent++]);
    }, 1000);
    try {
      // Meanwhile other clients are served, each in under 2 s.
      while (Date.now() - started < (READ_TIMEOUT_S - 1) * 1000) {
        await assertServing('during a slowloris');
        await new Promise((r) => setTimeout(r, 200));
      }
      // The head did not arrive within --read-timeout: the server closes the connection.
      const cut = await Promise.race([closed.then(() => true), new Promise((r) => setTimeout(() => r(false), (READ_TIMEOUT_S + 5) * 1000))]);
      assert.ok(cut, 'the slow connection is closed once --read-timeout has passed');
      assert.ok(Date.now() - started >= (READ_TIMEOUT_S - 1) * 1000, 'not cut before its time');
    } finally {
      clearInterval(drip);
      sock.destroy();
    }
    await assertServing('a slowloris');
  });

  test('5,000 idle connections opened at once', async () => {
    const count = 5000;
    const sockets = [];
    const opened = [];
    for (let i = 0; i < count; i++) {
      const sock = net.connect({ host: '127.0.0.1', port: server.port });
      sock.on('error', () => {});
      sockets.push(sock);
      opened.push(new Promise((resolve) => {
        sock.once('connect', () => resolve(true));
        sock.once('close', () => resolve(false));
      }));
    }
    try {
      const results = await Promise.all(opened);
      assert.equal(results.filter(Boolean).length, count, 'every connection was accepted');
      await assertServing('5,000 idle connections (while open)');
    } finally {
      for (const s of sockets) s.destroy();
    }
    await assertServing('5,000 idle connections');
  });

  test('Host: an HTTP/1.1 request without one or with two is 400; an absolute-form target is served (RFC 9112 3.2)', async () => {
    assertRefused(await exchange(server, 'GET /healthz HTTP/1.1\r\nConnection: close\r\n\r\n'), [400]);
    assertRefused(await exchange(server, 'GET /healthz HTTP/1.1\r\nHost: a\r\nHost: b\r\nConnection: close\r\n\r\n'), [400]);
    const old = parseResponses((await exchange(server, 'GET /healthz HTTP/1.0\r\n\r\n')).raw)[0];
    assert.equal(old?.status, 200, 'HTTP/1.0 needs no Host');
    const absolute = parseResponses((await exchange(server,
      `GET http://127.0.0.1:${server.port}/healthz HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n\r\n`)).raw)[0];
    assert.equal(absolute?.status, 200, 'absolute-form');
    await assertServing('Host checks');
  });

  test('HEAD gets the head alone: a request pipelined after it is read as a request', async () => {
    const result = await exchange(server, 'HEAD /healthz HTTP/1.1\r\nHost: x\r\n\r\n'
      + 'GET /healthz HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n');
    const text = result.raw.toString('latin1');
    const heads = text.split('\r\n\r\n');
    assert.match(heads[0], /^HTTP\/1\.1 200 /, 'HEAD is answered as GET');
    assert.match(heads[0], /\r\ncontent-length: [1-9]\d*/i, 'the length the body would have had');
    assert.match(heads[1], /^HTTP\/1\.1 200 /, `the GET's answer follows the HEAD's head at once: ${JSON.stringify(text.slice(0, 400))}`);
    await assertServing('HEAD');
  });

  test('an unknown four-letter method on the proxy (a view into a moved parser, found by the fuzzer)', async () => {
    const ws = await ctx.workspace(server, 'hostile');
    const cid = (await ctx.enableNone(ws.workspaceId)).customerIntegrationId;
    for (const method of ['ABCD', 'digT', 'HEAD']) {
      const result = await exchange(server, `${method} /v1/proxy/${cid}/u-1/x HTTP/1.1\r\nHost: x\r\n`
        + `x-api-key: ${ws.apiKey}\r\nConnection: close\r\n\r\n`);
      const res = parseResponses(result.raw)[0];
      assert.ok(res && res.status >= 400 && res.status < 500, `${method}: ${result.raw.toString().slice(0, 200)}`);
    }
    await assertServing('an unknown method on the proxy');
  });

  test('the reproduction of issue 13: 100,000 bytes of request line, then a normal request', async () => {
    const result = await exchange(server, `GET /${'a'.repeat(100_000)} HTTP/1.1\r\nHost: x\r\n\r\n`);
    assertRefused(result, 414);
    // The process is still the same one, not a restarted or crashed one.
    assert.equal(server.proc.exitCode, null);
    assert.equal(server.proc.signalCode, null);
    await assertServing('the reproduction');
  });
});
