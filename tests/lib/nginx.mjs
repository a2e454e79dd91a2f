// Debian's nginx in front of several toolregistry servers, run from deploy/nginx.conf (the
// configuration docs/deployment.md describes) with a temporary prefix, as a child process
// (daemon off) listening on 127.0.0.1.

import { spawn } from 'node:child_process';
import fs from 'node:fs';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';

import { REPO_ROOT, TIMEOUT_MS, eventually } from './harness.mjs';

const NGINX = fs.existsSync('/usr/sbin/nginx') ? '/usr/sbin/nginx' : 'nginx';

/** A port that was free a moment ago (bound to 127.0.0.1:0 and released). */
export function freePort() {
  return new Promise((resolve, reject) => {
    const s = net.createServer();
    s.once('error', reject);
    s.listen(0, '127.0.0.1', () => {
      const { port } = s.address();
      s.close(() => resolve(port));
    });
  });
}

/**
 * Starts nginx on 127.0.0.1:`port` balancing over `nodes` (servers from startServer);
 * resolves once it answers /readyz. Returns {url, port, stop()}.
 */
export async function startNginx({ port, nodes }) {
  const prefix = fs.mkdtempSync(path.join(os.tmpdir(), 'tr-nginx-'));
  fs.chmodSync(prefix, 0o711);  // started as root, nginx's workers run unprivileged
  const template = fs.readFileSync(path.join(REPO_ROOT, 'deploy', 'nginx.conf'), 'utf8');
  const conf = template
    .replaceAll('@PREFIX@', prefix)
    .replaceAll('@LISTEN@', `127.0.0.1:${port}`)
    .replaceAll('@NODE_A@', `127.0.0.1:${nodes[0].port}`)
    .replaceAll('@NODE_B@', `127.0.0.1:${nodes[1].port}`);
  const file = path.join(prefix, 'nginx.conf');
  fs.writeFileSync(file, conf);
  const proc = spawn(NGINX, ['-p', prefix, '-c', file, '-e', path.join(prefix, 'error.log'), '-g', 'daemon off;'],
    { stdio: ['ignore', 'ignore', 'pipe'] });
  let stderr = '';
  proc.stderr.setEncoding('utf8');
  proc.stderr.on('data', (c) => { stderr += c; });
  const exited = new Promise((resolve) => proc.once('exit', (code, signal) => resolve({ code, signal })));
  const url = `http://127.0.0.1:${port}`;
  const stop = async () => {
    if (proc.exitCode === null && proc.signalCode === null) proc.kill('SIGQUIT');
    await Promise.race([exited, new Promise((r) => setTimeout(r, TIMEOUT_MS))]);
    if (proc.exitCode === null && proc.signalCode === null) proc.kill('SIGKILL');
    fs.rmSync(prefix, { recursive: true, force: true });
  };
  try {
    await eventually(async () => {
      if (proc.exitCode !== null) throw new Error(`nginx exited (${proc.exitCode}): ${stderr}`);
      const r = await fetch(`${url}/readyz`, { signal: AbortSignal.timeout(1000) });
      if (r.status !== 200) throw new Error(`nginx /readyz: ${r.status}`);
    }, { timeout: TIMEOUT_MS });
  } catch (err) {
    await stop();
    throw new Error(`nginx did not start: ${err.message}\n${stderr}`);
  }
  return { url, port, stop };
}
