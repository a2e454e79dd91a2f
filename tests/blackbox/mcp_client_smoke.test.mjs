// The MCP client session (src/mcp/client_session.h) against a real MCP server:
// server-everything over loopback, through the real outbound client. The C++ side is the
// unit test McpEverythingSmoke in the toolregistry_tests binary beside TOOLREGISTRY_BIN,
// which this file runs with the server's URL. (Once the tool service uses the session, the
// same server is reached through the REST and MCP routes of the binary itself.)

import { test, after } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { BIN, Context, assertCliError, rand } from '../lib/harness.mjs';
import { startEverything, everythingInstalled } from '../peers/mcp_everything.mjs';
import { startProtectedMcp } from '../peers/mcp_protected.mjs';

const TESTS_BIN = path.join(path.dirname(BIN), 'toolregistry_tests');

// Runs one test of toolregistry_tests with `env` added, without blocking this process (the
// peers it talks to may live here). Resolves to {status, output}.
function runUnitTest(filter, env) {
  return new Promise((resolve, reject) => {
    const child = spawn(TESTS_BIN, [`--gtest_filter=${filter}`], { env: { ...process.env, ...env } });
    let output = '';
    child.stdout.on('data', (chunk) => { output += chunk; });
    child.stderr.on('data', (chunk) => { output += chunk; });
    const timer = setTimeout(() => child.kill('SIGKILL'), 60_000);
    child.once('error', reject);
    child.once('exit', (status) => {
      clearTimeout(timer);
      resolve({ status, output });
    });
  });
}

test('ClientSession lists and calls server-everything tools over loopback', {
  skip: !everythingInstalled() ? 'server-everything is not installed (cd tests && npm install)'
    : !fs.existsSync(TESTS_BIN) ? `no ${TESTS_BIN}` : false,
}, async () => {
  const server = await startEverything();
  try {
    const { status, output } = await runUnitTest('McpEverythingSmoke.*', { TOOLREGISTRY_TEST_MCP_URL: server.url });
    assert.equal(status, 0, output);
    assert.match(output, /\[ {7}OK \] McpEverythingSmoke\.ListsAndCallsTools/, output);
  } finally {
    await server.stop();
  }
});

// MCP authorization discovery (src/auth/mcp_discovery.h) and RFC 7591 registration against a
// real authorization server: oidc-provider behind a 401 challenge and RFC 9728 metadata.
test('discovery and dynamic registration with oidc-provider', {
  skip: !fs.existsSync(TESTS_BIN) ? `no ${TESTS_BIN}` : false,
}, async () => {
  const server = await startProtectedMcp();
  try {
    const { status, output } = await runUnitTest('McpDiscoverySmoke.*', { TOOLREGISTRY_TEST_MCP_AUTH_URL: server.mcpUrl });
    assert.equal(status, 0, output);
    assert.match(output, /\[ {7}OK \] McpDiscoverySmoke\.DiscoversAndRegistersWithOidcProvider/, output);
  } finally {
    await server.close();
  }
});

// Custom integrations may be remote MCP servers (CONTRACT section 11): `mcp.url`, OAUTH2
// without declared endpoints (they are discovered), http only to a loopback address.
const ctx = new Context();
after(() => ctx.cleanup());

test('integration define: a remote MCP server', async () => {
  const wid = (await ctx.cliJson(['workspace', 'create', '--name', 'mcp-define'])).workspaceId;
  const write = (def) => {
    const file = path.join(ctx.dir, `${def.integrationId}.json`);
    fs.writeFileSync(file, JSON.stringify(def));
    return file;
  };
  const oauth = { integrationId: `mcp-${rand(3)}`, name: 'An MCP server', authTypes: ['OAUTH2', 'NONE'],
    mcp: { url: 'https://mcp.example.com/mcp' } };
  const defined = await ctx.cliJson(['integration', 'define', '--workspace', wid, '--file', write(oauth)]);
  assert.equal(defined.integrationId, oauth.integrationId);
  const enabled = await ctx.enable(wid, oauth.integrationId, { authType: 'NONE' });
  assert.equal(enabled.authType, 'NONE');

  const plain = { integrationId: `mcp-${rand(3)}`, name: 'Plain http', authTypes: ['NONE'],
    mcp: { url: 'http://mcp.example.com/mcp' } };
  const line = assertCliError(await ctx.cli(['integration', 'define', '--workspace', wid, '--file', write(plain), '--json']));
  assert.match(line, /mcp\.url: must be https \(plain http only to a loopback address\)/);
});
