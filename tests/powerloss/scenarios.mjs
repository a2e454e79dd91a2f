// The recordings of the power-loss harness. Each scenario sets a data folder up (not
// recorded), then runs the real server and admin CLI under the recorder while a client
// drives them, notes every answer it gets (lab.ack) and every request it sends
// (lab.attempt), and cuts the power (SIGKILL) in the middle of the load. What each image
// must then show is in tests/powerloss/check.mjs.

import crypto from 'node:crypto';
import fs from 'node:fs';
import path from 'node:path';

import { parseCsrf, parseResult } from '../lib/browser.mjs';
import { Lab } from './lab.mjs';

const newKey = () => crypto.randomBytes(32).toString('base64');
const sleep = (ms) => new Promise((r) => setTimeout(r, ms));

/** A workspace, an API key, OAuth (github, client secret sealed) and NONE (open-meteo). */
async function setupWorkspace(lab, { oauth = true, none = true, apiToken = false } = {}) {
  const ws = (await lab.cliJson(['workspace', 'create', '--name', `pl-${lab.name}`])).json.workspaceId;
  const apiKey = (await lab.cliJson(['apikey', 'create', '--workspace', ws])).json.apiKey;
  const cids = {};
  if (oauth) {
    cids.oauth = (await lab.cliJson(['integration', 'enable', '--workspace', ws, '--integration', 'github',
      '--auth-type', 'OAUTH2', '--client-id', 'pl-client', '--client-secret', `pl-secret-${crypto.randomBytes(8).toString('hex')}`]))
      .json.customerIntegrationId;
  }
  if (none) {
    cids.none = (await lab.cliJson(['integration', 'enable', '--workspace', ws, '--integration', 'open-meteo']))
      .json.customerIntegrationId;
  }
  if (apiToken) {
    // An API_TOKEN integration without a verification call: a submitted form completes at
    // once, writing sealed credentials.
    const file = path.join(lab.dir, 'pl-token.json');
    fs.writeFileSync(file, JSON.stringify({
      integrationId: 'pl-token', name: 'Power-loss token', host: 'api.example.com',
      authTypes: ['API_TOKEN'], apiToken: {},
    }));
    await lab.cliJson(['integration', 'define', '--workspace', ws, '--file', file]);
    cids.apiToken = (await lab.cliJson(['integration', 'enable', '--workspace', ws, '--integration', 'pl-token']))
      .json.customerIntegrationId;
  }
  return { ws, apiKey, cids };
}

/** POST auth-url; notes the attempt and, on 201, the acknowledgement. Returns the ack or null. */
export async function authUrl(lab, server, apiKey, cid, flow, userId) {
  lab.attempt('authUrl', { cid, userId });
  let res;
  let text;
  let t;
  try {
    res = await fetch(`${server.url}/v1/integrations/${cid}/users/${encodeURIComponent(userId)}/auth-url`, {
      method: 'POST', headers: { 'x-api-key': apiKey, 'content-type': 'application/json' }, body: '{}',
      signal: AbortSignal.timeout(10_000),
    });
    t = process.hrtime.bigint();
    text = await res.text();
  } catch {
    return null;  // the power went
  }
  if (res.status !== 201) {
    if (res.status === 503) return null;
    throw new Error(`auth-url for ${userId}: ${res.status} ${text}`);
  }
  const token = JSON.parse(text).authorizeUrl.split('/connect/')[1];
  const ack = { cid, userId, token, flow };
  lab.ack('authUrl', ack, t);
  return ack;
}

/**
 * auth-url from `concurrency` clients over `targets` ([{cid, flow}]) until `stop()`;
 * resolves when every client stopped (on the cut, their requests fail).
 */
export function authUrlLoad(lab, server, apiKey, targets, { concurrency = 16, stop, prefix }) {
  let n = 0;
  const state = { sent: 0, acked: 0 };
  const client = async () => {
    while (!stop() && !lab.halted) {
      const i = n++;
      const target = targets[i % targets.length];
      state.sent++;
      const ack = await authUrl(lab, server, apiKey, target.cid, target.flow, `${prefix}-${i}`);
      if (!ack) {
        if (server.proc.exitCode !== null || server.proc.signalCode !== null || lab.halted) return;
        continue;
      }
      state.acked++;
    }
  };
  state.done = Promise.all(Array.from({ length: concurrency }, client));
  return state;
}

async function waitUntil(fn, what, ms = 20_000) {
  const deadline = Date.now() + ms;
  while (!fn()) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await sleep(5);
  }
}

