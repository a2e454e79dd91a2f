// CONTRACT section 6: the admin commands, their --json output, their text
// output, and their failures (non-zero exit, one stderr line, no crash).

import { describe, test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';
import {
  Context, assertCliOk, assertCliError, assertSchema, listIntegrations, waitForAdminChange, rand,
  randomUuid, UUID_V4, API_KEY, AUTH_TYPES, runCli, ON_PG,
} from '../lib/harness.mjs';
import { scaled } from '../lib/timeouts.mjs';

describe('cli', { concurrency: 1, timeout: scaled(120_000) }, () => {
  const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/;

  const ctx = new Context();
  let server;
  let wid; // a workspace created through the CLI

  before(async () => {
    server = await ctx.startServer();
    wid = (await ctx.cliJson(['workspace', 'create', '--name', 'cli-main'])).workspaceId;
  });

  after(() => ctx.cleanup());

  function writeFile(name, content) {
    const p = path.join(ctx.dir, name);
    fs.writeFileSync(p, typeof content === 'string' ? content : JSON.stringify(content, null, 2));
    return p;
  }

  function customDef(over = {}) {
    return {
      integrationId: `custom-${rand(3)}`,
      name: 'Custom Thing',
      description: 'A custom integration',
      logoUrl: 'https://custom.example/logo.svg',
      host: 'api.custom.example',
      authTypes: ['API_TOKEN'],
      apiToken: { header: 'Authorization', prefix: 'Bearer ' },
      ...over,
    };
  }

  // --- workspace --------------------------------------------------------------

  test('workspace create --json', async () => {
    const r = await ctx.cliJson(['workspace', 'create', '--name', 'Acme Inc.']);
    assert.match(r.workspaceId, UUID);
    assert.equal(r.name, 'Acme Inc.');
    const again = await ctx.cliJson(['workspace', 'create', '--name', 'Acme Inc.']);
    assert.notEqual(again.workspaceId, r.workspaceId);
  });

  test('workspace create (text)', async () => {
    const r = await ctx.cli(['workspace', 'create', '--name', 'text-ws']);
    assertCliOk(r);
    assert.ok(r.stdout.trim().length > 0, 'no output');
  });

  test('workspace create without --name fails cleanly', async () => {
    assertCliError(await ctx.cli(['workspace', 'create', '--json']), { usage: true });
  });

  test('workspace allow-redirect --json accumulates origins', async () => {
    const w = (await ctx.cliJson(['workspace', 'create', '--name', 'redir'])).workspaceId;
    const one = await ctx.cliJson(['workspace', 'allow-redirect', '--workspace', w, '--origin', 'https://app.example.com']);
    assert.equal(one.workspaceId, w);
    assert.deepEqual(one.origins, ['https://app.example.com']);
    const two = await ctx.cliJson(['workspace', 'allow-redirect', '--workspace', w, '--origin', 'http://localhost:3000']);
    assert.deepEqual([...two.origins].sort(), ['http://localhost:3000', 'https://app.example.com']);
    const text = await ctx.cli(['workspace', 'allow-redirect', '--workspace', w, '--origin', 'https://third.example.com']);
    assertCliOk(text);
    assert.ok(text.stdout.trim().length > 0);
    // --origin repeated in one command adds each; one malformed origin adds none.
    const both = await ctx.cliJson(['workspace', 'allow-redirect', '--workspace', w,
      '--origin', 'https://four.example.com', '--origin', 'https://five.example.com:8443']);
    assert.ok(both.origins.includes('https://four.example.com') && both.origins.includes('https://five.example.com:8443'), JSON.stringify(both));
    assertCliError(await ctx.cli(['workspace', 'allow-redirect', '--workspace', w,
      '--origin', 'https://six.example.com', '--origin', 'https://*.example.com', '--json']));
    const after = await ctx.cliJson(['workspace', 'allow-redirect', '--workspace', w, '--origin', 'https://four.example.com']);
    assert.ok(!after.origins.includes('https://six.example.com'), JSON.stringify(after));
  });

  test('workspace allow-redirect: unknown workspace fails', async () => {
    assertCliError(await ctx.cli(['workspace', 'allow-redirect', '--workspace', randomUuid(), '--origin', 'https://app.example.com', '--json']));
    assertCliError(await ctx.cli(['workspace', 'allow-redirect', '--workspace', 'not-a-uuid', '--origin', 'https://app.example.com']));
  });

  // --- apikey -----------------------------------------------------------------

  test('apikey create --json; the key works on a running server', async () => {
    const k = await ctx.cliJson(['apikey', 'create', '--workspace', wid]);
    assert.match(k.apiKey, API_KEY);
    assert.ok(k.keyId !== undefined && k.keyId !== null && String(k.keyId).length > 0);
    assert.equal(k.workspaceId, wid);
    assert.ok(!String(k.keyId).includes(k.apiKey.slice(8)), 'keyId must not contain the key');
    await waitForAdminChange(async () => {
      const r = await listIntegrations(server, k.apiKey);
      assert.equal(r.status, 200, r.text);
    });
    const k2 = await ctx.cliJson(['apikey', 'create', '--workspace', wid]);
    assert.notEqual(k2.apiKey, k.apiKey);
    assert.notEqual(String(k2.keyId), String(k.keyId));
  });

  test('apikey create (text) prints the key', async () => {
    const r = await ctx.cli(['apikey', 'create', '--workspace', wid]);
    assertCliOk(r);
    assert.match(r.stdout, /sk_live_\S+/);
  });

  test('apikey create: unknown workspace fails', async () => {
    assertCliError(await ctx.cli(['apikey', 'create', '--workspace', randomUuid(), '--json']));
    assertCliError(await ctx.cli(['apikey', 'create', '--workspace', 'nope']));
  });

  test('apikey revoke --json and text; unknown key id fails', async () => {
    const k = await ctx.cliJson(['apikey', 'create', '--workspace', wid]);
    const r = await ctx.cliJson(['apikey', 'revoke', '--key-id', String(k.keyId)]);
    assert.equal(String(r.keyId), String(k.keyId));
    assert.equal(r.revoked, true);
    await waitForAdminChange(async () => {
      assert.equal((await listIntegrations(server, k.apiKey)).status, 401);
    });

    const k2 = await ctx.cliJson(['apikey', 'create', '--workspace', wid]);
    const t = await ctx.cli(['apikey', 'revoke', '--key-id', String(k2.keyId)]);
    assertCliOk(t);
    assert.ok(t.stdout.trim().length > 0);

    assertCliError(await ctx.cli(['apikey', 'revoke', '--key-id', '999999999', '--json']));
    assertCliError(await ctx.cli(['apikey', 'revoke', '--key-id', 'no-such-key']));
  });

  // --- catalog ----------------------------------------------------------------

  test('catalog list --json', async () => {
    const { integrations } = await ctx.cliJson(['catalog', 'list']);
    assert.ok(Array.isArray(integrations));
    const ids = integrations.map((i) => i.integrationId);
    for (const id of ['google-calendar', 'github', 'slack', 'stripe', 'openai', 'aws', 'google-bigquery']) {
      assert.ok(ids.includes(id), `catalog lacks ${id}: ${ids}`);
    }
    assert.equal(new Set(ids).size, ids.length, 'duplicate catalog ids');
    for (const i of integrations) {
      assert.equal(typeof i.name, 'string');
      assert.ok(i.name.length > 0);
      assert.ok(Array.isArray(i.authTypes) && i.authTypes.length > 0, JSON.stringify(i));
      for (const t of i.authTypes) assert.ok(AUTH_TYPES.includes(t), `unknown auth type ${t} in ${i.integrationId}`);
    }
    assert.ok(integrations.some((i) => i.authTypes.length === 1 && i.authTypes[0] === 'NONE'), 'no NONE entry');
    assert.ok(integrations.find((i) => i.integrationId === 'google-calendar').authTypes.includes('OAUTH2'));
    assert.ok(integrations.find((i) => i.integrationId === 'aws').authTypes.includes('AWS_ASSUME_ROLE'));
    assert.ok(integrations.find((i) => i.integrationId === 'google-bigquery').authTypes.includes('GOOGLE_SERVICE_ACCOUNT_OAUTH'));
  });

  test('catalog list (text)', async () => {
    const r = await ctx.cli(['catalog', 'list']);
    assertCliOk(r);
    assert.match(r.stdout, /google-calendar/);
  });

  // --- integration define -------------------------------------------------------

  test('integration define --json, then enable it', async () => {
    const def = customDef();
    const r = await ctx.cliJson(['integration', 'define', '--workspace', wid, '--file', writeFile('ok.json', def)]);
    assert.equal(r.integrationId, def.integrationId);
    const e = await ctx.enable(wid, def.integrationId);
    assert.equal(e.integrationId, def.integrationId);
    assert.equal(e.authType, 'API_TOKEN');
  });

  test('integration define (text), with an OAUTH2 definition', async () => {
    const def = customDef({
      authTypes: ['OAUTH2'],
      apiToken: undefined,
      oauth2: {
        authorizationUrl: 'https://auth.custom.example/authorize',
        tokenUrl: 'https://auth.custom.example/token',
        scopes: ['read', 'write'],
        tokenEndpointAuthMethod: 'client_secret_basic',
        pkce: true,
      },
    });
    const r = await ctx.cli(['integration', 'define', '--workspace', wid, '--file', writeFile('oauth.json', def)]);
    assertCliOk(r);
    assert.ok(r.stdout.trim().length > 0);
    const e = await ctx.enable(wid, def.integrationId, { clientId: 'cid', clientSecret: 'shh-secret', scopes: 'read' });
    assert.equal(e.authType, 'OAUTH2');
  });

  test('integration define: bad files fail, naming the file and the field', async () => {
    const cases = [
      ['no-name.json', customDef({ name: undefined }), 'name'],
      ['no-host.json', customDef({ host: undefined }), 'host'],
      ['no-id.json', customDef({ integrationId: undefined }), 'integrationId'],
      ['authtypes-string.json', customDef({ authTypes: 'API_TOKEN' }), 'authTypes'],
      ['authtypes-bogus.json', customDef({ authTypes: ['BOGUS'] }), 'authTypes'],
      ['authtypes-empty.json', customDef({ authTypes: [] }), 'authTypes'],
      ['name-number.json', customDef({ name: 42 }), 'name'],
    ];
    for (const [file, def, field] of cases) {
      const p = writeFile(file, def);
      const line = assertCliError(await ctx.cli(['integration', 'define', '--workspace', wid, '--file', p, '--json']));
      assert.ok(line.includes(file), `error line should name the file ${file}: ${line}`);
      assert.ok(line.includes(field), `error line should name the field ${field}: ${line}`);
    }
  });

  test('integration define: unreadable, missing, non-JSON and non-object files fail', async () => {
    const notJson = writeFile('not-json.json', '{"integrationId": "x",');
    const arr = writeFile('array.json', '[]');
    const missing = path.join(ctx.dir, 'does-not-exist.json');
    for (const p of [notJson, arr, missing, ctx.dir]) {
      const line = assertCliError(await ctx.cli(['integration', 'define', '--workspace', wid, '--file', p, '--json']));
      assert.ok(line.includes(path.basename(p)), `error line should name ${p}: ${line}`);
    }
    if (process.getuid && process.getuid() !== 0) {
      const locked = writeFile('locked.json', customDef());
      fs.chmodSync(locked, 0o000);
      assertCliError(await ctx.cli(['integration', 'define', '--workspace', wid, '--file', locked]));
    }
  });

  test('integration define: unknown workspace fails', async () => {
    const p = writeFile('for-unknown.json', customDef());
    assertCliError(await ctx.cli(['integration', 'define', '--workspace', randomUuid(), '--file', p, '--json']));
  });

  // --- integration enable -------------------------------------------------------

  test('integration enable --json (OAUTH2 with secret, secret file, scopes; NONE; API_TOKEN)', async () => {
    const w = (await ctx.cliJson(['workspace', 'create', '--name', 'enable'])).workspaceId;
    const a = await ctx.enable(w, 'google-calendar', { clientId: 'id-1', clientSecret: 'secret-1', scopes: 'https://www.googleapis.com/auth/calendar.readonly,openid' });
    assert.deepEqual(
      { integrationId: a.integrationId, authType: a.authType, active: a.active },
      { integrationId: 'google-calendar', authType: 'OAUTH2', active: true },
    );
    assert.match(a.customerIntegrationId, UUID_V4);

    const secretFile = writeFile('client-secret.txt', 'from-a-file-secret\n');
    const b = await ctx.enable(w, 'slack', { authType: 'OAUTH2', clientId: 'id-2', clientSecretFile: secretFile });
    assert.equal(b.authType, 'OAUTH2');
    assert.notEqual(b.customerIntegrationId, a.customerIntegrationId);

    const none = await ctx.enableNone(w);
    assert.equal(none.authType, 'NONE');
    assert.equal(none.active, true);

    const openai = await ctx.catalogEntry('openai');
    if (openai.authTypes.includes('API_TOKEN')) {
      const c = await ctx.enable(w, 'openai', { authType: 'API_TOKEN' });
      assert.equal(c.authType, 'API_TOKEN');
    }
    const aws = await ctx.enable(w, 'aws', { authType: 'AWS_ASSUME_ROLE' });
    assert.equal(aws.authType, 'AWS_ASSUME_ROLE');
    const bq = await ctx.enable(w, 'google-bigquery', { authType: 'GOOGLE_SERVICE_ACCOUNT_OAUTH' });
    assert.equal(bq.authType, 'GOOGLE_SERVICE_ACCOUNT_OAUTH');

    const list = await ctx.cliJson(['integration', 'list', '--workspace', w]);
    const text = JSON.stringify(list);
    assert.ok(!text.includes('secret-1'), 'client secret in integration list');
    assert.ok(!text.includes('from-a-file-secret'), 'client secret (file) in integration list');
  });

  test('integration enable (text)', async () => {
    const w = (await ctx.cliJson(['workspace', 'create', '--name', 'enable-text'])).workspaceId;
    const r = await ctx.cli(['integration', 'enable', '--workspace', w, '--integration', 'google-calendar',
      '--client-id', 'x', '--client-secret', 'y']);
    assertCliOk(r);
    assert.ok(r.stdout.trim().length > 0);
  });

  test('integration enable: failures', async () => {
    const w = (await ctx.cliJson(['workspace', 'create', '--name', 'enable-fail'])).workspaceId;
    const other = (await ctx.cliJson(['workspace', 'create', '--name', 'enable-other'])).workspaceId;
    const foreign = customDef();
    await ctx.cliJson(['integration', 'define', '--workspace', other, '--file', writeFile('foreign.json', foreign)]);
    const noneEntry = await ctx.catalogEntry((e) => e.authTypes.length === 1 && e.authTypes[0] === 'NONE');
    const secretMissing = path.join(ctx.dir, 'no-such-secret.txt');
    const cases = [
      ['OAUTH2 without client id', ['--integration', 'google-calendar', '--client-secret', 's']],
      ['OAUTH2 without client secret', ['--integration', 'google-calendar', '--client-id', 'c']],
      ['OAUTH2 without either', ['--integration', 'google-calendar']],
      ['unreadable secret file', ['--integration', 'google-calendar', '--client-id', 'c', '--client-secret-file', secretMissing]],
      ['unsupported auth type', ['--integration', 'google-calendar', '--auth-type', 'API_TOKEN']],
      ['unsupported auth type (NONE entry)', ['--integration', noneEntry.integrationId, '--auth-type', 'OAUTH2', '--client-id', 'c', '--client-secret', 's']],
      ['unknown auth type', ['--integration', 'google-calendar', '--auth-type', 'FOO', '--client-id', 'c', '--client-secret', 's']],
      ['unknown integration', ['--integration', `no-such-integration-${rand(3)}`]],
      ['another workspace\'s custom integration', ['--integration', foreign.integrationId]],
    ];
    for (const [label, args] of cases) {
      const r = await ctx.cli(['integration', 'enable', '--workspace', w, ...args, '--json']);
      try {
        assertCliError(r);
      } catch (err) {
        err.message = `${label}: ${err.message}`;
        throw err;
      }
    }
    assertCliError(await ctx.cli(['integration', 'enable', '--workspace', randomUuid(), '--integration', noneEntry.integrationId, '--json']));
    // Nothing was enabled by the failed attempts.
    assert.deepEqual((await ctx.cliJson(['integration', 'list', '--workspace', w])).integrations, []);
  });

  // --- integration disable / activate / list ------------------------------------------

  test('integration disable / activate --json and text; unknown ids fail', async () => {
    const w = (await ctx.cliJson(['workspace', 'create', '--name', 'toggle'])).workspaceId;
    const cid = (await ctx.enableNone(w)).customerIntegrationId;
    assert.deepEqual(await ctx.cliJson(['integration', 'disable', '--id', cid]), { customerIntegrationId: cid, active: false });
    assert.deepEqual(await ctx.cliJson(['integration', 'disable', '--id', cid]), { customerIntegrationId: cid, active: false });
    assert.deepEqual(await ctx.cliJson(['integration', 'activate', '--id', cid]), { customerIntegrationId: cid, active: true });
    const t1 = await ctx.cli(['integration', 'disable', '--id', cid]);
    assertCliOk(t1);
    assert.ok(t1.stdout.trim().length > 0);
    const t2 = await ctx.cli(['integration', 'activate', '--id', cid]);
    assertCliOk(t2);
    assert.ok(t2.stdout.trim().length > 0);

    for (const cmd of ['disable', 'activate']) {
      assertCliError(await ctx.cli(['integration', cmd, '--id', randomUuid(), '--json']));
      assertCliError(await ctx.cli(['integration', cmd, '--id', 'not-a-uuid']));
    }
  });

  test('integration list --json is shaped like IntegrationResponseDto', async () => {
    const w = (await ctx.cliJson(['workspace', 'create', '--name', 'listing'])).workspaceId;
    assert.deepEqual(await ctx.cliJson(['integration', 'list', '--workspace', w]), { integrations: [] });
    const a = await ctx.enable(w, 'google-calendar', { clientId: 'lc', clientSecret: 'list-secret-value' });
    const b = await ctx.enableNone(w);
    await ctx.cliJson(['integration', 'disable', '--id', b.customerIntegrationId]);
    const r = await ctx.cliJson(['integration', 'list', '--workspace', w]);
    assertSchema('IntegrationList', r.integrations);
    const ids = r.integrations.map((i) => i.customerIntegrationId);
    assert.ok(ids.includes(a.customerIntegrationId));
    const gcal = r.integrations.find((i) => i.customerIntegrationId === a.customerIntegrationId);
    assert.equal(gcal.integrationId, 'google-calendar');
    assert.equal(gcal.authType, 'OAUTH2');
    assert.equal(gcal.active, true);
    const disabled = r.integrations.find((i) => i.customerIntegrationId === b.customerIntegrationId);
    if (disabled) assert.equal(disabled.active, false);
    assert.ok(!JSON.stringify(r).includes('list-secret-value'), 'client secret in integration list');

    const text = await ctx.cli(['integration', 'list', '--workspace', w]);
    assertCliOk(text);
    assert.match(text.stdout, /google-calendar/);
    assert.ok(!text.stdout.includes('list-secret-value'), 'client secret in integration list (text)');
  });

  test('integration list: unknown workspace fails', async () => {
    assertCliError(await ctx.cli(['integration', 'list', '--workspace', randomUuid(), '--json']));
  });

  test('unknown command fails cleanly', async () => {
    assertCliError(await ctx.cli(['frobnicate', '--json']), { usage: true });
    assertCliError(await ctx.cli(['workspace', 'explode']), { usage: true });
  });

  // --- configuration (section 7) ---------------------------------------------------

  test('TOOLREGISTRY_DATABASE is used without --database; --database overrides it', async () => {
    const envDb = ctx.otherDatabase('env.db');
    const env = { ...ctx.env, TOOLREGISTRY_DATABASE: envDb };
    const viaEnv = await runCli(['workspace', 'create', '--name', 'via-env', '--json'], { env, withDatabase: false });
    assertCliOk(viaEnv);
    const envWid = viaEnv.json.workspaceId;
    if (!ON_PG) assert.ok(fs.existsSync(envDb.slice('sqlite:'.length)), 'the env database was not created');
    // The workspace is in the env database, not in ctx's.
    assertCliOk(await runCli(['integration', 'list', '--workspace', envWid, '--json'], { env, database: envDb }));
    assertCliError(await ctx.cli(['integration', 'list', '--workspace', envWid, '--json']));

    // The flag wins over the variable.
    const viaFlag = await runCli(['workspace', 'create', '--name', 'via-flag', '--json'], { env, database: ctx.database });
    assertCliOk(viaFlag);
    assertCliOk(await ctx.cli(['integration', 'list', '--workspace', viaFlag.json.workspaceId, '--json']));
    assertCliError(await runCli(['integration', 'list', '--workspace', viaFlag.json.workspaceId, '--json'], { env, withDatabase: false }));
  });
});
