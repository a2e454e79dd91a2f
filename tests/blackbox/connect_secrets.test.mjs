// CONTRACT section 5: credentials are stored encrypted and no secret appears
// in a log line. One server runs the OAUTH2, API_TOKEN, AWS_ASSUME_ROLE and
// GOOGLE_SERVICE_ACCOUNT_OAUTH flows in a browser; then the SQLite files
// (tr.db, tr.db-wal, tr.db-shm), or a pg_dump on PostgreSQL, and everything the server wrote on stdout and
// stderr are searched, as raw bytes, for every secret that went through it.

import { describe, test, before, after } from 'node:test';
import assert from 'node:assert/strict';

import { Context, getUser, assertUser, rand } from '../lib/harness.mjs';
import { launchBrowser, queryOf, submitAndWait } from '../lib/browser.mjs';
import { startPeer, startApp, defineIntegration, connectLink } from '../peers/http.mjs';
import { startOidcProvider, oidcDefinition } from '../peers/oidc.mjs';
import { startSts, serviceCredentials, stsServerOptions } from '../peers/sts.mjs';
import { startGoogleTokenEndpoint, makeServiceAccountKey } from '../peers/google.mjs';
import { scaled } from '../lib/timeouts.mjs';

const SCOPES = ['https://www.googleapis.com/auth/bigquery'];

