// An OAuth-protected MCP server on loopback with a real authorization server behind it:
// - the authorization server is npm `oidc-provider` on 127.0.0.1:0, with dynamic
//   registration (RFC 7591) and resource indicators (RFC 8707) on, PKCE S256 required, and
//   its development login and consent pages;
// - the MCP server is the official SDK's `McpServer` behind `StreamableHTTPServerTransport`
//   (a fresh transport per request, stateless), guarded by the SDK's `requireBearerAuth`,
//   whose verifier looks each token up in the provider (an opaque token it issued, not
//   expired, not revoked) and reports its audience as the resource; the middleware refuses
//   a token issued for another resource. Its 401 names the RFC 9728 metadata, served at
//   /.well-known/oauth-protected-resource/mcp.
// Tools: `whoami` (the token's subject, client and audience as structured content) and
// `add` ({a, b} -> a + b).
//
// Options, for the discovery failures: `metadata: false` serves no protected-resource
// metadata (and names none in the challenge); `challengeMetadata: false` serves it but names
// none in the challenge (the client finds it at the well-known URL); `refuseRegistration:
// true` makes the registration endpoint answer 400 invalid_client_metadata; `registration:
// false` turns registration off; `accessTokenTtl` (seconds) makes short-lived tokens; `host`
// is the address both servers listen on and name in their URLs (default 127.0.0.1; a test
// network namespace gives a public one, tests/lib/netns.mjs); `tls: {key, cert}` makes the
// MCP server (and so its metadata) HTTPS, and with `tlsIssuer: true` the authorization
// server too (plain HTTP otherwise).
// `setMetadata(false)` stops serving the metadata later, with the challenge unchanged.
//
// Records: `seen` (every verified MCP request: {token, aud, clientId, sub}), `authRequests`
// (the query of every GET /auth), `tokenRequests` ({grantType, status, resource, at}),
// `registrations` (answers of POST /reg).

import http from 'node:http';
import https from 'node:https';
import crypto from 'node:crypto';

import express from 'express';
import Provider from 'oidc-provider';
import { z } from 'zod';
import { McpServer } from '@modelcontextprotocol/sdk/server/mcp.js';
import { StreamableHTTPServerTransport } from '@modelcontextprotocol/sdk/server/streamableHttp.js';
import { requireBearerAuth } from '@modelcontextprotocol/sdk/server/auth/middleware/bearerAuth.js';
import { InvalidTokenError } from '@modelcontextprotocol/sdk/server/auth/errors.js';

import { closeServer } from './http.mjs';
import './oidc.mjs'; // for its filter of oidc-provider's development notices

function listen(server, host) {
  return new Promise((resolve, reject) => {
    server.once('error', reject);
    server.listen(0, host, () => resolve(server.address().port));
  });
}

function mcpServer(auth) {
  const server = new McpServer({ name: 'protected-test', version: '1.0.0' });
  server.registerTool('whoami', { description: 'Who the token is for' }, async (extra) => {
    const info = extra.authInfo || auth;
    const who = { sub: info?.extra?.sub, clientId: info?.clientId, aud: String(info?.resource ?? '') };
    return { content: [{ type: 'text', text: JSON.stringify(who) }], structuredContent: who };
  });
  server.registerTool('add', {
    description: 'Adds two numbers',
    inputSchema: { a: z.number(), b: z.number() },
  }, async ({ a, b }) => ({ content: [{ type: 'text', text: String(a + b) }] }));
  return server;
}

