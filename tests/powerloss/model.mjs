// The disk a power cut leaves, built from the recorder's log (tests/powerloss/log.mjs).
//
// The model (docs/decisions.md, "Power-loss harness"):
// - A cut at position k: the operations before k happened, the others did not; the answers
//   a client got before the first left-out operation returned must hold. Operations
//   are ordered by their timestamps (CLOCK_MONOTONIC, taken after each call returned, under
//   one lock per process), which follows every cause across processes and is the clock the
//   client's answers are timed with.
// - A file's data written before the *start* of a sync of that file (fsync, fdatasync, by
//   any descriptor, or sync/syncfs) that *ended* before k is on disk. Later writes are
//   pending: each 4 KiB page of the file keeps any prefix of its pending writes (pages
//   independently, so in any order across pages), and the first write it does not keep may
//   be torn, kept in some of its 512-byte sectors only. Or, in the "subset" variant, each
//   pending write is kept or not as a whole, independently.
// - Names (create, rename, link, unlink) are on disk once the folder was synced after them
//   (fsync of the folder, or sync/syncfs): a file's own sync does not keep its name, as
//   POSIX says. Pending name changes survive as a prefix, in order, as a journaling file
//   system replays them.
// - The WAL index (-shm) is not part of an image: SQLite rebuilds it.

import fs from 'node:fs';
import path from 'node:path';

const O_TRUNC = 0o1000;
const O_CREAT = 0o100;
const O_ACCMODE = 3;
const PROT_WRITE = 2;
const MAP_SHARED = 1;
const FALLOC_FL_KEEP_SIZE = 1;
export const PAGE = 4096;
const SECTOR = 512;

/** A deterministic random source (mulberry32), so that a failing image can be rebuilt. */
export function rng(seed) {
  let a = seed >>> 0;
  const next = () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
  next.int = (n) => Math.floor(next() * n);  // 0 .. n-1
  return next;
}

/**
 * What a recording did to the folder. `ops`: from readLog; `baseDir`: a copy of the folder
 * taken before the recording began (its files count as on disk).
 */
export class Recording {
  constructor(ops, baseDir) {
    this.baseDir = baseDir;
    // Timestamp order (stable): see the header.
    this.ops = [...ops].sort((a, b) => (a.ts < b.ts ? -1 : a.ts > b.ts ? 1 : a.i - b.i));
    this.inodes = [];       // {id, base (file in baseDir) | null, data: [{k, kind, off, data, len}], syncs: [{begin, end}]}
    this.nsOps = [];        // {k, kind: create|rename|link|unlink, name, name2, inode}
    this.dirSyncs = [];     // {begin, end}: the folder, or every file
    this.fileSyncs = 0;
    this.problems = [];     // what the recording shows the harness cannot model
    this.stats = { writes: 0, bytes: 0, syncs: 0, dirSyncs: 0, renames: 0, links: 0, unlinks: 0, creates: 0 };
    this._replay();
  }

  _newInode(base) {
    const inode = { id: this.inodes.length, base, data: [], syncs: [] };
    this.inodes.push(inode);
    return inode;
  }

