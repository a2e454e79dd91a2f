// Rebuilds one disk image of a kept recording (POWERLOSS_KEEP=1), to look at a failure:
//   node tests/powerloss/image.mjs LAB_DIR CUT VARIANT SEED OUT_DIR
// with CUT, VARIANT and SEED from the failure's line ("cut 412/1526 (synced, seed 1007)").
// Then e.g. `sqlite3 OUT_DIR/tr.db 'PRAGMA integrity_check'`, or `toolregistry serve
// --database sqlite:OUT_DIR/tr.db` with the lab's key. LAB_DIR holds ops.log and base/.

import fs from 'node:fs';
import path from 'node:path';

import { readLog, describeOp } from './log.mjs';
import { Recording } from './model.mjs';

const [labDir, cut, variant, seed, out] = process.argv.slice(2);
if (!out) {
  console.error('usage: image.mjs LAB_DIR CUT VARIANT SEED OUT_DIR');
  process.exit(2);
}
const rec = new Recording(readLog(path.join(labDir, 'ops.log')), path.join(labDir, 'base'));
const k = Number(cut);
fs.mkdirSync(out, { recursive: true });
const image = rec.image(k, variant, Number(seed));
Recording.writeImage(image, out);
console.log(`cut ${k}/${rec.length}: ${[...image.files].map(([n, b]) => `${n} ${b.length} bytes`).join(', ')}`);
console.log(`name changes pending at the cut: ${image.pendingNs}, kept: ${image.keptNs}`);
for (const o of rec.ops.slice(Math.max(0, k - 5), k + 3)) console.log(`${o.i === rec.ops[k]?.i ? '>' : ' '} ${describeOp(o)}`);
