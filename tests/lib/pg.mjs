// PostgreSQL for the black-box tests. When TOOLREGISTRY_TEST_PG_URL names a server (an admin
// URL, e.g. the throwaway cluster of scripts/pg-cluster.sh), every Context gets a fresh
// database of its own on it instead of a SQLite file; without it, everything runs on SQLite.
// Uses Debian's psql / pg_dump (postgresql-client), synchronously: each call is a few ms.

import { spawnSync } from 'node:child_process';
import crypto from 'node:crypto';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import assert from 'node:assert/strict';

export const PG_ADMIN_URL = process.env.TOOLREGISTRY_TEST_PG_URL || '';
/** True when the suite runs against PostgreSQL. */
export const ON_PG = PG_ADMIN_URL !== '';

/** `url` with its database name replaced by `name` (query string kept). */
export function withDatabase(url, name) {
  const u = new URL(url);
  u.pathname = `/${name}`;
  return u.toString();
}

/** Runs `sql` with psql on `url`; the unaligned output, trimmed. Throws on failure. */
export function psql(url, sql) {
  const r = spawnSync('psql', ['-X', '-A', '-t', '-q', '-v', 'ON_ERROR_STOP=1', '-d', url, '-c', sql],
    { encoding: 'utf8', timeout: 30_000 });
  if (r.error) throw new Error(`psql could not run (apt-get install postgresql-client): ${r.error}`);
  if (r.status !== 0) throw new Error(`psql "${sql}" failed: ${r.stderr}`);
  return r.stdout.trim();
}

/** Creates a new empty database; its URL. */
export function createDatabase(adminUrl = PG_ADMIN_URL) {
  const name = `tr_${crypto.randomBytes(6).toString('hex')}`;
  psql(adminUrl, `CREATE DATABASE ${name}`);
  return withDatabase(adminUrl, name);
}

/** Drops the database at `url` (closing its connections); best effort. */
export function dropDatabase(url) {
  const name = new URL(url).pathname.slice(1);
  try {
    psql(PG_ADMIN_URL, `DROP DATABASE IF EXISTS ${name} WITH (FORCE)`);
  } catch { /* the server may be gone already */ }
}

/** A plain-SQL dump of the database at `url` (pg_dump): everything it stores, as bytes. */
export function dump(url) {
  const r = spawnSync('pg_dump', ['--no-owner', '-d', url], { timeout: 30_000, maxBuffer: 256 << 20 });
  assert.equal(r.error, undefined, `pg_dump could not run: ${r.error}`);
  assert.equal(r.status, 0, `pg_dump failed: ${r.stderr}`);
  return r.stdout;
}

/**
 * PostgreSQL's counterpart of SQLite's integrity_check: amcheck verifies every B-tree index
 * of the database (their order and that they match the heap); foreign keys are enforced.
 */
export function assertIntact(url, where) {
  psql(url, 'CREATE EXTENSION IF NOT EXISTS amcheck');
  const checked = psql(url, "SELECT count(bt_index_check(c.oid, true)) FROM pg_index i "
    + "JOIN pg_class c ON c.oid = i.indexrelid JOIN pg_namespace n ON n.oid = c.relnamespace "
    + "JOIN pg_am a ON a.oid = c.relam WHERE n.nspname = 'public' AND a.amname = 'btree'");
  assert.ok(Number(checked) > 0, `${where}: no index checked`);
}

/**
 * A throwaway cluster of its own (scripts/pg-cluster.sh), for tests that stop the server:
 * {url (admin), kill() (pg_ctl stop -m immediate), resume() (same port), stop() (removes it)}.
 */
export function startCluster(repoRoot) {
  const script = `${repoRoot}/scripts/pg-cluster.sh`;
  const parent = fs.mkdtempSync(path.join(os.tmpdir(), 'tr-pgc-'));
  fs.chmodSync(parent, 0o755);  // the cluster runs as an unprivileged user when we are root
  const dir = path.join(parent, 'cluster');
  const run = (cmd) => {
    const r = spawnSync(script, [cmd, dir], { encoding: 'utf8', timeout: 60_000 });
    assert.equal(r.status, 0, `pg-cluster.sh ${cmd}: ${r.stderr}`);
    return r.stdout.trim();
  };
  const url = run('start');
  return {
    url,
    kill: () => run('kill'),
    resume: () => run('resume'),
    stop: () => { run('stop'); fs.rmSync(parent, { recursive: true, force: true }); },
  };
}