/** Waits until the running server takes auth-url on `cid` (an admin change reaching it). */
async function waitForIntegration(lab, server, apiKey, cid, flow) {
  const deadline = Date.now() + 5000;
  for (let i = 0; ; i++) {
    const r = await fetch(`${server.url}/v1/integrations/${cid}/users/probe-${i}/auth-url`, {
      method: 'POST', headers: { 'x-api-key': apiKey, 'content-type': 'application/json' }, body: '{}',
    });
    const t = process.hrtime.bigint();
    const text = await r.text();
    if (r.status === 201) {
      lab.attempt('authUrl', { cid, userId: `probe-${i}` });
      lab.ack('authUrl', { cid, userId: `probe-${i}`, token: JSON.parse(text).authorizeUrl.split('/connect/')[1], flow }, t);
      return;
    }
    if (Date.now() > deadline) throw new Error(`the server never took ${cid}: ${r.status} ${text}`);
    await sleep(20);
  }
}

/**
 * (1) auth-url under concurrent load. The server runs until `requests` answers, stops with
 * SIGTERM (its last connection checkpoints the WAL into the database file and removes the
 * WAL), starts again and takes as many again; the power goes with requests in flight. The
 * syncer's own checkpoint (every 1,000 WAL pages) would come in the first run: walFacts
 * tells whether it did. `fault`: TR_POWERLOSS_FAULT, for the can-fail runs.
 */
export async function authUrlScenario(tools, { fault, requests = 700, restart = true, concurrency = 24, name = 'authurl' } = {}) {
  const lab = new Lab(tools, name, { masterKey: newKey(), fault });
  return guarded(lab, async () => {
    const { apiKey, cids } = await setupWorkspace(lab);
    const targets = [{ cid: cids.oauth, flow: 'oauth' }, { cid: cids.none, flow: 'none' }];
    lab.beginRecording();
    let server = await lab.startServer();
    const notes = {};
    if (restart) {
      let stop = false;
      const first = authUrlLoad(lab, server, apiKey, targets, { concurrency, stop: () => stop, prefix: 'first' });
      await waitUntil(() => first.acked >= requests, `${requests} auth-url answers`, 60_000);
      stop = true;
      await first.done;
      notes.firstPid = server.proc.pid;
      notes.sigtermAt = process.hrtime.bigint();
      const exit = await server.stop('SIGTERM');
      if (exit.code !== 0) throw new Error(`the server did not stop cleanly: ${JSON.stringify(exit)}\n${server.describe()}`);
      server = await lab.startServer();
    }
    const load = authUrlLoad(lab, server, apiKey, targets, { concurrency, stop: () => false, prefix: 'load' });
    if (restart) {
      // Checkpoints by another connection while the server writes (Debian's sqlite3, under
      // the recorder too): the server's writer then starts the WAL over, as it would after
      // the syncer's own checkpoint, which does nothing in this build (see the test).
      for (let i = 1; i <= 3; i++) {
        await waitUntil(() => load.acked >= (requests * i) / 4, 'auth-url answers before a checkpoint', 60_000);
        const ck = await lab.sqlite3('PRAGMA busy_timeout=5000; PRAGMA wal_checkpoint(PASSIVE);');
        if (ck.code !== 0) throw new Error(`sqlite3 wal_checkpoint: ${ck.out}`);
      }
    }
    await waitUntil(() => load.acked >= requests, `${requests} auth-url answers`, 60_000);
    await lab.cut();
    await load.done;
    // Writes to the database file by the first server before it was asked to stop: the
    // syncer's checkpoints.
    const db = lab.rec.finalNames.get('tr.db');
    const syncerCheckpointWrites = !restart || !db ? undefined : db.data.filter((d) => {
      const o = lab.rec.ops[d.k];
      return d.kind === 'write' && o.pid === notes.firstPid && o.ts < notes.sigtermAt;
    }).length;
    return { lab, apiKey, notes: { syncerCheckpointWrites } };
  });
}

/**
 * (2) Flow completions: API_TOKEN forms submitted (sealed credentials written, the session
 * spent, the user activated, in one write) and NONE links opened, among auth-url writes;
 * the power goes while completions are in flight.
 */
