// Input rules found in review (issue 13, point 4), each proven on the real binary:
//   1. an integration's `host` may carry a port; the default apiBaseUrl keeps it;
//   2. an API_TOKEN definition must declare the field it sends ("token") and a header or
//      query name, at `integration define` and when a catalog is loaded;
//   3. a Google service-account key is used only when its token_uri is the integration's
//      declared token URL (no request to any other URL), and the form never shows what a
//      token endpoint answered;
//   4. `?active=` given more than once is a 400;
//   5. the proxy keeps its own x-request-id, passes repeated upstream headers through line
//      by line in order, and answers 502 (upstream unreachable) or 504 (timed out) with the
//      JSON error body.

import { describe, test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import fs from 'node:fs';
import net from 'node:net';
import path from 'node:path';

import {
  Context, ON_PG, waitForAdminChange, request, rawRequest, assertCliError, assertCliOk, listIntegrations, eventually, rand, TIMEOUT_MS,
} from '../lib/harness.mjs';
import { fetchPage, postForm, findElement, parseResult } from '../lib/browser.mjs';
import { startPeer, defineIntegration, connectLink, closeServer } from '../peers/http.mjs';
import { startGoogleTokenEndpoint, makeServiceAccountKey } from '../peers/google.mjs';
import { connectForm } from '../peers/lifecycle.mjs';
import { scaled } from '../lib/timeouts.mjs';

const GSA_SCOPES = ['https://www.googleapis.com/auth/bigquery'];
// The proxy gives up on an upstream after 30 s without a byte moving (decisions.md, Proxy).
const STALL_MS = 30_000;

/**
 * Sends one request over a plain socket and returns the answer's status and head lines in
 * the order they came, names as sent: [[name, value], …]. Unlike fetch's Headers, this
 * shows whether repeated headers arrived as separate lines.
 */
function rawHead(server, method, urlPath, headers = {}) {
  return new Promise((resolve, reject) => {
    const sock = net.connect({ host: '127.0.0.1', port: server.port });
    const chunks = [];
    const timer = setTimeout(() => { sock.destroy(); reject(new Error('no answer')); }, TIMEOUT_MS);
    sock.on('connect', () => {
      let head = `${method} ${urlPath} HTTP/1.1\r\nHost: 127.0.0.1:${server.port}\r\nConnection: close\r\n`;
      for (const [k, v] of Object.entries(headers)) head += `${k}: ${v}\r\n`;
      sock.write(`${head}\r\n`);
    });
    sock.on('data', (c) => chunks.push(c));
    sock.on('error', () => {});
    sock.on('close', () => {
      clearTimeout(timer);
      const raw = Buffer.concat(chunks).toString('latin1');
      const end = raw.indexOf('\r\n\r\n');
      if (end < 0) return reject(new Error(`no HTTP head in ${JSON.stringify(raw.slice(0, 200))}`));
      const lines = raw.slice(0, end).split('\r\n');
      const status = Number(/^HTTP\/1\.1 (\d{3})/.exec(lines[0])?.[1]);
      const fields = lines.slice(1).map((l) => {
        const i = l.indexOf(':');
        return [l.slice(0, i), l.slice(i + 1).trim()];
      });
      resolve({ status, fields });
    });
  });
}

/** The values of header `name` (any case) in `fields`, in order. */
const valuesOf = (fields, name) => fields.filter(([k]) => k.toLowerCase() === name).map(([, v]) => v);

/** Asserts the documented JSON error shape for `status` ({statusCode, message, error}). */
function assertJsonError(res, status, error) {
  assert.equal(res.status, status, `expected ${status}, got ${res.status}: ${res.text}`);
  assert.match(res.headers.get('content-type') || '', /^application\/json\b/i, `content-type of the ${status}`);
  assert.ok(res.json && typeof res.json === 'object', `JSON body expected: ${res.text}`);
  assert.equal(res.json.statusCode, status, res.text);
  assert.equal(typeof res.json.message, 'string', res.text);
  assert.ok(res.json.message.length > 0, res.text);
  assert.equal(res.json.error, error, res.text);
  assert.ok(res.headers.get('x-request-id'), 'the error carries x-request-id');
}

/** A port on 127.0.0.1 that nothing listens on (bound, then closed). */
async function closedPort() {
  const s = net.createServer();
  await new Promise((r) => s.listen(0, '127.0.0.1', r));
  const { port } = s.address();
  await new Promise((r) => s.close(r));
  return port;
}

describe('input_fixes', { concurrency: 1, timeout: scaled(240_000) }, () => {
  const ctx = new Context();
  let server;
  let W;
  let def = 0;
  const writeDef = (name, obj) => {
    const file = path.join(ctx.dir, `${name}-${def++}.json`);
    fs.writeFileSync(file, JSON.stringify(obj, null, 2));
    return file;
  };
  const defineCli = (file) => ctx.cli(['integration', 'define', '--workspace', W.workspaceId, '--file', file, '--json']);

  before(async () => {
    server = await ctx.startServer({ extraArgs: ['--allow-private-network'] });
    W = await ctx.workspace(server, 'input-fixes');
  });

  after(async () => {
    await ctx.cleanup();
  });

  // ---- 1. host with a port --------------------------------------------------------------

  describe('host with a port', () => {
    test('a host with a port is accepted; the API shows it; the default apiBaseUrl is https://host:port', async () => {
      // A plain TCP listener stands in for the upstream: the proxy's first bytes there are a
      // TLS ClientHello, which shows it went to https://127.0.0.1:<that port>.
      const hits = [];
      const tls = net.createServer((sock) => {
        sock.once('data', (c) => { hits.push(c[0]); sock.destroy(); });
        sock.on('error', () => {});
      });
      await new Promise((r) => tls.listen(0, '127.0.0.1', r));
      try {
        const host = `127.0.0.1:${tls.address().port}`;
        await defineIntegration(ctx, W.workspaceId, {
          integrationId: 'host-port', name: 'Host with a port', host, authTypes: ['NONE'],
        });
        const cid = (await ctx.enable(W.workspaceId, 'host-port')).customerIntegrationId;
        await eventually(async () => {  // the enable reaches the server within a second
          const list = await listIntegrations(server, W.apiKey);
          assert.equal(list.status, 200, list.text);
          assert.equal(list.json.find((i) => i.customerIntegrationId === cid)?.host, host);
        });

        const userId = `hp-${rand()}`;
        const { url } = await connectLink(server, W.apiKey, cid, userId);
        assert.equal((await fetchPage(url)).status, 200);
        const res = await request(server, 'GET', `/v1/proxy/${cid}/${userId}/anything`, { key: W.apiKey });
        assert.ok(res.status >= 500, `a TLS failure cannot be a success: ${res.status} ${res.text}`);
        assert.equal(hits.length, 1, 'the proxy connected to the port of the host');
        assert.equal(hits[0], 0x16, 'and spoke TLS there (https://host:port)');
      } finally {
        await new Promise((r) => tls.close(r));
      }
    });

    test('the same with a name: gitlab.example.com:8443 is accepted', async () => {
      const r = await defineCli(writeDef('gitlab-port', {
        integrationId: 'gitlab-port', name: 'GitLab self-hosted', host: 'gitlab.example.com:8443', authTypes: ['NONE'],
      }));
      assertCliOk(r);
    });

    test('bad ports and everything else that is not host[:port] are refused, naming host', async () => {
      for (const host of [
        'gitlab.example.com:0', 'gitlab.example.com:65536', 'gitlab.example.com:99999', 'gitlab.example.com:',
        'gitlab.example.com:84a3', 'gitlab.example.com:+843', 'gitlab.example.com:-1', 'gitlab.example.com:08443',
        'gitlab.example.com:8443:1', 'gitlab.example.com:123456', ':8443',
        'https://gitlab.example.com', 'https://gitlab.example.com:8443', 'gitlab.example.com:8443/api',
        'user@gitlab.example.com:8443', 'user:pw@gitlab.example.com', 'gitlab.example.com/path',
        'gitlab.example.com?x=1', 'gitlab.example.com#x', 'gitlab.example.com 8443', '[::1]:8443',
      ]) {
        const file = writeDef('bad-host', { integrationId: 'bad-host', name: 'Bad host', host, authTypes: ['NONE'] });
        const line = assertCliError(await defineCli(file));
        assert.ok(line.includes('host'), `${host}: the error names host: ${line}`);
        assert.ok(line.includes(path.basename(file)), `${host}: the error names the file: ${line}`);
      }
    });
  });

  // ---- 2. API_TOKEN definitions declare what they send ----------------------------------

  describe('API_TOKEN definitions', () => {
    const tokenDef = (apiToken) => ({
      integrationId: 'tok-rules', name: 'Token rules', host: 'api.example.com', authTypes: ['API_TOKEN'], apiToken,
    });
    const refused = [
      ['no token field', { fields: [{ name: 'apiKey', label: 'API key' }] }, 'apiToken.fields', /token/],
      ['no token field (two others)', { fields: [{ name: 'subdomain' }, { name: 'key' }] }, 'apiToken.fields', /token/],
      ['empty header', { header: '' }, 'apiToken.header', /header/],
      ['header with a space', { header: 'X Api Key' }, 'apiToken.header', /header/],
      ['header with a colon', { header: 'X-Key: y' }, 'apiToken.header', /header/],
      ['header with CR LF', { header: 'X-Key\r\nX-Injected' }, 'apiToken.header', /header/],
      ['empty queryParam', { queryParam: '' }, 'apiToken.queryParam', /queryParam/],
      ['prefix with CR LF', { prefix: 'Bearer\r\nX-Injected: 1\r\n' }, 'apiToken.prefix', /prefix/],
    ];

    test('integration define refuses a definition that would send no credential, naming the problem', async () => {
      for (const [what, apiToken, field, problem] of refused) {
        const file = writeDef('tok-rules', tokenDef(apiToken));
        const line = assertCliError(await defineCli(file));
        assert.ok(line.includes(path.basename(file)), `${what}: names the file: ${line}`);
        assert.ok(line.includes(`${field}:`), `${what}: names ${field}: ${line}`);
        assert.match(line, problem, `${what}: says what is wrong: ${line}`);
      }
    });

    test('what is still fine: the default field, a query parameter, a header without prefix', async () => {
      for (const apiToken of [
        undefined,
        { queryParam: 'api_key', fields: [{ name: 'subdomain' }, { name: 'token' }] },
        { header: 'X-Api-Key', prefix: '' },
        { header: '', queryParam: 'key' },
      ]) {
        assertCliOk(await defineCli(writeDef('tok-fine', tokenDef(apiToken))));
      }
      // Only what is sent is checked: a definition without API_TOKEN ignores apiToken.
      assertCliOk(await defineCli(writeDef('tok-unused', {
        ...tokenDef({ fields: [{ name: 'apiKey' }] }), integrationId: 'tok-unused', authTypes: ['NONE'],
      })));
    });

    test('a catalog folder with such a definition is refused when loaded, naming the file and field', async () => {
      const dir = path.join(ctx.dir, `catalog-${rand(4)}`);
      fs.mkdirSync(dir);
      fs.writeFileSync(path.join(dir, 'good-one.json'), JSON.stringify({
        integrationId: 'good-one', name: 'Good', host: 'api.good.example', authTypes: ['API_TOKEN'],
      }));
      const ok = await ctx.cli(['catalog', 'list', '--catalog', dir, '--json']);
      assertCliOk(ok);
      fs.writeFileSync(path.join(dir, 'no-token.json'), JSON.stringify({
        integrationId: 'no-token', name: 'No token', host: 'api.example.com', authTypes: ['API_TOKEN'],
        apiToken: { header: 'X-Key', fields: [{ name: 'key' }] },
      }));
      const line = assertCliError(await ctx.cli(['catalog', 'list', '--catalog', dir, '--json']));
      assert.ok(line.includes('no-token.json'), `names the file: ${line}`);
      assert.ok(line.includes('apiToken.fields'), `names the field: ${line}`);
    });
  });

  test('a definition stored before these rules (no token field) connects nobody and mints nothing', { skip: ON_PG && 'edits the SQLite file' }, async () => {
    // An API_TOKEN definition as an older version stored it: without the field it sends.
    assertCliOk(await defineCli(writeDef('tok-old', {
      integrationId: 'tok-old', name: 'Old token', host: 'api.example.com', authTypes: ['API_TOKEN'],
    })));
    const cid = (await ctx.enable(W.workspaceId, 'tok-old')).customerIntegrationId;
    const link = await connectLink(server, W.apiKey, cid, `old-${rand()}`);
    const stale = JSON.stringify({
      integrationId: 'tok-old', name: 'Old token', host: 'api.example.com', authTypes: ['API_TOKEN'],
      apiToken: { header: 'X-Key', fields: [{ name: 'key', label: 'Key' }] },
    });
    const sql = spawnSync('sqlite3', [ctx.dbPath,
      `UPDATE custom_integrations SET definition_json = '${stale}' WHERE integration_id = 'tok-old'`], { encoding: 'utf8' });
    assert.equal(sql.status, 0, sql.stderr);
    await waitForAdminChange(async () => {
      const page = await fetchPage(link.url);
      const result = parseResult(page.html);
      assert.equal(result?.status, 'error', `the form of a definition that sends nothing: ${page.html.slice(0, 300)}`);
      assert.equal(result.errorCode, 'integration_unavailable');
    });
  });

  // ---- 3. Google service-account keys go only to the declared token URL ----------------

  describe('Google service-account token_uri', () => {
    let google; // the declared token endpoint (verifies assertions)
    let evil; // a URL a key names instead: it must never be called
    let echo; // a declared token endpoint that refuses with a marked description
    let cidDefault; // declares no tokenUrl: Google's
    let cidDeclared; // declares google.tokenUri
    let cidEcho; // declares echo's /token
    const marker = `MARKER-${rand(8)}`;

    before(async () => {
      google = await startGoogleTokenEndpoint({ expectedScope: GSA_SCOPES.join(' ') });
      evil = await startPeer((req, res) => {
        res.writeHead(200, { 'content-type': 'application/json' });
        res.end(JSON.stringify({ access_token: `evil-${marker}`, expires_in: 3600, token_type: 'Bearer', internal: marker }));
      });
      echo = await startPeer((req, res) => {
        res.writeHead(400, { 'content-type': 'application/json' });
        res.end(JSON.stringify({ error: 'invalid_grant', error_description: `upstream says ${marker} <b>bold</b>` }));
      });
      const gsa = (integrationId, tokenUrl) => ({
        integrationId, name: integrationId, host: 'bigquery.googleapis.com', authTypes: ['GOOGLE_SERVICE_ACCOUNT_OAUTH'],
        googleServiceAccount: tokenUrl ? { scopes: GSA_SCOPES, tokenUrl } : { scopes: GSA_SCOPES },
      });
      await defineIntegration(ctx, W.workspaceId, gsa('gsa-default', undefined));
      await defineIntegration(ctx, W.workspaceId, gsa('gsa-declared', google.tokenUri));
      await defineIntegration(ctx, W.workspaceId, gsa('gsa-echo', `${echo.url}/token`));
      cidDefault = (await ctx.enable(W.workspaceId, 'gsa-default')).customerIntegrationId;
      cidDeclared = (await ctx.enable(W.workspaceId, 'gsa-declared')).customerIntegrationId;
      cidEcho = (await ctx.enable(W.workspaceId, 'gsa-echo')).customerIntegrationId;
    });

    after(async () => {
      await Promise.all([google, evil, echo].map((p) => p?.close()));
    });

    /** Submits `keyText` on a fresh connect form of `cid`; the re-shown form's error text. */
    async function submitKey(cid, keyText) {
      const userId = `gsa-${rand()}`;
      const { url } = await connectLink(server, W.apiKey, cid, userId);
      const page = await fetchPage(url);
      assert.equal(page.status, 200);
      const after = await postForm(url, { csrf: page.csrf, keyJson: keyText });
      assert.equal(parseResult(after.html), undefined, `the flow must not end: ${after.html.slice(0, 600)}`);
      const error = findElement(after.html, 'error');
      assert.ok(error && error.text.trim(), `an error on the re-shown form: ${after.html.slice(0, 600)}`);
      const user = await request(server, 'GET', `/v1/integrations/${cid}/users/${userId}`, { key: W.apiKey });
      assert.equal(user.json?.active, false, 'the user stays inactive');
      return { text: error.text, html: after.html };
    }

    test('a key whose token_uri is another URL is refused on the form; that URL is never contacted', async () => {
      const key = makeServiceAccountKey({ tokenUri: `${evil.url}/token` });
      for (const cid of [cidDefault, cidDeclared]) {
        const { text } = await submitKey(cid, key.text);
        assert.match(text, /token_uri/, `the error names token_uri: ${text}`);
      }
      assert.equal(evil.requests.length, 0, 'the server POSTed to a URL taken from the key');
    });

    test('a key without token_uri is refused without any token request', async () => {
      const key = makeServiceAccountKey({ tokenUri: google.tokenUri });
      const json = { ...key.json };
      delete json.token_uri;
      const n = google.calls.length;
      const { text } = await submitKey(cidDeclared, JSON.stringify(json));
      assert.match(text, /token_uri/, text);
      assert.equal(google.calls.length, n);
    });

    test('a key for the declared token URL connects', async () => {
      const key = google.register(makeServiceAccountKey({ tokenUri: google.tokenUri }));
      await connectForm(server, W.apiKey, cidDeclared, `gsa-ok-${rand()}`, { keyJson: key.text });
      assert.equal(google.calls.at(-1).ok, true);
    });

    test('the form never shows what the token endpoint answered', async () => {
      const key = makeServiceAccountKey({ tokenUri: `${echo.url}/token` });
      const n = echo.requests.length;
      const { text, html } = await submitKey(cidEcho, key.text);
      assert.equal(echo.requests.length, n + 1, 'the declared endpoint was asked');
      assert.ok(!html.includes(marker), `the endpoint's own words are on the form: ${text}`);
      assert.ok(!html.includes('upstream says'), `the endpoint's own words are on the form: ${text}`);
    });
  });

  // ---- 4. ?active= once -----------------------------------------------------------------

  test('GET /v1/integrations with active given more than once -> 400 JSON error', async () => {
    for (const q of ['active=true&active=true', 'active=false&active=false', 'active=true&active=false',
      'active=1&active=maybe&active=1', 'active=true&other=1&active=true', 'active=0&active=&active=0']) {
      const res = await request(server, 'GET', `/v1/integrations?${q}`, { key: W.apiKey });
      assertJsonError(res, 400, 'Bad Request');
      assert.match(res.json.message, /active/, `${q}: ${res.text}`);
    }
    const once = await request(server, 'GET', '/v1/integrations?active=true&other=1', { key: W.apiKey });
    assert.equal(once.status, 200, once.text);
  });

  // ---- 5. the proxy ---------------------------------------------------------------------

  describe('proxy', () => {
    let upstream;
    let cid;
    let userId;
    const proxyPath = (c, u, rest) => `/v1/proxy/${c}/${encodeURIComponent(u)}/${rest}`;
    const UPSTREAM_HEAD = [
      'Content-Type', 'application/json',
      'Link', '<https://api.example.com/items?page=2>; rel="next"',
      'X-Request-Id', 'upstream-request-id-1',
      'WWW-Authenticate', 'Bearer realm="api", error="insufficient_scope"',
      'Set-Cookie', 'a=1; Path=/; HttpOnly',
      'Link', '<https://api.example.com/items?page=9>; rel="last"',
      'WWW-Authenticate', 'Basic realm="api", charset="UTF-8"',
      'Set-Cookie', 'b=2; Path=/; Expires=Wed, 09 Jun 2021 10:18:14 GMT',
      'X-Other', 'one',
      'Link', '<https://api.example.com/items?page=1>; rel="first"',
    ];

    before(async () => {
      upstream = await startPeer((req, res) => {
        res.writeHead(200, UPSTREAM_HEAD);
        res.end('{"ok":true}');
      });
      await defineIntegration(ctx, W.workspaceId, {
        integrationId: 'proxy-heads', name: 'Proxy heads', host: '127.0.0.1', apiBaseUrl: upstream.url, authTypes: ['NONE'],
      });
      cid = (await ctx.enable(W.workspaceId, 'proxy-heads')).customerIntegrationId;
      userId = `px-${rand()}`;
      const { url } = await connectLink(server, W.apiKey, cid, userId);
      assert.equal((await fetchPage(url)).status, 200);
    });

    after(async () => { await upstream?.close(); });

    test('the answer carries the server\'s x-request-id, once; the upstream\'s comes as x-upstream-request-id', async () => {
      const mine = `caller-${rand(10)}`;
      const withId = await rawHead(server, 'GET', proxyPath(cid, userId, 'items'), { 'x-api-key': W.apiKey, 'x-request-id': mine });
      assert.equal(withId.status, 200);
      assert.deepEqual(valuesOf(withId.fields, 'x-request-id'), [mine]);
      assert.deepEqual(valuesOf(withId.fields, 'x-upstream-request-id'), ['upstream-request-id-1']);

      const without = await rawHead(server, 'GET', proxyPath(cid, userId, 'items'), { 'x-api-key': W.apiKey });
      const ids = valuesOf(without.fields, 'x-request-id');
      assert.equal(ids.length, 1, `one x-request-id line: ${JSON.stringify(ids)}`);
      assert.notEqual(ids[0], 'upstream-request-id-1');
      assert.match(ids[0], /^[0-9a-f]{32}$/);
    });

    test('repeated upstream headers come back as separate lines, in order', async () => {
      const res = await rawHead(server, 'GET', proxyPath(cid, userId, 'items'), { 'x-api-key': W.apiKey });
      assert.equal(res.status, 200);
      // The order that carries meaning is that of the lines of one name (RFC 9110 section
      // 5.3); lines of different names may be regrouped on the way.
      const expected = (name) => UPSTREAM_HEAD.filter((v, i) => i % 2 === 1 && UPSTREAM_HEAD[i - 1].toLowerCase() === name);
      for (const name of ['link', 'www-authenticate', 'set-cookie']) {
        assert.deepEqual(valuesOf(res.fields, name), expected(name), `${name} lines: ${JSON.stringify(res.fields)}`);
      }
      assert.deepEqual(valuesOf(res.fields, 'x-other'), ['one']);
    });

    test('an upstream that cannot be reached -> 502 JSON error, no secret in it; also with a streamed body', async () => {
      const port = await closedPort();
      const token = `tok_${rand(16)}`;
      await defineIntegration(ctx, W.workspaceId, {
        integrationId: 'proxy-down', name: 'Proxy down', host: '127.0.0.1', apiBaseUrl: `http://127.0.0.1:${port}/base`,
        authTypes: ['API_TOKEN'], apiToken: { queryParam: 'api_key' },
      });
      const downCid = (await ctx.enable(W.workspaceId, 'proxy-down')).customerIntegrationId;
      const downUser = `down-${rand()}`;
      await connectForm(server, W.apiKey, downCid, downUser, { token });

      const res = await request(server, 'GET', proxyPath(downCid, downUser, 'x?y=1'), { key: W.apiKey });
      assertJsonError(res, 502, 'Bad Gateway');
      assert.ok(!res.text.includes(token), `the user's token is in the error: ${res.text}`);
      assert.ok(!res.text.includes(W.apiKey), 'the API key is in the error');

      // A body over 1 MiB streams to the upstream; it never gets that far.
      const big = await rawRequest(server, 'POST', proxyPath(downCid, downUser, 'upload'), {
        headers: { 'x-api-key': W.apiKey, 'content-type': 'application/octet-stream' }, body: Buffer.alloc(3 << 20, 7),
      });
      assertJsonError(big, 502, 'Bad Gateway');
      assert.ok(!server.stderrTail.includes(token), 'the token is in the server log');
    });

    test('a private upstream without --allow-private-network -> 502 JSON error', async () => {
      const strict = await ctx.startServer();
      try {
        const res = await request(strict, 'GET', proxyPath(cid, userId, 'items'), { key: W.apiKey });
        assertJsonError(res, 502, 'Bad Gateway');
      } finally {
        await strict.stop('SIGKILL');
      }
    });

    test('an upstream that never answers -> 504 JSON error after the stall timeout, with and without a streamed body', { timeout: STALL_MS * 3 }, async () => {
      // Accepts, reads nothing, answers nothing.
      const held = [];
      const silent = net.createServer((sock) => { held.push(sock); sock.pause(); sock.on('error', () => {}); });
      await new Promise((r) => silent.listen(0, '127.0.0.1', r));
      try {
        await defineIntegration(ctx, W.workspaceId, {
          integrationId: 'proxy-silent', name: 'Proxy silent', host: '127.0.0.1',
          apiBaseUrl: `http://127.0.0.1:${silent.address().port}`, authTypes: ['NONE'],
        });
        const silentCid = (await ctx.enable(W.workspaceId, 'proxy-silent')).customerIntegrationId;
        const silentUser = `silent-${rand()}`;
        const { url } = await connectLink(server, W.apiKey, silentCid, silentUser);
        assert.equal((await fetchPage(url)).status, 200);

        const started = Date.now();
        const [small, big] = await Promise.all([
          request(server, 'GET', proxyPath(silentCid, silentUser, 'slow'), { key: W.apiKey, timeout: STALL_MS * 2 }),
          rawRequest(server, 'POST', proxyPath(silentCid, silentUser, 'slow-upload'), {
            headers: { 'x-api-key': W.apiKey }, body: Buffer.alloc(8 << 20, 1), timeout: STALL_MS * 2,
          }),
        ]);
        assertJsonError(small, 504, 'Gateway Timeout');
        assertJsonError(big, 504, 'Gateway Timeout');
        assert.ok(Date.now() - started >= STALL_MS - 1000, 'not before the stall timeout');
      } finally {
        for (const s of held) s.destroy();
        await closeServer(silent);
      }
    });
  });
});
