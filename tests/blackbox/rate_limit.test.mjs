// CONTRACT section 2: a key over its rate limit gets 429 with Retry-After; other keys don't.

import { describe, test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { Context, request, assertError, listIntegrations } from '../lib/harness.mjs';
import { scaled } from '../lib/timeouts.mjs';

describe('rate_limit', { concurrency: 1, timeout: scaled(60_000) }, () => {
  const ctx = new Context();
  let server;
  let a;
  let b;

  before(async () => {
    // 1 request per second per key, 3 at once.
    server = await ctx.startServer({ extraArgs: ['--rate-limit', '1', '--rate-burst', '3'] });
    a = await ctx.workspace(server);
    b = await ctx.workspace(server);
  });

  after(() => ctx.cleanup());

  test('the burst passes, then 429 with Retry-After and a JSON error', async () => {
    const statuses = [];
    let limited;
    for (let i = 0; i < 8; i += 1) {
      const r = await listIntegrations(server, a.apiKey, undefined);
      statuses.push(r.status);
      if (r.status === 429) limited = r;
    }
    // workspace() used a token or two of the burst of 3 already.
    assert.equal(statuses[0], 200, `statuses: ${statuses}`);
    assert.ok(limited, `no 429 among ${statuses}`);
    assertError(limited, 429);
    const retryAfter = Number(limited.headers.get('retry-after'));
    assert.ok(Number.isInteger(retryAfter) && retryAfter >= 1, `Retry-After: ${retryAfter}`);
  });

  test('another key is not limited by the first one', async () => {
    const r = await listIntegrations(server, b.apiKey, undefined);
    assert.equal(r.status, 200);
  });

  test('an unknown key gets 401, not 429', async () => {
    const r = await request(server, 'GET', '/v1/integrations', { key: 'sk_live_unknown' });
    assertError(r, 401);
  });
});

describe('auth_failure_limit', { concurrency: 1, timeout: scaled(60_000) }, () => {
  const ctx = new Context();
  let server;
  let ws;

  before(async () => {
    // 3 failed attempts at once per client address, then 1 per second.
    server = await ctx.startServer({ extraArgs: ['--auth-failure-limit', '1', '--auth-failure-burst', '3'] });
    ws = await ctx.workspace(server);
  });

  after(() => ctx.cleanup());

  test('failed API-key attempts from one address are limited: 429, then no key is checked', async () => {
    const statuses = [];
    let limited;
    for (let i = 0; i < 6; i += 1) {
      const r = await request(server, 'GET', '/v1/integrations', { key: `sk_live_guess${i}` });
      statuses.push(r.status);
      if (r.status === 429) limited = r;
    }
    assert.deepEqual(statuses.slice(0, 3), [401, 401, 401], `statuses: ${statuses}`);
    assert.ok(limited, `no 429 among ${statuses}`);
    assertError(limited, 429);
    assert.ok(Number(limited.headers.get('retry-after')) >= 1);
    // While the address is blocked even a right key is not checked (no oracle for guesses).
    const valid = await listIntegrations(server, ws.apiKey, undefined);
    assert.equal(valid.status, 429);
  });
});
