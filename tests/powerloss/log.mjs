// Reads the recorder's log (tests/powerloss/recorder.c) into an array of operations, in the
// order they were appended. Each operation:
//   {i, op, flags, ts (BigInt, CLOCK_MONOTONIC ns), pid, tid, fd, off, arg, dev, ino,
//    path, path2, data (Buffer), existed, isDir, lazy, failed, skipped, global}
// `op` is one of the names in OPS.

import fs from 'node:fs';

export const OPS = {
  1: 'open', 2: 'write', 3: 'truncate', 4: 'syncBegin', 5: 'syncEnd', 6: 'rename', 7: 'link',
  8: 'unlink', 9: 'close', 10: 'mmap', 11: 'range', 12: 'fallocate',
};
export const SYNC_KINDS = { 1: 'fsync', 2: 'fdatasync', 3: 'syncfs', 4: 'sync' };

const MAGIC = 0x31524c50;
const HEADER = 4 + 4 + 8 + 4 + 4 + 2 + 2 + 4 + 8 + 8 + 8 + 8 + 4 + 4 + 8;  // 86 bytes, packed

const F = { existed: 1, isDir: 2, lazy: 4, failed: 8, skipped: 16, global: 32, held: 64 };

/** Parses the log file at `file`; throws on a torn or foreign record. */
export function readLog(file) {
  const buf = fs.readFileSync(file);
  const ops = [];
  let at = 0;
  while (at < buf.length) {
    if (buf.length - at < HEADER) throw new Error(`log ${file}: a torn record at byte ${at}`);
    const magic = buf.readUInt32LE(at);
    if (magic !== MAGIC) throw new Error(`log ${file}: bad magic at byte ${at}`);
    const size = buf.readUInt32LE(at + 4);
    let p = at + 8;
    const ts = buf.readBigUInt64LE(p); p += 8;
    const pid = buf.readUInt32LE(p); p += 4;
    const tid = buf.readUInt32LE(p); p += 4;
    const code = buf.readUInt16LE(p); p += 2;
    const flags = buf.readUInt16LE(p); p += 2;
    const fd = buf.readInt32LE(p); p += 4;
    const off = Number(buf.readBigInt64LE(p)); p += 8;
    const arg = buf.readBigInt64LE(p); p += 8;
    const dev = buf.readBigUInt64LE(p); p += 8;
    const ino = buf.readBigUInt64LE(p); p += 8;
    const len1 = buf.readUInt32LE(p); p += 4;
    const len2 = buf.readUInt32LE(p); p += 4;
    const dlen = Number(buf.readBigUInt64LE(p)); p += 8;
    if (size !== HEADER + len1 + len2 + dlen || at + size > buf.length) {
      throw new Error(`log ${file}: a record of a wrong size at byte ${at}`);
    }
    const path = buf.toString('utf8', p, p + len1); p += len1;
    const path2 = buf.toString('utf8', p, p + len2); p += len2;
    const data = buf.subarray(p, p + dlen);
    const op = OPS[code];
    if (!op) throw new Error(`log ${file}: unknown operation ${code} at byte ${at}`);
    ops.push({
      i: ops.length, op, flags, ts, pid, tid, fd, off, arg, dev, ino, path, path2, data,
      existed: Boolean(flags & F.existed), isDir: Boolean(flags & F.isDir), lazy: Boolean(flags & F.lazy),
      failed: Boolean(flags & F.failed), skipped: Boolean(flags & F.skipped), global: Boolean(flags & F.global),
      held: Boolean(flags & F.held),
    });
    at += size;
  }
  return ops;
}

/** A one-line description of an operation, for reports. */
export function describeOp(o) {
  const name = (p) => p.slice(p.lastIndexOf('/') + 1);
  switch (o.op) {
    case 'open': return `#${o.i} open ${name(o.path)} fd ${o.fd}${o.existed ? '' : ' (created)'}${o.lazy ? ' (lazy)' : ''}`;
    case 'write': return `#${o.i} write fd ${o.fd} @${o.off} +${o.data.length}${o.held ? ' (held)' : ''}`;
    case 'truncate': return `#${o.i} truncate ${o.fd >= 0 ? `fd ${o.fd}` : name(o.path)} to ${o.off}`;
    case 'syncBegin': case 'syncEnd':
      return `#${o.i} ${o.op} ${SYNC_KINDS[Number(o.arg)]} ${o.global ? 'all' : `fd ${o.fd}`}${o.isDir ? ' (dir)' : ''}${o.skipped ? ' (skipped)' : ''}`;
    case 'rename': case 'link': return `#${o.i} ${o.op} ${name(o.path)} -> ${name(o.path2)}`;
    case 'unlink': return `#${o.i} unlink ${name(o.path)}`;
    default: return `#${o.i} ${o.op} fd ${o.fd}`;
  }
}