  _replay() {
    const names = new Map();  // name -> inode, as the processes saw the folder
    for (const f of fs.readdirSync(this.baseDir)) {
      if (!f.endsWith('-shm')) names.set(f, this._newInode(path.join(this.baseDir, f)));
    }
    this.baseNames = new Map(names);
    const fds = new Map();       // `${pid}:${fd}` -> inode or 'dir'
    const begins = new Map();    // `${pid}:${tid}` -> {k, target}
    const base = (p) => p.slice(p.lastIndexOf('/') + 1);
    const fdTarget = (o) => {
      const t = fds.get(`${o.pid}:${o.fd}`);
      if (t === undefined) this.problems.push(`#${o.i} ${o.op} on fd ${o.fd} of pid ${o.pid}, never opened`);
      return t;
    };
    this.ops.forEach((o, k) => {
      switch (o.op) {
        case 'open': {
          if (o.isDir) { fds.set(`${o.pid}:${o.fd}`, 'dir'); break; }
          const name = base(o.path);
          let inode = names.get(name);
          if (!inode) {
            if (!(Number(o.arg) & O_CREAT) && !o.lazy) {
              this.problems.push(`#${o.i} open of ${name}, which the recording says does not exist`);
            }
            inode = this._newInode(null);
            names.set(name, inode);
            this.nsOps.push({ k, kind: 'create', name, inode });
            this.stats.creates++;
          } else if ((Number(o.arg) & O_TRUNC) && (Number(o.arg) & O_ACCMODE) !== 0) {
            inode.data.push({ k, kind: 'truncate', len: 0 });
          }
          fds.set(`${o.pid}:${o.fd}`, inode);
          break;
        }
        case 'close':
          fds.delete(`${o.pid}:${o.fd}`);
          break;
        case 'write': {
          const inode = fdTarget(o);
          if (inode && inode !== 'dir') {
            inode.data.push({ k, kind: 'write', off: o.off, data: o.data });
            this.stats.writes++;
            this.stats.bytes += o.data.length;
          }
          break;
        }
        case 'truncate': {
          const inode = o.fd >= 0 ? fdTarget(o) : names.get(base(o.path));
          if (inode && inode !== 'dir') inode.data.push({ k, kind: 'truncate', len: o.off });
          break;
        }
        case 'fallocate': {
          const mode = Number(o.arg >> 48n);
          const len = Number(o.arg & 0xffffffffffffn);
          const inode = fdTarget(o);
          if (inode && inode !== 'dir' && !(mode & FALLOC_FL_KEEP_SIZE)) {
            inode.data.push({ k, kind: 'extend', len: o.off + len });
          }
          break;
        }
        case 'syncBegin':
          begins.set(`${o.pid}:${o.tid}`, { k, target: o.global ? 'all' : fdTarget(o) });
          break;
        case 'syncEnd': {
          const b = begins.get(`${o.pid}:${o.tid}`);
          begins.delete(`${o.pid}:${o.tid}`);
          if (!b || o.failed || o.skipped || !b.target) break;
          const s = { begin: b.k, end: k };
          this.stats.syncs++;
          if (b.target === 'all') {
            this.dirSyncs.push(s);
            for (const inode of this.inodes) inode.syncs.push(s);
          } else if (b.target === 'dir') {
            this.dirSyncs.push(s);
            this.stats.dirSyncs++;
          } else {
            b.target.syncs.push(s);
          }
          break;
        }
        case 'rename': case 'link': {
          const from = o.path ? base(o.path) : '';
          const to = o.path2 ? base(o.path2) : '';
          const inode = from ? names.get(from) : undefined;
          if (from && !inode) this.problems.push(`#${o.i} ${o.op} of ${from}, which does not exist`);
          if (!from) this.problems.push(`#${o.i} ${o.op} into the folder from outside it`);
          const exchange = o.op === 'rename' && (Number(o.arg) & 2);  // RENAME_EXCHANGE
          if (exchange) {
            const other = names.get(to);
            names.set(to, inode);
            names.set(from, other);
          } else {
            if (o.op === 'rename' && from) names.delete(from);
            if (to && inode) names.set(to, inode);
          }
          this.nsOps.push({ k, kind: exchange ? 'exchange' : o.op, name: from, name2: to, inode });
          this.stats[o.op === 'rename' ? 'renames' : 'links']++;
          break;
        }
        case 'unlink':
          names.delete(base(o.path));
          this.nsOps.push({ k, kind: 'unlink', name: base(o.path) });
          this.stats.unlinks++;
          break;
        case 'mmap': {
          const prot = Number(o.arg & 0xffffffffn);
          const flags = Number(o.arg >> 32n);
          if ((prot & PROT_WRITE) && (flags & MAP_SHARED)) {
            this.problems.push(`#${o.i} a shared writable mapping of a data file: its writes are not recorded`);
          }
          break;
        }
        default:
          break;
      }
    });
    this.finalNames = names;
    // Inodes' syncs were pushed in order of their end; the boundary lookups below rely on it.
    this.dirSyncs.sort((a, b) => a.end - b.end);
  }

  get length() { return this.ops.length; }

  /**
   * The latest a power cut at k can have come: the time of the first operation it leaves
   * out (that operation had not returned), or the SIGKILL for k at the end. Every answer a
   * client got before it must hold in the image: an answer that relied on an operation at
   * or after k was sent after that operation returned, so after this time.
   */
  cutTs(k) { return k < this.ops.length ? this.ops[k].ts : (this.endTs ?? 2n ** 64n); }

  /** Operations before k that a sync covering them ended before k: data, by inode. */
  static _durableBoundary(syncs, k) {
    let boundary = 0;
    for (const s of syncs) {
      if (s.end >= k) break;
      if (s.begin > boundary) boundary = s.begin;
    }
    return boundary;
  }

