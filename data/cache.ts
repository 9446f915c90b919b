/**
 * Decoded-dataset cache files, so JPEG trees are decoded once. Layout (little-endian):
 *
 *   "DDRCACH1" | u32 header length | header JSON | pad to 8
 *   train labels (int32) | pad | test labels (int32) | pad | train images | test images | "DDREND!!"
 *
 * A cache is trusted only if the magic, the header (zod-validated; dataset id, resolution, manifest hash,
 * decode version and class list all equal to what the caller expects), every section size and the end
 * marker check out, and the file is exactly as long as the header implies. Files are written atomically
 * (temp + rename), so a half-written cache never has the final name; a truncated or stale one is rebuilt.
 */
import { z } from "zod";
import { writeChunksAtomic } from "./atomic.ts";
import { join } from "./fsutil.ts";
import type { ClassInfo, Shape, Split } from "./types.ts";

const MAGIC = "DDRCACH1";
const END = "DDREND!!";

/** Bump when decoding or resizing changes, so old caches are never mistaken for new output. */
export const DECODE_VERSION = 1;

const Header = z.object({
  version: z.literal(1),
  decodeVersion: z.number().int(),
  datasetId: z.string(),
  resolution: z.number().int().positive(),
  manifestHash: z.string().regex(/^[0-9a-f]{64}$/),
  shape: z.object({
    channels: z.number().int().positive(),
    height: z.number().int().positive(),
    width: z.number().int().positive(),
  }),
  trainCount: z.number().int().nonnegative(),
  testCount: z.number().int().nonnegative(),
  classes: z.array(z.object({ id: z.string(), name: z.string() })),
}).strict();
type Header = z.infer<typeof Header>;

export interface CacheKey {
  datasetId: string;
  resolution: number;
  manifestHash: string;
  classes: ClassInfo[];
  shape: Shape;
}

export function cachePath(cacheDir: string, key: CacheKey): string {
  return join(cacheDir, `${key.datasetId}-${key.resolution}px-${key.manifestHash.slice(0, 16)}.ddcache`);
}

const pad8 = (n: number) => (8 - (n % 8)) % 8;

function layout(h: Header, headerLen: number) {
  const px = h.shape.channels * h.shape.height * h.shape.width;
  let off = 12 + headerLen;
  off += pad8(off);
  const trainLabels = off;
  off += h.trainCount * 4;
  off += pad8(off);
  const testLabels = off;
  off += h.testCount * 4;
  off += pad8(off);
  const trainImages = off;
  off += h.trainCount * px;
  const testImages = off;
  off += h.testCount * px;
  return { px, trainLabels, testLabels, trainImages, testImages, end: off, total: off + 8 };
}

function labelBytes(labels: Int32Array): Uint8Array {
  const out = new Uint8Array(labels.length * 4);
  const v = new DataView(out.buffer);
  for (let i = 0; i < labels.length; i++) v.setInt32(i * 4, labels[i], true);
  return out;
}

export async function writeCache(path: string, key: CacheKey, train: Split, test: Split): Promise<void> {
  const header: Header = {
    version: 1,
    decodeVersion: DECODE_VERSION,
    datasetId: key.datasetId,
    resolution: key.resolution,
    manifestHash: key.manifestHash,
    shape: key.shape,
    trainCount: train.count,
    testCount: test.count,
    classes: key.classes,
  };
  const json = new TextEncoder().encode(JSON.stringify(header));
  const l = layout(header, json.length);
  const pre = new Uint8Array(12);
  pre.set(new TextEncoder().encode(MAGIC));
  new DataView(pre.buffer).setUint32(8, json.length, true);
  const zeros = (n: number) => new Uint8Array(n);
  const chunks: Uint8Array[] = [
    pre,
    json,
    zeros(l.trainLabels - 12 - json.length),
    labelBytes(train.labels),
    zeros(l.testLabels - l.trainLabels - train.count * 4),
    labelBytes(test.labels),
    zeros(l.trainImages - l.testLabels - test.count * 4),
    train.images,
    test.images,
    new TextEncoder().encode(END),
  ];
  await writeChunksAtomic(path, chunks);
}

export type CacheRead = { ok: true; train: Split; test: Split } | { ok: false; reason: string };

function sameClasses(a: ClassInfo[], b: ClassInfo[]): boolean {
  return a.length === b.length && a.every((c, i) => c.id === b[i].id && c.name === b[i].name);
}

/** Read and fully validate a cache file; never throws for a bad cache, it reports why instead. */
export async function readCache(path: string, key: CacheKey): Promise<CacheRead> {
  let bytes: Uint8Array;
  try {
    bytes = await Deno.readFile(path);
  } catch {
    return { ok: false, reason: "no cache file" };
  }
  const td = new TextDecoder();
  if (bytes.length < 20 || td.decode(bytes.subarray(0, 8)) !== MAGIC) {
    return { ok: false, reason: "bad magic" };
  }
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const headerLen = view.getUint32(8, true);
  if (12 + headerLen > bytes.length) return { ok: false, reason: "truncated header" };
  let header: Header;
  try {
    const parsed = Header.safeParse(JSON.parse(td.decode(bytes.subarray(12, 12 + headerLen))));
    if (!parsed.success) return { ok: false, reason: "invalid header" };
    header = parsed.data;
  } catch {
    return { ok: false, reason: "unparseable header" };
  }
  if (header.decodeVersion !== DECODE_VERSION) return { ok: false, reason: "old decode version" };
  if (header.datasetId !== key.datasetId || header.resolution !== key.resolution) {
    return { ok: false, reason: "different dataset or resolution" };
  }
  if (header.manifestHash !== key.manifestHash) return { ok: false, reason: "stale (manifest hash changed)" };
  const s = header.shape;
  if (s.channels !== key.shape.channels || s.height !== key.shape.height || s.width !== key.shape.width) {
    return { ok: false, reason: "different shape" };
  }
  if (!sameClasses(header.classes, key.classes)) return { ok: false, reason: "different class list" };
  const l = layout(header, headerLen);
  if (bytes.length !== l.total) {
    return { ok: false, reason: `size ${bytes.length} bytes, header implies ${l.total} (truncated?)` };
  }
  if (td.decode(bytes.subarray(l.end, l.total)) !== END) return { ok: false, reason: "missing end marker" };
  const labels = (off: number, n: number, numClasses: number): Int32Array | null => {
    const out = new Int32Array(n);
    for (let i = 0; i < n; i++) {
      const y = view.getInt32(off + i * 4, true);
      if (y < 0 || y >= numClasses) return null;
      out[i] = y;
    }
    return out;
  };
  const nc = header.classes.length;
  const trainLabels = labels(l.trainLabels, header.trainCount, nc);
  const testLabels = labels(l.testLabels, header.testCount, nc);
  if (!trainLabels || !testLabels) return { ok: false, reason: "label out of range" };
  return {
    ok: true,
    train: {
      images: bytes.subarray(l.trainImages, l.trainImages + header.trainCount * l.px),
      labels: trainLabels,
      count: header.trainCount,
    },
    test: {
      images: bytes.subarray(l.testImages, l.testImages + header.testCount * l.px),
      labels: testLabels,
      count: header.testCount,
    },
  };
}
