// A local AWS STS endpoint for the AWS_ASSUME_ROLE connect flow. It checks
// every request's Signature V4 independently (npm `aws4` re-signs the received
// request with the same credentials and the request's own X-Amz-Date) and
// answers like STS:
//   account 999999999999        -> 403 ErrorResponse AccessDenied
//   role name "Garbage"         -> 200 with a body that is not XML
//   role name "Broken"          -> 500 InternalFailure
//   anything else               -> 200 AssumeRoleResponse with fresh credentials
// A bad signature is a 403 SignatureDoesNotMatch.

import crypto from 'node:crypto';

import aws4 from 'aws4';

import { startPeer } from './http.mjs';

const NS = 'https://sts.amazonaws.com/doc/2011-06-15/';

export const STS_ACCESS_KEY_ID = 'AKIATESTTOOLREGISTRY';

/** Service credentials for toolregistry (env AWS_ACCESS_KEY_ID / AWS_SECRET_ACCESS_KEY). */
export function serviceCredentials() {
  return {
    accessKeyId: STS_ACCESS_KEY_ID,
    secretAccessKey: crypto.randomBytes(30).toString('base64').replace(/[+/=]/g, 'x'),
  };
}

/**
 * Checks the SigV4 Authorization of a recorded request (see startPeer) made
 * with `credentials` for service sts in `region`. Returns {ok, reason}.
 */
export function verifySigV4(rec, credentials, region) {
  const auth = rec.headers.authorization || '';
  const m = /^AWS4-HMAC-SHA256 Credential=([^/\s]+)\/(\d{8})\/([^/\s]+)\/([^/\s]+)\/aws4_request,\s*SignedHeaders=([a-z0-9;_-]+),\s*Signature=([0-9a-f]{64})$/.exec(auth);
  if (!m) return { ok: false, reason: `malformed Authorization header: "${auth}"` };
  const [, akid, date, reg, service, signedList, signature] = m;
  if (akid !== credentials.accessKeyId) return { ok: false, reason: `access key id ${akid}` };
  if (reg !== region) return { ok: false, reason: `region ${reg}, expected ${region}` };
  if (service !== 'sts') return { ok: false, reason: `service ${service}` };
  const amzDate = rec.headers['x-amz-date'];
  if (!/^\d{8}T\d{6}Z$/.test(amzDate || '')) return { ok: false, reason: `X-Amz-Date "${amzDate}"` };
  if (amzDate.slice(0, 8) !== date) return { ok: false, reason: 'credential date differs from X-Amz-Date' };
  const t = Date.parse(`${amzDate.slice(0, 4)}-${amzDate.slice(4, 6)}-${amzDate.slice(6, 8)}T${amzDate.slice(9, 11)}:${amzDate.slice(11, 13)}:${amzDate.slice(13, 15)}Z`);
  if (!(Math.abs(Date.now() - t) < 5 * 60_000)) return { ok: false, reason: `X-Amz-Date ${amzDate} is not now` };
  const signed = signedList.split(';');
  for (const h of ['host', 'x-amz-date']) {
    if (!signed.includes(h)) return { ok: false, reason: `${h} is not signed (SignedHeaders=${signedList})` };
  }
  if ([...signed].sort().join(';') !== signedList) return { ok: false, reason: 'SignedHeaders not sorted' };
  const sha = rec.headers['x-amz-content-sha256'];
  if (sha !== undefined && sha !== crypto.createHash('sha256').update(rec.body).digest('hex')) {
    return { ok: false, reason: 'X-Amz-Content-Sha256 does not match the body' };
  }
  const headers = {};
  for (const h of signed) {
    if (rec.headers[h] === undefined) return { ok: false, reason: `signed header ${h} missing` };
    headers[h] = rec.headers[h];
  }
  const signer = new aws4.RequestSigner({
    method: rec.method,
    host: headers.host,
    path: rec.url,
    headers,
    body: rec.body,
    service: 'sts',
    region,
    doNotModifyHeaders: true,
    extraHeadersToInclude: Object.fromEntries(signed.map((h) => [h, true])),
  }, credentials);
  signer.datetime = amzDate;
  const expected = signer.sign().headers.Authorization;
  const em = /Signature=([0-9a-f]{64})$/.exec(expected);
  if (!em || em[1] !== signature) return { ok: false, reason: 'signature does not match' };
  if (!expected.includes(`SignedHeaders=${signedList},`)) return { ok: false, reason: 'signed header list differs' };
  return { ok: true };
}