  /**
   * The folder's files at cut k, as {name -> Buffer}. `variant`:
   *   'all'    every operation before k kept (what a process crash leaves)
   *   'synced' only what syncs made durable
   *   'pages'  pending writes per page (a prefix of each page's writes, maybe torn), a
   *            prefix of the pending name changes; random by `seed`
   *   'subset' each pending write kept or not as a whole; a prefix of the name changes
   */
  image(k, variant, seed = 1) {
    const rand = rng(seed);
    const nsBoundary = Recording._durableBoundary(this.dirSyncs, k);
    const pendingNs = this.nsOps.filter((n) => n.k >= nsBoundary && n.k < k).length;
    let keepNs;
    if (variant === 'all') keepNs = pendingNs;
    else if (variant === 'synced') keepNs = 0;
    else keepNs = rand.int(pendingNs + 1);
    const names = new Map(this.baseNames);
    let pendingSeen = 0;
    for (const n of this.nsOps) {
      if (n.k >= k) break;
      if (n.k >= nsBoundary) {
        if (pendingSeen >= keepNs) break;  // a prefix of the pending ones
        pendingSeen++;
      }
      if (n.kind === 'create') names.set(n.name, n.inode);
      else if (n.kind === 'rename') { names.delete(n.name); if (n.name2 && n.inode) names.set(n.name2, n.inode); }
      else if (n.kind === 'link') { if (n.name2 && n.inode) names.set(n.name2, n.inode); }
      else if (n.kind === 'exchange') { const a = names.get(n.name); names.set(n.name, names.get(n.name2)); names.set(n.name2, a); }
      else if (n.kind === 'unlink') names.delete(n.name);
    }
    const files = new Map();
    const built = new Map();  // inode -> Buffer (a name and its hard link share it)
    for (const [name, inode] of names) {
      if (!inode) continue;
      if (!built.has(inode)) built.set(inode, this._content(inode, k, variant, rand));
      files.set(name, built.get(inode));
    }
    return { files, pendingNs, keptNs: keepNs };
  }

  _content(inode, k, variant, rand) {
    const boundary = Recording._durableBoundary(inode.syncs, k);
    const ops = inode.data.filter((d) => d.k < k);
    let keep = () => true;       // (op index in ops, page) -> kept whole?
    let torn = () => null;       // (op index, page) -> sectors to keep, or null
    if (variant === 'synced') {
      keep = (j) => ops[j].k < boundary;
    } else if (variant === 'subset') {
      const chosen = ops.map((d) => d.k < boundary || rand() < 0.5);
      keep = (j) => chosen[j];
    } else if (variant === 'pages') {
      // Per page: how many of its pending writes survive, and whether the next is torn.
      const pendingByPage = new Map();
      ops.forEach((d, j) => {
        if (d.k < boundary || d.kind !== 'write' || d.data.length === 0) return;
        const first = Math.floor(d.off / PAGE);
        const last = Math.floor((d.off + d.data.length - 1) / PAGE);
        for (let p = first; p <= last; p++) {
          if (!pendingByPage.has(p)) pendingByPage.set(p, []);
          pendingByPage.get(p).push(j);
        }
      });
      const keptUpTo = new Map();  // page -> index into its list (exclusive)
      const tornAt = new Map();    // `${j}:${page}` -> sector mask
      for (const [p, list] of pendingByPage) {
        // Lean towards the ends (all or nothing), where most bugs show, but cover the middle.
        const r = rand();
        const c = r < 0.3 ? 0 : r < 0.6 ? list.length : rand.int(list.length + 1);
        keptUpTo.set(p, c);
        if (c < list.length && rand() < 0.35) {
          const mask = Array.from({ length: PAGE / SECTOR }, () => rand() < 0.5);
          tornAt.set(`${list[c]}:${p}`, mask);
        }
      }
      const otherKept = ops.map((d) => d.k < boundary || d.kind === 'write' || rand() < 0.5);
      keep = (j, p) => {
        if (ops[j].k < boundary) return true;
        if (ops[j].kind !== 'write') return otherKept[j];
        const list = pendingByPage.get(p);
        return list.indexOf(j) < keptUpTo.get(p);
      };
      torn = (j, p) => tornAt.get(`${j}:${p}`) ?? null;
    }
    let buf = inode.base ? fs.readFileSync(inode.base) : Buffer.alloc(0);
    let size = buf.length;
    const ensure = (n) => {
      if (n <= buf.length) return;
      const bigger = Buffer.alloc(Math.max(n, buf.length * 2));
      buf.copy(bigger, 0, 0, size);
      buf = bigger;
    };
    ops.forEach((d, j) => {
      if (d.kind === 'truncate' || d.kind === 'extend') {
        if (!keep(j, -1)) return;
        if (d.kind === 'extend' && d.len <= size) return;
        ensure(d.len);
        if (d.len > size) buf.fill(0, size, d.len);
        size = d.len;
        return;
      }
      if (variant !== 'pages') {
        if (!keep(j, -1)) return;
        ensure(d.off + d.data.length);
        if (d.off > size) buf.fill(0, size, d.off);
        d.data.copy(buf, d.off);
        size = Math.max(size, d.off + d.data.length);
        return;
      }
      // Page by page.
      const first = Math.floor(d.off / PAGE);
      const last = Math.floor((d.off + d.data.length - 1) / PAGE);
      for (let p = first; p <= last; p++) {
        const from = Math.max(d.off, p * PAGE);
        const to = Math.min(d.off + d.data.length, (p + 1) * PAGE);
        const mask = keep(j, p) ? null : torn(j, p);
        if (!keep(j, p) && !mask) continue;
        ensure(to);
        if (from > size) buf.fill(0, size, from);
        if (!mask) {
          d.data.copy(buf, from, from - d.off, to - d.off);
        } else {
          for (let s = from; s < to;) {
            const sectorEnd = Math.min(to, (Math.floor(s / SECTOR) + 1) * SECTOR);
            if (mask[Math.floor((s % PAGE) / SECTOR)]) d.data.copy(buf, s, s - d.off, sectorEnd - d.off);
            else if (s >= size) buf.fill(0, s, sectorEnd);
            s = sectorEnd;
          }
        }
        size = Math.max(size, to);
      }
    });
    return Buffer.from(buf.subarray(0, size));
  }

