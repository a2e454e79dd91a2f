// Shared helpers for the black-box tests of the `toolregistry` binary.
//
// Every test file creates one Context (a private temp dir, a private SQLite
// database, or a private PostgreSQL database when TOOLREGISTRY_TEST_PG_URL is set
// (see pg.mjs), a private master key), starts its own servers on 127.0.0.1:0 and
// drives the admin CLI against the same database. Nothing here sleeps for a
// fixed time: servers are ready when they print their "listening on" line, and
// every wait has a deadline so that a hung binary fails a test instead of
// hanging the run.

import { spawn, spawnSync } from 'node:child_process';
import net from 'node:net';
import crypto from 'node:crypto';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import assert from 'node:assert/strict';
import { fileURLToPath } from 'node:url';

import Ajv from 'ajv';
import * as pg from './pg.mjs';

export { ON_PG } from './pg.mjs';
import addFormats from 'ajv-formats';

const here = path.dirname(fileURLToPath(import.meta.url));
export const REPO_ROOT = path.resolve(here, '..', '..');
export const BIN = process.env.TOOLREGISTRY_BIN
  ? path.resolve(process.env.TOOLREGISTRY_BIN)
  : path.join(REPO_ROOT, 'build', 'toolregistry');

/** Default deadline for any single wait (server start, CLI run, HTTP call). */
export const TIMEOUT_MS = 10_000;

// ---------------------------------------------------------------------------
// Patterns and constants

export const UUID_V4 = /^[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$/;
export const TIMESTAMP = /^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}\.\d{3}Z$/;
export const API_KEY = /^sk_live_\S+$/;
export const AUTH_TYPES = ['NONE', 'API_TOKEN', 'OAUTH2', 'AWS_ASSUME_ROLE', 'GOOGLE_SERVICE_ACCOUNT_OAUTH'];

export const STATUS_TEXT = {
  400: 'Bad Request',
  401: 'Unauthorized',
  403: 'Forbidden',
  404: 'Not Found',
  405: 'Method Not Allowed',
  409: 'Conflict',
  413: 'Payload Too Large',
  414: 'URI Too Long',
  415: 'Unsupported Media Type',
  429: 'Too Many Requests',
  431: 'Request Header Fields Too Large',
  500: 'Internal Server Error',
  501: 'Not Implemented',
  502: 'Bad Gateway',
  503: 'Service Unavailable',
  504: 'Gateway Timeout',
};

/** A random, well-formed UUID v4 that no server has handed out. */
export function randomUuid() {
  return crypto.randomUUID();
}

/** A random string usable as a userId or a name suffix. */
export function rand(n = 8) {
  return crypto.randomBytes(n).toString('hex');
}

// ---------------------------------------------------------------------------
// Schema validation against the published seed OpenAPI document

const seed = JSON.parse(fs.readFileSync(path.join(REPO_ROOT, 'spec', 'seed-openapi.json'), 'utf8'));
const ajv = new Ajv({ strict: false, allErrors: true });
addFormats(ajv);
ajv.addSchema({ $id: 'seed', components: seed.components });

const ref = (name) => ({ $ref: `seed#/components/schemas/${name}` });
const validators = {
  IntegrationList: ajv.compile({ type: 'array', items: ref('IntegrationResponseDto') }),
  IntegrationResponseDto: ajv.compile(ref('IntegrationResponseDto')),
  IntegrationUserResponseDto: ajv.compile(ref('IntegrationUserResponseDto')),
  IntegrationUserAuthUrlResponseDto: ajv.compile(ref('IntegrationUserAuthUrlResponseDto')),
};

/** Asserts that `value` matches the named seed schema (or 'IntegrationList'). */
export function assertSchema(name, value) {
  const validate = validators[name];
  assert.ok(validate, `no validator named ${name}`);
  if (!validate(value)) {
    assert.fail(`${name} schema violation: ${ajv.errorsText(validate.errors)}\nbody: ${JSON.stringify(value)}`);
  }
}

// ---------------------------------------------------------------------------
// Polling

/**
 * Calls `fn` until it returns without throwing, or the deadline passes (then
 * rethrows the last error); returns what `fn` returned. `fn` runs any number of
 * times, so it must not change anything a later assertion looks at. Admin
 * changes are waited for with waitForAdminChange.
 */
export async function eventually(fn, { timeout = 1500, interval = 50 } = {}) {
  const deadline = Date.now() + timeout;
  for (;;) {
    try {
      return await fn();
    } catch (err) {
      if (Date.now() >= deadline) throw err;
    }
    await new Promise((r) => setTimeout(r, interval));
  }
}

