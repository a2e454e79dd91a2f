// tests/peers/mcp_protected.mjs as a process of its own, for a test that runs it somewhere
// the test process is not (a network namespace, tests/lib/netns.mjs). The options are one
// JSON argument (`tlsKeyFile` and `tlsCertFile` stand for the `tls` option); the process prints {mcpUrl, issuer} as one JSON line once both servers
// listen, and exits when its stdin closes (its parent went away) or on SIGTERM.
//
//   node tests/peers/mcp_protected_main.mjs '{"host":"203.0.113.2","challengeMetadata":false}'

import fs from 'node:fs';

import { startProtectedMcp } from './mcp_protected.mjs';

const { tlsKeyFile, tlsCertFile, ...options } = JSON.parse(process.argv[2] || '{}');
if (tlsKeyFile) options.tls = { key: fs.readFileSync(tlsKeyFile), cert: fs.readFileSync(tlsCertFile) };
const peer = await startProtectedMcp(options);
process.stdout.write(`${JSON.stringify({ mcpUrl: peer.mcpUrl, issuer: peer.issuer })}\n`);

let closing = false;
async function stop() {
  if (closing) return;
  closing = true;
  await peer.close();
  process.exit(0);
}
process.stdin.on('end', stop);
process.stdin.on('error', stop);
process.stdin.resume();
process.on('SIGTERM', stop);
