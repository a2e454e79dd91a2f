// Peers and helpers for the credential-lifecycle tests (CONTRACT section 9):
// credential reads, refresh, disconnect, webhooks and the proxy.
//
//   tuneOidcProvider     changes a running oidc-provider peer (peers/oidc.mjs):
//                        access-token lifetime, refresh-token rotation; records
//                        the refresh_token each refresh grant presented
//   revokeAtProvider     destroys a refresh token and its grant at oidc-provider
//   connectOidc          the OAUTH2 connect flow for one user in Chromium
//   startFakeOAuth       a small OAuth 2.0 authorization server under the test's
//                        control (authorize redirects at once, token endpoint with
//                        programmable refresh answers, RFC 7009 revocation endpoint)
//   connectFakeOAuth     the OAUTH2 flow against it, with fetch (no browser)
//   connectForm          API_TOKEN / AWS / Google forms submitted with fetch
//   startWebhookReceiver a Standard Webhooks receiver that verifies every delivery
//                        with the npm `standardwebhooks` package
//   startUpstream        an API upstream for the proxy that records every request
//   verifySigV4          independent SigV4 check (aws4) for any service and region

import crypto from 'node:crypto';
import assert from 'node:assert/strict';

import aws4 from 'aws4';
import { Webhook } from 'standardwebhooks';
// oidc-provider keeps its configuration in a private cache; the grant handlers read
// it on every request, so a running provider can be re-tuned (version 9.13.3 pinned).
import instance from 'oidc-provider/lib/helpers/weak_cache.js';

import { TIMEOUT_MS, request, rand, userPath } from '../lib/harness.mjs';
import { fetchPage, parseResult, readResult, parseCsrf } from '../lib/browser.mjs';
import { startPeer, connectLink, waitFor } from './http.mjs';

// ---------------------------------------------------------------------------
// API calls

/** GET …/credentials. */
export function getCredentials(server, key, cid, userId, opts = {}) {
  return request(server, 'GET', userPath(cid, userId, { suffix: '/credentials' }), { key, ...opts });
}

/** DELETE …/users/{userId}. */
export function deleteUser(server, key, cid, userId) {
  return request(server, 'DELETE', userPath(cid, userId), { key });
}

/** `webhook set` for a workspace; returns the parsed JSON ({secret, …}). */
export async function setWebhook(ctx, workspaceId, url) {
  const r = await ctx.cliJson(['webhook', 'set', '--workspace', workspaceId, '--url', url]);
  assert.match(r.secret || '', /^whsec_[A-Za-z0-9+/=]+$/, `webhook set: ${JSON.stringify(r)}`);
  return r;
}

/** Resolves once Date.now() >= `when` (a deadline-bounded poll, for real expiries). */
export async function waitUntil(when, what = 'a point in time', slack = TIMEOUT_MS) {
  const deadline = Math.max(when, Date.now()) + slack;
  while (Date.now() < when) {
    if (Date.now() > deadline) assert.fail(`clock did not reach ${what}`);
    await new Promise((r) => setTimeout(r, Math.min(50, Math.max(1, when - Date.now()))));
  }
}

/**
 * The moment a read must refresh an OAuth token: min(5 min, half its lifetime)
 * before `expiresAt`. `lifetimeMs` is the lifetime the provider announced.
 */
export function refreshPoint(expiresAt, lifetimeMs) {
  return Date.parse(expiresAt) - Math.min(5 * 60_000, lifetimeMs / 2);
}

// ---------------------------------------------------------------------------
// oidc-provider (peers/oidc.mjs)

/**
 * Re-tunes an oidc-provider peer: `accessTokenTtl` (seconds) for every access
 * token issued from now on, `rotateRefreshToken` (true / false / undefined for
 * the library default). Adds `op.refreshGrants(clientId)`: every refresh_token
 * request {status, clientId, refreshToken (the one presented), body}.
 */