/** How long an admin change may take to reach a running server: the contract's second, and slack. */
export const ADMIN_CHANGE_MS = 1500;

/**
 * Waits until an admin change made with the CLI (workspace, redirect origin, API key,
 * custom integration, customer integration) is in effect on a running server: calls
 * `probe` until it returns without throwing, for at most ADMIN_CHANGE_MS, and returns
 * what it returned. A server may answer from what it read before the change for up to
 * one second (on PostgreSQL it notices another process's change by polling), so `probe`
 * also runs, any number of times, while the old answer is still given. Hence:
 *
 * - `probe` only reads, or it writes under a new id on every call (a fresh userId for
 *   auth-url, see probeInactive) and returns that id; the assertions that follow use what
 *   `probe` returned, never assume that an earlier call left nothing behind.
 * - `probe` asks the question the test is about (the same request, on the same object): a
 *   server may keep its answers apart, so a list that shows an integration disabled says
 *   nothing about auth-url on it, nor does one workspace's list about another's.
 */
export function waitForAdminChange(probe) {
  return eventually(probe, { timeout: ADMIN_CHANGE_MS });
}

// ---------------------------------------------------------------------------
// Context: temp dir, database, environment, processes to clean up

/**
 * TR_TEST_SQLITE_IO=plain runs the servers and admin commands a test starts with SQLite's own
 * I/O (`--sqlite-io=plain`, docs/decisions.md, "Plain SQLite I/O"); unset: the default (tr).
 * `make blackbox-test-plain` runs the durability, crash and power-loss tests so.
 */
export const SQLITE_IO = process.env.TR_TEST_SQLITE_IO || undefined;

function cleanEnv(extra) {
  const env = {};
  for (const [k, v] of Object.entries(process.env)) {
    if (!k.startsWith('TOOLREGISTRY_')) env[k] = v;
  }
  if (SQLITE_IO) env.TOOLREGISTRY_SQLITE_IO = SQLITE_IO;
  return { ...env, ...extra };
}

// Sanitizer builds (make asan-test, tsan-test): a report on a server's or a CLI run's stderr
// fails the test. With TOOLREGISTRY_TEST_SANITIZER set, contexts stop their servers with
// SIGTERM rather than SIGKILL, so that LeakSanitizer runs at exit.
const SANITIZER_REPORT = /(ERROR: (Address|Leak|Thread|Memory)Sanitizer|WARNING: ThreadSanitizer|:\d+:\d+: runtime error: |SUMMARY: \w+Sanitizer)/;
const SANITIZED_RUN = Boolean(process.env.TOOLREGISTRY_TEST_SANITIZER);
const sanitizerReports = [];  // from CLI runs
const startedServers = [];    // every server of this test file

/** The sanitizer report in `text` (from its first line, at most 6000 characters), or undefined. */
export function findSanitizerReport(text) {
  const m = SANITIZER_REPORT.exec(text);
  if (!m) return undefined;
  const start = text.lastIndexOf('\n', m.index) + 1;
  return text.slice(start, start + 6000);
}

function recordSanitizerReport(what, report) {
  sanitizerReports.push(`${what}:\n${report}`);
}

// A report seen anywhere in this test file fails it, even when no assertion looked.
process.on('exit', () => {
  for (const server of startedServers) {
    if (server.sanitizerReport) recordSanitizerReport(`toolregistry ${server.args.join(' ')}`, server.sanitizerReport);
  }
  if (sanitizerReports.length > 0) {
    process.stderr.write(`sanitizer reports:\n${sanitizerReports.join('\n---\n')}\n`);
    process.exitCode = 1;
  }
});

// Safety net: whatever a failing suite left behind is killed and removed when
// the test process exits.
const liveContexts = new Set();
process.on('exit', () => {
  for (const c of liveContexts) {
    for (const s of c.servers) {
      try { s.proc.kill('SIGKILL'); } catch { /* gone */ }
    }
    try { fs.rmSync(c.dir, { recursive: true, force: true }); } catch { /* best effort */ }
    for (const url of c.pgDatabases) pg.dropDatabase(url);
  }
});

export class Context {
  /**
   * `database`: use this (existing, empty) database URL instead of a new one; `sqlite`: a
   * SQLite file even when the suite runs on PostgreSQL.
   */
  constructor({ masterKey = true, database, sqlite = false } = {}) {
    liveContexts.add(this);
    this.dir = fs.mkdtempSync(path.join(os.tmpdir(), 'tr-'));
    this.dbPath = path.join(this.dir, 'tr.db');  // SQLite only
    this.pgDatabases = [];
    this.database = database || (pg.ON_PG && !sqlite ? this._newPgDatabase() : `sqlite:${this.dbPath}`);
    this.masterKey = masterKey ? crypto.randomBytes(32).toString('base64') : undefined;
    this.env = cleanEnv(this.masterKey ? { TOOLREGISTRY_MASTER_KEY: this.masterKey } : {});
    this.servers = new Set();
    this.startedServers = [];  // also those that exited, for their sanitizer reports
    this._catalog = undefined;
  }

