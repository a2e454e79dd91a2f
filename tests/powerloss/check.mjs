// Checks the disk images of a recording (tests/powerloss/model.mjs) with the real
// toolregistry: each image must open, pass PRAGMA integrity_check, and keep every answer a
// client got before the cut (lab.acks), with nothing half-written visible.
//
// Acknowledgements (lab.ack(kind, …)), each required at every cut after its time `t`:
//   authUrl   {cid, userId, token, flow: oauth|none|apiToken}: the user answers 200 and the
//             connect link still works (OAuth: 302 to the provider; API_TOKEN: the form;
//             NONE: completes) or says it was used, when its completion may be in the image
//   completed {cid, userId, token, flow, secret}: the user is active, its credentials are
//             the secret (API_TOKEN), the link says it was used
//   bootstrap {apiKey}: the key printed on first start is accepted
//   workspace {workspaceId}, enabled {cid}: rows an admin command reported
//   rotate    {keyId}: `keys rotate` reported the new key: the key file holds it
//   import    {cid, count}: `import` reported: all the imported users are there
// Invariants, at every cut: every sealed value's key is at hand (env or master.key); users
// of the harness's API_TOKEN integrations are active exactly when they have credentials
// and a used session; every user the harness created through auth-url has a session; an
// import is all there or not at all.

import { spawnSync } from 'node:child_process';
import crypto from 'node:crypto';
import fs from 'node:fs';
import path from 'node:path';

import { startServer } from '../lib/harness.mjs';
import { parseCsrf, parseResult } from '../lib/browser.mjs';
import { Recording, rng } from './model.mjs';

const SQL = `
SELECT 't', name FROM sqlite_master WHERE type = 'table';
SELECT 'ic', integrity_check FROM pragma_integrity_check;
SELECT 'fk', "table", parent FROM pragma_foreign_key_check;
SELECT 'u', customer_integration_id, user_id, active, credentials IS NOT NULL, COALESCE(credentials_key_id, '') FROM integration_users;
SELECT 's', customer_integration_id, user_id, used_at IS NOT NULL, pkce_key_id FROM connect_sessions;
SELECT 'k', client_secret_key_id FROM customer_integrations WHERE client_secret IS NOT NULL;
SELECT 'k', secret_key_id FROM webhooks;
SELECT 'w', workspace_id FROM workspaces;
SELECT 'c', customer_integration_id, auth_type FROM customer_integrations;
`;

/**
 * Reads what an image holds with Debian's sqlite3. It runs on a copy (`dir`), since it may
 * have to roll a hot journal back or recover the WAL, which a read-only connection cannot
 * do: the server must then meet the image as the power cut left it.
 */
function readFacts(dbFile) {
  const r = spawnSync('sqlite3', ['-batch', '-noheader', '-separator', '\t', dbFile],
    { input: SQL, encoding: 'utf8', maxBuffer: 256 << 20, timeout: 30_000 });
  if (r.error) throw new Error(`sqlite3 could not run (apt-get install sqlite3): ${r.error.message}`);
  const facts = { ok: false, integrity: [], fk: [], users: new Map(), sessions: new Map(), keyIds: new Set(),
    workspaces: new Set(), cis: new Map(), tables: new Set(), error: r.status === 0 ? '' : r.stderr.trim() };
  for (const line of r.stdout.split('\n')) {
    if (!line) continue;
    const f = line.split('\t');
    switch (f[0]) {
      case 't': facts.tables.add(f[1]); break;
      case 'ic': facts.integrity.push(f[1]); break;
      case 'fk': facts.fk.push(f.slice(1).join(' ')); break;
      case 'u':
        facts.users.set(`${f[1]}/${f[2]}`, { active: f[3] === '1', creds: f[4] === '1' });
        if (f[5]) facts.keyIds.add(f[5]);
        break;
      case 's': {
        const k = `${f[1]}/${f[2]}`;
        const s = facts.sessions.get(k) ?? { count: 0, used: 0 };
        s.count++;
        if (f[3] === '1') s.used++;
        facts.sessions.set(k, s);
        if (f[4]) facts.keyIds.add(f[4]);
        break;
      }
      case 'k': if (f[1]) facts.keyIds.add(f[1]); break;
      case 'w': facts.workspaces.add(f[1]); break;
      case 'c': facts.cis.set(f[1], f[2]); break;
      default: break;
    }
  }
  // A cut during the first start may leave the schema not made yet, or partly (each
  // migration is one transaction): the server makes the rest. Only then is a missing
  // table no error.
  const schemaDone = ['integration_users', 'connect_sessions', 'webhooks', 'customer_integrations', 'workspaces']
    .every((t) => facts.tables.has(t));
  facts.schemaDone = schemaDone;
  if (!schemaDone && facts.error && facts.error.split('\n').every((l) => /no such table/.test(l))) facts.error = '';
  facts.ok = facts.error === '' && facts.integrity.length === 1 && facts.integrity[0] === 'ok' && facts.fk.length === 0;
  return facts;
}

