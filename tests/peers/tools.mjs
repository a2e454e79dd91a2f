// Fixtures for the tool API and the MCP server (CONTRACT section 10):
//   toolsUpstream       a loopback API whose every answer says what arrived where
//   toolsDefinition     an API_TOKEN custom integration with an inline `tools.openapi`
//   oauthToolsDefinition the same operations on an OAUTH2 integration (startFakeOAuth)
//   mcpClient           the official TypeScript client on /v1/mcp
//
// The OpenAPI document declares, for createItem, a path parameter, a query parameter, a
// header parameter and a JSON body: the upstream echoes each from where the operation
// puts it, so a test can check that the arguments landed in the declared places, and
// that the user's credential arrived in the declared header.

import { Client } from '@modelcontextprotocol/sdk/client/index.js';
import { StreamableHTTPClientTransport } from '@modelcontextprotocol/sdk/client/streamableHttp.js';

import { startUpstream } from './lifecycle.mjs';

/**
 * The upstream under `/api`. `credentialOk(rec)` decides whether the request carries a
 * valid credential (else 401). Answers:
 *   POST /api/orgs/{org}/items  201 {org, dryRun, trace, body, auth}
 *   GET  /api/items/{id}        200 {id, auth}
 *   GET  /api/status/{code}     that status, {error: "status <code>"}
 *   GET  /api/text              200 text/plain
 *   GET  /api/bulk/{n}          200 {n}
 * With `held` ({waiting: 0, release: Promise}), GET /api/items/held counts itself in
 * `held.waiting` and answers once `held.release` resolves.
 */
export async function toolsUpstream({ credentialOk = () => true, held } = {}) {
  return startUpstream(async (rec) => {
    if (!credentialOk(rec)) return { status: 401, body: JSON.stringify({ error: 'invalid_token' }) };
    if (held && rec.method === 'GET' && rec.path === '/api/items/held') {
      held.waiting += 1;
      await held.release;
    }
    const auth = rec.headers['x-token'] ?? rec.headers.authorization ?? null;
    const q = new URLSearchParams(rec.url.split('?')[1] ?? '');
    let m;
    if (rec.method === 'POST' && (m = /^\/api\/orgs\/([^/]+)\/items$/.exec(rec.path))) {
      return {
        status: 201,
        body: JSON.stringify({
          org: decodeURIComponent(m[1]), dryRun: q.get('dryRun'), trace: rec.headers['x-trace'] ?? null,
          contentType: rec.headers['content-type'] ?? null, body: JSON.parse(rec.body.toString('utf8') || 'null'), auth,
        }),
      };
    }
    if (rec.method === 'GET' && (m = /^\/api\/items\/([^/]+)$/.exec(rec.path))) {
      return { body: JSON.stringify({ id: decodeURIComponent(m[1]), auth }) };
    }
    if (rec.method === 'DELETE' && (m = /^\/api\/items\/([^/]+)$/.exec(rec.path))) {
      return { status: 204, body: '' };
    }
    if ((m = /^\/api\/status\/(\d{3})$/.exec(rec.path))) {
      return { status: Number(m[1]), body: JSON.stringify({ error: `status ${m[1]}` }) };
    }
    if (rec.path === '/api/text') return { headers: { 'content-type': 'text/plain' }, body: 'plain words' };
    if ((m = /^\/api\/bulk\/(\d+)$/.exec(rec.path))) return { body: JSON.stringify({ n: Number(m[1]) }) };
    return { status: 404, body: JSON.stringify({ error: 'no such route' }) };
  });
}

/** An OpenAPI 3.1 document for toolsUpstream, with `bulk` extra operations. */
export function toolsOpenApi(upstream, { bulk = 0 } = {}) {
  const paths = {
    '/orgs/{org}/items': {
      post: {
        operationId: 'createItem',
        summary: 'Create an item',
        description: 'Creates an item in an organisation.',
        parameters: [
          { name: 'org', in: 'path', required: true, schema: { type: 'string' } },
          { name: 'dryRun', in: 'query', schema: { type: 'boolean' } },
          { name: 'X-Trace', in: 'header', schema: { type: 'string' } },
        ],
        requestBody: {
          required: true,
          content: {
            'application/json': {
              schema: {
                type: 'object',
                required: ['title'],
                properties: { title: { type: 'string' }, tags: { type: 'array', items: { type: 'string' } } },
              },
            },
          },
        },
        responses: { 201: { description: 'created' } },
      },
    },
    '/items/{id}': {
      get: {
        operationId: 'getItem',
        summary: 'Get an item',
        parameters: [{ name: 'id', in: 'path', required: true, schema: { type: 'string' } }],
        responses: { 200: { description: 'ok' } },
      },
      delete: {
        operationId: 'deleteItem',
        summary: 'Delete an item',
        parameters: [{ name: 'id', in: 'path', required: true, schema: { type: 'string' } }],
        responses: { 204: { description: 'gone' } },
      },
    },
    '/status/{code}': {
      get: {
        operationId: 'status',
        summary: 'Answer with a status',
        parameters: [{ name: 'code', in: 'path', required: true, schema: { type: 'integer' } }],
        responses: { default: { description: 'any' } },
      },
    },
    '/text': {
      get: { operationId: 'text', summary: 'Plain text', responses: { 200: { description: 'ok' } } },
    },
  };
  for (let i = 0; i < bulk; i++) {
    paths[`/bulk/${i}`] = {
      get: { operationId: `bulk${String(i).padStart(3, '0')}`, summary: `Bulk ${i}`, responses: { 200: { description: 'ok' } } },
    };
  }
  return {
    openapi: '3.1.0',
    info: { title: 'Tools test API', version: '1.0.0' },
    servers: [{ url: `${upstream.url}/api` }],
    components: { securitySchemes: { token: { type: 'apiKey', in: 'header', name: 'X-Token' } } },
    security: [{ token: [] }],
    paths,
  };
}

/** An API_TOKEN custom integration (token in `X-Token: Token …`) with the document's tools. */
export function toolsDefinition(integrationId, upstream, { bulk = 0 } = {}) {
  return {
    integrationId,
    name: `Tools ${integrationId}`,
    host: '127.0.0.1',
    apiBaseUrl: `${upstream.url}/api`,
    authTypes: ['API_TOKEN'],
    apiToken: { header: 'X-Token', prefix: 'Token ' },
    tools: { openapi: toolsOpenApi(upstream, { bulk }) },
  };
}

/**
 * The official client, connected to `/v1/mcp` as `userId`. `elicitation` declares URL
 * elicitation; `headers` adds request headers (an Origin).
 */
export async function mcpClient(server, apiKey, userId, { elicitation = false, headers = {}, url } = {}) {
  const transport = new StreamableHTTPClientTransport(new URL(url ?? `${server.url}/v1/mcp`), {
    requestInit: { headers: { 'x-api-key': apiKey, 'x-user-id': userId, ...headers } },
  });
  const capabilities = elicitation ? { elicitation: { url: {} } } : {};
  const client = new Client({ name: 'toolregistry-blackbox', version: '1.0.0' }, { capabilities });
  await client.connect(transport);
  return { client, transport };
}