describe('connect_secrets', { concurrency: 1, timeout: scaled(180_000) }, () => {
  const ctx = new Context();
  let server;
  let sts;
  let google;
  let verifier;
  let op;
  let app;
  let browser;
  let W;
  let gKey;
  let stderrLog = '';
  const awsCreds = serviceCredentials();
  const clientSecret = `cs-secret-${rand(16)}`;
  const apiToken = `tok_${rand(20)}`;
  const cids = {};

  before(async () => {
    sts = await startSts({ credentials: awsCreds });
    google = await startGoogleTokenEndpoint({ expectedScope: SCOPES.join(' ') });
    gKey = google.register(makeServiceAccountKey({ tokenUri: google.tokenUri }));
    verifier = await startPeer((req, res, rec) => {
      const ok = rec.headers.authorization === `Bearer ${apiToken}`;
      res.writeHead(ok ? 200 : 401, { 'content-type': 'application/json' });
      res.end(ok ? '{"id":1}' : '{}');
    });
    app = await startApp();
    server = await ctx.startServer(stsServerOptions(sts, ctx.env, awsCreds, 'arn:aws:iam::111122223333:user/toolregistry'));
    // Everything the server writes on stderr from its start (the harness keeps a tail
    // that, at this point, is all of it).
    stderrLog = server.stderrTail;
    server.proc.stderr.on('data', (c) => { stderrLog += c; });
    op = await startOidcProvider({
      clients: [{
        client_id: 'tr-secrets', client_secret: clientSecret,
        redirect_uris: [`${server.url}/oauth/callback`], token_endpoint_auth_method: 'client_secret_basic',
      }],
    });
    W = await ctx.workspace(server, 'secrets');
    await defineIntegration(ctx, W.workspaceId, oidcDefinition('test-oidc', op.issuer));
    await defineIntegration(ctx, W.workspaceId, {
      integrationId: 'test-apitoken', name: 'Test API token', host: '127.0.0.1', authTypes: ['API_TOKEN'],
      apiToken: { verification: { method: 'GET', url: `${verifier.url}/me`, successStatus: 200 } },
    });
    await defineIntegration(ctx, W.workspaceId, {
      integrationId: 'test-gsa', name: 'Test Google service account', host: 'bigquery.googleapis.com',
      authTypes: ['GOOGLE_SERVICE_ACCOUNT_OAUTH'], googleServiceAccount: { scopes: SCOPES, tokenUrl: google.tokenUri },
    });
    cids.oauth = (await ctx.enable(W.workspaceId, 'test-oidc', { clientId: 'tr-secrets', clientSecret })).customerIntegrationId;
    cids.apiToken = (await ctx.enable(W.workspaceId, 'test-apitoken')).customerIntegrationId;
    cids.google = (await ctx.enable(W.workspaceId, 'test-gsa')).customerIntegrationId;
    cids.aws = (await ctx.enable(W.workspaceId, 'aws')).customerIntegrationId;
    browser = await launchBrowser();
  });

  after(async () => {
    await browser?.close();
    await op?.close();
    await app?.close();
    await verifier?.close();
    await google?.close();
    await sts?.close();
    await ctx.cleanup();
  });

  async function connect(cid, fill) {
    const userId = `secret-${rand()}`;
    const cb = `${app.url}/cb/${rand(6)}`;
    const { url } = await connectLink(server, W.apiKey, cid, userId, { redirectUri: cb });
    const page = await browser.page();
    await page.goto(url);
    await fill(page);
    await page.waitForURL((u) => u.href.startsWith(cb));
    assert.deepEqual(queryOf(page.url()), { status: 'success' });
    assertUser(await getUser(server, W.apiKey, cid, userId), userId, true);
  }

  test('the four flows succeed on one server', async () => {
    await connect(cids.oauth, async (page) => {
      await page.waitForURL((u) => u.href.startsWith(`${op.issuer}/interaction/`));
      await page.locator('input[name="login"]').fill('alice');
      await page.locator('input[name="password"]').fill('any password');
      await page.locator('button[type="submit"]').click();
      await page.locator('input[name="prompt"][value="consent"]').waitFor({ state: 'attached' });
      await page.locator('button:has-text("Continue")').click();
    });
    await connect(cids.apiToken, async (page) => {
      await page.locator('#field-token').fill(apiToken);
      await submitAndWait(page);
    });
    await connect(cids.aws, async (page) => {
      await page.locator('#field-roleArn').fill('arn:aws:iam::123456789012:role/Secrets');
      await submitAndWait(page);
    });
    await connect(cids.google, async (page) => {
      await page.locator('#field-keyJson').fill(gKey.text);
      await submitAndWait(page);
    });
    assert.equal(op.issuedTokens().length, 1);
    assert.equal(sts.issued.length, 1);
    assert.equal(google.issued.length, 1);
  });

  function secrets() {
    const list = [];
    const add = (what, value) => {
      assert.ok(typeof value === 'string' && value.length >= 12, `secret ${what} too short to search for: ${value}`);
      list.push([what, value]);
    };
    const [tokens] = op.issuedTokens();
    assert.ok(tokens, 'the OAuth flow did not run');
    add('OAuth access token', tokens.access_token);
    add('OAuth refresh token', tokens.refresh_token);
    if (tokens.id_token) add('OAuth id token (signature part)', tokens.id_token.split('.')[2]);
    add('OAuth client secret', clientSecret);
    add('API token', apiToken);
    for (const c of sts.issued) {
      add('AWS session secret access key', c.secretAccessKey);
      add('AWS session token', c.sessionToken);
    }
    add("the service's own AWS secret access key", awsCreds.secretAccessKey);
    const pemLines = gKey.privateKeyPem.split('\n').filter((l) => l && !l.startsWith('-----'));
    assert.ok(pemLines.length > 10);
    pemLines.forEach((l, i) => { if (l.length >= 32) add(`private key PEM line ${i + 1}`, l); });
    for (const t of google.issued) add('Google access token', t);
    add('workspace API key', W.apiKey);
    add('workspace API key (secret part)', W.apiKey.slice('sk_live_'.length));
    if (server.bootstrapKey) add('bootstrap API key', server.bootstrapKey);
    return list;
  }


  function findLeaks(list, sources) {
    const leaks = [];
    for (const [where, buf] of sources) {
      for (const [what, value] of list) {
        if (buf.indexOf(Buffer.from(value)) >= 0) leaks.push(`${what} in ${where}`);
      }
    }
    return leaks;
  }

  test('no secret in the database (SQLite files or pg_dump) or the server output (while running and after a clean stop)', async () => {
    const list = secrets();
    const stdoutWithoutBootstrap = () => Buffer.from(server.stdoutLines
      .filter((l) => !/^bootstrap api key: /.test(l)).join('\n'));

    const contents = ctx.databaseContents();
    assert.ok(contents.some(([name]) => name === 'tr.db' || name === 'pg_dump'), `no database in ${ctx.dir}`);
    const running = [
      ...contents,
      ['stderr', Buffer.from(stderrLog)],
      ['stdout (bootstrap key line excepted)', stdoutWithoutBootstrap()],
    ];
    assert.deepEqual(findLeaks(list, running), [], 'secrets found while the server runs');

    const { code, signal } = await server.stop('SIGTERM');
    assert.equal(signal, null, `server died of ${signal}`);
    assert.equal(code, 0);
    const stopped = [
      ...ctx.databaseContents().map(([name, bytes]) => [`${name} after stop`, bytes]),
      ['stderr', Buffer.from(stderrLog)],
      ['stdout (bootstrap key line excepted)', stdoutWithoutBootstrap()],
    ];
    assert.deepEqual(findLeaks(list, stopped), [], 'secrets found after the server stopped');
  });
});