function errorXml(code, message) {
  return `<ErrorResponse xmlns="${NS}">\n  <Error>\n    <Type>Sender</Type>\n    <Code>${code}</Code>\n    <Message>${message}</Message>\n  </Error>\n  <RequestId>${crypto.randomUUID()}</RequestId>\n</ErrorResponse>\n`;
}

/**
 * Starts the STS peer. `credentials` are the service credentials it expects
 * toolregistry to sign with. Returns the peer plus `issued` (every set of
 * temporary credentials it handed out) and `calls` (each request with
 * {form, sig}).
 */
export async function startSts({ credentials, region = 'us-east-1' }) {
  const issued = [];
  const calls = [];
  const peer = await startPeer((req, res, rec) => {
    const sig = verifySigV4(rec, credentials, region);
    const form = new URLSearchParams(rec.body.toString('utf8'));
    calls.push({ rec, form, sig });
    const xml = (status, body) => {
      res.writeHead(status, { 'content-type': 'text/xml', 'x-amzn-requestid': crypto.randomUUID() });
      res.end(body);
    };
    if (!sig.ok) return xml(403, errorXml('SignatureDoesNotMatch', `The request signature we calculated does not match the signature you provided (${sig.reason})`));
    if (rec.method !== 'POST' || form.get('Action') !== 'AssumeRole' || form.get('Version') !== '2011-06-15') {
      return xml(400, errorXml('InvalidAction', 'Could not find operation'));
    }
    const roleArn = form.get('RoleArn') || '';
    const parts = roleArn.split(':');
    const roleName = roleArn.split('/').pop();
    if (parts[4] === '999999999999') {
      return xml(403, errorXml('AccessDenied', `User: arn:aws:iam::111122223333:user/toolregistry is not authorized to perform: sts:AssumeRole on resource: ${roleArn}`));
    }
    if (roleName === 'Garbage') {
      res.writeHead(200, { 'content-type': 'text/plain' });
      return res.end('this is not the STS you are looking for');
    }
    if (roleName === 'Broken') return xml(500, errorXml('InternalFailure', 'oops'));
    const sessionName = form.get('RoleSessionName') || 'session';
    const creds = {
      accessKeyId: `ASIA${crypto.randomBytes(8).toString('hex').toUpperCase()}`,
      secretAccessKey: crypto.randomBytes(30).toString('base64'),
      sessionToken: `FwoGZXIvYXdzE${crypto.randomBytes(96).toString('base64')}`,
      expiration: new Date(Date.now() + Number(form.get('DurationSeconds') || 3600) * 1000).toISOString().replace(/\.\d{3}Z$/, 'Z'),
    };
    issued.push(creds);
    return xml(200, `<AssumeRoleResponse xmlns="${NS}">
  <AssumeRoleResult>
    <SourceIdentity>toolregistry</SourceIdentity>
    <AssumedRoleUser>
      <Arn>arn:aws:sts::${parts[4]}:assumed-role/${roleName}/${sessionName}</Arn>
      <AssumedRoleId>AROA${crypto.randomBytes(8).toString('hex').toUpperCase()}:${sessionName}</AssumedRoleId>
    </AssumedRoleUser>
    <Credentials>
      <AccessKeyId>${creds.accessKeyId}</AccessKeyId>
      <SecretAccessKey>${creds.secretAccessKey}</SecretAccessKey>
      <SessionToken>${creds.sessionToken}</SessionToken>
      <Expiration>${creds.expiration}</Expiration>
    </Credentials>
    <PackedPolicySize>6</PackedPolicySize>
  </AssumeRoleResult>
  <ResponseMetadata>
    <RequestId>${crypto.randomUUID()}</RequestId>
  </ResponseMetadata>
</AssumeRoleResponse>
`);
  });
  return { ...peer, issued, calls, region };
}

/** toolregistry serve flags (and env) for this STS peer. */
export function stsServerOptions(sts, env, credentials, principalArn) {
  return {
    env: { ...env, AWS_ACCESS_KEY_ID: credentials.accessKeyId, AWS_SECRET_ACCESS_KEY: credentials.secretAccessKey },
    extraArgs: [
      '--allow-private-network',
      '--aws-sts-endpoint', `${sts.url}/`,
      '--aws-region', sts.region,
      '--aws-principal-arn', principalArn,
    ],
  };
}
