// A hostile or broken upstream behind the proxy: answers that break HTTP/1.1's rules in the
// ways a careless or malicious API can (bare CR or NUL in a header, huge or many headers,
// conflicting lengths, bad chunking, odd status lines, an upgrade, endless interim answers). Whatever the upstream
// sends, the caller gets one well-framed HTTP/1.1 answer whose head holds no byte the
// upstream smuggled in (no bare CR or LF, no NUL: no response splitting), or a JSON 502; and
// the server keeps serving.

import { describe, test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import net from 'node:net';

import { Context, request, rand, TIMEOUT_MS } from '../lib/harness.mjs';
import { fetchPage } from '../lib/browser.mjs';
import { defineIntegration, connectLink } from '../peers/http.mjs';
import { scaled } from '../lib/timeouts.mjs';

const CRLF = '\r\n';

// What the upstream writes for each path, then it closes the connection.
const ANSWERS = {
  'bare-cr': `HTTP/1.1 200 OK${CRLF}X-A: a\rSet-Cookie: evil=1${CRLF}Content-Length: 2${CRLF}${CRLF}ok`,
  'bare-lf-in-value': `HTTP/1.1 200 OK${CRLF}X-A: a\nSet-Cookie: evil=1${CRLF}Content-Length: 2${CRLF}${CRLF}ok`,
  'nul-in-value': `HTTP/1.1 200 OK${CRLF}X-A: a\0b${CRLF}Content-Length: 2${CRLF}${CRLF}ok`,
  'ctl-in-name': `HTTP/1.1 200 OK${CRLF}X\x01A: b${CRLF}Content-Length: 2${CRLF}${CRLF}ok`,
  'space-in-name': `HTTP/1.1 200 OK${CRLF}X A: b${CRLF}Content-Length: 2${CRLF}${CRLF}ok`,
  'empty-name': `HTTP/1.1 200 OK${CRLF}: b${CRLF}Content-Length: 2${CRLF}${CRLF}ok`,
  'obs-fold': `HTTP/1.1 200 OK${CRLF}X-A: a${CRLF} folded${CRLF}Content-Length: 2${CRLF}${CRLF}ok`,
  'high-bytes': `HTTP/1.1 200 OK${CRLF}X-A: caf\xe9 \xff${CRLF}Content-Length: 2${CRLF}${CRLF}ok`,
  'huge-header': `HTTP/1.1 200 OK${CRLF}X-Big: ${'a'.repeat(300_000)}${CRLF}Content-Length: 2${CRLF}${CRLF}ok`,
  'many-headers': `HTTP/1.1 200 OK${CRLF}${'X-N: v\r\n'.repeat(2_000)}Content-Length: 2${CRLF}${CRLF}ok`,
  'too-many-headers': `HTTP/1.1 200 OK${CRLF}${'X-N: v\r\n'.repeat(20_000)}Content-Length: 2${CRLF}${CRLF}ok`,
  'endless-interim': `${'HTTP/1.1 100 Continue\r\n\r\n'.repeat(20_000)}HTTP/1.1 200 OK${CRLF}Content-Length: 2${CRLF}${CRLF}ok`,
  'http09': 'just some bytes, no status line\r\n',
  'no-status-code': `HTTP/1.1${CRLF}Content-Length: 2${CRLF}${CRLF}ok`,
  'status-999': `HTTP/1.1 999 Odd${CRLF}Content-Length: 2${CRLF}${CRLF}ok`,
  'status-000': `HTTP/1.1 000 Zero${CRLF}Content-Length: 2${CRLF}${CRLF}ok`,
  'status-long-reason': `HTTP/1.1 200 ${'r'.repeat(100_000)}${CRLF}Content-Length: 2${CRLF}${CRLF}ok`,
  'early-hints': `HTTP/1.1 103 Early Hints${CRLF}Link: </a>${CRLF}${CRLF}HTTP/1.1 200 OK${CRLF}Content-Length: 2${CRLF}${CRLF}ok`,
  'upgrade': `HTTP/1.1 101 Switching Protocols${CRLF}Upgrade: websocket${CRLF}Connection: Upgrade${CRLF}${CRLF}\x81\x02hi`,
  'cl-and-chunked': `HTTP/1.1 200 OK${CRLF}Content-Length: 50${CRLF}Transfer-Encoding: chunked${CRLF}${CRLF}2${CRLF}ok${CRLF}0${CRLF}${CRLF}`,
  'two-lengths': `HTTP/1.1 200 OK${CRLF}Content-Length: 2${CRLF}Content-Length: 3${CRLF}${CRLF}okk`,
  'negative-length': `HTTP/1.1 200 OK${CRLF}Content-Length: -5${CRLF}${CRLF}ok`,
  'huge-length': `HTTP/1.1 200 OK${CRLF}Content-Length: 99999999999999999999999${CRLF}${CRLF}ok`,
  'bad-chunk': `HTTP/1.1 200 OK${CRLF}Transfer-Encoding: chunked${CRLF}${CRLF}zz${CRLF}ok${CRLF}0${CRLF}${CRLF}`,
  'huge-chunk': `HTTP/1.1 200 OK${CRLF}Transfer-Encoding: chunked${CRLF}${CRLF}ffffffffffffffffff${CRLF}ok`,
  'no-body-204': `HTTP/1.1 204 No Content${CRLF}Content-Length: 5${CRLF}${CRLF}hello`,
  'head-then-close': `HTTP/1.1 200 OK${CRLF}Content-Length: 10${CRLF}`,
  'nothing': '',
};

function startHostileUpstream() {
  const sockets = new Set();
  const server = net.createServer((sock) => {
    sockets.add(sock);
    sock.on('close', () => sockets.delete(sock));
    sock.on('error', () => {});
    let head = '';
    sock.on('data', (chunk) => {
      head += chunk.toString('latin1');
      if (!head.includes('\r\n\r\n')) return;
      const m = /^[A-Z]+ \/base\/([^ ?]+)/.exec(head);
      const answer = m && Object.hasOwn(ANSWERS, m[1]) ? ANSWERS[m[1]] : 'HTTP/1.1 404 Not Found\r\nContent-Length: 0\r\n\r\n';
      sock.end(Buffer.from(answer, 'latin1'));
    });
  });
  return new Promise((resolve) => {
    server.listen(0, '127.0.0.1', () => resolve({
      url: `http://127.0.0.1:${server.address().port}`,
      close: () => new Promise((r) => { for (const s of sockets) s.destroy(); server.close(() => r()); }),
    }));
  });
}

/** One GET on a new connection; every byte the server sends until it closes. */
function rawGet(server, urlPath, headers) {
  return new Promise((resolve, reject) => {
    const sock = net.connect({ host: '127.0.0.1', port: server.port });
    const chunks = [];
    const timer = setTimeout(() => { sock.destroy(); reject(new Error(`no end within ${TIMEOUT_MS} ms`)); }, TIMEOUT_MS);
    sock.on('data', (c) => chunks.push(c));
    sock.on('error', () => {});
    sock.on('close', () => { clearTimeout(timer); resolve(Buffer.concat(chunks)); });
    let head = `GET ${urlPath} HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n`;
    for (const [k, v] of Object.entries(headers)) head += `${k}: ${v}\r\n`;
    sock.write(`${head}\r\n`);
  });
}

/**
 * Checks that `raw` is one HTTP/1.1 answer with a clean head (every line ends in CRLF and
 * holds no other control byte, every field a token name), and returns {status, headers,
 * body}; a body framed by Content-Length or chunked, never both.
 */
function parseStrict(raw, what) {
  const end = raw.indexOf('\r\n\r\n');
  assert.ok(end > 0, `${what}: no complete head in ${JSON.stringify(raw.subarray(0, 200).toString('latin1'))}`);
  const head = raw.subarray(0, end).toString('latin1');
  const lines = head.split('\r\n');
  const m = /^HTTP\/1\.1 (\d{3}) [^\x00-\x1f\x7f]*$/.exec(lines[0]);
  assert.ok(m, `${what}: status line ${JSON.stringify(lines[0].slice(0, 200))}`);
  const status = Number(m[1]);
  assert.ok(status >= 200 && status <= 599, `${what}: status ${status}`);
  const headers = [];
  for (const line of lines.slice(1)) {
    assert.ok(!/[\x00-\x08\x0a-\x1f\x7f]/.test(line), `${what}: control byte in ${JSON.stringify(line.slice(0, 200))}`);
    const f = /^([!#$%&'*+.^_`|~0-9A-Za-z-]+):[ \t]*(.*?)[ \t]*$/.exec(line);
    assert.ok(f, `${what}: not a field: ${JSON.stringify(line.slice(0, 200))}`);
    headers.push([f[1].toLowerCase(), f[2]]);
  }
  const get = (name) => headers.filter(([n]) => n === name).map(([, v]) => v);
  const lengths = get('content-length');
  const chunked = get('transfer-encoding').some((v) => /chunked/i.test(v));
  assert.ok(!(lengths.length && chunked), `${what}: both Content-Length and chunked`);
  assert.ok(lengths.length <= 1, `${what}: ${lengths.length} Content-Length fields`);
  return { status, headers, get, body: raw.subarray(end + 4), length: lengths.length ? Number(lengths[0]) : undefined, chunked };
}

describe('proxy_hostile_upstream', { concurrency: 1, timeout: scaled(120_000) }, () => {
  const ctx = new Context();
  let upstream;
  let server;
  let W;
  let cid;
  const user = `u-hostile-${rand()}`;

  before(async () => {
    upstream = await startHostileUpstream();
    W = await ctx.workspace(undefined, 'hostile');
    await defineIntegration(ctx, W.workspaceId, {
      integrationId: 'hostile-up', name: 'hostile', host: '127.0.0.1', apiBaseUrl: `${upstream.url}/base`, authTypes: ['NONE'],
    });
    cid = (await ctx.enable(W.workspaceId, 'hostile-up')).customerIntegrationId;
    server = await ctx.startServer({ extraArgs: ['--allow-private-network'] });
    const { url } = await connectLink(server, W.apiKey, cid, user);
    assert.equal((await fetchPage(url)).status, 200);
  });

  after(async () => {
    await upstream?.close();
    await ctx.cleanup();
  });

  // What the caller gets: 502 for a head that breaks HTTP's syntax or framing (as nginx
  // answers), the answer for a head that is only unusual, and an answer cut short when the
  // body breaks off after the head went out.
  const REFUSED = ['bare-cr', 'nul-in-value', 'ctl-in-name', 'space-in-name', 'empty-name', 'obs-fold',
    'huge-header', 'status-long-reason', 'too-many-headers', 'endless-interim', 'http09', 'no-status-code', 'status-999', 'status-000', 'upgrade', 'cl-and-chunked',
    'two-lengths', 'negative-length', 'huge-length', 'head-then-close', 'nothing'];
  const ANSWERED = ['bare-lf-in-value', 'high-bytes', 'many-headers', 'early-hints'];
  const CUT_SHORT = ['bad-chunk', 'huge-chunk'];
  // The reason in the 502: a head that breaks HTTP/1.1, unless the upstream sent none at all.
  const refusal = (name) => ({
    upgrade: /^Upstream unreachable: the answer has no final head$/,
    'head-then-close': /^Upstream unreachable: HTTP call failed: /,
    nothing: /^Upstream unreachable: HTTP call failed: /,
  })[name] ?? /^Upstream unreachable: the answer's head is not valid HTTP\/1\.1 \(RFC 9112\)$/;

  test('every case has its expectation', () => {
    assert.deepEqual([...REFUSED, ...ANSWERED, ...CUT_SHORT, 'no-body-204'].sort(), Object.keys(ANSWERS).sort());
  });

  for (const name of Object.keys(ANSWERS)) {
    test(`upstream answer "${name}": one clean answer, and the server serves on`, async () => {
      const raw = await rawGet(server, `/v1/proxy/${cid}/${user}/${name}`, { 'x-api-key': W.apiKey });
      const res = parseStrict(raw, name);
      if (REFUSED.includes(name)) {
        assert.equal(res.status, 502, `${name}: ${raw.toString('latin1').slice(0, 300)}`);
        assert.equal(res.length, res.body.length, `${name}: the error's body is its Content-Length`);
        const json = JSON.parse(res.body.toString('utf8'));
        assert.equal(json.statusCode, 502);
        assert.equal(json.error, 'Bad Gateway');
        assert.match(json.message, refusal(name), name);
      } else if (ANSWERED.includes(name)) {
        assert.equal(res.status, 200, name);
        assert.equal(res.body.toString('latin1'), 'ok');
      } else if (CUT_SHORT.includes(name)) {
        // The head went out before the body broke off: the body ends without its last chunk,
        // so the caller cannot take it for a whole answer.
        assert.equal(res.status, 200, name);
        assert.ok(res.chunked, `${name}: chunked`);
        assert.ok(!res.body.toString('latin1').endsWith('0\r\n\r\n'), `${name}: ended as if whole`);
      } else {
        assert.equal(res.status, 204, name);
        assert.equal(res.body.length, 0, `${name}: a 204 has no body`);
      }
      const health = await request(server, 'GET', '/healthz');
      assert.equal(health.status, 200);
    });
  }
});