  /** A second database in the same temp dir, or on PostgreSQL (for tests that need two). */
  otherDatabase(name) {
    return pg.ON_PG ? this._newPgDatabase() : `sqlite:${path.join(this.dir, name)}`;
  }

  _newPgDatabase() {
    const url = pg.createDatabase();
    this.pgDatabases.push(url);
    return url;
  }

  /**
   * Everything the database holds, as [name, bytes] pairs: the SQLite files (main, -wal,
   * -shm), or a pg_dump of the PostgreSQL database.
   */
  databaseContents() {
    if (pg.ON_PG) return [['pg_dump', pg.dump(this.database)]];
    return fs.readdirSync(this.dir).filter((f) => f.startsWith('tr.db'))
      .map((f) => [f, fs.readFileSync(path.join(this.dir, f))]);
  }

  /**
   * Runs one SQL statement on this context's database, beside a running server (sqlite3
   * waits up to 5 s for its lock; psql on PostgreSQL). Returns the output, trimmed. For a
   * test that must reach a state no API makes, such as a row that has aged.
   */
  sql(statement, where = 'sql') {
    if (pg.ON_PG) return pg.psql(this.database, statement);
    const r = spawnSync('sqlite3', ['-cmd', '.timeout 5000', this.dbPath, statement], { encoding: 'utf8', timeout: TIMEOUT_MS });
    assert.equal(r.error, undefined, `sqlite3 could not run (apt-get install sqlite3): ${r.error}`);
    assert.equal(r.status, 0, `${where}: sqlite3 "${statement}" failed:\n${r.stdout}\n${r.stderr}`);
    return r.stdout.trim();
  }

  /** Asserts the database is intact: integrity_check + foreign_key_check, or amcheck on PostgreSQL. */
  assertDatabaseIntact(where) {
    if (pg.ON_PG) return pg.assertIntact(this.database, where);
    assert.equal(this.sql('PRAGMA integrity_check;', where), 'ok', `${where}: integrity_check`);
    assert.equal(this.sql('PRAGMA foreign_key_check;', where), '', `${where}: foreign_key_check`);
  }

  /** Starts `toolregistry serve` on this context's database. */
  async startServer(opts = {}) {
    const server = await startServer({ env: this.env, database: this.database, ...opts });
    this.servers.add(server);
    this.startedServers.push(server);
    server.proc.once('exit', () => this.servers.delete(server));
    return server;
  }

  /** Runs an admin command on this context's database. */
  cli(args, opts = {}) {
    return runCli(args, { env: this.env, database: this.database, ...opts });
  }

  /** Runs an admin command with --json and asserts success; returns the parsed object. */
  async cliJson(args, opts = {}) {
    const r = await this.cli([...args, '--json'], opts);
    assertCliOk(r);
    assert.ok(r.json && typeof r.json === 'object' && !Array.isArray(r.json),
      `expected one JSON object on stdout of ${args.join(' ')}, got: ${r.stdout}`);
    return r.json;
  }

  /** `catalog list --json`, cached per context. */
  async catalog() {
    if (!this._catalog) this._catalog = (await this.cliJson(['catalog', 'list'])).integrations;
    return this._catalog;
  }

  /** Picks a catalog entry: by id, or the first whose authTypes satisfy `pred`. */
  async catalogEntry(pred) {
    const list = await this.catalog();
    const found = typeof pred === 'string'
      ? list.find((e) => e.integrationId === pred)
      : list.find(pred);
    assert.ok(found, `catalog has no entry matching ${pred}`);
    return found;
  }

  /** Creates a workspace and an API key for it; waits until `server` accepts the key. */
  async workspace(server, name = `ws-${rand(4)}`) {
    const ws = await this.cliJson(['workspace', 'create', '--name', name]);
    const key = await this.cliJson(['apikey', 'create', '--workspace', ws.workspaceId]);
    if (server) {
      await waitForAdminChange(async () => {
        const r = await request(server, 'GET', '/v1/integrations', { key: key.apiKey });
        assert.equal(r.status, 200, `new API key not accepted: ${r.status} ${r.text}`);
      });
    }
    return { workspaceId: ws.workspaceId, name, apiKey: key.apiKey, keyId: key.keyId };
  }