/** The key id the server gives a master key (hex of the first 8 bytes of its SHA-256). */
export function keyId(keyBytes) {
  return crypto.createHash('sha256').update(keyBytes).digest('hex').slice(0, 16);
}

/** The keys in a master.key file's bytes: {ids, first} or {error}. */
function parseKeyFile(bytes) {
  const lines = bytes.toString('utf8').split('\n').filter((l) => l.trim() !== '');
  if (lines.length === 0) return { error: `holds no key (${bytes.length} bytes)` };
  const ids = [];
  for (const l of lines) {
    const key = Buffer.from(l.trim(), 'base64');
    if (key.length !== 32) return { error: `a line that is not a key (${bytes.length} bytes)` };
    ids.push(keyId(key));
  }
  return { ids, first: ids[0] };
}

async function get(url, opts = {}) {
  const res = await fetch(url, { redirect: 'manual', signal: AbortSignal.timeout(10_000), ...opts });
  const text = await res.text();
  return { status: res.status, text, location: res.headers.get('location') };
}

/** The acknowledgements to check over HTTP at one cut: the newest and a random few. */
function sample(list, n, rand) {
  if (list.length <= n) return list;
  const newest = list.slice(-Math.ceil(n / 2));
  const rest = list.slice(0, -Math.ceil(n / 2));
  const picked = new Set();
  while (picked.size < Math.floor(n / 2)) picked.add(rest[rand.int(rest.length)]);
  return [...picked, ...newest];
}

/**
 * Checks one image: returns {failures: [string], verified: number of acknowledgements
 * checked, http: number checked over HTTP}.
 */
