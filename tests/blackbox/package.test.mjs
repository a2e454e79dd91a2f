// Packaging (issue 8): the Debian package built by CPack installs on this machine, and the
// service starts from the installed binary. Needs root (dpkg); CI runs as root.

import { describe, test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { Context, BIN, request, startServer } from '../lib/harness.mjs';
import { scaled } from '../lib/timeouts.mjs';

const isRoot = typeof process.getuid === 'function' && process.getuid() === 0;

describe('package', { concurrency: 1, timeout: scaled(300_000), skip: !isRoot && !process.env.CI && 'needs root for dpkg' }, () => {
  const ctx = new Context();
  const buildDir = path.dirname(BIN);
  let deb;

  before(() => {
    const built = spawnSync('cpack', ['-G', 'DEB'], { cwd: buildDir, encoding: 'utf8', timeout: 240_000 });
    assert.equal(built.status, 0, `cpack failed:\n${built.stdout}\n${built.stderr}`);
    deb = fs.readdirSync(buildDir).filter((f) => /^toolregistry_.*\.deb$/.test(f)).map((f) => path.join(buildDir, f))[0];
    assert.ok(deb, 'no .deb produced');
    const installed = spawnSync('dpkg', ['-i', deb], { encoding: 'utf8', timeout: 120_000 });
    assert.equal(installed.status, 0, `dpkg -i failed:\n${installed.stdout}\n${installed.stderr}`);
  });

  after(() => {
    spawnSync('dpkg', ['-r', 'toolregistry'], { encoding: 'utf8', timeout: 120_000 });
    ctx.cleanup();
  });

  test('the package ships the binary, the catalog and the systemd unit', () => {
    for (const f of ['/usr/bin/toolregistry', '/usr/share/toolregistry/catalog/github.json',
      '/lib/systemd/system/toolregistry.service']) {
      assert.ok(fs.existsSync(f), `${f} missing after dpkg -i`);
    }
    const user = spawnSync('getent', ['passwd', 'toolregistry'], { encoding: 'utf8' });
    assert.equal(user.status, 0, 'postinst did not create the toolregistry user');
  });

  test('the installed binary serves', async () => {
    const server = await startServer({ env: ctx.env, database: ctx.database, bin: '/usr/bin/toolregistry' });
    ctx.servers.add(server);
    const health = await request(server, 'GET', '/healthz');
    assert.equal(health.status, 200);
    assert.ok(server.bootstrapKey, 'the installed binary printed no bootstrap key');
    const list = await request(server, 'GET', '/v1/integrations', { key: server.bootstrapKey });
    assert.equal(list.status, 200);
  });
});
