// A network namespace of a test's own, joined to this one by a veth pair, with public
// (TEST-NET-3, RFC 5737) addresses on both ends: a peer in it is reached at an address the
// server's SSRF rules do not refuse, so a test can run without --allow-private-network and
// still talk only to its own machine. Needs root, iproute2 (`ip`) and util-linux
// (`nsenter`); netnsUnavailable() says why not, for a test's skip. Commands run inside the
// namespace through nsenter, not `ip netns exec` or `ip -n`: those remount / first, which
// fails in a chroot (the fresh-machine check runs the suite in one).
//
// The namespace and both veth ends are removed by close() (deleting the namespace deletes
// the pair); each gets a random name and one of the 64 /30 subnets of 203.0.113.0/24.

import crypto from 'node:crypto';
import { spawn, spawnSync } from 'node:child_process';
import readline from 'node:readline';

function run(command, args) {
  const r = spawnSync(command, args, { encoding: 'utf8', timeout: 10_000 });
  if (r.error) throw new Error(`${command} ${args.join(' ')}: ${r.error.message}`);
  if (r.status !== 0) throw new Error(`${command} ${args.join(' ')}: ${r.stderr.trim()}`);
  return r.stdout;
}
const ip = (args) => run('ip', args);
const enter = (name) => ['nsenter', `--net=/run/netns/${name}`];
const ipIn = (name, args) => run(enter(name)[0], [enter(name)[1], 'ip', ...args]);

/** Why no namespace can be made here (a string), or false when one can. */
export function netnsUnavailable() {
  if (process.getuid?.() !== 0) return 'network namespaces need root';
  const probe = `trprobe-${crypto.randomBytes(3).toString('hex')}`;
  try {
    ip(['netns', 'add', probe]);
  } catch (err) {
    return `no network namespace: ${err.message}`;
  }
  try {
    ipIn(probe, ['link', 'set', 'lo', 'up']);
    return false;
  } catch (err) {
    return `cannot enter a network namespace: ${err.message}`;
  } finally {
    spawnSync('ip', ['netns', 'del', probe]);
  }
}

/**
 * Makes the namespace. Returns {name, hostAddress, peerAddress, spawn(command, args, opts),
 * close()}: `peerAddress` is inside it, `hostAddress` on this side; `spawn` starts a process
 * inside it.
 */
export function createNetns() {
  const id = crypto.randomBytes(3).toString('hex');
  const name = `tr-${id}`;
  const outside = `trv${id}a`;
  const inside = `trv${id}b`;
  const base = 4 * crypto.randomInt(64);
  const hostAddress = `203.0.113.${base + 1}`;
  const peerAddress = `203.0.113.${base + 2}`;
  const children = new Set();
  ip(['netns', 'add', name]);
  try {
    ip(['link', 'add', outside, 'type', 'veth', 'peer', 'name', inside]);
    ip(['link', 'set', inside, 'netns', name]);
    ip(['addr', 'add', `${hostAddress}/30`, 'dev', outside]);
    ip(['link', 'set', outside, 'up']);
    ipIn(name, ['addr', 'add', `${peerAddress}/30`, 'dev', inside]);
    ipIn(name, ['link', 'set', inside, 'up']);
    ipIn(name, ['link', 'set', 'lo', 'up']);
  } catch (err) {
    spawnSync('ip', ['link', 'del', outside]);
    spawnSync('ip', ['netns', 'del', name]);
    throw err;
  }
  return {
    name,
    hostAddress,
    peerAddress,
    spawn(command, args, opts = {}) {
      const child = spawn(enter(name)[0], [enter(name)[1], command, ...args], opts);
      children.add(child);
      child.once('exit', () => children.delete(child));
      return child;
    },
    async close() {
      await Promise.all([...children].map((child) => new Promise((resolve) => {
        child.once('exit', resolve);
        child.kill('SIGTERM');
        setTimeout(() => child.kill('SIGKILL'), 5_000).unref();
      })));
      spawnSync('ip', ['netns', 'del', name]);
      spawnSync('ip', ['link', 'del', outside]);  // gone with the namespace; in case it is not
    },
  };
}

/** Reads the first line a child prints (its JSON hello); rejects if it exits first. */
export function firstJsonLine(child, what) {
  return new Promise((resolve, reject) => {
    let stderr = '';
    child.stderr?.on('data', (c) => { stderr += c; });
    const lines = readline.createInterface({ input: child.stdout });
    lines.once('line', (line) => { lines.close(); resolve(JSON.parse(line)); });
    child.once('exit', (code) => reject(new Error(`${what} exited (${code}) before it was ready: ${stderr}`)));
  });
}
