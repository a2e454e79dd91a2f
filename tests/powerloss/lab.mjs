// One recording of the power-loss harness: a data folder, the real toolregistry binary and
// admin CLI run under the recorder (tests/powerloss/recorder.c), and every answer the
// client got, timed with the recorder's clock (process.hrtime.bigint() is CLOCK_MONOTONIC
// on Linux). Built by the scenarios in tests/blackbox/powerloss.test.mjs.

import { spawn, spawnSync } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

import { BIN, SQLITE_IO, startServer } from '../lib/harness.mjs';
import { readLog } from './log.mjs';
import { Recording } from './model.mjs';

const here = path.dirname(fileURLToPath(import.meta.url));

/**
 * The tools every lab shares, made once per test file in `root`: a copy of the binary (a
 * relink of build/toolregistry during the run must not change what is tested) and the
 * recorder, compiled with the system's C compiler.
 */
export function prepareTools(root) {
  const bin = path.join(root, 'toolregistry');
  fs.copyFileSync(BIN, bin);
  fs.chmodSync(bin, 0o755);
  const recorder = path.join(root, 'recorder.so');
  const cc = spawnSync('cc', ['-shared', '-fPIC', '-O2', '-Wall', '-Wno-format-truncation', '-o', recorder,
    path.join(here, 'recorder.c'), '-ldl', '-lpthread'], { encoding: 'utf8' });
  if (cc.error || cc.status !== 0) {
    throw new Error(`cannot compile tests/powerloss/recorder.c: ${cc.error ?? cc.stderr}`);
  }
  return { bin, recorder, root };
}

/** Environment without the caller's TOOLREGISTRY_* and TR_POWERLOSS_* settings. */
function cleanEnv(extra) {
  const env = {};
  for (const [k, v] of Object.entries(process.env)) {
    if (!k.startsWith('TOOLREGISTRY_') && !k.startsWith('TR_POWERLOSS_') && k !== 'LD_PRELOAD') env[k] = v;
  }
  if (SQLITE_IO) env.TOOLREGISTRY_SQLITE_IO = SQLITE_IO;  // TR_TEST_SQLITE_IO (harness.mjs)
  return { ...env, ...extra };
}

export class Lab {
  /**
   * `masterKey`: base64 key given in TOOLREGISTRY_MASTER_KEY, or undefined to use (and on
   * first use make) master.key in the data folder. `fault`: TR_POWERLOSS_FAULT for the
   * recorded processes.
   */
  constructor(tools, name, { masterKey, fault } = {}) {
    this.tools = tools;
    this.name = name;
    this.dir = fs.mkdtempSync(path.join(tools.root, `${name}-`));
    this.dataDir = path.join(this.dir, 'data');
    this.baseDir = path.join(this.dir, 'base');
    this.logFile = path.join(this.dir, 'ops.log');
    this.imagesDir = path.join(this.dir, 'images');
    fs.mkdirSync(this.dataDir);
    fs.mkdirSync(this.imagesDir);
    this.dbPath = path.join(this.dataDir, 'tr.db');
    this.database = `sqlite:${this.dbPath}`;
    this.masterKey = masterKey;
    this.fault = fault;
    this.acks = [];         // {t, kind, ...}: what a client was told before the cut
    this.attempts = [];     // {kind, ...}: what a client asked for, answered or not
    this.recording = false;
    this.halted = false;    // set by cut() and close(): clients stop
    this.recorded = [];     // processes started under the recorder
    this.servers = [];
  }

  env(recorded) {
    const extra = this.masterKey ? { TOOLREGISTRY_MASTER_KEY: this.masterKey } : {};
    if (recorded) {
      Object.assign(extra, {
        LD_PRELOAD: this.tools.recorder,
        TR_POWERLOSS_DIR: this.dataDir,
        TR_POWERLOSS_LOG: this.logFile,
      });
      if (this.fault) extra.TR_POWERLOSS_FAULT = this.fault;
    }
    return cleanEnv(extra);
  }

  /**
   * Starts recording: the data folder as it is now is the disk every image starts from.
   * No process may have the database open (stop the setup's server with SIGTERM first).
   */
  beginRecording() {
    fs.mkdirSync(this.baseDir);
    for (const f of fs.readdirSync(this.dataDir)) {
      if (!f.endsWith('-shm')) fs.copyFileSync(path.join(this.dataDir, f), path.join(this.baseDir, f));
    }
    this.recording = true;
  }

  ack(kind, props = {}, t = process.hrtime.bigint()) {
    this.acks.push({ t, kind, ...props });
  }

  /** Notes a request before it is sent (authUrl, completion, import): answered or not, it is all or nothing. */
  attempt(kind, props = {}) {
    this.attempts.push({ kind, ...props });
  }

  /** `toolregistry serve` on the data folder, recorded once recording began. */
  async startServer(extraArgs = []) {
    const recorded = this.recording;
    const server = await startServer({
      env: this.env(recorded), database: this.database, bin: this.tools.bin,
      extraArgs: ['--rate-limit', '0', '--no-access-log', ...extraArgs],
    });
    this.servers.push(server);
    if (recorded) this.recorded.push(server.proc);
    return server;
  }

