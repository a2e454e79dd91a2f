// A real OpenID Connect provider (npm `oidc-provider`) on 127.0.0.1:0, for the
// OAUTH2 connect flow. Its development interactions give a login page (any
// login and password) and a consent page ("Continue", "[ Cancel ]").
//
// It requires PKCE (S256) from every client, issues refresh tokens for
// `offline_access` (which it grants only with prompt=consent), sends `iss` on
// the authorization response (RFC 9207), and records what it saw:
//   authRequests   query of every GET /auth (URLSearchParams)
//   tokenRequests  every POST /token: {status, clientId, authScheme, grantType,
//                  codeVerifier, body} where body is the JSON the provider answered
//   events         counts of the provider's events (grant.success, grant.error, …)

import http from 'node:http';
import crypto from 'node:crypto';

import Provider from 'oidc-provider';

import { closeServer } from './http.mjs';

// oidc-provider prints development-only notices (in-memory adapter, dev
// interactions, generated keys) on every start; they are expected here.
for (const level of ['warn', 'info']) {
  const orig = console[level].bind(console);
  console[level] = (...args) => {
    if (typeof args[0] === 'string' && args[0].startsWith('oidc-provider ')) return;
    orig(...args);
  };
}

/**
 * Starts the provider. `clients` are oidc-provider client metadata objects
 * (client_id, client_secret, redirect_uris, token_endpoint_auth_method…);
 * grant_types and response_types default to the authorization-code grant
 * with refresh tokens.
 */
export async function startOidcProvider({ clients }) {
  const requests = { auth: [], token: [] };
  const events = {};
  let handler = (req, res) => { res.writeHead(503); res.end(); };
  const server = http.createServer((req, res) => handler(req, res));
  server.keepAliveTimeout = 1000;
  await new Promise((resolve, reject) => {
    server.once('error', reject);
    server.listen(0, '127.0.0.1', resolve);
  });
  const { port } = server.address();
  const issuer = `http://127.0.0.1:${port}`;

  const provider = new Provider(issuer, {
    clients: clients.map((c) => ({
      grant_types: ['authorization_code', 'refresh_token'],
      response_types: ['code'],
      ...c,
    })),
    scopes: ['openid', 'offline_access'],
    pkce: { required: () => true },
    features: { devInteractions: { enabled: true } },
    cookies: { keys: [crypto.randomBytes(16).toString('hex')] },
    // A refresh token whenever the client may use one and the user granted
    // offline_access (which needs prompt=consent).
    issueRefreshToken: async (_ctx, client, code) => client.grantTypeAllowed('refresh_token')
      && code.scopes.has('offline_access'),
    findAccount: async (_ctx, sub) => ({ accountId: sub, claims: async () => ({ sub }) }),
    ttl: { AccessToken: 3600, AuthorizationCode: 60, Grant: 3600, Interaction: 600, Session: 3600 },
  });

  for (const ev of ['grant.success', 'grant.error', 'authorization.success', 'authorization.error',
    'server_error', 'access_token.saved', 'refresh_token.saved', 'authorization_code.consumed']) {
    provider.on(ev, (...args) => {
      events[ev] = (events[ev] || 0) + 1;
      if (ev === 'server_error') console.error('oidc-provider server_error:', args[1]);
    });
  }

  provider.use(async (ctx, next) => {
    if (ctx.method === 'GET' && ctx.path === '/auth') {
      requests.auth.push(new URLSearchParams(ctx.querystring));
    }
    await next();
    if (ctx.method === 'POST' && ctx.path === '/token') {
      const auth = ctx.get('authorization') || '';
      requests.token.push({
        status: ctx.status,
        clientId: ctx.oidc?.client?.clientId,
        authScheme: auth.split(' ')[0] || undefined,
        grantType: ctx.oidc?.params?.grant_type,
        codeVerifier: ctx.oidc?.params?.code_verifier,
        body: ctx.body && typeof ctx.body === 'object' ? { ...ctx.body } : ctx.body,
      });
    }
  });

  handler = provider.callback();

  return {
    issuer,
    url: issuer,
    port,
    provider,
    authRequests: requests.auth,
    tokenRequests: requests.token,
    events,
    /** Successful token responses (access_token and refresh_token values). */
    issuedTokens() {
      return requests.token.filter((t) => t.status === 200 && t.body?.access_token).map((t) => t.body);
    },
    close: () => closeServer(server),
  };
}

/** A definition (CONTRACT section 8) for a custom OAUTH2 integration at `issuer`. */
export function oidcDefinition(integrationId, issuer, overrides = {}) {
  return {
    integrationId,
    name: `Test OIDC ${integrationId}`,
    description: 'local oidc-provider',
    host: '127.0.0.1',
    authTypes: ['OAUTH2'],
    oauth2: {
      authorizationUrl: `${issuer}/auth`,
      tokenUrl: `${issuer}/token`,
      scopes: ['openid', 'offline_access'],
      authorizationParams: { prompt: 'consent' },
      tokenEndpointAuthMethod: 'client_secret_basic',
      pkce: true,
      issuer,
      ...overrides,
    },
  };
}