export async function completionScenario(tools, { links = 60 } = {}) {
  const lab = new Lab(tools, 'completion', { masterKey: newKey() });
  return guarded(lab, async () => {
    const { apiKey, cids } = await setupWorkspace(lab, { oauth: false, apiToken: true });
    lab.beginRecording();
    const server = await lab.startServer();
    // The links, then their forms' csrf values.
    const flows = [];
    for (let i = 0; i < links; i += 8) {
      const batch = await Promise.all(Array.from({ length: Math.min(8, links - i) }, (_, j) => {
        const flow = (i + j) % 2 ? 'none' : 'apiToken';
        return authUrl(lab, server, apiKey, flow === 'none' ? cids.none : cids.apiToken, flow, `flow-${i + j}`);
      }));
      flows.push(...batch.filter(Boolean));
    }
    for (const f of flows.filter((x) => x.flow === 'apiToken')) {
      const page = await fetch(`${server.url}/connect/${f.token}`);
      f.csrf = parseCsrf(await page.text());
      if (!f.csrf) throw new Error(`no form for ${f.userId}`);
    }
    // Completions, four at a time, with auth-url writes in the same batches.
    const background = authUrlLoad(lab, server, apiKey, [{ cid: cids.none, flow: 'none' }, { cid: cids.apiToken, flow: 'apiToken' }],
      { concurrency: 6, stop: () => false, prefix: 'bg' });
    let completed = 0;
    let next = 0;
    const complete = async () => {
      while (next < flows.length) {
        const f = flows[next++];
        const secret = f.flow === 'apiToken' ? `tok-${crypto.randomBytes(12).toString('hex')}` : null;
        lab.attempt('completion', { cid: f.cid, userId: f.userId, token: f.token });
        let res;
        let t;
        let html;
        try {
          res = f.flow === 'apiToken'
            ? await fetch(`${server.url}/connect/${f.token}`, {
              method: 'POST', redirect: 'manual', headers: { 'content-type': 'application/x-www-form-urlencoded' },
              body: new URLSearchParams({ csrf: f.csrf, token: secret }).toString(),
            })
            : await fetch(`${server.url}/connect/${f.token}`, { redirect: 'manual' });
          t = process.hrtime.bigint();
          html = await res.text();
        } catch {
          return;
        }
        const result = parseResult(html);
        if (result?.status !== 'success') throw new Error(`completing ${f.userId}: ${res.status} ${html.slice(0, 300)}`);
        lab.ack('completed', { cid: f.cid, userId: f.userId, token: f.token, flow: f.flow, secret }, t);
        completed++;
      }
    };
    const completions = Promise.all(Array.from({ length: 4 }, complete));
    await waitUntil(() => completed >= Math.floor(flows.length * 0.6), 'the completions');
    await lab.cut();
    await Promise.all([completions, background.done]);
    return { lab, apiKey, notes: { completed } };
  });
}

/**
 * (3) `keys rotate` in the middle: the key file (no TOOLREGISTRY_MASTER_KEY) gets a new key
 * and every sealed value (client secret, credentials, PKCE verifiers) is re-encrypted,
 * while the server keeps writing sessions sealed under the key it has.
 */
export async function rotateScenario(tools, { before = 300, after = 300 } = {}) {
  const lab = new Lab(tools, 'rotate', {});
  return guarded(lab, async () => {
    const { apiKey, cids } = await setupWorkspace(lab, { none: false, apiToken: true });
    // Before the recording: connected API_TOKEN users and pending OAuth sessions, on disk.
    const setup = await lab.startServer();
    for (let i = 0; i < 20; i++) {
      const link = await authUrl(lab, setup, apiKey, cids.apiToken, 'apiToken', `conn-${i}`);
      const csrf = parseCsrf(await (await fetch(`${setup.url}/connect/${link.token}`)).text());
      const secret = `tok-${crypto.randomBytes(12).toString('hex')}`;
      const res = await fetch(`${setup.url}/connect/${link.token}`, {
        method: 'POST', redirect: 'manual', headers: { 'content-type': 'application/x-www-form-urlencoded' },
        body: new URLSearchParams({ csrf, token: secret }).toString(),
      });
      if (parseResult(await res.text())?.status !== 'success') throw new Error('setup completion failed');
      lab.attempt('completion', { cid: cids.apiToken, userId: link.userId, token: link.token });
      lab.ack('completed', { cid: cids.apiToken, userId: link.userId, token: link.token, flow: 'apiToken', secret });
      await authUrl(lab, setup, apiKey, cids.oauth, 'oauth', `setup-${i}`);
    }
    await setup.stop('SIGTERM');
    for (const a of lab.acks) a.t = 0n;  // on disk before the recording began
    lab.beginRecording();
    const server = await lab.startServer();
    const load = authUrlLoad(lab, server, apiKey, [{ cid: cids.oauth, flow: 'oauth' }], { concurrency: 8, stop: () => false, prefix: 'load' });
    await waitUntil(() => load.acked >= before, 'auth-url answers before the rotation');
    // Someone opens connect links meanwhile. The server seals new values under the key it
    // has until it meets a value sealed under one it does not know (the rotation's), then
    // reads the key file again; under writes alone it would keep sealing under the old key,
    // and the rotation, which runs until nothing is left under another key, would not end.
    let rotating = true;
    const links = lab.acks.filter((a) => a.kind === 'authUrl' && a.flow === 'oauth');
    const reader = (async () => {
      for (let i = 0; rotating && !lab.halted; i++) {
        await fetch(`${server.url}/connect/${links[i % links.length].token}`, { redirect: 'manual' }).then((r) => r.text()).catch(() => {});
        await sleep(10);
      }
    })();
    const rotated = await lab.cliJson(['keys', 'rotate']).finally(() => { rotating = false; });
    await reader;
    lab.ack('rotate', { keyId: rotated.json.keyId }, rotated.t);
    const mark = load.acked;
    await waitUntil(() => load.acked >= mark + after, 'auth-url answers after the rotation');
    await lab.cut();
    await load.done;
    return { lab, apiKey, notes: { reencrypted: rotated.json.reencrypted, keyId: rotated.json.keyId } };
  });
}

