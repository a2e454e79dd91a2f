// Small local HTTP peers for the connect-flow tests. Every peer listens on
// 127.0.0.1:0 and records what it received, so that a test can check what the
// toolregistry server (or the browser) sent to it.

import http from 'node:http';
import fs from 'node:fs';
import path from 'node:path';
import assert from 'node:assert/strict';

import {
  TIMEOUT_MS, rand, assertCliOk, authUrl, assertAuthUrl, waitForAdminChange, request, userPath,
} from '../lib/harness.mjs';

/**
 * Starts an HTTP server on 127.0.0.1:0. `handler(req, res, rec)` gets the
 * request with its whole body already read (`rec.body`, a Buffer) and answers
 * it; returns {url, port, requests, close}. `requests` holds one record per
 * request: {method, url, path, query (URLSearchParams), headers, body}.
 */
export async function startPeer(handler) {
  const requests = [];
  const server = http.createServer((req, res) => {
    const chunks = [];
    req.on('data', (c) => chunks.push(c));
    req.on('end', async () => {
      const u = new URL(req.url, 'http://127.0.0.1');
      const rec = {
        method: req.method,
        url: req.url,
        path: u.pathname,
        query: u.searchParams,
        headers: req.headers,
        body: Buffer.concat(chunks),
        at: Date.now(),
      };
      requests.push(rec);
      try {
        await handler(req, res, rec);
      } catch (err) {
        if (!res.headersSent) res.writeHead(500, { 'content-type': 'text/plain' });
        res.end(`peer error: ${err.message}`);
      }
    });
  });
  server.keepAliveTimeout = 1000;
  await new Promise((resolve, reject) => {
    server.once('error', reject);
    server.listen(0, '127.0.0.1', resolve);
  });
  const { port } = server.address();
  return {
    port,
    url: `http://127.0.0.1:${port}`,
    requests,
    server,
    close: () => closeServer(server),
  };
}

/** Closes an http.Server, dropping idle keep-alive connections; bounded. */
export function closeServer(server) {
  return new Promise((resolve) => {
    const timer = setTimeout(resolve, 2000);
    server.close(() => { clearTimeout(timer); resolve(); });
    server.closeAllConnections?.();
  });
}

/**
 * The workspace's "app": the page a finished connect flow redirects to. It
 * answers every GET with a tiny HTML page and records the query it received.
 * `waitForLanding(pathPrefix)` resolves with the first request whose path
 * starts with it.
 */
export async function startApp() {
  const peer = await startPeer((req, res) => {
    res.writeHead(200, { 'content-type': 'text/html; charset=utf-8' });
    res.end('<!doctype html><title>app</title><p id="app">landed</p>');
  });
  peer.landing = (p) => peer.requests.filter((r) => r.path === p);
  return peer;
}

/** Writes a definition file into the context's dir and runs `integration define`. */
export async function defineIntegration(ctx, workspaceId, def) {
  const file = path.join(ctx.dir, `def-${def.integrationId}-${rand(3)}.json`);
  fs.writeFileSync(file, JSON.stringify(def, null, 2));
  const r = await ctx.cli(['integration', 'define', '--workspace', workspaceId, '--file', file, '--json']);
  assertCliOk(r);
  assert.equal(r.json?.integrationId, def.integrationId, `integration define: ${r.stdout}`);
  return r.json;
}

/**
 * Waits until `fn()` returns a truthy value (polling every 25 ms), at most
 * `timeout` ms; then fails with `what`.
 */
export async function waitFor(fn, what, timeout = TIMEOUT_MS) {
  const deadline = Date.now() + timeout;
  for (;;) {
    const v = await fn();
    if (v) return v;
    if (Date.now() >= deadline) assert.fail(`timed out after ${timeout} ms waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 25));
  }
}

/**
 * POST …/auth-url for `userId` (with `redirectUri` when given) and returns
 * {token, url}; tries again for up to 1.5 s while a fresh admin change (define,
 * enable, activate, allow-redirect) reaches `srv`. Until then auth-url refuses
 * (404, 400) and creates nothing, so only those answers are tried again: any
 * other one, which may have written something, ends the wait.
 */
export async function connectLink(srv, apiKey, cid, userId, { redirectUri } = {}) {
  const json = redirectUri ? { redirectUri } : {};
  const res = await waitForAdminChange(async () => {
    const r = await authUrl(srv, apiKey, cid, userId, { json });
    assert.ok(r.status !== 404 && r.status !== 400, `auth-url: ${r.status} ${r.text}`);
    return r;
  });
  const token = assertAuthUrl(res, srv.url);
  return { token, url: res.json.authorizeUrl };
}

/**
 * GET …/users/{userId}/credentials (CONTRACT section 9); asserts 200 and
 * returns the JSON body.
 */
export async function getCredentials(srv, apiKey, cid, userId) {
  const r = await request(srv, 'GET', userPath(cid, userId, { suffix: '/credentials' }), { key: apiKey });
  assert.equal(r.status, 200, `GET credentials: ${r.status} ${r.text}`);
  assert.ok(r.json && typeof r.json === 'object', `credentials body: ${r.text}`);
  return r.json;
}
