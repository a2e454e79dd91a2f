// The MCP client session (src/mcp/client_session.h) against a real MCP server:
// server-everything over loopback, through the real outbound client. The C++ side is the
// unit test McpEverythingSmoke in the toolregistry_tests binary beside TOOLREGISTRY_BIN,
// which this file runs with the server's URL. (Once the tool service uses the session, the
// same server is reached through the REST and MCP routes of the binary itself.)

import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { BIN } from '../lib/harness.mjs';
import { startEverything, everythingInstalled } from '../peers/mcp_everything.mjs';

const TESTS_BIN = path.join(path.dirname(BIN), 'toolregistry_tests');

test('ClientSession lists and calls server-everything tools over loopback', {
  skip: !everythingInstalled() ? 'server-everything is not installed (cd tests && npm install)'
    : !fs.existsSync(TESTS_BIN) ? `no ${TESTS_BIN}` : false,
}, async () => {
  const server = await startEverything();
  try {
    const run = spawnSync(TESTS_BIN, ['--gtest_filter=McpEverythingSmoke.*', '--gtest_brief=0'], {
      env: { ...process.env, TOOLREGISTRY_TEST_MCP_URL: server.url },
      encoding: 'utf8',
      timeout: 60_000,
    });
    const output = `${run.stdout}\n${run.stderr}`;
    assert.equal(run.status, 0, output);
    assert.match(output, /\[ {7}OK \] McpEverythingSmoke\.ListsAndCallsTools/, output);
  } finally {
    await server.stop();
  }
});