/**
 * (4) The first start on an empty folder, without TOOLREGISTRY_MASTER_KEY: master.key is
 * made, the database created and bootstrapped; admin commands enable integrations; sealed
 * values are written under the new key.
 */
export async function firstStartScenario(tools, { requests = 300 } = {}) {
  const lab = new Lab(tools, 'firststart', {});
  return guarded(lab, async () => {
    lab.beginRecording();
    const server = await lab.startServer();
    const apiKey = server.bootstrapKey;
    const ws = server.bootstrapWorkspace;
    if (!apiKey || !ws) throw new Error(`no bootstrap lines:\n${server.describe()}`);
    lab.ack('bootstrap', { apiKey, workspaceId: ws });
    lab.ack('workspace', { workspaceId: ws });
    const oauth = await lab.cliJson(['integration', 'enable', '--workspace', ws, '--integration', 'github',
      '--auth-type', 'OAUTH2', '--client-id', 'pl-client', '--client-secret', 'pl-first-secret']);
    lab.ack('enabled', { cid: oauth.json.customerIntegrationId }, oauth.t);
    const none = await lab.cliJson(['integration', 'enable', '--workspace', ws, '--integration', 'open-meteo']);
    lab.ack('enabled', { cid: none.json.customerIntegrationId }, none.t);
    const cids = { oauth: oauth.json.customerIntegrationId, none: none.json.customerIntegrationId };
    await waitForIntegration(lab, server, apiKey, cids.oauth, 'oauth');
    await waitForIntegration(lab, server, apiKey, cids.none, 'none');
    const load = authUrlLoad(lab, server, apiKey, [{ cid: cids.oauth, flow: 'oauth' }, { cid: cids.none, flow: 'none' }],
      { concurrency: 12, stop: () => false, prefix: 'load' });
    await waitUntil(() => load.acked >= requests, 'auth-url answers');
    await lab.cut();
    await load.done;
    return { lab, apiKey, notes: {} };
  });
}

/**
 * (5) A transaction larger than SQLite's page cache: `import` writes every row of an
 * export in one transaction; with 25,000 users inserted in random key order it is about
 * 600 pages, over the 2,000 KiB default cache, so SQLite spills pages into the WAL before
 * the commit, writes some of them again, and at the commit rewrites the checksums of the
 * frame headers from the first rewritten frame on (docs/decisions.md, "A commit's WAL
 * frames in one write"). Then the admin command closes the database (a full checkpoint,
 * the WAL removed) and the server starts on it and takes auth-url writes.
 */
