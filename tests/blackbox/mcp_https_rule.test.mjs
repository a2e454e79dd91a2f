// CONTRACT section 11 and issue 17: with private networks not allowed (the default), every
// URL that MCP authorization discovers must be HTTPS. The OAuth-protected MCP server of
// tests/peers/mcp_protected.mjs runs in a network namespace of the test's own, at a public
// address (TEST-NET-3, tests/lib/netns.mjs), over HTTPS with a certificate of the test's own
// CA (which the server trusts through SSL_CERT_FILE). So the server runs without
// --allow-private-network and its SSRF rules let it reach the peer.
// - Its authorization server on plain HTTP: auth-url fails with 502 and names it.
// - The same peer with an HTTPS authorization server: discovery and dynamic registration
//   succeed, and auth-url hands out the link (the refusal above is about HTTP alone).
// Skipped where no namespace can be made (not root, no iproute2).

import { describe, test, before, after } from 'node:test';
import assert from 'node:assert/strict';

import path from 'node:path';

import { Context, REPO_ROOT, rand, authUrl } from '../lib/harness.mjs';
import { defineIntegration, waitFor } from '../peers/http.mjs';
import { createNetns, firstJsonLine, netnsUnavailable } from '../lib/netns.mjs';
import { makeCertificates } from '../lib/tls.mjs';
import { scaled } from '../lib/timeouts.mjs';

const PEER = path.join(REPO_ROOT, 'tests', 'peers', 'mcp_protected_main.mjs');

describe('mcp_https_rule', { concurrency: 1, timeout: scaled(120_000), skip: netnsUnavailable() }, () => {
  const ctx = new Context();
  let netns;
  let tls;
  let server;
  let W;

  before(async () => {
    netns = createNetns();
    tls = makeCertificates(ctx.dir, netns.peerAddress);
    W = await ctx.workspace(undefined, 'mcp-https');
    const env = { ...ctx.env, SSL_CERT_FILE: tls.caFile };
    delete env.CURL_CA_BUNDLE;
    server = await ctx.startServer({ env });
  });

  after(async () => {
    await netns?.close();
    await ctx.cleanup();
  });

  /** Starts a peer in the namespace and returns it with auth-url's answer for a new user of it. */
  async function authUrlFor(options) {
    const child = netns.spawn(process.execPath, [PEER, JSON.stringify({
      ...options, host: netns.peerAddress, tlsKeyFile: tls.keyFile, tlsCertFile: tls.certFile,
    })], { stdio: ['pipe', 'pipe', 'pipe'] });
    const peer = await firstJsonLine(child, 'the MCP peer');
    assert.ok(peer.mcpUrl.startsWith(`https://${netns.peerAddress}:`), peer.mcpUrl);
    const id = `mcphttps-${rand(4)}`;
    await defineIntegration(ctx, W.workspaceId, { integrationId: id, name: 'Public MCP', authTypes: ['OAUTH2'],
      mcp: { url: peer.mcpUrl } });
    const cid = (await ctx.enable(W.workspaceId, id)).customerIntegrationId;
    const answer = await waitFor(async () => {
      const r = await authUrl(server, W.apiKey, cid, `u-${rand()}`);
      return r.status === 404 ? null : r;
    }, 'the new customer integration');
    return { answer, peer };
  }

  test('an authorization server on plain HTTP: 502, naming it', async () => {
    const { answer, peer } = await authUrlFor({});
    assert.ok(peer.issuer.startsWith('http://'), peer.issuer);
    assert.equal(answer.status, 502, answer.text);
    assert.ok(answer.json.message.includes(`the authorization server ${peer.issuer} is not HTTPS (private networks are not allowed)`),
      answer.json.message);
  });

  test('the same with an HTTPS authorization server: discovered, registered, a link', async () => {
    const { answer, peer } = await authUrlFor({ tlsIssuer: true });
    assert.ok(peer.issuer.startsWith('https://'), peer.issuer);
    assert.equal(answer.status, 201, answer.text);
    assert.ok(answer.json.authorizeUrl, answer.text);
  });
});
