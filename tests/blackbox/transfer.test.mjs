// Issue 5 point 4: `toolregistry export --out FILE` and `import --in FILE` move a whole
// database between backends. A SQLite database with a connected OAuth user is exported,
// imported into the suite's backend (PostgreSQL when TOOLREGISTRY_TEST_PG_URL is set, else
// another SQLite file), exported from there and imported into a third, SQLite, database:
// every export holds the same rows (sealed values byte for byte), an import into a
// non-empty database is refused, and with the same master key a server on the imported
// database serves the user's credentials and accepts the old API key.

import { describe, test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';

import { Context, ON_PG, assertCliError, rand } from '../lib/harness.mjs';
import { defineIntegration } from '../peers/http.mjs';
import {
  startFakeOAuth, fakeOAuthDefinition, connectFakeOAuth, getCredentials,
} from '../peers/lifecycle.mjs';
import { scaled } from '../lib/timeouts.mjs';

/** The rows of an export file, sorted (row order is the backend's), header first. */
function exportLines(file) {
  const [header, ...rows] = fs.readFileSync(file, 'utf8').split('\n').filter((l) => l);
  return [header, ...rows.sort()];
}

describe('transfer', { concurrency: 1, timeout: scaled(60_000) }, () => {
  const src = new Context({ sqlite: true });
  const dst = new Context(); // the suite's backend
  const back = new Context({ sqlite: true });
  // One master key for all three: sealed values are copied, never re-encrypted.
  for (const c of [dst, back]) c.env = { ...c.env, TOOLREGISTRY_MASTER_KEY: src.masterKey };
  let fake;
  let W;
  let cid;
  const userId = `moved-${rand()}`;
  let token;

  before(async () => {
    fake = await startFakeOAuth();
    const server = await src.startServer({ extraArgs: ['--allow-private-network'] });
    W = await src.workspace(server, 'transfer');
    await defineIntegration(src, W.workspaceId, fakeOAuthDefinition('tr-oauth', fake));
    cid = (await src.enable(W.workspaceId, 'tr-oauth', { clientId: fake.clientId, clientSecret: fake.clientSecret }))
      .customerIntegrationId;
    token = (await connectFakeOAuth(fake, server, W.apiKey, cid, userId)).access_token;
    assert.deepEqual(await server.stop('SIGTERM'), { code: 0, signal: null });
  });

  after(async () => {
    await fake?.close();
    for (const c of [src, dst, back]) await c.cleanup();
  });

  test(`SQLite -> ${ON_PG ? 'PostgreSQL' : 'SQLite'} -> SQLite keeps every row; the import serves the credentials`, async () => {
    const first = path.join(src.dir, 'first.jsonl');
    const exported = await src.cliJson(['export', '--out', first]);
    assert.ok(exported.rows >= 6, `rows exported: ${JSON.stringify(exported)}`);
    assert.equal(fs.statSync(first).mode & 0o777, 0o600, 'the export holds sealed secrets: mode 0600');
    const content = fs.readFileSync(first, 'utf8');
    assert.ok(!content.includes(token), 'the access token is in the export in clear');
    assert.ok(!content.includes(fake.clientSecret), 'the client secret is in the export in clear');

    assert.deepEqual(await dst.cliJson(['import', '--in', first]), { rows: exported.rows });
    const refused = await dst.cli(['import', '--in', first, '--json']);
    assertCliError(refused);
    assert.match(refused.stderr + refused.stdout, /not empty/);

    const second = path.join(dst.dir, 'second.jsonl');
    assert.equal((await dst.cliJson(['export', '--out', second])).rows, exported.rows);
    assert.deepEqual(exportLines(second), exportLines(first), 'the rows changed on the way');

    assert.deepEqual(await back.cliJson(['import', '--in', second]), { rows: exported.rows });
    const third = path.join(back.dir, 'third.jsonl');
    await back.cliJson(['export', '--out', third]);
    assert.deepEqual(exportLines(third), exportLines(first), 'the rows changed on the way back');

    const server = await dst.startServer({ extraArgs: ['--allow-private-network'] });
    assert.equal(server.bootstrapKey, undefined, 'an imported database is not bootstrapped again');
    const c = await getCredentials(server, W.apiKey, cid, userId);
    assert.equal(c.status, 200, c.text);
    assert.equal(c.json.accessToken, token);
  });

  test('import refuses a file that is not an export', async () => {
    const bogus = path.join(back.dir, 'bogus.jsonl');
    fs.writeFileSync(bogus, '{"hello": 1}\n');
    const fresh = new Context({ sqlite: true });
    try {
      const r = await fresh.cli(['import', '--in', bogus, '--json']);
      assertCliError(r);
      assert.match(r.stderr + r.stdout, /not a toolregistry export/);
    } finally {
      await fresh.cleanup();
    }
  });
});