export async function checkImage(lab, k, variant, seed, { apiKey, httpSample = 10 } = {}) {
  const rec = lab.rec;
  const cutTs = rec.cutTs(k);
  const image = rec.image(k, variant, seed);
  const dir = path.join(lab.imagesDir, `cut-${k}-${variant}-${seed}`);
  fs.mkdirSync(dir);
  Recording.writeImage(image, dir);
  const where = `cut ${k}/${rec.length} (${variant}, seed ${seed})`;
  const failures = [];
  const fail = (msg) => failures.push(`${where}: ${msg}`);
  const required = lab.acks.filter((a) => a.t < cutTs);
  const rand = rng(seed * 7919 + k);
  let http = 0;
  let server;
  try {
    const hasDb = image.files.has('tr.db');
    if (!hasDb) {
      if (required.length > 0) fail(`tr.db is missing, ${required.length} answers were given before the cut`);
      return { failures, verified: 0, http };
    }
    const copy = `${dir}-sqlite3`;
    fs.mkdirSync(copy);
    Recording.writeImage(image, copy);
    const facts = readFacts(path.join(copy, 'tr.db'));
    fs.rmSync(copy, { recursive: true, force: true });
    if (!facts.ok) {
      fail(`the database does not open whole: ${facts.error || ''} integrity_check: ${facts.integrity.slice(0, 3).join('; ')}`
        + `${facts.fk.length ? `; foreign_key_check: ${facts.fk.slice(0, 3).join('; ')}` : ''}`);
      return { failures, verified: 0, http };
    }

    // The keys the server will have: the environment's, or the image's master.key.
    let keys;
    if (lab.masterKey) {
      keys = { ids: [keyId(Buffer.from(lab.masterKey, 'base64'))] };
    } else if (image.files.has('master.key')) {
      keys = parseKeyFile(image.files.get('master.key'));
      if (keys.error) fail(`master.key ${keys.error}: the server refuses to start`);
    } else {
      keys = { ids: [], missing: true };
      if (facts.keyIds.size > 0) fail(`master.key is missing, the database holds values sealed under ${[...facts.keyIds].join(', ')}`);
    }
    if (keys.ids) {
      const lost = [...facts.keyIds].filter((id) => !keys.ids.includes(id));
      if (lost.length && !keys.missing) {
        fail(`values sealed under key ${lost.join(', ')}, which master.key (${keys.ids.join(', ')}) does not hold: they cannot be read`);
      }
    }

    // Invariants: nothing half-written.
    for (const [ci, type] of facts.cis) {
      if (type !== 'API_TOKEN') continue;
      for (const [key, u] of facts.users) {
        if (!key.startsWith(`${ci}/`)) continue;
        const s = facts.sessions.get(key) ?? { count: 0, used: 0 };
        if (u.active !== u.creds || u.active !== (s.used > 0)) {
          fail(`half-written completion of ${key}: active ${u.active}, credentials ${u.creds}, used sessions ${s.used}`);
        }
      }
    }
    for (const a of lab.attempts.filter((x) => x.kind === 'authUrl')) {
      const key = `${a.cid}/${a.userId}`;
      if (facts.users.has(key) && !facts.sessions.has(key)) fail(`user ${key} without its connect session`);
    }
    for (const a of lab.attempts.filter((x) => x.kind === 'import')) {
      const there = a.userIds.filter((u) => facts.users.has(`${a.cid}/${u}`)).length;
      if (there !== 0 && there !== a.userIds.length) fail(`half an import: ${there} of ${a.userIds.length} users`);
    }

    // Every acknowledgement before the cut, in the database.
    const lostOnes = [];
    for (const a of required) {
      const key = `${a.cid}/${a.userId}`;
      switch (a.kind) {
        case 'authUrl':
          if (!facts.users.has(key) || !facts.sessions.has(key)) lostOnes.push(`auth-url 201 for ${a.userId}`);
          break;
        case 'completed': {
          const u = facts.users.get(key);
          if (!u || !u.active || (a.secret && !u.creds)) lostOnes.push(`completed flow of ${a.userId} (${u ? `active ${u.active}, credentials ${u.creds}` : 'no user'})`);
          break;
        }
        case 'workspace':
          if (!facts.workspaces.has(a.workspaceId)) lostOnes.push(`workspace ${a.workspaceId}`);
          break;
        case 'enabled':
          if (!facts.cis.has(a.cid)) lostOnes.push(`customer integration ${a.cid}`);
          break;
        case 'rotate':
          if (keys.ids && !keys.ids.includes(a.keyId)) lostOnes.push(`keys rotate's new key ${a.keyId} (master.key holds ${keys.ids.join(', ')})`);
          break;
        case 'import': {
          const there = a.userIds.filter((u) => facts.users.has(`${a.cid}/${u}`)).length;
          if (there !== a.userIds.length) lostOnes.push(`import: ${a.userIds.length - there} of ${a.userIds.length} users missing`);
          break;
        }
        default: break;
      }
    }
    if (lostOnes.length) {
      fail(`LOST ${lostOnes.length} of ${required.length} acknowledged commits, e.g. ${lostOnes.slice(0, 3).join('; ')}`);
    }
    if (keys.error) return { failures, verified: required.length, http };

    // The server on the image: the same answers over HTTP.
    try {
      server = await startServer({
        env: lab.env(false), database: `sqlite:${path.join(dir, 'tr.db')}`, bin: lab.tools.bin,
        extraArgs: ['--rate-limit', '0', '--no-access-log'],
      });
    } catch (err) {
      fail(`toolregistry does not start: ${String(err.message).split('\n').filter((l) => /error|refus|cannot/i.test(l)).slice(0, 2).join(' | ') || err.message.slice(0, 300)}`);
      return { failures, verified: required.length, http };
    }
    const key = apiKey ?? required.find((a) => a.kind === 'bootstrap')?.apiKey;
    const byKind = (kind) => required.filter((a) => a.kind === kind);
    const completedTokens = new Set(lab.attempts.filter((a) => a.kind === 'completion').map((a) => a.token));
    const completedBefore = new Set(byKind('completed').map((a) => a.token));
    const httpFails = [];
    for (const a of byKind('bootstrap')) {
      const r = await get(`${server.url}/v1/integrations`, { headers: { 'x-api-key': a.apiKey } });
      http++;
      if (r.status !== 200) httpFails.push(`bootstrap key: ${r.status}`);
    }
    const userUrl = (a) => `${server.url}/v1/integrations/${a.cid}/users/${encodeURIComponent(a.userId)}`;
    for (const a of [...sample(byKind('authUrl'), httpSample, rand), ...sample(byKind('completed'), httpSample, rand),
      ...sample(byKind('import').flatMap((x) => x.userIds.slice(0, 3).map((u) => ({ ...x, userId: u, kind: 'imported' }))), 3, rand)]) {
      if (!key) break;
      http++;
      const u = await get(userUrl(a), { headers: { 'x-api-key': key } });
      if (u.status !== 200) { httpFails.push(`GET user ${a.userId}: ${u.status} ${u.text.slice(0, 120)}`); continue; }
      if (a.kind === 'imported') continue;
      const user = JSON.parse(u.text);
      if (a.kind === 'completed' && !user.active) httpFails.push(`completed ${a.userId}: inactive`);
      if (a.kind === 'completed' && a.secret) {
        const c = await get(`${userUrl(a)}/credentials`, { headers: { 'x-api-key': key } });
        let body;
        try { body = JSON.parse(c.text); } catch { body = undefined; }
        if (c.status !== 200 || body?.token !== a.secret) httpFails.push(`credentials of ${a.userId}: ${c.status} ${c.text.slice(0, 120)}`);
      }
      const link = await get(`${server.url}/connect/${a.token}`);
      const result = parseResult(link.text);
      const used = result?.status === 'error' && result.errorCode === 'session_used';
      const mayBeUsed = completedTokens.has(a.token);
      if (a.kind === 'completed' || completedBefore.has(a.token)) {
        if (!used) httpFails.push(`link of completed ${a.userId}: ${link.status} ${result ? JSON.stringify(result) : link.text.slice(0, 120)}`);
      } else if (used && mayBeUsed) {
        // Its completion was under way at the cut and made it: whole, checked above.
      } else if (a.flow === 'oauth') {
        if (link.status !== 302 || !String(link.location).startsWith('https://github.com/login/oauth/authorize?')) {
          httpFails.push(`OAuth link of ${a.userId}: ${link.status} ${link.location ?? (result ? JSON.stringify(result) : link.text.slice(0, 120))}`);
        }
      } else if (a.flow === 'apiToken') {
        if (link.status !== 200 || !parseCsrf(link.text)) httpFails.push(`form link of ${a.userId}: ${link.status} ${result ? JSON.stringify(result) : ''}`);
      } else if (a.flow === 'none') {
        if (result?.status !== 'success' && !used) httpFails.push(`NONE link of ${a.userId}: ${link.status} ${result ? JSON.stringify(result) : link.text.slice(0, 120)}`);
      }
    }
    // Requests never answered: whole or absent, never an error.
    const answered = new Set(lab.acks.filter((a) => a.kind === 'authUrl').map((a) => `${a.cid}/${a.userId}`));
    const unanswered = lab.attempts.filter((a) => a.kind === 'authUrl' && !answered.has(`${a.cid}/${a.userId}`));
    // (Only once an answer shows the key is in the database: before the import, it is not.)
    for (const a of key && required.length > 0 ? sample(unanswered, 4, rand) : []) {
      http++;
      const u = await get(userUrl(a), { headers: { 'x-api-key': key } });
      if (u.status !== 200 && u.status !== 404) httpFails.push(`GET unanswered user ${a.userId}: ${u.status} ${u.text.slice(0, 120)}`);
    }
    if (httpFails.length) fail(`over HTTP: ${httpFails.length} failed, e.g. ${httpFails.slice(0, 3).join('; ')}`);
    return { failures, verified: required.length, http };
  } finally {
    if (server) await server.stop('SIGKILL').catch(() => {});
    fs.rmSync(dir, { recursive: true, force: true });
  }
}

