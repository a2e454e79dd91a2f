// A local Google OAuth token endpoint for the GOOGLE_SERVICE_ACCOUNT_OAUTH
// connect flow, and service-account JSON keys made with node:crypto.
//
// The endpoint takes grant_type=urn:ietf:params:oauth:grant-type:jwt-bearer
// with an RS256 `assertion`, verifies it with npm `jose` against the public
// key registered for its `iss` (the client_email), with audience = the
// token_uri, and checks the scope claim and the lifetime; then answers
// {access_token, expires_in, token_type} like Google does.

import crypto from 'node:crypto';

import { jwtVerify, decodeJwt, decodeProtectedHeader } from 'jose';

import { startPeer } from './http.mjs';

export const JWT_BEARER = 'urn:ietf:params:oauth:grant-type:jwt-bearer';

/**
 * A service-account key file (what the Google Cloud console downloads) for
 * `tokenUri`. Returns {json, text, clientEmail, privateKeyPem, publicKey}.
 * `signWith` puts another key pair's private key into the file (so that the
 * endpoint, which knows the first pair's public key, rejects the assertion).
 */
export function makeServiceAccountKey({ tokenUri, modulusLength = 2048, name = `sa-${crypto.randomBytes(3).toString('hex')}`, signWith } = {}) {
  const { publicKey, privateKey } = crypto.generateKeyPairSync('rsa', { modulusLength });
  const privateKeyPem = (signWith || privateKey).export({ type: 'pkcs8', format: 'pem' }).toString();
  const clientEmail = `${name}@test-project.iam.gserviceaccount.com`;
  const json = {
    type: 'service_account',
    project_id: 'test-project',
    private_key_id: crypto.randomBytes(20).toString('hex'),
    private_key: privateKeyPem,
    client_email: clientEmail,
    client_id: String(100000000000000000000n + BigInt(crypto.randomInt(1e9))),
    auth_uri: 'https://accounts.google.com/o/oauth2/auth',
    token_uri: tokenUri,
    auth_provider_x509_cert_url: 'https://www.googleapis.com/oauth2/v1/certs',
    client_x509_cert_url: `https://www.googleapis.com/robot/v1/metadata/x509/${encodeURIComponent(clientEmail)}`,
    universe_domain: 'googleapis.com',
  };
  return { json, text: JSON.stringify(json, null, 2), clientEmail, privateKeyPem, publicKey };
}

/**
 * Starts the token endpoint at `<url>/token`. `expectedScope` is the scope
 * claim it requires (space-separated). Register keys with `register(key)`.
 * Records every call in `calls` ({rec, ok, reason, claims, header}) and every
 * access token it issued in `issued`.
 */
export async function startGoogleTokenEndpoint({ expectedScope }) {
  const keys = new Map();
  const calls = [];
  const issued = [];
  let tokenUri;
  const peer = await startPeer(async (req, res, rec) => {
    const call = { rec, ok: false };
    calls.push(call);
    const fail = (status, error, reason) => {
      call.reason = reason;
      res.writeHead(status, { 'content-type': 'application/json' });
      res.end(JSON.stringify({ error, error_description: reason }));
    };
    if (rec.method !== 'POST' || rec.path !== '/token') return fail(404, 'not_found', `${rec.method} ${rec.path}`);
    if (!/^application\/x-www-form-urlencoded\b/i.test(rec.headers['content-type'] || '')) {
      return fail(400, 'invalid_request', `content-type ${rec.headers['content-type']}`);
    }
    const form = new URLSearchParams(rec.body.toString('utf8'));
    call.form = form;
    if (form.get('grant_type') !== JWT_BEARER) return fail(400, 'unsupported_grant_type', `grant_type ${form.get('grant_type')}`);
    const assertion = form.get('assertion') || '';
    let iss;
    try {
      call.header = decodeProtectedHeader(assertion);
      iss = decodeJwt(assertion).iss;
    } catch (err) {
      return fail(400, 'invalid_grant', `not a JWT: ${err.message}`);
    }
    const key = keys.get(iss);
    if (!key) return fail(400, 'invalid_grant', `unknown service account ${iss}`);
    let payload;
    try {
      ({ payload } = await jwtVerify(assertion, key.publicKey, {
        algorithms: ['RS256'], audience: tokenUri, issuer: key.clientEmail, requiredClaims: ['iat', 'exp'],
      }));
    } catch (err) {
      return fail(400, 'invalid_grant', `Invalid JWT: ${err.code || ''} ${err.message}`);
    }
    call.claims = payload;
    if (payload.scope !== expectedScope) return fail(400, 'invalid_scope', `scope "${payload.scope}", expected "${expectedScope}"`);
    if (!(payload.exp > payload.iat && payload.exp - payload.iat <= 3600)) return fail(400, 'invalid_grant', 'lifetime over one hour');
    if (Math.abs(payload.iat - Date.now() / 1000) > 300) return fail(400, 'invalid_grant', 'iat is not now');
    call.ok = true;
    const accessToken = `ya29.${crypto.randomBytes(48).toString('base64url')}`;
    issued.push(accessToken);
    res.writeHead(200, { 'content-type': 'application/json' });
    res.end(JSON.stringify({ access_token: accessToken, expires_in: 3599, token_type: 'Bearer' }));
  });
  tokenUri = `${peer.url}/token`;
  return {
    ...peer,
    tokenUri,
    calls,
    issued,
    /** Accepts assertions signed for this key (its iss / client_email). */
    register(key) { keys.set(key.clientEmail, key); return key; },
  };
}