export function tuneOidcProvider(op, { accessTokenTtl, rotateRefreshToken } = {}) {
  const conf = instance(op.provider).configuration;
  if (!op.tuned) {
    op.tuned = { defaultRotate: conf.rotateRefreshToken, refresh: [] };
    // The peer's koa chain is already composed, so record from the provider's events
    // (emitted inside the token request, after the answer was set).
    const record = (ctx, err) => {
      if (ctx.oidc?.params?.grant_type !== 'refresh_token') return;
      op.tuned.refresh.push({
        status: err ? (err.statusCode || err.status || 500) : 200,
        at: Date.now(),
        clientId: ctx.oidc?.client?.clientId,
        refreshToken: ctx.oidc.params.refresh_token,
        body: err ? { error: err.error, error_description: err.error_description } : { ...ctx.body },
      });
    };
    op.provider.on('grant.success', (ctx) => record(ctx));
    op.provider.on('grant.error', (ctx, err) => record(ctx, err));
    for (const ev of ['refresh_token.consumed', 'refresh_token.destroyed', 'grant.revoked']) {
      op.provider.on(ev, () => { op.events[ev] = (op.events[ev] || 0) + 1; });
    }
    op.refreshGrants = (clientId) => op.tuned.refresh.filter((r) => !clientId || r.clientId === clientId);
  }
  if (accessTokenTtl !== undefined) conf.ttl.AccessToken = accessTokenTtl;
  if (rotateRefreshToken !== undefined) conf.rotateRefreshToken = rotateRefreshToken;
  else conf.rotateRefreshToken = op.tuned.defaultRotate;
  return op;
}

/** Destroys the refresh token and its whole grant at the provider (the user revoked access). */
export async function revokeAtProvider(op, refreshToken) {
  const rt = await op.provider.RefreshToken.find(refreshToken);
  assert.ok(rt, 'the provider does not know this refresh token');
  const grant = await op.provider.Grant.find(rt.grantId);
  if (grant) await grant.destroy();
  await rt.destroy();
  assert.equal(await op.provider.RefreshToken.find(refreshToken), undefined, 'refresh token still there');
}

/**
 * Connects `userId` through the OAUTH2 flow in Chromium against oidc-provider
 * (login with any name, consent "Continue") and returns the provider's token
 * response of the code exchange ({access_token, refresh_token, expires_in, …}).
 */
export async function connectOidc(browser, op, srv, apiKey, cid, userId) {
  const { url } = await connectLink(srv, apiKey, cid, userId);
  const before = op.tokenRequests.length;
  const page = await browser.page();
  await page.goto(url);
  await page.waitForURL((u) => u.href.startsWith(`${op.issuer}/interaction/`));
  await page.locator('input[name="login"]').fill(`user-${rand(3)}`);
  await page.locator('input[name="password"]').fill('any password');
  await page.locator('button[type="submit"]').click();
  await page.locator('input[name="prompt"][value="consent"]').waitFor({ state: 'attached' });
  await page.locator('button:has-text("Continue")').click();
  await page.waitForURL((u) => u.href.startsWith(`${srv.url}/oauth/callback`));
  const result = await readResult(page);
  assert.equal(result.status, 'success', `OAuth connect of ${userId}: ${JSON.stringify(result)}`);
  const exchange = op.tokenRequests.slice(before)
    .find((t) => t.grantType === 'authorization_code' && t.status === 200);
  assert.ok(exchange?.body?.access_token, 'the provider saw no successful code exchange');
  assert.ok(exchange.body.refresh_token, 'the provider issued no refresh token');
  return { ...exchange.body, at: Date.now() };
}

// ---------------------------------------------------------------------------
// A small OAuth 2.0 authorization server under the test's control

/**
 * Starts an authorization server on 127.0.0.1:0:
 *   GET  /authorize  302 straight back to redirect_uri with code and state
 *                    (or error=access_denied while `fake.deny` is true)
 *   POST /token      authorization_code and refresh_token grants, client auth
 *                    per `authMethod` ('client_secret_basic' | 'client_secret_post');
 *                    `fake.onRefresh(rec)` may return {status, json} (or a
 *                    Promise of it) to override the answer to a refresh;
 *                    `fake.onCode(rec)` (may be async) runs before a code is exchanged
 *   POST /revoke     RFC 7009; records and answers 200
 * Access tokens live `expiresIn` seconds; refresh answers carry a new
 * refresh_token only when `fake.rotate` is true.
 * Records: `authorizeRequests`, `tokenCalls` ({grantType, form, clientOk,
 * status, json, at}), `revocations` ({form, clientOk, at}).
 */