export async function bigTransactionScenario(tools, { users = 25000, requests = 200 } = {}) {
  const lab = new Lab(tools, 'bigtx', { masterKey: newKey() });
  return guarded(lab, async () => {
    // The export to import, made in a scratch database.
    const scratch = new Lab(tools, 'bigtx-scratch', { masterKey: lab.masterKey });
    let dump;
    let apiKey;
    let cid;
    try {
      const made = await setupWorkspace(scratch, { oauth: false });
      apiKey = made.apiKey;
      cid = made.cids.none;
      const file = path.join(scratch.dir, 'export.jsonl');
      const r = await scratch.cli(['export', '--out', file]);
      if (r.code !== 0) throw new Error(`export failed: ${r.stderr}`);
      const now = Date.now();
      const userIds = Array.from({ length: users }, (_, i) => `bulk-${crypto.randomBytes(5).toString('hex')}-${i}`);
      const lines = fs.readFileSync(file, 'utf8').trim().split('\n');
      for (const u of userIds) lines.push(JSON.stringify({ table: 'integration_users', row: [cid, u, 1, null, null, now, now, null, 0, null] }));
      dump = path.join(lab.dir, 'import.jsonl');
      fs.writeFileSync(dump, `${lines.join('\n')}\n`);
      lab.beginRecording();
      lab.attempt('import', { cid, userIds });
      const imported = await lab.cli(['import', '--in', dump]);
      if (imported.code !== 0) throw new Error(`import failed: ${imported.stdout} ${imported.stderr}`);
      lab.ack('import', { cid, userIds }, imported.t);
    } finally {
      await scratch.close();
    }
    const server = await lab.startServer();
    const load = authUrlLoad(lab, server, apiKey, [{ cid, flow: 'none' }], { concurrency: 12, stop: () => false, prefix: 'load' });
    await waitUntil(() => load.acked >= requests, 'auth-url answers');
    await lab.cut();
    await load.done;
    return { lab, apiKey, notes: {} };
  });
}

/** Runs a scenario's body; on a failure stops its clients and processes first. */
export async function guarded(lab, body) {
  try {
    return await body();
  } catch (err) {
    await lab.close({ keep: Boolean(process.env.POWERLOSS_KEEP) });
    throw err;
  }
}

/** What a recording shows about the WAL: checkpoints, restarts, rewritten frame headers. */
export function walFacts(rec) {
  const facts = { dbWrites: 0, walRestarts: 0, headerRewrites: 0, walWrites: 0 };
  const named = (inode, suffix) => [...rec.nsOps].some((n) => n.inode === inode && (n.name?.endsWith(suffix) || n.name2?.endsWith(suffix)))
    || [...rec.baseNames].some(([name, i]) => i === inode && name.endsWith(suffix));
  for (const inode of rec.inodes) {
    if (named(inode, 'tr.db')) facts.dbWrites += inode.data.filter((d) => d.kind === 'write' && d.k > 0).length;
    if (!named(inode, '-wal')) continue;
    let end = 0;
    let seenStart = false;
    for (const d of inode.data) {
      if (d.kind !== 'write') continue;
      facts.walWrites++;
      if (d.off === 0) { if (seenStart) facts.walRestarts++; seenStart = true; }
      if (d.data.length === 24 && d.off + 24 <= end && (d.off - 32) % (24 + 4096) === 0) facts.headerRewrites++;
      end = Math.max(end, d.off + d.data.length);
    }
  }
  return facts;
}

/**
 * Cut points no run should miss: around every name change, each start of a WAL (its
 * header written at offset 0, then synced), and the first, middle and last writes of
 * every checkpoint into the database file.
 */
export function keyMoments(rec) {
  const out = [];
  const isNamed = (inode, suffix) => rec.nsOps.some((n) => n.inode === inode && (n.name?.endsWith(suffix) || n.name2?.endsWith(suffix)))
    || [...rec.baseNames].some(([name, i]) => i === inode && name.endsWith(suffix));
  for (const n of rec.nsOps) out.push(n.k, n.k + 1);
  for (const inode of rec.inodes) {
    const writes = inode.data.filter((d) => d.kind === 'write');
    if (isNamed(inode, '-wal')) {
      for (const d of writes.filter((w) => w.off === 0)) out.push(d.k, d.k + 1, d.k + 2, d.k + 4);
    } else if (isNamed(inode, 'tr.db') && writes.length) {
      // Runs of writes into the database file: each run is one checkpoint.
      let start = 0;
      for (let j = 1; j <= writes.length; j++) {
        if (j === writes.length || writes[j].k - writes[j - 1].k > 50) {
          const run = writes.slice(start, j);
          out.push(run[0].k, run[0].k + 1, run[Math.floor(run.length / 2)].k, run.at(-1).k + 1, run.at(-1).k + 3);
          start = j;
        }
      }
    }
  }
  return [...new Set(out)];
}
