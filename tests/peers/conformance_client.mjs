// A client command for the client auth scenarios of @modelcontextprotocol/conformance:
// `node conformance_client.mjs <serverUrl>`. The MCP client under test is the service: this
// command only does what a workspace and its end user would do. It defines a custom
// integration whose mcp.url is the scenario's server (OAUTH2, endpoints left to discovery),
// enables it (with the scenario's pre-registered client id and secret when it gives them in
// MCP_CONFORMANCE_CONTEXT), asks auth-url for a connect link, follows the redirects a browser
// would (the scenario's authorization server approves at once and sends the code to our
// /oauth/callback), then calls the server's `test-tool` through POST /v1/tools/{name}/call.
// Exit 0 when the call answered 200, else 1 with the reason on stderr.
//
// The service: TR_BIN (the binary, for the admin CLI), TR_DATABASE, TR_URL, TR_KEY (an API
// key of workspace TR_WORKSPACE); it runs with --allow-private-network.

import { execFileSync } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';

const serverUrl = process.argv.at(-1);
const { TR_BIN, TR_DATABASE, TR_URL, TR_KEY, TR_WORKSPACE } = process.env;
const context = JSON.parse(process.env.MCP_CONFORMANCE_CONTEXT || '{}');
const id = `conf-${Date.now().toString(36)}${Math.random().toString(36).slice(2, 6)}`;
const userId = 'conformance-user';

function cli(args) {
  return JSON.parse(execFileSync(TR_BIN, [...args, '--database', TR_DATABASE, '--json'], { encoding: 'utf8' }));
}

async function api(method, urlPath, json) {
  const r = await fetch(`${TR_URL}${urlPath}`, {
    method, headers: { 'x-api-key': TR_KEY, 'content-type': 'application/json' },
    body: json ? JSON.stringify(json) : undefined,
  });
  return { status: r.status, text: await r.text() };
}

function fail(message) {
  console.error(message);
  process.exit(1);
}

const file = path.join(os.tmpdir(), `${id}.json`);
fs.writeFileSync(file, JSON.stringify({ integrationId: id, name: 'Conformance', authTypes: ['OAUTH2'],
  mcp: { url: serverUrl } }));
cli(['integration', 'define', '--workspace', TR_WORKSPACE, '--file', file]);
fs.rmSync(file);
const enable = ['integration', 'enable', '--workspace', TR_WORKSPACE, '--integration', id];
if (context.client_id) enable.push('--client-id', context.client_id);
if (context.client_secret) enable.push('--client-secret', context.client_secret);
const cid = cli(enable).customerIntegrationId;

// A new customer integration reaches the server's caches within moments: 404 until then.
let link;
for (const deadline = Date.now() + 5000; ;) {
  link = await api('POST', `/v1/integrations/${cid}/users/${userId}/auth-url`, {});
  if (link.status !== 404 || Date.now() > deadline) break;
  await new Promise((r) => setTimeout(r, 50));
}
if (link.status !== 201) fail(`auth-url: ${link.status} ${link.text}`);

// The browser's part: the connect link, the authorization server, our callback.
let url = JSON.parse(link.text).authorizeUrl;
for (let hops = 0; hops < 5; ++hops) {
  const r = await fetch(url, { redirect: 'manual' });
  const next = r.headers.get('location');
  if (!next) {
    const html = await r.text();
    if (!/data-status="success"/.test(html)) fail(`the connect flow did not succeed: ${r.status} ${html.slice(0, 500)}`);
    break;
  }
  url = new URL(next, url).href;
}

const call = await api('POST', `/v1/tools/${encodeURIComponent(`${id}_test-tool`)}/call`, { userId, arguments: {} });
if (call.status !== 200) fail(`tool call: ${call.status} ${call.text}`);
console.log(call.text);
