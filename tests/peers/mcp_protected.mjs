// An OAuth-protected MCP endpoint as far as discovery sees it, with a real authorization
// server behind it: `oidc-provider` on 127.0.0.1:0 with dynamic registration (RFC 7591) and
// resource indicators on, and a small HTTP server whose /mcp answers 401 with a Bearer
// challenge naming its RFC 9728 metadata. Only discovery and registration are served here;
// the MCP tools behind a valid token come with the tool service's tests.

import http from 'node:http';
import crypto from 'node:crypto';

import Provider from 'oidc-provider';

import { closeServer } from './http.mjs';
import './oidc.mjs'; // for its filter of oidc-provider's development notices

function listen(server) {
  return new Promise((resolve, reject) => {
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => resolve(server.address().port));
  });
}

/** Resolves to {mcpUrl, issuer, close()}. */
export async function startProtectedMcp() {
  const asServer = http.createServer((req, res) => handler(req, res));
  let handler = (_req, res) => { res.writeHead(503); res.end(); };
  const asPort = await listen(asServer);
  const issuer = `http://127.0.0.1:${asPort}`;

  const mcp = http.createServer((req, res) => {
    const base = `http://127.0.0.1:${mcp.address().port}`;
    if (req.url === '/.well-known/oauth-protected-resource/mcp') {
      res.writeHead(200, { 'content-type': 'application/json' });
      res.end(JSON.stringify({ resource: `${base}/mcp`, authorization_servers: [issuer],
        scopes_supported: ['openid', 'offline_access'] }));
      return;
    }
    if (req.url === '/mcp') {
      res.writeHead(401, { 'www-authenticate':
        `Bearer resource_metadata="${base}/.well-known/oauth-protected-resource/mcp", scope="openid offline_access"` });
      res.end();
      return;
    }
    res.writeHead(404);
    res.end();
  });
  const mcpPort = await listen(mcp);
  const mcpUrl = `http://127.0.0.1:${mcpPort}/mcp`;

  const provider = new Provider(issuer, {
    scopes: ['openid', 'offline_access'],
    pkce: { required: () => true },
    features: {
      devInteractions: { enabled: true },
      registration: { enabled: true },
      resourceIndicators: {
        enabled: true,
        defaultResource: () => mcpUrl,
        useGrantedResource: () => true,
        getResourceServerInfo: () => ({ scope: 'openid offline_access', audience: mcpUrl }),
      },
    },
    cookies: { keys: [crypto.randomBytes(16).toString('hex')] },
    findAccount: async (_ctx, sub) => ({ accountId: sub, claims: async () => ({ sub }) }),
  });
  handler = provider.callback();

  return {
    mcpUrl,
    issuer,
    close: async () => {
      await closeServer(mcp);
      await closeServer(asServer);
    },
  };
}