/**
 * Picks about `budget` cut points: the interesting ones (model.interestingCuts) first,
 * spread over the run, then random ones; returns [{k, variant, seed}], each cut with one
 * variant, round robin over synced / all / pages / subset.
 */
export function chooseCuts(rec, budget, { focus = ['tr.db'], seed = 1, must = [] } = {}) {
  const rand = rng(seed);
  const total = Math.min(budget, rec.length + 1);
  const chosen = new Set([rec.length]);
  for (const k of must) if (k >= 0 && k <= rec.length && chosen.size < total) chosen.add(k);
  // Then the interesting ones, an even stride over them so that every phase of the run is
  // covered, up to 70% of the budget; then random ones.
  const interesting = rec.interestingCuts(focus).filter((k) => !chosen.has(k));
  const want = Math.max(0, Math.floor(total * 0.7) - chosen.size);
  if (interesting.length <= want) interesting.forEach((k) => chosen.add(k));
  else for (let j = 0; j < want; j++) chosen.add(interesting[Math.floor((j * interesting.length) / want)]);
  while (chosen.size < total) chosen.add(rand.int(rec.length + 1));
  // A cut while a sync runs, and the end, with only what was synced: where a commit
  // answered before its sync returned shows. The others in turn: pending writes kept in
  // part, in any order, torn; all kept; only synced.
  const variants = ['pages', 'all', 'subset', 'pages', 'synced'];
  const out = [];
  [...chosen].sort((a, b) => a - b).forEach((k, j) => {
    const duringSync = k < rec.length && rec.ops[k].op === 'syncEnd';
    out.push({ k, variant: duringSync || k === rec.length ? 'synced' : variants[j % variants.length], seed: seed * 1000 + j });
    if (k === rec.length) out.push({ k, variant: 'pages', seed: seed * 1000 + j + 500 });
  });
  return out;
}

/**
 * Checks every chosen image, `parallel` at a time. Returns
 * {cuts, images, verified, http, failures, ms}.
 */
export async function checkCuts(lab, cuts, opts = {}, parallel = 2) {
  const started = Date.now();
  const out = { cuts: new Set(cuts.map((c) => c.k)).size, images: cuts.length, verified: 0, http: 0, failures: [] };
  let next = 0;
  const worker = async () => {
    while (next < cuts.length) {
      const c = cuts[next++];
      const r = await checkImage(lab, c.k, c.variant, c.seed, opts);
      out.verified += r.verified;
      out.http += r.http;
      out.failures.push(...r.failures);
    }
  };
  await Promise.all(Array.from({ length: parallel }, worker));
  out.ms = Date.now() - started;
  return out;
}