/** Resolves to {mcpUrl, issuer, provider, seen, tokenRequests, registrations, revokeGrantOf(token), close()}. */
export async function startProtectedMcp({
  metadata = true, challengeMetadata = metadata, registration = true, refuseRegistration = false,
  accessTokenTtl = 3600, host = '127.0.0.1', tls, tlsIssuer = false,
} = {}) {
  let serveMetadata = metadata;
  let asHandler = (_req, res) => { res.writeHead(503); res.end(); };
  const registrations = [];
  const asHandle = (req, res) => {
    if (refuseRegistration && req.method === 'POST' && req.url === '/reg') {
      res.writeHead(400, { 'content-type': 'application/json' });
      res.end(JSON.stringify({ error: 'invalid_client_metadata', error_description: 'registration is closed' }));
      return;
    }
    asHandler(req, res);
  };
  const asServer = tlsIssuer ? https.createServer({ key: tls.key, cert: tls.cert }, asHandle) : http.createServer(asHandle);
  const asPort = await listen(asServer, host);
  const issuer = `${tlsIssuer ? 'https' : 'http'}://${host}:${asPort}`;

  const app = express();
  const mcp = tls ? https.createServer({ key: tls.key, cert: tls.cert }, app) : http.createServer(app);
  const mcpPort = await listen(mcp, host);
  const base = `${tls ? 'https' : 'http'}://${host}:${mcpPort}`;
  const mcpUrl = `${base}/mcp`;
  const metadataUrl = `${base}/.well-known/oauth-protected-resource/mcp`;

  const provider = new Provider(issuer, {
    scopes: ['openid', 'offline_access'],
    pkce: { required: () => true },
    features: {
      devInteractions: { enabled: true },
      registration: { enabled: registration },
      revocation: { enabled: true },
      resourceIndicators: {
        enabled: true,
        defaultResource: () => mcpUrl,
        useGrantedResource: () => true,
        getResourceServerInfo: () => ({
          scope: 'openid offline_access', audience: mcpUrl, accessTokenTTL: accessTokenTtl,
          accessTokenFormat: 'opaque',
        }),
      },
    },
    // A refresh token for every client allowed to use one (no prompt=consent needed).
    issueRefreshToken: async (_ctx, client) => client.grantTypeAllowed('refresh_token'),
    cookies: { keys: [crypto.randomBytes(16).toString('hex')] },
    findAccount: async (_ctx, sub) => ({ accountId: sub, claims: async () => ({ sub }) }),
    ttl: { AccessToken: accessTokenTtl, AuthorizationCode: 60, Grant: 3600, Interaction: 600, Session: 3600,
      RefreshToken: 3600 },
  });
  const tokenRequests = [];
  const authRequests = [];
  provider.use(async (ctx, next) => {
    if (ctx.method === 'GET' && ctx.path === '/auth') authRequests.push(new URLSearchParams(ctx.querystring));
    await next();
    if (ctx.method === 'POST' && ctx.path === '/token') {
      tokenRequests.push({ grantType: ctx.oidc?.params?.grant_type, status: ctx.status,
        resource: ctx.oidc?.params?.resource, at: Date.now() });
    }
    if (ctx.method === 'POST' && ctx.path === '/reg') registrations.push({ status: ctx.status });
  });
  provider.on('server_error', (_ctx, err) => console.error('oidc-provider server_error:', err));
  asHandler = provider.callback();

  const seen = [];
  const verifier = {
    async verifyAccessToken(token) {
      const at = await provider.AccessToken.find(token);
      if (!at) throw new InvalidTokenError('unknown, expired or revoked token');
      const aud = Array.isArray(at.aud) ? at.aud[0] : at.aud;
      seen.push({ token, aud, clientId: at.clientId, sub: at.accountId });
      return {
        token, clientId: at.clientId, scopes: (at.scope || '').split(' ').filter(Boolean),
        expiresAt: at.exp, resource: aud ? new URL(aud) : undefined, extra: { sub: at.accountId },
      };
    },
  };

  if (metadata) {
    app.get('/.well-known/oauth-protected-resource/mcp', (_req, res, next) => {
      if (!serveMetadata) return next();
      return res.json({ resource: mcpUrl, authorization_servers: [issuer], scopes_supported: ['openid', 'offline_access'] });
    });
  }
  const bearer = requireBearerAuth({
    verifier, expectedResource: new URL(mcpUrl),
    ...(challengeMetadata ? { resourceMetadataUrl: metadataUrl } : {}),
  });
  app.post('/mcp', express.json(), bearer, async (req, res) => {
    const server = mcpServer(req.auth);
    const transport = new StreamableHTTPServerTransport({ sessionIdGenerator: undefined });
    res.on('close', () => { transport.close(); server.close(); });
    await server.connect(transport);
    await transport.handleRequest(req, res, req.body);
  });
  app.all('/mcp', bearer, (_req, res) => res.status(405).set('allow', 'POST').end());

  return {
    mcpUrl,
    issuer,
    provider,
    seen,
    authRequests,
    tokenRequests,
    registrations,
    /** Serves the protected-resource metadata (true) or answers 404 for it (false). */
    setMetadata(on) { serveMetadata = on; },
    /** Revokes the grant behind an access token the MCP server saw: its tokens die with it. */
    async revokeGrantOf(token) {
      const at = await provider.AccessToken.find(token);
      if (!at) throw new Error('no such access token');
      for (const model of [provider.AccessToken, provider.RefreshToken, provider.AuthorizationCode]) {
        await model.revokeByGrantId(at.grantId);
      }
      const grant = await provider.Grant.find(at.grantId);
      await grant?.destroy();
    },
    close: async () => {
      await closeServer(mcp);
      await closeServer(asServer);
    },
  };
}
