// CONTRACT section 3: GET /v1/integrations?active=…

import { describe, test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';
import {
  Context, listIntegrations, assertError, assertSchema, TIMESTAMP, UUID_V4, rand, waitForAdminChange,
  assertListed,
} from '../lib/harness.mjs';
import { scaled } from '../lib/timeouts.mjs';

describe('list', { concurrency: 1, timeout: scaled(120_000) }, () => {
  const ctx = new Context();
  let server;
  let A; // workspace with several integrations
  let B; // workspace with one integration
  let E; // empty workspace
  const secrets = [];
  const enabledA = []; // in the order they were enabled
  let disabledA;
  let customId;

  function byAge(a, b) {
    if (a.createdAt !== b.createdAt) return a.createdAt < b.createdAt ? -1 : 1;
    return a.customerIntegrationId < b.customerIntegrationId ? -1 : 1;
  }

  before(async () => {
    server = await ctx.startServer();
    A = await ctx.workspace(server, 'list-a');
    B = await ctx.workspace(server, 'list-b');
    E = await ctx.workspace(server, 'list-e');

    const oauth = await ctx.enableOauth(A.workspaceId);
    secrets.push(oauth.clientSecret);
    enabledA.push(oauth);
    enabledA.push(await ctx.enableNone(A.workspaceId));

    // Secret given through a file, on another OAUTH2-capable catalog integration when there is one.
    const fileSecret = `file-secret-${rand(10)}`;
    secrets.push(fileSecret);
    const secretFile = path.join(ctx.dir, 'secret.txt');
    fs.writeFileSync(secretFile, fileSecret + '\n', { mode: 0o600 });
    const gh = await ctx.catalogEntry('github');
    if (gh.authTypes.includes('OAUTH2')) {
      enabledA.push(await ctx.enable(A.workspaceId, 'github', {
        authType: 'OAUTH2', clientId: 'gh-client', clientSecretFile: secretFile, scopes: 'repo,read:user',
      }));
    } else {
      enabledA.push(await ctx.enable(A.workspaceId, 'github'));
    }

    // A custom integration defined by the workspace.
    customId = `acme-crm-${rand(3)}`;
    const def = path.join(ctx.dir, 'custom.json');
    fs.writeFileSync(def, JSON.stringify({
      integrationId: customId,
      name: 'Acme CRM',
      description: 'Customer records at Acme',
      logoUrl: 'https://acme.example/logo.svg',
      host: 'api.acme.example',
      authTypes: ['API_TOKEN'],
      apiToken: { header: 'Authorization', prefix: 'Bearer ' },
    }));
    await ctx.cliJson(['integration', 'define', '--workspace', A.workspaceId, '--file', def]);
    enabledA.push(await ctx.enable(A.workspaceId, customId));

    // More catalog integrations, each with its default auth type.
    for (const id of ['slack', 'stripe']) {
      const e = await ctx.enableCatalog(A.workspaceId, id);
      if (e.clientSecret) secrets.push(e.clientSecret);
      enabledA.push(e);
    }
    // A non-default auth type, where the catalog has an integration with several.
    const multi = (await ctx.catalog()).find((c) => c.authTypes.length > 1 && !enabledA.some((e) => e.integrationId === c.integrationId));
    if (multi) {
      const e = await ctx.enableCatalog(A.workspaceId, multi.integrationId, { authType: multi.authTypes[1] });
      assert.equal(e.authType, multi.authTypes[1]);
      if (e.clientSecret) secrets.push(e.clientSecret);
      enabledA.push(e);
    }

    disabledA = enabledA[1]; // the NONE integration
    const d = await ctx.cliJson(['integration', 'disable', '--id', disabledA.customerIntegrationId]);
    assert.equal(d.active, false);

    const bSecret = `b-secret-${rand(8)}`;
    secrets.push(bSecret);
    const bCid = (await ctx.enableOauth(B.workspaceId, { secret: bSecret })).customerIntegrationId;

    // Admin changes reach the running server within one second: every list the tests read,
    // above all those answered (and maybe kept) while ctx.workspace waited for the keys.
    const activeA = enabledA.filter((e) => e !== disabledA).map((e) => e.customerIntegrationId);
    await waitForAdminChange(async () => {
      for (const active of [undefined, 'true']) {
        await assertListed(server, A.apiKey, activeA, active);
        await assertListed(server, B.apiKey, [bCid], active);
      }
      await assertListed(server, A.apiKey, [disabledA.customerIntegrationId], 'false');
      await assertListed(server, B.apiKey, [], 'false');
    });
  });

  after(() => ctx.cleanup());

  test('an empty workspace lists []', async () => {
    for (const active of [undefined, 'true', 'false']) {
      const r = await listIntegrations(server, E.apiKey, active);
      assert.equal(r.status, 200, r.text);
      assert.match(r.headers.get('content-type') || '', /^application\/json\b/i);
      assert.deepEqual(r.json, []);
    }
  });

  test('HEAD is answered as GET, without the body; never on the connect pages', async () => {
    const get = await fetch(`${server.url}/v1/integrations`, { headers: { 'x-api-key': A.apiKey } });
    const body = await get.text();
    const head = await fetch(`${server.url}/v1/integrations`, { method: 'HEAD', headers: { 'x-api-key': A.apiKey } });
    assert.equal(head.status, 200);
    assert.equal(head.headers.get('content-length'), String(Buffer.byteLength(body)));
    assert.equal(await head.text(), '');
    const unauth = await fetch(`${server.url}/v1/integrations`, { method: 'HEAD' });
    assert.equal(unauth.status, 401);
    // A link checker's HEAD must not run a step of the flow (a NONE connection completes on GET).
    assert.equal((await fetch(`${server.url}/connect/${'a'.repeat(40)}`, { method: 'HEAD' })).status, 404);
  });

  test('active filter: true/TRUE/True/1 and absent list the active ones', async () => {
    const expectedIds = enabledA.filter((e) => e !== disabledA).map((e) => e.customerIntegrationId).sort();
    let first;
    for (const active of [undefined, 'true', 'TRUE', 'True', '1']) {
      const r = await listIntegrations(server, A.apiKey, active);
      assert.equal(r.status, 200, `active=${active}: ${r.text}`);
      assertSchema('IntegrationList', r.json);
      assert.deepEqual(r.json.map((i) => i.customerIntegrationId).sort(), expectedIds, `active=${active}`);
      assert.ok(r.json.every((i) => i.active === true));
      if (first === undefined) first = r.json;
      else assert.deepEqual(r.json, first, `active=${active} differs from absent`);
    }
  });

  test('active filter: false/FALSE/0 list only the disabled one', async () => {
    for (const active of ['false', 'FALSE', 'False', '0']) {
      const r = await listIntegrations(server, A.apiKey, active);
      assert.equal(r.status, 200, `active=${active}: ${r.text}`);
      assertSchema('IntegrationList', r.json);
      assert.deepEqual(r.json.map((i) => i.customerIntegrationId), [disabledA.customerIntegrationId]);
      assert.equal(r.json[0].active, false);
    }
  });

  test('active filter: anything else -> 400', async () => {
    for (const active of ['maybe', 'yes', 'no', '2', '-1', 'truee', ' true', 'null', 'on']) {
      assertError(await listIntegrations(server, A.apiKey, active), 400);
    }
  });

  test('oldest first (createdAt, then customerIntegrationId)', async () => {
    const r = await listIntegrations(server, A.apiKey);
    assert.equal(r.status, 200);
    const sorted = [...r.json].sort(byAge);
    assert.deepEqual(r.json.map((i) => i.customerIntegrationId), sorted.map((i) => i.customerIntegrationId));
    // Enabled one after the other, so createdAt follows the order of enabling.
    const byId = new Map(r.json.map((i) => [i.customerIntegrationId, i]));
    const created = enabledA.filter((e) => byId.has(e.customerIntegrationId)).map((e) => byId.get(e.customerIntegrationId).createdAt);
    for (let i = 1; i < created.length; i++) assert.ok(created[i - 1] <= created[i], `createdAt out of enable order: ${created}`);
  });

  test('each item: required fields, ids, timestamps, catalog details', async () => {
    const catalog = await ctx.catalog();
    const all = [...(await listIntegrations(server, A.apiKey)).json, ...(await listIntegrations(server, A.apiKey, 'false')).json];
    assert.equal(all.length, enabledA.length);
    for (const item of all) {
      assertSchema('IntegrationResponseDto', item);
      assert.match(item.customerIntegrationId, UUID_V4);
      assert.match(item.createdAt, TIMESTAMP);
      assert.match(item.updatedAt, TIMESTAMP);
      assert.ok(item.updatedAt >= item.createdAt, JSON.stringify(item));
      assert.ok(item.name.length > 0 && item.host.length > 0, JSON.stringify(item));
      assert.equal(typeof item.authType, 'string', `authType missing: ${JSON.stringify(item)}`);
      const enabled = enabledA.find((e) => e.customerIntegrationId === item.customerIntegrationId);
      assert.ok(enabled, `unexpected item ${item.customerIntegrationId}`);
      assert.equal(item.integrationId, enabled.integrationId);
      assert.equal(item.authType, enabled.authType);
      const entry = catalog.find((c) => c.integrationId === item.integrationId);
      if (entry) {
        assert.equal(item.name, entry.name);
        assert.ok(entry.authTypes.includes(item.authType));
        assert.equal(typeof item.description, 'string', `catalog item lacks description: ${JSON.stringify(item)}`);
        assert.ok(item.description.length > 0);
        assert.equal(typeof item.logoUrl, 'string', `catalog item lacks logoUrl: ${JSON.stringify(item)}`);
        assert.ok(item.logoUrl.length > 0);
      }
    }
    const gcal = all.find((i) => i.integrationId === 'google-calendar');
    assert.equal(gcal.authType, 'OAUTH2');
    assert.equal(gcal.name, 'Google Calendar');
  });

  test('a custom integration shows its own definition', async () => {
    const r = await listIntegrations(server, A.apiKey);
    const item = r.json.find((i) => i.integrationId === customId);
    assert.ok(item, `custom integration missing: ${r.text}`);
    assert.equal(item.name, 'Acme CRM');
    assert.equal(item.host, 'api.acme.example');
    assert.equal(item.description, 'Customer records at Acme');
    assert.equal(item.logoUrl, 'https://acme.example/logo.svg');
    assert.equal(item.authType, 'API_TOKEN');
  });

  test('a workspace sees only its own integrations', async () => {
    const idsA = new Set(enabledA.map((e) => e.customerIntegrationId));
    for (const active of [undefined, 'false']) {
      const r = await listIntegrations(server, B.apiKey, active);
      assert.equal(r.status, 200);
      for (const i of r.json) assert.ok(!idsA.has(i.customerIntegrationId), `B sees A's ${i.customerIntegrationId}`);
    }
    const b = await listIntegrations(server, B.apiKey);
    assert.equal(b.json.length, 1);
    assert.deepEqual((await listIntegrations(server, B.apiKey, 'false')).json, []);
  });

  test('no secret appears in any list', async () => {
    for (const key of [A.apiKey, B.apiKey]) {
      for (const active of [undefined, 'false']) {
        const r = await listIntegrations(server, key, active);
        for (const s of secrets) assert.ok(!r.text.includes(s), `client secret leaked in ${r.text}`);
        assert.ok(!/secret/i.test(Object.keys(r.json[0] || {}).join(',')), `secret-like field: ${r.text}`);
      }
    }
  });

  test('disable and activate move an integration between the filters', async () => {
    const target = enabledA[0].customerIntegrationId;
    const before = (await listIntegrations(server, A.apiKey)).json.find((i) => i.customerIntegrationId === target);
    await ctx.cliJson(['integration', 'disable', '--id', target]);
    const off = await waitForAdminChange(async () => {
      const inactive = await listIntegrations(server, A.apiKey, 'false');
      const found = inactive.json.find((i) => i.customerIntegrationId === target);
      assert.ok(found, `disabled, not in active=false: ${inactive.text}`);
      const on = await listIntegrations(server, A.apiKey, 'true');
      assert.ok(!on.json.some((i) => i.customerIntegrationId === target), `disabled, still in active=true: ${on.text}`);
      return found;
    });
    assert.equal(off.active, false);
    assert.equal(off.createdAt, before.createdAt);
    assert.ok(off.updatedAt >= before.updatedAt);

    await ctx.cliJson(['integration', 'activate', '--id', target]);
    const r = await waitForAdminChange(async () => {
      const on = await listIntegrations(server, A.apiKey);
      assert.ok(on.json.some((i) => i.customerIntegrationId === target), `activated, not listed: ${on.text}`);
      return on.json;
    });
    // Order still by createdAt: re-activation does not move it to the end.
    assert.deepEqual(r.map((i) => i.customerIntegrationId), [...r].sort(byAge).map((i) => i.customerIntegrationId));
  });
});