  /** `integration enable`; `opts` maps to the CLI flags. Returns the parsed JSON. */
  async enable(workspaceId, integrationId, opts = {}) {
    const args = ['integration', 'enable', '--workspace', workspaceId, '--integration', integrationId];
    if (opts.authType) args.push('--auth-type', opts.authType);
    if (opts.clientId) args.push('--client-id', opts.clientId);
    if (opts.clientSecret) args.push('--client-secret', opts.clientSecret);
    if (opts.clientSecretFile) args.push('--client-secret-file', opts.clientSecretFile);
    if (opts.scopes) args.push('--scopes', opts.scopes);
    return this.cliJson(args);
  }

  /** Enables an OAUTH2 catalog integration (google-calendar) with a client id and secret. */
  async enableOauth(workspaceId, { secret = `cs-${rand(12)}` } = {}) {
    const r = await this.enable(workspaceId, 'google-calendar', {
      authType: 'OAUTH2', clientId: `client-${rand(4)}.apps.example`, clientSecret: secret,
    });
    return { ...r, clientSecret: secret };
  }

  /**
   * Enables a catalog integration with its default (or the given) auth type,
   * adding OAuth client credentials when that auth type is OAUTH2.
   */
  async enableCatalog(workspaceId, integrationId, { authType, secret = `cs-${rand(12)}` } = {}) {
    const entry = await this.catalogEntry(integrationId);
    const effective = authType || entry.authTypes[0];
    const opts = authType ? { authType } : {};
    if (effective === 'OAUTH2') Object.assign(opts, { clientId: `client-${rand(4)}`, clientSecret: secret });
    const r = await this.enable(workspaceId, integrationId, opts);
    return effective === 'OAUTH2' ? { ...r, clientSecret: secret } : r;
  }

  /** Enables the first catalog integration whose only auth type is NONE. */
  async enableNone(workspaceId) {
    const entry = await this.catalogEntry((e) => e.authTypes.length === 1 && e.authTypes[0] === 'NONE');
    return this.enable(workspaceId, entry.integrationId);
  }

  /** Kills every process started by this context and removes the temp dir. */
  async cleanup() {
    const signal = SANITIZED_RUN ? 'SIGTERM' : 'SIGKILL';
    await Promise.all([...this.servers].map((s) => s.stop(signal).catch(() => s.stop('SIGKILL').catch(() => {}))));
    fs.rmSync(this.dir, { recursive: true, force: true });
    for (const url of this.pgDatabases) pg.dropDatabase(url);
    liveContexts.delete(this);
    const reports = this.startedServers.map((s) => s.sanitizerReport).filter(Boolean);
    assert.equal(reports.length, 0, `sanitizer report from a server:\n${reports.join('\n---\n')}`);
  }
}

// ---------------------------------------------------------------------------
// Server process

class LineReader {
  constructor(stream, onLine) {
    this.buf = '';
    stream.setEncoding('utf8');
    stream.on('data', (chunk) => {
      this.buf += chunk;
      let i;
      while ((i = this.buf.indexOf('\n')) >= 0) {
        const line = this.buf.slice(0, i).replace(/\r$/, '');
        this.buf = this.buf.slice(i + 1);
        onLine(line);
      }
    });
  }
}

/**
 * Spawns `toolregistry serve` and resolves once it printed
 * `listening on http://127.0.0.1:<port>`. Rejects if the process exits first
 * or nothing arrives within `timeout` ms.
 */