  /**
   * Runs an admin command (recorded once recording began); resolves with
   * {code, stdout, stderr, json, t} where `t` is when it exited.
   */
  cli(args, { recorded = this.recording } = {}) {
    const full = [...args, '--database', this.database, '--json'];
    return new Promise((resolve, reject) => {
      const proc = spawn(this.tools.bin, full, { env: this.env(recorded), stdio: ['ignore', 'pipe', 'pipe'] });
      if (recorded) this.recorded.push(proc);
      let stdout = '';
      let stderr = '';
      proc.stdout.on('data', (c) => { stdout += c; });
      proc.stderr.on('data', (c) => { stderr += c; });
      const timer = setTimeout(() => { proc.kill('SIGKILL'); reject(new Error(`toolregistry ${full.join(' ')}: no exit within 30 s`)); }, 30_000);
      proc.once('error', (err) => { clearTimeout(timer); reject(err); });
      proc.once('close', (code, signal) => {
        const t = process.hrtime.bigint();
        clearTimeout(timer);
        let json;
        try { json = JSON.parse(stdout); } catch { json = undefined; }
        resolve({ args: full, code, signal, stdout, stderr, json, t });
      });
    });
  }

  /** Runs Debian's sqlite3 on the database (recorded once recording began); resolves with its exit. */
  sqlite3(sql) {
    return new Promise((resolve, reject) => {
      const proc = spawn('sqlite3', [this.dbPath, sql], { env: this.env(this.recording), stdio: ['ignore', 'pipe', 'pipe'] });
      if (this.recording) this.recorded.push(proc);
      let out = '';
      proc.stdout.on('data', (c) => { out += c; });
      proc.stderr.on('data', (c) => { out += c; });
      proc.once('error', reject);
      proc.once('close', (code) => resolve({ code, out }));
    });
  }

  /** Like cli(), but fails unless the command exits 0 with a JSON object. */
  async cliJson(args, opts) {
    const r = await this.cli(args, opts);
    if (r.code !== 0 || !r.json) throw new Error(`toolregistry ${r.args.join(' ')} failed (${r.code}):\n${r.stdout}\n${r.stderr}`);
    return r;
  }

  /**
   * The power cut: SIGKILL to every recorded process, each stopped first at a moment when
   * none of its calls is between its effect and its record (the recorder's in-flight count,
   * recorder.c), then the recording is read.
   */
  async cut() {
    this.halted = true;
    const killedAt = process.hrtime.bigint();
    const exits = this.recorded.map((p) => (p.exitCode !== null || p.signalCode !== null
      ? Promise.resolve()
      : new Promise((r) => { p.once('exit', r); stopQuiet(p, this.logFile).then(() => p.kill('SIGKILL')); })));
    await Promise.all(exits);
    this.recording = false;
    const ops = readLog(this.logFile);
    this.rec = new Recording(ops, this.baseDir);
    this.rec.endTs = killedAt;
    return this.rec;
  }

  /** Stops whatever still runs and removes the lab's folder (kept when `keep`). */
  async close({ keep = false } = {}) {
    this.halted = true;
    await Promise.all(this.servers.map((s) => s.stop('SIGKILL').catch(() => {})));
    for (const p of this.recorded) { try { p.kill('SIGKILL'); } catch { /* gone */ } }
    if (!keep) fs.rmSync(this.dir, { recursive: true, force: true });
  }
}

/** Whether every thread of `pid` is stopped (or gone). */
function allStopped(pid) {
  let tasks;
  try { tasks = fs.readdirSync(`/proc/${pid}/task`); } catch { return true; }
  return tasks.every((tid) => {
    try {
      const stat = fs.readFileSync(`/proc/${pid}/task/${tid}/stat`, 'utf8');
      return /^[tTZX]$/.test(stat.slice(stat.lastIndexOf(')') + 2, stat.lastIndexOf(')') + 3));
    } catch { return true; }
  });
}

/** The recorder's count of `pid`'s calls between effect and record (0 without the file). */
function inflight(logFile, pid) {
  try {
    return fs.readFileSync(`${logFile}.inflight.${pid}`).readInt32LE(0);
  } catch { return 0; }
}

/** Stops `proc` (SIGSTOP) at a moment when none of its calls awaits its record. */
async function stopQuiet(proc, logFile) {
  const deadline = Date.now() + 10_000;
  for (;;) {
    try { process.kill(proc.pid, 'SIGSTOP'); } catch { return; }
    while (!allStopped(proc.pid)) await new Promise((r) => setImmediate(r));
    if (inflight(logFile, proc.pid) === 0 || Date.now() > deadline) return;
    try { process.kill(proc.pid, 'SIGCONT'); } catch { return; }
    await new Promise((r) => setImmediate(r));
  }
}

/** A temp folder for a test file's labs. */
export function makeRoot() {
  return fs.mkdtempSync(path.join(os.tmpdir(), 'tr-powerloss-'));
}