export async function startFakeOAuth({
  clientId = `fake-${rand(4)}`, clientSecret = `fs-${rand(12)}`, authMethod = 'client_secret_basic',
  expiresIn = 3600, scope = 'read write',
} = {}) {
  const codes = new Map();
  const fake = {
    clientId, clientSecret, authMethod, expiresIn, scope,
    deny: false, rotate: false, onRefresh: undefined, onCode: undefined,
    authorizeRequests: [], tokenCalls: [], revocations: [],
    refreshCalls() { return fake.tokenCalls.filter((c) => c.grantType === 'refresh_token'); },
  };
  const clientOk = (rec, form) => {
    if (authMethod === 'client_secret_basic') {
      const auth = rec.headers.authorization || '';
      const m = /^Basic (.+)$/.exec(auth);
      if (!m) return false;
      const [id, ...rest] = Buffer.from(m[1], 'base64').toString('utf8').split(':');
      return decodeURIComponent(id) === clientId && decodeURIComponent(rest.join(':')) === clientSecret;
    }
    return form.get('client_id') === clientId && form.get('client_secret') === clientSecret;
  };
  const newTokens = (withRefresh) => {
    const t = {
      access_token: `at-${crypto.randomBytes(18).toString('base64url')}`,
      token_type: 'Bearer',
      expires_in: fake.expiresIn,
      scope: fake.scope,
    };
    if (withRefresh) t.refresh_token = `rt-${crypto.randomBytes(18).toString('base64url')}`;
    return t;
  };
  const peer = await startPeer(async (req, res, rec) => {
    const json = (status, body) => {
      res.writeHead(status, { 'content-type': 'application/json', 'cache-control': 'no-store' });
      res.end(JSON.stringify(body));
    };
    if (rec.method === 'GET' && rec.path === '/authorize') {
      fake.authorizeRequests.push(rec.query);
      const target = new URL(rec.query.get('redirect_uri'));
      if (fake.deny) {
        target.searchParams.set('error', 'access_denied');
      } else {
        const code = rand(12);
        codes.set(code, rec.query);
        target.searchParams.set('code', code);
      }
      target.searchParams.set('state', rec.query.get('state') || '');
      res.writeHead(302, { location: target.href });
      return res.end();
    }
    const form = new URLSearchParams(rec.body.toString('utf8'));
    if (rec.method === 'POST' && rec.path === '/revoke') {
      fake.revocations.push({ form, clientOk: clientOk(rec, form), headers: rec.headers, at: rec.at });
      res.writeHead(200);
      return res.end();
    }
    if (rec.method !== 'POST' || rec.path !== '/token') return json(404, { error: 'not_found' });
    const call = { grantType: form.get('grant_type'), form, clientOk: clientOk(rec, form), headers: rec.headers, at: rec.at };
    fake.tokenCalls.push(call);
    const answer = (status, body) => { call.status = status; call.json = body; json(status, body); };
    if (!call.clientOk) return answer(401, { error: 'invalid_client' });
    if (call.grantType === 'authorization_code') {
      if (fake.onCode) await fake.onCode(call);
      const q = codes.get(form.get('code'));
      codes.delete(form.get('code'));
      if (!q) return answer(400, { error: 'invalid_grant' });
      return answer(200, newTokens(true));
    }
    if (call.grantType === 'refresh_token') {
      if (fake.onRefresh) {
        const r = await fake.onRefresh(call);
        if (r) return answer(r.status, r.json);
      }
      return answer(200, newTokens(fake.rotate));
    }
    return answer(400, { error: 'unsupported_grant_type' });
  });
  // The live object (tests flip deny / rotate / onRefresh on it) plus url, port, close.
  return Object.assign(fake, peer);
}

/** A definition (CONTRACT section 8) for an OAUTH2 integration at a startFakeOAuth peer. */
export function fakeOAuthDefinition(integrationId, fake, { apiBaseUrl, revocation = true, ...oauth2 } = {}) {
  const def = {
    integrationId,
    name: `Fake OAuth ${integrationId}`,
    host: '127.0.0.1',
    authTypes: ['OAUTH2'],
    oauth2: {
      authorizationUrl: `${fake.url}/authorize`,
      tokenUrl: `${fake.url}/token`,
      scopes: ['read', 'write'],
      tokenEndpointAuthMethod: fake.authMethod,
      pkce: true,
      ...oauth2,
    },
  };
  if (revocation) def.oauth2.revocationUrl = `${fake.url}/revoke`;
  if (apiBaseUrl) def.apiBaseUrl = apiBaseUrl;
  return def;
}

/**
 * Connects `userId` through the OAUTH2 flow against a startFakeOAuth peer with
 * plain fetch (connect link -> authorize -> callback). Returns the token
 * answer of the code exchange (`status: 'error'` flows return undefined).
 */
