// The served API description: GET /openapi.json is a valid OpenAPI 3.0 document
// (@apidevtools/swagger-parser) that documents every route of the server, keeps the seed's
// three operations unchanged (only added keys allowed) and its component schemas equal, and
// describes what the server really answers (live responses checked with ajv against the
// schema the document gives for that path, method, status and content type). GET /docs is
// the same document as one self-contained HTML page under a Content-Security-Policy.

import { describe, test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import crypto from 'node:crypto';
import fs from 'node:fs';
import path from 'node:path';

import Ajv from 'ajv';
import addFormats from 'ajv-formats';
import SwaggerParser from '@apidevtools/swagger-parser';

import {
  Context, REPO_ROOT, request, authUrl, getUser, listIntegrations, userPath, randomUuid, rand,
  waitForAdminChange, assertListed,
} from '../lib/harness.mjs';
import { scaled } from '../lib/timeouts.mjs';

const seed = JSON.parse(fs.readFileSync(path.join(REPO_ROOT, 'spec', 'seed-openapi.json'), 'utf8'));
const source = JSON.parse(fs.readFileSync(path.join(REPO_ROOT, 'spec', 'openapi.json'), 'utf8'));
const METHODS = ['get', 'put', 'post', 'delete', 'options', 'head', 'patch', 'trace'];

// Every route of src/api/router.cpp, as an OpenAPI path template.
const ROUTES = [
  ['get', '/v1/integrations'],
  ['get', '/v1/integrations/{customerIntegrationId}/users/{userId}'],
  ['delete', '/v1/integrations/{customerIntegrationId}/users/{userId}'],
  ['post', '/v1/integrations/{customerIntegrationId}/users/{userId}/auth-url'],
  ['get', '/v1/integrations/{customerIntegrationId}/users/{userId}/credentials'],
  ...['get', 'post', 'put', 'patch', 'delete'].map((m) => [m, '/v1/proxy/{customerIntegrationId}/{userId}/{path}']),
  ['get', '/v1/tools'],
  ['post', '/v1/tools/{name}/call'],
  ['post', '/v1/mcp'],
  ['delete', '/v1/mcp'],
  ['get', '/v1/mcp'],
  ['get', '/connect/{token}'],
  ['post', '/connect/{token}'],
  ['get', '/oauth/callback'],
  ['get', '/healthz'],
  ['get', '/readyz'],
  ['get', '/metrics'],
  ['get', '/openapi.json'],
  ['get', '/docs'],
];

/**
 * Asserts that `expected` (from the seed) is contained in `actual` (served): every key of
 * every object is there with the same content; `actual` may have more keys. Arrays must
 * have the same length (an added parameter or required field changes the API) and are
 * compared element by element; scalars must be equal.
 */
function assertSubset(expected, actual, where) {
  if (Array.isArray(expected)) {
    assert.ok(Array.isArray(actual), `${where}: expected an array, served ${JSON.stringify(actual)}`);
    assert.equal(actual.length, expected.length, `${where}: array length changed`);
    expected.forEach((v, i) => assertSubset(v, actual[i], `${where}[${i}]`));
  } else if (expected !== null && typeof expected === 'object') {
    assert.ok(actual !== null && typeof actual === 'object' && !Array.isArray(actual),
      `${where}: expected an object, served ${JSON.stringify(actual)}`);
    for (const key of Object.keys(expected)) {
      assert.ok(Object.hasOwn(actual, key), `${where}.${key}: missing in the served document`);
      assertSubset(expected[key], actual[key], `${where}.${key}`);
    }
  } else {
    assert.equal(actual, expected, `${where}: changed`);
  }
}

/** Replaces local `#/...` references with `served#/...` so that ajv resolves them. */
function rebase(schema) {
  if (Array.isArray(schema)) return schema.map(rebase);
  if (schema === null || typeof schema !== 'object') return schema;
  const out = {};
  for (const [k, v] of Object.entries(schema)) {
    out[k] = k === '$ref' && typeof v === 'string' && v.startsWith('#/') ? `served${v}` : rebase(v);
  }
  return out;
}

describe('openapi', { concurrency: 1, timeout: scaled(120_000) }, () => {
  const ctx = new Context();
  let server;
  let W;
  let doc; // the served document
  let ajv;
  let noneCid;
  let oauthCid;

  /**
   * Asserts that `res` is documented for `method` `template`: its status has a response
   * entry, its content type is one of that entry's media types, and a JSON body matches
   * the entry's schema. Returns the body.
   */
  function assertDocumented(res, method, template) {
    const op = doc.paths[template]?.[method];
    assert.ok(op, `${method.toUpperCase()} ${template} is not in the served document`);
    const entry = op.responses[String(res.status)] ?? op.responses.default;
    assert.ok(entry, `${method.toUpperCase()} ${template}: status ${res.status} is not documented: ${res.text}`);
    const contentType = (res.headers.get('content-type') || '').split(';')[0].trim().toLowerCase();
    if (!entry.content) {
      assert.equal(res.text, '', `${method.toUpperCase()} ${template} ${res.status}: documented without a body`);
      return undefined;
    }
    const media = entry.content[contentType] ?? entry.content['*/*'];
    assert.ok(media, `${method.toUpperCase()} ${template} ${res.status}: content-type "${contentType}" not documented `
      + `(documented: ${Object.keys(entry.content).join(', ')})`);
    if (contentType === 'application/json' && media.schema) {
      const validate = ajv.compile(rebase(media.schema));
      assert.ok(validate(res.json),
        `${method.toUpperCase()} ${template} ${res.status}: ${ajv.errorsText(validate.errors)}\nbody: ${res.text}`);
    }
    return res.json;
  }

  before(async () => {
    server = await ctx.startServer();
    W = await ctx.workspace(server, 'openapi');
    noneCid = (await ctx.enable(W.workspaceId, 'open-meteo')).customerIntegrationId;
    oauthCid = (await ctx.enableOauth(W.workspaceId)).customerIntegrationId;
    // The live answers below list both (the server may have kept the empty list it answered
    // while ctx.workspace waited for the key).
    await waitForAdminChange(() => assertListed(server, W.apiKey, [noneCid, oauthCid]));
    const res = await request(server, 'GET', '/openapi.json');
    assert.equal(res.status, 200, `GET /openapi.json: ${res.status} ${res.text.slice(0, 500)}`);
    assert.match(res.headers.get('content-type') || '', /^application\/json\b/i);
    doc = res.json;
    assert.ok(doc && typeof doc === 'object', 'GET /openapi.json must answer a JSON object');
    ajv = new Ajv({ strict: false, allErrors: true });
    addFormats(ajv);
    ajv.addSchema({ $id: 'served', components: doc.components });
  });

  after(() => ctx.cleanup());

  test('the subset check itself: added keys pass, changed or missing ones fail', () => {
    assertSubset({ a: 1, b: [{ c: 'x' }] }, { a: 1, b: [{ c: 'x', d: 2 }], e: 3 }, 'ok');
    assert.throws(() => assertSubset({ a: 1 }, { a: 2 }, 'changed'));
    assert.throws(() => assertSubset({ a: 1 }, { b: 1 }, 'missing'));
    assert.throws(() => assertSubset({ a: [1] }, { a: [1, 2] }, 'array grew'));
    assert.throws(() => assertSubset({ a: { b: 1 } }, { a: 'x' }, 'type changed'));
  });

  test('GET /openapi.json: a valid OpenAPI 3.0 document, the one in spec/openapi.json', async () => {
    const api = await SwaggerParser.validate(structuredClone(doc));
    assert.match(api.openapi, /^3\.0\.\d+$/);
    assert.deepEqual(doc, source, 'the served document differs from spec/openapi.json (stale embed?)');
    assert.equal(doc.info.version, '1.0');
    assert.ok(doc.servers.some((s) => s.url === 'http://127.0.0.1:8080'), 'servers entry http://127.0.0.1:8080');
    assert.ok(doc.info.description?.length > 100, 'info.description should explain the API');
  });

  test('the seed\'s operations are served unchanged (only keys added) and its schemas equal', () => {
    let n = 0;
    for (const [p, item] of Object.entries(seed.paths)) {
      for (const method of METHODS) {
        if (!item[method]) continue;
        n += 1;
        assert.ok(doc.paths[p]?.[method], `seed operation ${method.toUpperCase()} ${p} is missing`);
        assertSubset(item[method], doc.paths[p][method], `${method.toUpperCase()} ${p}`);
      }
    }
    assert.equal(n, 3);
    for (const [name, schema] of Object.entries(seed.components.schemas)) {
      assert.deepEqual(doc.components.schemas[name], schema, `component schema ${name} changed`);
    }
  });

  test('every route of the server is documented, and every documented operation is a route', async () => {
    const documented = [];
    for (const [p, item] of Object.entries(doc.paths)) {
      for (const method of METHODS) if (item[method]) documented.push(`${method} ${p}`);
    }
    const routes = ROUTES.map(([m, p]) => `${m} ${p}`);
    assert.deepEqual([...documented].sort(), [...routes].sort());

    // Each documented operation reaches a handler (no "Cannot GET ..." 404 of the router).
    const fill = { customerIntegrationId: randomUuid(), userId: 'someone', path: 'a/b', token: 'x'.repeat(43), name: 'some_tool' };
    for (const [method, template] of ROUTES) {
      const url = template.replace(/\{(\w+)\}/g, (_, name) => fill[name]);
      const res = await request(server, method.toUpperCase(), url,
        method === 'post' && template.startsWith('/connect/') ? { body: 'csrf=x', headers: { 'content-type': 'application/x-www-form-urlencoded' } } : {});
      assert.ok(!(res.status === 404 && /^Cannot /.test(res.json?.message ?? '')),
        `${method.toUpperCase()} ${url} is documented but not routed: ${res.text}`);
      assertDocumented(res, method, template);
    }
  });

  test('operation ids are unique; /v1 needs an API key (x-api-key or Bearer), hosted pages none', () => {
    const schemes = doc.components.securitySchemes;
    assert.deepEqual(schemes.apiKey, { ...schemes.apiKey, type: 'apiKey', in: 'header', name: 'x-api-key' });
    assert.deepEqual(schemes.bearer, { ...schemes.bearer, type: 'http', scheme: 'bearer' });
    const ids = new Set();
    for (const [p, item] of Object.entries(doc.paths)) {
      for (const method of METHODS) {
        const op = item[method];
        if (!op) continue;
        assert.ok(op.operationId && !ids.has(op.operationId), `operationId of ${method} ${p}: ${op.operationId}`);
        ids.add(op.operationId);
        assert.ok(op.summary && op.description, `${method} ${p} needs a summary and a description`);
        const expected = p.startsWith('/v1/') ? [{ apiKey: [] }, { bearer: [] }] : [];
        assert.deepEqual(op.security, expected, `security of ${method} ${p}`);
      }
    }
    const error = doc.components.schemas.Error;
    assert.deepEqual([...error.required].sort(), ['error', 'message', 'statusCode']);
    assert.equal(error.properties.statusCode.type, 'integer');
    assert.equal(error.properties.error.type, 'string');
    assert.deepEqual(error.properties.message.oneOf.map((s) => s.type).sort(), ['array', 'string']);
  });

  test('live answers of the seed operations match the document', async () => {
    const userId = `om-${rand()}`;
    const created = await authUrl(server, W.apiKey, noneCid, userId);
    assert.equal(created.status, 201, created.text);
    assertDocumented(created, 'post', '/v1/integrations/{customerIntegrationId}/users/{userId}/auth-url');

    const list = await listIntegrations(server, W.apiKey);
    assert.equal(list.status, 200, list.text);
    assert.equal(list.json.length, 2);
    assertDocumented(list, 'get', '/v1/integrations');
    assertDocumented(await listIntegrations(server, W.apiKey, 'maybe'), 'get', '/v1/integrations');
    assertDocumented(await request(server, 'GET', '/v1/integrations'), 'get', '/v1/integrations');
    assertDocumented(await request(server, 'GET', '/v1/integrations', { bearer: W.apiKey }), 'get', '/v1/integrations');

    const userTemplate = '/v1/integrations/{customerIntegrationId}/users/{userId}';
    const user = await getUser(server, W.apiKey, noneCid, userId);
    assert.equal(user.status, 200, user.text);
    assert.equal(user.json.active, true);
    assertDocumented(user, 'get', userTemplate);

    const missing = await getUser(server, W.apiKey, randomUuid(), userId);
    assert.equal(missing.status, 404, missing.text);
    assert.deepEqual(assertDocumented(missing, 'get', userTemplate),
      { statusCode: 404, message: 'Customer integration not found', error: 'Not Found' });
    const noUser = await getUser(server, W.apiKey, noneCid, 'nobody');
    assert.equal(noUser.status, 404);
    assertDocumented(noUser, 'get', userTemplate);

    const badBody = await authUrl(server, W.apiKey, noneCid, userId, { json: { redirectUri: 'ftp://x' } });
    assert.equal(badBody.status, 400, badBody.text);
    assertDocumented(badBody, 'post', '/v1/integrations/{customerIntegrationId}/users/{userId}/auth-url');
  });

  test('credentials: NONE user answers {"authType":"NONE"}, a never-connected OAUTH2 user 409', async () => {
    const template = '/v1/integrations/{customerIntegrationId}/users/{userId}/credentials';
    const userId = `none-${rand()}`;
    assert.equal((await authUrl(server, W.apiKey, noneCid, userId)).status, 201);
    const creds = await request(server, 'GET', userPath(noneCid, userId, { suffix: '/credentials' }), { key: W.apiKey });
    assert.equal(creds.status, 200, creds.text);
    assert.deepEqual(assertDocumented(creds, 'get', template), { authType: 'NONE' });
    // The body matches exactly one of the credential shapes.
    const variants = doc.components.schemas.CredentialsResponseDto.oneOf
      .filter((s) => ajv.compile(rebase(s))(creds.json));
    assert.equal(variants.length, 1, `matched ${JSON.stringify(variants)}`);

    const oauthUser = `oauth-${rand()}`;
    assert.equal((await authUrl(server, W.apiKey, oauthCid, oauthUser)).status, 201);
    const conflict = await request(server, 'GET', userPath(oauthCid, oauthUser, { suffix: '/credentials' }), { key: W.apiKey });
    assert.equal(conflict.status, 409, conflict.text);
    assert.equal(assertDocumented(conflict, 'get', template).error, 'Conflict');

    const proxied = await request(server, 'GET', `/v1/proxy/${oauthCid}/${oauthUser}/v1/anything`, { key: W.apiKey });
    assert.equal(proxied.status, 409, proxied.text);
    assertDocumented(proxied, 'get', '/v1/proxy/{customerIntegrationId}/{userId}/{path}');

    const del = await request(server, 'DELETE', userPath(noneCid, userId), { key: W.apiKey });
    assert.equal(del.status, 204, del.text);
    assertDocumented(del, 'delete', '/v1/integrations/{customerIntegrationId}/users/{userId}');
    const gone = await request(server, 'DELETE', userPath(noneCid, userId), { key: W.apiKey });
    assert.equal(gone.status, 404, gone.text);
    assertDocumented(gone, 'delete', '/v1/integrations/{customerIntegrationId}/users/{userId}');
  });

  test('health and readiness match the document', async () => {
    const health = await request(server, 'GET', '/healthz');
    assert.deepEqual(assertDocumented(health, 'get', '/healthz'), { status: 'ok' });
    const ready = await request(server, 'GET', '/readyz');
    assert.equal(ready.status, 200, ready.text);
    assertDocumented(ready, 'get', '/readyz');
  });

  test('GET /docs: one self-contained HTML page with every path, under a strict CSP', async () => {
    const res = await request(server, 'GET', '/docs');
    assert.equal(res.status, 200, res.text.slice(0, 500));
    assert.match(res.headers.get('content-type') || '', /^text\/html\b/i);
    assert.ok(res.headers.get('x-request-id'), 'x-request-id');
    const csp = res.headers.get('content-security-policy') || '';
    assert.match(csp, /(^|;)\s*default-src 'none'\s*(;|$)/, `CSP: ${csp}`);

    const page = res.text;
    for (const [p, item] of Object.entries(doc.paths)) {
      assert.ok(page.includes(p), `/docs lacks the path ${p}`);
      for (const method of METHODS) {
        if (item[method]) assert.ok(page.includes(item[method].operationId), `/docs lacks ${item[method].operationId}`);
      }
    }
    for (const name of Object.keys(doc.components.schemas)) assert.ok(page.includes(name), `/docs lacks schema ${name}`);

    const attrs = [...page.matchAll(/\s(?:src|href|action|srcset|poster|data)\s*=\s*("[^"]*"|'[^']*'|[^\s>]+)/gi)].map((m) => m[1]);
    for (const value of attrs) {
      assert.doesNotMatch(value, /^["']?\s*(https?:)?\/\//i, `external URL in an attribute: ${value}`);
    }
    assert.doesNotMatch(page, /<script\b/i, 'no script');
    assert.doesNotMatch(page, /<link\b[^>]*stylesheet/i, 'no external stylesheet');
    assert.doesNotMatch(page, /@import|url\(/i, 'no stylesheet import or url() in the style');

    // Exactly one inline style, allowed by its hash in the CSP (else browsers drop it).
    const styles = [...page.matchAll(/<style>([\s\S]*?)<\/style>/g)];
    assert.equal(styles.length, 1, 'one <style> element');
    assert.equal((page.match(/<style\b/g) || []).length, 1);
    assert.doesNotMatch(page, /\sstyle\s*=/i, 'no style attribute (the CSP would block it)');
    const hash = crypto.createHash('sha256').update(styles[0][1], 'utf8').digest('base64');
    assert.ok(csp.includes(`'sha256-${hash}'`), `CSP ${csp} should allow the page's style 'sha256-${hash}'`);
  });
});
