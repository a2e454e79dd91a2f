// CONTRACT section 10: `toolregistry integration import-openapi` makes a custom integration
// from an OpenAPI 3.0 or 3.1 document (JSON or YAML): info -> name and description,
// servers[0] -> apiBaseUrl and host, securitySchemes -> auth types, every operation a tool
// (names, inputSchema, annotations as the contract shapes them; every inputSchema valid
// JSON Schema 2020-12, checked with ajv's 2020 build). Swagger 2.0 is refused by name. The
// stored definition is usable (enabled and listed by the API). And a 10 MB document imports
// within 2 s of CPU with a peak RSS under 200 MiB (GNU time).

import { describe, test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';

import Ajv2020 from 'ajv/dist/2020.js';

import {
  Context, BIN, assertCliError, listIntegrations, waitForAdminChange,
} from '../lib/harness.mjs';
import { scaled } from '../lib/timeouts.mjs';

const NAME = /^[A-Za-z0-9_-]{1,64}$/;

const petstore = {
  openapi: '3.0.3',
  info: { title: 'Pet Store', description: 'Pets for sale', version: '1.0.0' },
  servers: [{ url: 'https://{env}.pets.example.com/v1', variables: { env: { default: 'api' } } }],
  components: {
    securitySchemes: {
      key: { type: 'apiKey', in: 'header', name: 'X-Api-Key' },
    },
    schemas: {
      Pet: {
        type: 'object', required: ['name'],
        properties: {
          name: { type: 'string' },
          tag: { type: 'string', nullable: true },
          parent: { $ref: '#/components/schemas/Pet' },
          kind: { oneOf: [{ type: 'string' }, { type: 'integer' }] },
        },
      },
    },
  },
  paths: {
    '/pets/{petId}': {
      parameters: [{ name: 'petId', in: 'path', required: true, schema: { type: 'integer' } }],
      get: {
        operationId: 'getPet', summary: 'Get one pet',
        parameters: [{ name: 'X-Api-Key', in: 'header', schema: { type: 'string' } },
          { name: 'fields', in: 'query', schema: { type: 'array', items: { type: 'string' } } }],
      },
      delete: { operationId: 'deletePet', description: 'x'.repeat(3000) },
      put: {
        operationId: 'a'.repeat(80),
        requestBody: { required: true, content: { 'application/json': { schema: { $ref: '#/components/schemas/Pet' } } } },
      },
    },
    '/pets': { post: { summary: 'No operationId', requestBody: { content: { 'text/plain': {} } } } },
  },
};

const tasksYaml = `openapi: 3.1.0
info:
  title: Task Tracker
  version: "2"
servers:
  - url: https://tasks.example.org:8443/api/
components:
  securitySchemes:
    oauth:
      type: oauth2
      flows:
        authorizationCode:
          authorizationUrl: https://tasks.example.org/oauth/authorize
          tokenUrl: https://tasks.example.org/oauth/token
          scopes:
            tasks:read: Read tasks
            tasks:write: Write tasks
    bearer: {type: http, scheme: bearer}
paths:
  /tasks:
    get:
      operationId: listTasks
      parameters:
        - {name: done, in: query, schema: {type: [boolean, "null"]}}
        - {name: filter, in: query, style: deepObject, schema: {type: object, additionalProperties: {type: string}}}
    post:
      operationId: createTask
      requestBody:
        required: true
        content:
          application/json:
            schema:
              type: object
              required: [title]
              properties:
                title: {type: string, minLength: 1}
                due: {type: string, format: date}
`;

describe('integration import-openapi', { concurrency: 1, timeout: scaled(120_000) }, () => {
  const ctx = new Context();
  let server;
  let ws;
  const ajv = new Ajv2020({ strict: false, validateFormats: false });

  before(async () => {
    server = await ctx.startServer();
    ws = await ctx.workspace(server);
  });
  after(() => ctx.cleanup());

  function checkSchemas(tools) {
    for (const tool of tools) {
      assert.ok(ajv.validateSchema(tool.inputSchema), `${tool.name}: ${ajv.errorsText(ajv.errors)}`);
      assert.equal(tool.inputSchema.type, 'object');
      assert.ok(tool.description.length <= 1024);
    }
  }

  function write(name, content) {
    const p = path.join(ctx.dir, name);
    fs.writeFileSync(p, typeof content === 'string' ? content : JSON.stringify(content));
    return p;
  }

  function importDoc(file, extra = []) {
    return ctx.cliJson(['integration', 'import-openapi', '--workspace', ws.workspaceId, '--file', file, ...extra]);
  }

  test('a JSON 3.0 document: definition from info, servers and securitySchemes; tools named and shaped', async () => {
    const out = await importDoc(write('pets.json', petstore));
    const def = out.definition;
    assert.equal(out.integrationId, 'pet-store');
    assert.equal(def.integrationId, 'pet-store');
    assert.equal(def.name, 'Pet Store');
    assert.equal(def.description, 'Pets for sale');
    assert.equal(def.apiBaseUrl, 'https://api.pets.example.com/v1');
    assert.equal(def.host, 'api.pets.example.com');
    assert.deepEqual(def.authTypes, ['API_TOKEN']);
    assert.deepEqual(def.apiToken, { header: 'X-Api-Key', prefix: '' });
    assert.deepEqual(def.tools.openapi, petstore);

    const names = out.tools.map((t) => t.name);
    assert.equal(names.length, 4);
    for (const name of names) assert.match(name, NAME);
    assert.equal(new Set(names).size, names.length);
    assert.equal(names[0], 'pet-store_getPet');
    assert.equal(names[1], 'pet-store_deletePet');
    assert.equal(names[2].length, 64, 'a long name is cut with a hash');
    assert.match(names[2], /^pet-store_a{45}_[0-9a-f]{8}$/);
    assert.equal(names[3], 'pet-store_post__pets');
    checkSchemas(out.tools);

    const [get, del, put, post] = out.tools;
    assert.equal(get.description, 'Get one pet');
    assert.deepEqual(get.annotations, { readOnlyHint: true });
    // The auth header is left out; path-level and operation-level parameters merged.
    assert.deepEqual(get.inputSchema, {
      type: 'object',
      properties: { petId: { type: 'integer' }, fields: { type: 'array', items: { type: 'string' } } },
      required: ['petId'],
    });
    assert.equal(del.description.length, 1024);
    assert.deepEqual(del.annotations, { destructiveHint: true });
    assert.deepEqual(put.annotations, {});
    // The body: $ref resolved, the recursion cut with {}, nullable as a type array, oneOf kept.
    assert.deepEqual(put.inputSchema.properties.body, {
      type: 'object', required: ['name'],
      properties: {
        name: { type: 'string' },
        tag: { type: ['string', 'null'] },
        parent: {},
        kind: { oneOf: [{ type: 'string' }, { type: 'integer' }] },
      },
    });
    assert.deepEqual(put.inputSchema.required, ['petId', 'body']);
    assert.equal(post.description, 'No operationId');
    assert.deepEqual(post.inputSchema, { type: 'object', properties: { body: { type: 'string' } } });
  });

  test('the stored definition is retrievable: enabled and listed like any custom integration', async () => {
    const enabled = await ctx.enable(ws.workspaceId, 'pet-store');
    await waitForAdminChange(async () => {
      const r = await listIntegrations(server, ws.apiKey);
      assert.equal(r.status, 200);
      const item = r.json.find((i) => i.customerIntegrationId === enabled.customerIntegrationId);
      assert.ok(item, 'pet-store not listed');
      assert.equal(item.integrationId, 'pet-store');
      assert.equal(item.name, 'Pet Store');
    });
  });

  test('a YAML 3.1 document with --integration-id: OAUTH2 and bearer, 3.1 types', async () => {
    const out = await importDoc(write('tasks.yaml', tasksYaml), ['--integration-id', 'tasks']);
    const def = out.definition;
    assert.equal(def.integrationId, 'tasks');
    assert.equal(def.apiBaseUrl, 'https://tasks.example.org:8443/api');
    assert.equal(def.host, 'tasks.example.org:8443');
    assert.deepEqual(def.authTypes, ['OAUTH2', 'API_TOKEN']);
    assert.deepEqual(def.oauth2, {
      authorizationUrl: 'https://tasks.example.org/oauth/authorize',
      tokenUrl: 'https://tasks.example.org/oauth/token',
      scopes: ['tasks:read', 'tasks:write'],
    });
    assert.deepEqual(def.apiToken, { header: 'Authorization', prefix: 'Bearer ' });
    assert.equal(def.tools.openapi.openapi, '3.1.0', 'the YAML is stored as JSON');
    assert.deepEqual(out.tools.map((t) => t.name), ['tasks_listTasks', 'tasks_createTask']);
    checkSchemas(out.tools);
    assert.deepEqual(out.tools[0].inputSchema.properties.done, { type: ['boolean', 'null'] });
    assert.deepEqual(out.tools[1].inputSchema.properties.body.properties.title, { type: 'string', minLength: 1 });
  });

  test('integration define with tools.openapi as a path next to the definition file', async () => {
    write('pets-def.json', {
      integrationId: 'pets-def', name: 'Pets', host: 'api.pets.example.com', authTypes: ['NONE'],
      tools: { openapi: 'pets.json', include: ['getPet'], names: { getPet: 'fetch_pet' } },
    });
    const r = await ctx.cliJson(['integration', 'define', '--workspace', ws.workspaceId,
      '--file', path.join(ctx.dir, 'pets-def.json')]);
    assert.equal(r.integrationId, 'pets-def');
  });

  test('Swagger 2.0 is refused, and the message says so', async () => {
    const r = await ctx.cli(['integration', 'import-openapi', '--workspace', ws.workspaceId,
      '--file', write('old.json', { swagger: '2.0', info: { title: 'Old' }, paths: {} })]);
    const line = assertCliError(r);
    assert.match(line, /Swagger 2\.0 is not supported/);
  });

  test('a document without an absolute server URL, or not OpenAPI at all, is refused by field', async () => {
    const relative = await ctx.cli(['integration', 'import-openapi', '--workspace', ws.workspaceId,
      '--file', write('rel.json', { openapi: '3.0.0', info: { title: 'R' }, servers: [{ url: '/v1' }], paths: {} })]);
    assert.match(assertCliError(relative), /servers\[0\]\.url/);
    const junk = await ctx.cli(['integration', 'import-openapi', '--workspace', ws.workspaceId,
      '--file', write('junk.yaml', 'a: [1\n')]);
    assert.match(assertCliError(junk), /not valid YAML/);
  });

  test('a 10 MB JSON document imports within 2 s with a peak RSS under 200 MiB', async () => {
    const doc = bigDocument(10 * 1024 * 1024);
    const file = write('big.json', doc.text);
    const r = spawnSync('/usr/bin/time', ['-f', 'TIME %e %U %S %M', BIN, 'integration', 'import-openapi',
      '--workspace', ws.workspaceId, '--file', file, '--integration-id', 'big', '--json',
      '--database', ctx.database], { env: ctx.env, encoding: 'utf8', maxBuffer: 256 << 20 });
    assert.equal(r.status, 0, r.stderr);
    const [, wall, user, sys, kib] = r.stderr.match(/TIME ([\d.]+) ([\d.]+) ([\d.]+) (\d+)/);
    // The time the import takes is its CPU time: on a shared machine (CI, two cores for several
    // jobs) the wall time adds the wait for a core, which is not the import's.
    const seconds = (Number(user) + Number(sys)).toFixed(2);
    const out = JSON.parse(r.stdout);
    assert.equal(out.tools.length, doc.operations);
    const names = out.tools.map((t) => t.name);
    for (const name of names) assert.match(name, NAME);
    assert.equal(new Set(names).size, names.length);
    console.log(`# 10 MB import: ${(doc.text.length / 1048576).toFixed(1)} MiB, ${doc.operations} operations, ` +
      `${seconds} s CPU (${wall} s wall), peak RSS ${(Number(kib) / 1024).toFixed(0)} MiB`);
    // A sanitizer build runs several times slower and keeps shadow memory: the limits are the
    // release build's, so there the import must only succeed.
    if (process.env.TOOLREGISTRY_TEST_SANITIZER) return;
    assert.ok(Number(seconds) < 2, `took ${seconds} s of CPU`);
    assert.ok(Number(kib) < 200 * 1024, `peak RSS ${kib} KiB`);
  });

  test('every inputSchema of the stored tools is valid JSON Schema 2020-12', async () => {
    // The unit tests check shapes; here the real binary's output for a hostile mix.
    const out = await importDoc(write('mixed.json', {
      openapi: '3.0.0', info: { title: 'Mixed' }, servers: [{ url: 'https://m.example' }],
      components: { schemas: { Loop: { $ref: '#/components/schemas/Loop' }, File: { type: 'file' } } },
      paths: { '/x/{id}': { post: {
        parameters: [{ name: 'id', in: 'path', schema: { type: 'integer', minimum: 0, exclusiveMinimum: true } },
          { name: 'n', in: 'query', schema: { type: 'integer', nullable: true, maxLength: -1, required: true } }],
        requestBody: { content: { 'application/json': { schema: { $ref: '#/components/schemas/Loop' } },
          'multipart/form-data': { schema: { $ref: '#/components/schemas/File' } } } },
      } } },
    }));
    assert.deepEqual(out.tools.map((t) => t.name), ['mixed_post__x__id_']);
    checkSchemas(out.tools);
    const schema = out.tools[0].inputSchema;
    assert.deepEqual(schema.properties.id, { type: 'integer', exclusiveMinimum: 0 });
    assert.deepEqual(schema.properties.n, { type: ['integer', 'null'] });
    assert.deepEqual(schema.properties.body, {});
  });
});

// Generated OpenAPI 3.0 document of about `bytes` bytes: operations with path, query and
// header parameters, JSON bodies with $refs to shared component schemas, and descriptions.
function bigDocument(bytes) {
  const schemas = {};
  for (let i = 0; i < 400; i++) {
    schemas[`Model${i}`] = {
      type: 'object', description: `Model number ${i} `.repeat(8), required: ['id'],
      properties: {
        id: { type: 'string' }, count: { type: 'integer', minimum: 0 },
        next: { $ref: `#/components/schemas/Model${(i + 1) % 400}` },
        tags: { type: 'array', items: { type: 'string', enum: ['a', 'b', 'c'] } },
        meta: { type: 'object', additionalProperties: { type: 'string' }, nullable: true },
      },
    };
  }
  const doc = { openapi: '3.0.3', info: { title: 'Big', version: '1' }, servers: [{ url: 'https://big.example' }],
    components: { schemas }, paths: {} };
  let size = JSON.stringify(doc).length;
  let operations = 0;
  for (let i = 0; size < bytes; i++) {
    // Like the large public documents: most of the bytes are responses and their examples.
    const responses = {
      200: { description: 'OK', content: { 'application/json': {
        schema: { $ref: `#/components/schemas/Model${i % 400}` },
        example: { id: `item-${i}`, count: i, tags: ['a', 'b'], meta: { note: 'An example value. '.repeat(120) } },
      } } },
      404: { description: 'Not found', content: { 'application/json': { schema: { type: 'object', properties: { message: { type: 'string' } } } } } },
    };
    const item = {
      parameters: [{ name: 'id', in: 'path', required: true, schema: { type: 'string' } }],
      get: {
        operationId: `get_${i}`, summary: `Get item ${i}`, description: 'Returns the item. '.repeat(20),
        parameters: [{ name: 'limit', in: 'query', schema: { type: 'integer', maximum: 100 } },
          { name: 'X-Trace', in: 'header', schema: { type: 'string' } }],
        responses,
      },
      post: {
        operationId: `update_${i}`, summary: `Update item ${i}`,
        requestBody: { required: true, content: { 'application/json': { schema: { $ref: `#/components/schemas/Model${i % 400}` } } } },
        responses,
      },
    };
    doc.paths[`/items${i}/{id}`] = item;
    size += JSON.stringify(item).length + 20;
    operations += 2;
  }
  return { text: JSON.stringify(doc), operations };
}