export async function connectFakeOAuth(fake, srv, apiKey, cid, userId, { expect = 'success' } = {}) {
  const { url } = await connectLink(srv, apiKey, cid, userId);
  const before = fake.tokenCalls.length;
  const start = await fetchPage(url);
  assert.equal(start.status, 302, `connect link: ${start.status} ${start.html.slice(0, 300)}`);
  assert.ok(start.location.startsWith(`${fake.url}/authorize?`), `connect link went to ${start.location}`);
  const back = await fetchPage(start.location);
  assert.equal(back.status, 302);
  const cb = await fetchPage(back.location);
  const result = cb.status === 302 ? { status: new URL(cb.location).searchParams.get('status') } : parseResult(cb.html);
  assert.equal(result?.status, expect, `OAuth callback for ${userId}: ${cb.status} ${cb.html.slice(0, 500)}`);
  if (expect !== 'success') return undefined;
  const exchange = fake.tokenCalls.slice(before).find((c) => c.grantType === 'authorization_code' && c.status === 200);
  assert.ok(exchange, 'no successful code exchange at the fake provider');
  return { ...exchange.json, at: Date.now() };
}

// ---------------------------------------------------------------------------
// Forms (API_TOKEN, AWS_ASSUME_ROLE, GOOGLE_SERVICE_ACCOUNT_OAUTH) with fetch

/**
 * Opens the connect link of `userId` and submits the form with `fields`
 * (urlencoded, or multipart/form-data with `multipart`); asserts the success
 * page.
 */
export async function connectForm(srv, apiKey, cid, userId, fields, { multipart = false } = {}) {
  const { url } = await connectLink(srv, apiKey, cid, userId);
  const page = await fetchPage(url);
  assert.equal(page.status, 200, `connect form: ${page.status} ${page.html.slice(0, 300)}`);
  const csrf = parseCsrf(page.html);
  assert.ok(csrf, 'no csrf on the connect form');
  let body;
  const headers = {};
  if (multipart) {
    body = new FormData();
    body.set('csrf', csrf);
    for (const [k, v] of Object.entries(fields)) body.set(k, v);
  } else {
    body = new URLSearchParams({ csrf, ...fields }).toString();
    headers['content-type'] = 'application/x-www-form-urlencoded';
  }
  const res = await fetch(url, {
    method: 'POST', redirect: 'manual', headers, body, signal: AbortSignal.timeout(TIMEOUT_MS),
  });
  const html = await res.text();
  const result = parseResult(html);
  assert.equal(result?.status, 'success', `form connect of ${userId}: ${res.status} ${html.slice(0, 800)}`);
}

// ---------------------------------------------------------------------------
// Webhook receiver

/**
 * A webhook endpoint. Every delivery is verified with `standardwebhooks`
 * against `receiver.secret` (set it after `webhook set`) and recorded:
 * {id, timestamp, signature, body, payload, verified, error, attempt, at,
 * contentType}. `respond(delivery)` returns the status to answer (default
 * 200) and may be async (a slow receiver).
 */
export async function startWebhookReceiver({ respond } = {}) {
  const receiver = {
    secret: undefined,
    deliveries: [],
    /** Verified deliveries of `type` (every attempt). */
    of(type) { return receiver.deliveries.filter((d) => d.verified && d.payload?.type === type); },
    /** The first verified delivery matching `pred(payload, delivery)`, waiting up to `timeout`. */
    waitFor(pred, what, timeout = TIMEOUT_MS) {
      return waitFor(() => receiver.deliveries.find((d) => d.verified && pred(d.payload, d)), what, timeout);
    },
    /** Deliveries that failed verification. */
    unverified() { return receiver.deliveries.filter((d) => !d.verified); },
  };
  const peer = await startPeer(async (req, res, rec) => {
    const d = {
      id: rec.headers['webhook-id'],
      timestamp: rec.headers['webhook-timestamp'],
      signature: rec.headers['webhook-signature'],
      contentType: rec.headers['content-type'],
      method: rec.method,
      body: rec.body.toString('utf8'),
      at: rec.at,
    };
    d.attempt = receiver.deliveries.filter((x) => x.id === d.id).length + 1;
    try {
      d.payload = new Webhook(receiver.secret).verify(d.body, rec.headers);
      d.verified = true;
    } catch (err) {
      d.verified = false;
      d.error = err.message;
    }
    receiver.deliveries.push(d);
    // `respond` gives a status, or [status, extra headers].
    const answer = respond ? await respond(d) : 200;
    const [status, headers] = Array.isArray(answer) ? answer : [answer, {}];
    d.answered = status;
    res.writeHead(status, { 'content-type': 'text/plain', ...headers });
    res.end(status < 300 ? 'ok' : 'nope');
  });
  return Object.assign(receiver, peer);
}