export function startServer({
  env, database, listen = '127.0.0.1:0', publicUrl, connectTtl, catalog, extraArgs = [],
  useFlags = true, timeout = TIMEOUT_MS, bin = BIN,
} = {}) {
  const args = ['serve'];
  if (useFlags) {
    if (database) args.push('--database', database);
    if (listen) args.push('--listen', listen);
  }
  if (publicUrl) args.push('--public-url', publicUrl);
  if (connectTtl !== undefined) args.push('--connect-ttl', String(connectTtl));
  if (catalog) args.push('--catalog', catalog);
  args.push(...extraArgs);

  const proc = spawn(bin, args, { env, stdio: ['ignore', 'pipe', 'pipe'] });
  const server = {
    proc,
    args,
    stdoutLines: [],
    stderrTail: '',
    sanitizerReport: undefined,
    bootstrapWorkspace: undefined,
    bootstrapKey: undefined,
    port: undefined,
    url: undefined,
    exited: new Promise((resolve) => {
      proc.once('exit', (code, signal) => resolve({ code, signal }));
    }),
    /** Sends `signal` and resolves with {code, signal} once the process exited. */
    async stop(signal = 'SIGTERM', waitMs = TIMEOUT_MS) {
      if (proc.exitCode === null && proc.signalCode === null) proc.kill(signal);
      return withTimeout(server.exited, waitMs, `server did not exit within ${waitMs} ms after ${signal}`);
    },
    describe() {
      return `stdout:\n${server.stdoutLines.join('\n')}\nstderr (tail):\n${server.stderrTail}`;
    },
  };

  proc.stderr.setEncoding('utf8');
  let stderrAll = '';  // the last 64 KB, so that a report is seen whole
  proc.stderr.on('data', (chunk) => {
    server.stderrTail = (server.stderrTail + chunk).slice(-8000);
    stderrAll = (stderrAll + chunk).slice(-64000);
    const report = findSanitizerReport(stderrAll);
    if (report) server.sanitizerReport = report;
  });
  startedServers.push(server);

  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => {
      proc.kill('SIGKILL');
      reject(new Error(`server not listening within ${timeout} ms\n${server.describe()}`));
    }, timeout);
    proc.once('error', (err) => {
      clearTimeout(timer);
      reject(new Error(`cannot spawn ${BIN}: ${err.message}`));
    });
    proc.once('exit', (code, signal) => {
      clearTimeout(timer);
      reject(new Error(`server exited before listening (code ${code}, signal ${signal})\n${server.describe()}`));
    });
    new LineReader(proc.stdout, (line) => {
      server.stdoutLines.push(line);
      let m;
      if ((m = /^bootstrap workspace default: (\S+)\s*$/.exec(line))) server.bootstrapWorkspace = m[1];
      if ((m = /^bootstrap api key: (sk_live_\S+)\s*$/.exec(line))) server.bootstrapKey = m[1];
      if (server.url === undefined && (m = /^listening on (http:\/\/127\.0\.0\.1:(\d+))\s*$/.exec(line))) {
        server.url = m[1];
        server.port = Number(m[2]);
        clearTimeout(timer);
        resolve(server);
      }
    });
  });
}

function withTimeout(promise, ms, message) {
  let timer;
  return Promise.race([
    promise,
    new Promise((_, reject) => { timer = setTimeout(() => reject(new Error(message)), ms); }),
  ]).finally(() => clearTimeout(timer));
}

// ---------------------------------------------------------------------------
// Admin CLI

/**
 * Runs `toolregistry <args> --database <database>` and resolves with
 * {code, signal, stdout, stderr, json}. `json` is the parsed stdout when it is
 * valid JSON. Kills the process after `timeout` ms.
 */
