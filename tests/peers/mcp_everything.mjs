// npm @modelcontextprotocol/server-everything in its Streamable HTTP mode, on a free
// loopback port: the real MCP server the MCP client tests talk to (endpoint /mcp, no auth;
// tools echo, get-sum, get-structured-content, ...). It takes its port from PORT and does
// not accept 0, so a free port is picked first; it is ready when it says it is listening.

import { spawn } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { REPO_ROOT, TIMEOUT_MS } from '../lib/harness.mjs';
import { freePort } from '../lib/nginx.mjs';

/** The package's folder: MCP_EVERYTHING_DIR, else the one tests/node_modules holds. */
export function everythingDir() {
  return process.env.MCP_EVERYTHING_DIR ||
    path.join(REPO_ROOT, 'tests', 'node_modules', '@modelcontextprotocol', 'server-everything');
}

export function everythingInstalled() {
  return fs.existsSync(path.join(everythingDir(), 'dist', 'index.js'));
}

/** Starts the server; resolves to {url, stop()} once it listens. */
export async function startEverything() {
  const port = await freePort();
  const child = spawn(process.execPath, [path.join(everythingDir(), 'dist', 'index.js'), 'streamableHttp'], {
    env: { ...process.env, PORT: String(port) },
    stdio: ['ignore', 'ignore', 'pipe'],
  });
  let log = '';
  await new Promise((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`server-everything did not start:\n${log}`)), TIMEOUT_MS);
    child.stderr.on('data', (chunk) => {
      log += chunk;
      if (log.includes(`listening on port ${port}`)) {
        clearTimeout(timer);
        resolve();
      }
    });
    child.once('exit', (code) => {
      clearTimeout(timer);
      reject(new Error(`server-everything exited (${code}):\n${log}`));
    });
  });
  return {
    url: `http://127.0.0.1:${port}/mcp`,
    stop: () => new Promise((resolve) => {
      if (child.exitCode !== null) return resolve();
      child.once('exit', () => resolve());
      child.kill('SIGTERM');
    }),
  };
}