// ---------------------------------------------------------------------------
// API upstream for the proxy

/**
 * An upstream API. `route(rec)` may return {status, headers, body}; the
 * default answers 200 JSON describing the request. Records every request
 * (see startPeer).
 */
export async function startUpstream(route) {
  const upstream = await startPeer(async (req, res, rec) => {
    const r = (route && await route(rec)) || {};
    const status = r.status ?? 200;
    const body = r.body ?? JSON.stringify({ method: rec.method, path: rec.path, query: rec.url.split('?')[1] ?? null });
    res.writeHead(status, { 'content-type': 'application/json', ...(r.headers || {}) });
    res.end(body);
  });
  return upstream;
}

// ---------------------------------------------------------------------------
// SigV4

/**
 * Checks the SigV4 Authorization of a recorded request (startPeer record)
 * independently with aws4, for `service` and `region` with `credentials`
 * ({accessKeyId, secretAccessKey, sessionToken}). Returns {ok, reason, parts}.
 */
export function verifySigV4(rec, credentials, { service, region }) {
  const auth = rec.headers.authorization || '';
  const m = /^AWS4-HMAC-SHA256 Credential=([^/\s]+)\/(\d{8})\/([^/\s]+)\/([^/\s]+)\/aws4_request,\s*SignedHeaders=([a-z0-9;_-]+),\s*Signature=([0-9a-f]{64})$/.exec(auth);
  if (!m) return { ok: false, reason: `malformed Authorization header: "${auth}"` };
  const [, akid, date, reg, svc, signedList, signature] = m;
  const parts = { akid, date, region: reg, service: svc, signedList };
  if (akid !== credentials.accessKeyId) return { ok: false, reason: `access key id ${akid}`, parts };
  if (reg !== region) return { ok: false, reason: `region ${reg}, expected ${region}`, parts };
  if (svc !== service) return { ok: false, reason: `service ${svc}, expected ${service}`, parts };
  const amzDate = rec.headers['x-amz-date'];
  if (!/^\d{8}T\d{6}Z$/.test(amzDate || '')) return { ok: false, reason: `X-Amz-Date "${amzDate}"`, parts };
  if (amzDate.slice(0, 8) !== date) return { ok: false, reason: 'credential date differs from X-Amz-Date', parts };
  const signed = signedList.split(';');
  for (const h of ['host', 'x-amz-date']) {
    if (!signed.includes(h)) return { ok: false, reason: `${h} is not signed (SignedHeaders=${signedList})`, parts };
  }
  if (credentials.sessionToken !== undefined && rec.headers['x-amz-security-token'] !== credentials.sessionToken) {
    return { ok: false, reason: 'X-Amz-Security-Token is not the session token', parts };
  }
  const sha = rec.headers['x-amz-content-sha256'];
  if (sha !== undefined && sha !== 'UNSIGNED-PAYLOAD' && sha !== crypto.createHash('sha256').update(rec.body).digest('hex')) {
    return { ok: false, reason: 'X-Amz-Content-Sha256 does not match the body', parts };
  }
  const headers = {};
  for (const h of signed) {
    if (rec.headers[h] === undefined) return { ok: false, reason: `signed header ${h} missing`, parts };
    headers[h] = rec.headers[h];
  }
  const signer = new aws4.RequestSigner({
    method: rec.method,
    host: headers.host,
    path: rec.url,
    headers,
    body: rec.body,
    service,
    region,
    doNotModifyHeaders: true,
    extraHeadersToInclude: Object.fromEntries(signed.map((h) => [h, true])),
  }, { accessKeyId: credentials.accessKeyId, secretAccessKey: credentials.secretAccessKey });
  signer.datetime = amzDate;
  const expected = signer.sign().headers.Authorization;
  const em = /Signature=([0-9a-f]{64})$/.exec(expected);
  if (!em || em[1] !== signature) return { ok: false, reason: `signature does not match (aws4 computed ${expected})`, parts };
  return { ok: true, parts };
}