export function runCli(args, { env, database, timeout = TIMEOUT_MS, withDatabase = true } = {}) {
  const full = withDatabase && database ? [...args, '--database', database] : [...args];
  return new Promise((resolve, reject) => {
    const proc = spawn(BIN, full, { env, stdio: ['ignore', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    proc.stdout.setEncoding('utf8');
    proc.stderr.setEncoding('utf8');
    proc.stdout.on('data', (c) => { stdout += c; });
    proc.stderr.on('data', (c) => { stderr += c; });
    const timer = setTimeout(() => {
      proc.kill('SIGKILL');
      reject(new Error(`toolregistry ${full.join(' ')} did not finish within ${timeout} ms\nstderr: ${stderr}`));
    }, timeout);
    proc.once('error', (err) => {
      clearTimeout(timer);
      reject(new Error(`cannot spawn ${BIN}: ${err.message}`));
    });
    proc.once('close', (code, signal) => {
      clearTimeout(timer);
      const report = findSanitizerReport(stderr);
      if (report) {
        recordSanitizerReport(`toolregistry ${full.join(' ')}`, report);
        reject(new Error(`sanitizer report from toolregistry ${full.join(' ')}:\n${report}`));
        return;
      }
      let json;
      try { json = JSON.parse(stdout); } catch { json = undefined; }
      resolve({ args: full, code, signal, stdout, stderr, json });
    });
  });
}

function describeCli(r) {
  return `toolregistry ${r.args.join(' ')}\nexit ${r.code} signal ${r.signal}\nstdout: ${r.stdout}\nstderr: ${r.stderr}`;
}

/** Asserts exit code 0. */
export function assertCliOk(r) {
  assert.equal(r.code, 0, `command failed:\n${describeCli(r)}`);
}

/**
 * Asserts a clean CLI failure: non-zero exit below 128 (no crash, no signal),
 * nothing on stdout, and exactly one non-empty line on stderr; returns that
 * line. `usage: true` is for command-line usage errors (missing flag, unknown
 * command): any exit code from 1 to 127 and any non-empty stderr.
 */
export function assertCliError(r, { usage = false } = {}) {
  assert.equal(r.signal, null, `command died of a signal:\n${describeCli(r)}`);
  assert.notEqual(r.code, 0, `command should have failed:\n${describeCli(r)}`);
  assert.ok(r.code < 128, `command crashed:\n${describeCli(r)}`);
  assert.equal(r.stdout, '', `stdout must be empty on error:\n${describeCli(r)}`);
  const lines = r.stderr.split('\n').filter((l) => l.trim() !== '');
  if (usage) {
    assert.ok(lines.length > 0, `a usage error must say something on stderr:\n${describeCli(r)}`);
    return lines[0];
  }
  assert.equal(r.code, 1, `exit code:\n${describeCli(r)}`);
  assert.equal(lines.length, 1, `expected exactly one line on stderr:\n${describeCli(r)}`);
  return lines[0];
}

// ---------------------------------------------------------------------------
// HTTP

/**
 * Sends one request to `server` (an object with `.url`, or a base URL string)
 * and resolves with {status, headers, text, json}. Options:
 *   key      -> x-api-key header;  bearer -> Authorization: Bearer
 *   json     -> serialised as the body with content-type application/json
 *   body     -> raw body (string/Buffer/stream), sent as is
 *   headers  -> extra headers
 * Redirects are never followed.
 */
export async function request(server, method, urlPath, opts = {}) {
  const base = typeof server === 'string' ? server : server.url;
  const headers = { ...(opts.headers || {}) };
  if (opts.key !== undefined) headers['x-api-key'] = opts.key;
  if (opts.bearer !== undefined) headers.authorization = `Bearer ${opts.bearer}`;
  let body;
  if (opts.json !== undefined) {
    body = JSON.stringify(opts.json);
    if (!Object.keys(headers).some((h) => h.toLowerCase() === 'content-type')) {
      headers['content-type'] = 'application/json';
    }
  } else if (opts.body !== undefined) {
    body = opts.body;
  }
  const init = {
    method,
    headers,
    body,
    redirect: 'manual',
    signal: AbortSignal.timeout(opts.timeout ?? TIMEOUT_MS),
  };
  if (body && typeof body.getReader === 'function') init.duplex = 'half';
  const res = await fetch(base + urlPath, init);
  const text = await res.text();
  let json;
  try { json = JSON.parse(text); } catch { json = undefined; }
  return { status: res.status, headers: res.headers, text, json };
}

/**
 * Sends one HTTP/1.1 request over a plain socket and resolves with the
 * server's answer as {status, headers, text, json}, even when the server
 * answers before it read the whole body and closes (fetch then reports EPIPE
 * instead of the answer). `body` is a Buffer; `chunked` sends it with chunked
 * encoding; `expectContinue` sends `Expect: 100-continue` and the body only
 * after a `100 Continue` (or after 1 s without any answer, as curl does).
 */
export function rawRequest(server, method, urlPath, {
  headers = {}, body = Buffer.alloc(0), chunked = false, expectContinue = false, timeout = TIMEOUT_MS,
} = {}) {
  const port = server.port;
  return new Promise((resolve, reject) => {
    const sock = net.connect({ host: '127.0.0.1', port });
    const chunks = [];
    let bodySent = false;
    let continueTimer;
    const timer = setTimeout(() => { sock.destroy(); reject(new Error(`no answer within ${timeout} ms`)); }, timeout);
    const sendBody = () => {
      if (bodySent) return;
      bodySent = true;
      clearTimeout(continueTimer);
      if (!chunked) {
        sock.write(body);
        return;
      }
      const step = 64 * 1024;
      for (let i = 0; i < body.length; i += step) {
        const part = body.subarray(i, i + step);
        sock.write(`${part.length.toString(16)}\r\n`);
        sock.write(part);
        sock.write('\r\n');
      }
      sock.write('0\r\n\r\n');
    };
    sock.on('data', (c) => {
      chunks.push(c);
      if (expectContinue && !bodySent) {
        const got = Buffer.concat(chunks).toString('latin1');
        if (/^HTTP\/1\.[01] 100\b/.test(got) && got.includes('\r\n\r\n')) sendBody();
        else if (/^HTTP\/1\.[01] [2-5]\d\d\b/.test(got)) { bodySent = true; clearTimeout(continueTimer); }
      }
    });
    sock.on('error', (err) => { sock.lastError = err.code || err.message; });
    sock.on('close', () => {
      clearTimeout(timer);
      clearTimeout(continueTimer);
      const raw = Buffer.concat(chunks);
      const res = parseRawResponse(raw);
      if (!res) {
        reject(new Error(`no HTTP response received (${raw.length} bytes${sock.lastError ? `, socket error ${sock.lastError}` : ''})`));
      } else resolve(res);
    });
    sock.on('connect', () => {
      let head = `${method} ${urlPath} HTTP/1.1\r\nHost: 127.0.0.1:${port}\r\nConnection: close\r\n`;
      for (const [k, v] of Object.entries(headers)) head += `${k}: ${v}\r\n`;
      if (expectContinue) head += 'Expect: 100-continue\r\n';
      head += chunked ? 'Transfer-Encoding: chunked\r\n\r\n' : `Content-Length: ${body.length}\r\n\r\n`;
      sock.write(head);
      if (expectContinue) continueTimer = setTimeout(sendBody, 1000);
      else sendBody();
    });
  });
}

function parseRawResponse(raw) {
  // Skip interim 1xx answers.
  let rest = raw;
  for (;;) {
    const end = rest.indexOf('\r\n\r\n');
    if (end < 0) return null;
    const lines = rest.subarray(0, end).toString('latin1').split('\r\n');
    const m = /^HTTP\/1\.[01] (\d{3})/.exec(lines[0]);
    if (!m) return null;
    const status = Number(m[1]);
    const headers = new Headers();
    for (const l of lines.slice(1)) {
      const i = l.indexOf(':');
      if (i > 0) headers.append(l.slice(0, i).trim(), l.slice(i + 1).trim());
    }
    rest = rest.subarray(end + 4);
    if (status >= 100 && status < 200) continue;
    const len = headers.get('content-length');
    const bodyBuf = len !== null ? rest.subarray(0, Number(len)) : rest;
    const text = bodyBuf.toString('utf8');
    let json;
    try { json = JSON.parse(text); } catch { json = undefined; }
    return { status, headers, text, json };
  }
}

/**
 * Sends `requests` ([{method, path, headers, body}]) pipelined in one write on one plain
 * socket, the last with `Connection: close`, and resolves with every answer as {status,
 * headers, text, json}, framed strictly by its Content-Length: bytes left over after the
 * last answer, or an answer without Content-Length, reject. What a client that reuses
 * its connection sees of the server's framing.
 */
export function pipelined(server, requests, { timeout = TIMEOUT_MS } = {}) {
  return new Promise((resolve, reject) => {
    const sock = net.connect({ host: '127.0.0.1', port: server.port });
    const chunks = [];
    const timer = setTimeout(() => { sock.destroy(); reject(new Error(`no close within ${timeout} ms`)); }, timeout);
    sock.on('data', (c) => chunks.push(c));
    sock.on('error', (err) => { clearTimeout(timer); reject(err); });
    sock.on('close', () => {
      clearTimeout(timer);
      let rest = Buffer.concat(chunks);
      const answers = [];
      while (rest.length > 0) {
        const end = rest.indexOf('\r\n\r\n');
        if (end < 0) return reject(new Error(`a partial head after ${answers.length} answers`));
        const lines = rest.subarray(0, end).toString('latin1').split('\r\n');
        const m = /^HTTP\/1\.1 (\d{3}) /.exec(lines[0]);
        if (!m) return reject(new Error(`not a status line after ${answers.length} answers: ${lines[0]}`));
        const headers = new Headers();
        for (const l of lines.slice(1)) {
          const i = l.indexOf(':');
          headers.append(l.slice(0, i).trim(), l.slice(i + 1).trim());
        }
        const len = headers.get('content-length');
        if (len === null) return reject(new Error(`answer ${answers.length} has no Content-Length`));
        const body = rest.subarray(end + 4, end + 4 + Number(len));
        if (body.length !== Number(len)) return reject(new Error(`answer ${answers.length} is cut short`));
        rest = rest.subarray(end + 4 + Number(len));
        const text = body.toString('utf8');
        let json;
        try { json = JSON.parse(text); } catch { json = undefined; }
        answers.push({ status: Number(m[1]), headers, text, json });
      }
      resolve(answers);
    });
    sock.on('connect', () => {
      const out = requests.map(({ method = 'GET', path: target, headers = {}, body = '' }, i) => {
        let head = `${method} ${target} HTTP/1.1\r\nHost: 127.0.0.1:${server.port}\r\n`;
        for (const [k, v] of Object.entries(headers)) head += `${k}: ${v}\r\n`;
        if (i === requests.length - 1) head += 'Connection: close\r\n';
        return `${head}Content-Length: ${Buffer.byteLength(body)}\r\n\r\n${body}`;
      });
      sock.write(out.join(''));
    });
  });
}

/** Asserts the NestJS-style error body and headers for `status`. */
export function assertError(res, status, { message } = {}) {
  assert.equal(res.status, status, `expected ${status}, got ${res.status}: ${res.text}`);
  const ct = res.headers.get('content-type') || '';
  assert.match(ct, /^application\/json\b/i, `error content-type must be application/json, got "${ct}"`);
  assert.ok(res.json && typeof res.json === 'object' && !Array.isArray(res.json), `error body must be a JSON object: ${res.text}`);
  assert.equal(res.json.statusCode, status, `statusCode field: ${res.text}`);
  const m = res.json.message;
  assert.ok(
    typeof m === 'string' || (Array.isArray(m) && m.length > 0 && m.every((x) => typeof x === 'string')),
    `message must be a string or an array of strings: ${res.text}`,
  );
  assert.equal(res.json.error, STATUS_TEXT[status], `error field: ${res.text}`);
  assert.ok(res.headers.get('x-request-id'), 'error response lacks x-request-id');
  if (message !== undefined) {
    const all = Array.isArray(m) ? m : [m];
    assert.ok(all.includes(message), `message should be "${message}", got ${JSON.stringify(m)}`);
  }
}

/** Path of the user resource; `userId` is percent-encoded unless `raw`. */
export function userPath(cid, userId, { raw = false, suffix = '' } = {}) {
  return `/v1/integrations/${cid}/users/${raw ? userId : encodeURIComponent(userId)}${suffix}`;
}

/** POST …/auth-url with a JSON body (default `{}`). */
export function authUrl(server, key, cid, userId, { json = {}, raw = false, ...rest } = {}) {
  return request(server, 'POST', userPath(cid, userId, { raw, suffix: '/auth-url' }), { key, json, ...rest });
}

/** GET the integration user. */
export function getUser(server, key, cid, userId, { raw = false, ...rest } = {}) {
  return request(server, 'GET', userPath(cid, userId, { raw }), { key, ...rest });
}

/** GET /v1/integrations with an optional `active` query value. */
export function listIntegrations(server, key, active) {
  const q = active === undefined ? '' : `?active=${encodeURIComponent(active)}`;
  return request(server, 'GET', `/v1/integrations${q}`, { key });
}

/**
 * Probes (for waitForAdminChange) that `integration disable` is in effect for `cid`:
 * auth-url for a new userId answers 400 "Integration is not active", and that user was
 * not created. Returns the userId. While the server still sees the integration active
 * the call creates that user, which no other request names.
 */
export async function probeInactive(server, key, cid) {
  const userId = `probe-inactive-${rand(4)}`;
  assertError(await authUrl(server, key, cid, userId), 400, { message: 'Integration is not active' });
  assertError(await getUser(server, key, cid, userId), 404);
  return userId;
}

/**
 * Asserts that `server` lists exactly `cids` (in any order) for the workspace of `key`
 * and the `active` query value; returns the list. A probe for waitForAdminChange after
 * `integration enable`, `disable` or `activate` when a test reads that list.
 */
export async function assertListed(server, key, cids, active) {
  const r = await listIntegrations(server, key, active);
  assert.equal(r.status, 200, `GET /v1/integrations?active=${active}: ${r.status} ${r.text}`);
  assert.deepEqual(r.json.map((i) => i.customerIntegrationId).sort(), [...cids].sort(),
    `GET /v1/integrations?active=${active}: ${r.text}`);
  return r.json;
}

/** Asserts a 201 auth-url answer and returns the connect token. */
export function assertAuthUrl(res, publicUrl) {
  assert.equal(res.status, 201, `auth-url expected 201, got ${res.status}: ${res.text}`);
  assertSchema('IntegrationUserAuthUrlResponseDto', res.json);
  const prefix = `${publicUrl}/connect/`;
  const url = res.json.authorizeUrl;
  assert.ok(url.startsWith(prefix), `authorizeUrl ${url} should start with ${prefix}`);
  const token = url.slice(prefix.length);
  assert.match(token, /^[A-Za-z0-9_-]{22,}$/, `token must be >= 22 base64url chars: ${token}`);
  return token;
}

/** Asserts a 200 integration user body. */
export function assertUser(res, userId, active) {
  assert.equal(res.status, 200, `GET user expected 200, got ${res.status}: ${res.text}`);
  assertSchema('IntegrationUserResponseDto', res.json);
  assert.equal(res.json.userId, userId);
  if (active !== undefined) assert.equal(res.json.active, active, `user active: ${res.text}`);
  assert.match(res.json.createdAt, TIMESTAMP);
  assert.match(res.json.updatedAt, TIMESTAMP);
  assert.ok(res.json.updatedAt >= res.json.createdAt, `updatedAt before createdAt: ${res.text}`);
  return res.json;
}