  /** Writes the image's files into `dir` (which must exist and be empty). */
  static writeImage(image, dir) {
    for (const [name, bytes] of image.files) fs.writeFileSync(path.join(dir, name), bytes);
  }

  /**
   * The replay check: every operation kept gives the folder as it is now. A difference
   * means a write escaped the recorder. Returns a list of differences.
   */
  diffAgainst(dir) {
    const img = this.image(this.ops.length, 'all');
    const diffs = [];
    const actual = fs.readdirSync(dir).filter((f) => !f.endsWith('-shm'));
    for (const f of actual) {
      if (!img.files.has(f)) { diffs.push(`${f}: on disk, not in the replay`); continue; }
      const real = fs.readFileSync(path.join(dir, f));
      const replay = img.files.get(f);
      if (!real.equals(replay)) {
        let at = 0;
        while (at < Math.min(real.length, replay.length) && real[at] === replay[at]) at++;
        diffs.push(`${f}: ${real.length} bytes on disk, ${replay.length} replayed, first difference at ${at}`);
      }
    }
    for (const f of img.files.keys()) if (!actual.includes(f)) diffs.push(`${f}: replayed, not on disk`);
    return diffs;
  }

  /**
   * Cut points worth looking at: before, during and after every sync (the moments a
   * commit becomes durable), around every name change and every write to the files named
   * in `focus` (e.g. the database file: a checkpoint), and the end. Returns a sorted array.
   */
  interestingCuts(focusNames = []) {
    const cuts = new Set([this.ops.length]);
    const add = (k) => { if (k >= 0 && k <= this.ops.length) cuts.add(k); };
    this.ops.forEach((o, k) => {
      // Before a sync starts, while it runs (the cut the most answers must survive: all
      // those sent before it returned), and after it.
      if (o.op === 'syncBegin') add(k);
      if (o.op === 'syncEnd') { add(k); add(k + 1); }
      if (['rename', 'link', 'unlink'].includes(o.op)) { add(k); add(k + 1); }
    });
    for (const n of this.nsOps) { add(n.k); add(n.k + 1); }
    const focus = new Set(focusNames.map((f) => this.finalNames.get(f)).filter(Boolean));
    for (const inode of this.inodes) {
      if (!focus.has(inode)) continue;
      for (const d of inode.data) { add(d.k); add(d.k + 1); }
    }
    return [...cuts].sort((a, b) => a - b);
  }
}
