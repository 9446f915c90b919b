/**
 * Test helpers: a DatasetError assertion and writers that produce each dataset format for real
 * — IDX (plain and gzip), CIFAR binary batches, MATLAB v5 MAT-files (plain and miCOMPRESSED), and JPEG trees
 * encoded with jpeg-js — into temporary folders.
 */
import { deflateSync, gzipSync } from "node:zlib";
import { encode as encodeJpeg } from "jpeg-js";
import { DatasetError } from "../../data/errors.ts";

/** Await `fn`, require a DatasetError whose message contains every fragment; returns it. */
export async function assertDatasetError(
  fn: () => unknown | Promise<unknown>,
  ...fragments: string[]
): Promise<DatasetError> {
  let err: unknown = null;
  try {
    await fn();
  } catch (e) {
    err = e;
  }
  if (!(err instanceof DatasetError)) {
    throw new Error(`expected a DatasetError containing ${JSON.stringify(fragments)}, got ${String(err)}`);
  }
  for (const f of fragments) {
    if (!err.message.includes(f)) throw new Error(`DatasetError "${err.message}" does not mention "${f}"`);
  }
  return err;
}

export async function withTempDir(fn: (dir: string) => Promise<void>): Promise<void> {
  const dir = await Deno.makeTempDir({ prefix: "ddrepro-data-test-" });
  try {
    await fn(dir);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
}

export function writeFile(path: string, data: Uint8Array | string): void {
  Deno.mkdirSync(path.slice(0, path.lastIndexOf("/")), { recursive: true });
  if (typeof data === "string") Deno.writeTextFileSync(path, data);
  else Deno.writeFileSync(path, data);
}

export const gzip = (b: Uint8Array): Uint8Array => new Uint8Array(gzipSync(b));

/** Deterministic pseudo-random bytes (xorshift), so fixtures are reproducible. */
export function bytes(n: number, seed = 1): Uint8Array {
  const out = new Uint8Array(n);
  let x = seed * 2654435761 >>> 0 || 1;
  for (let i = 0; i < n; i++) {
    x ^= x << 13;
    x >>>= 0;
    x ^= x >>> 17;
    x ^= x << 5;
    x >>>= 0;
    out[i] = x & 0xff;
  }
  return out;
}

// ---------------------------------------------------------------- IDX

export function idx(magic: number, dims: number[], data: Uint8Array): Uint8Array {
  const out = new Uint8Array(4 + 4 * dims.length + data.length);
  const v = new DataView(out.buffer);
  v.setUint32(0, magic, false);
  dims.forEach((d, i) => v.setUint32(4 + 4 * i, d, false));
  out.set(data, 4 + 4 * dims.length);
  return out;
}

export interface IdxSet {
  trainImages: Uint8Array;
  trainLabels: Uint8Array;
  testImages: Uint8Array;
  testLabels: Uint8Array;
}

/** A tiny MNIST-shaped IDX set: n train and m test 28×28 images, label = index % 10. */
export function idxSet(n: number, m: number): IdxSet {
  const labels = (k: number) => Uint8Array.from({ length: k }, (_, i) => i % 10);
  return {
    trainImages: idx(0x803, [n, 28, 28], bytes(n * 784, 3)),
    trainLabels: idx(0x801, [n], labels(n)),
    testImages: idx(0x803, [m, 28, 28], bytes(m * 784, 4)),
    testLabels: idx(0x801, [m], labels(m)),
  };
}

export function writeIdxSet(dir: string, set: IdxSet, gz = false): void {
  const names: Record<keyof IdxSet, string> = {
    trainImages: "train-images-idx3-ubyte",
    trainLabels: "train-labels-idx1-ubyte",
    testImages: "t10k-images-idx3-ubyte",
    testLabels: "t10k-labels-idx1-ubyte",
  };
  for (const k of Object.keys(names) as (keyof IdxSet)[]) {
    writeFile(`${dir}/${names[k]}${gz ? ".gz" : ""}`, gz ? gzip(set[k]) : set[k]);
  }
}

// ---------------------------------------------------------------- CIFAR

/** Records with label byte(s) then CHW pixels; pixel (c, p) of record r = (r*7 + c*50 + p) & 255. */
export function cifarRecords(labels: number[][]): Uint8Array {
  const lb = labels[0].length;
  const rec = lb + 3072;
  const out = new Uint8Array(labels.length * rec);
  labels.forEach((ls, r) => {
    ls.forEach((l, i) => (out[r * rec + i] = l));
    for (let c = 0; c < 3; c++) {
      for (let p = 0; p < 1024; p++) out[r * rec + lb + c * 1024 + p] = (r * 7 + c * 50 + p) & 255;
    }
  });
  return out;
}

// ---------------------------------------------------------------- MATLAB v5

const MI = { INT8: 1, UINT8: 2, INT32: 5, UINT32: 6, DOUBLE: 9, MATRIX: 14, COMPRESSED: 15 };

function element(type: number, data: Uint8Array, pad = true): Uint8Array {
  if (data.length <= 4 && type !== MI.MATRIX && type !== MI.COMPRESSED) {
    // Small data element format: count and type packed into the first 4 bytes.
    const out = new Uint8Array(8);
    new DataView(out.buffer).setUint32(0, (data.length << 16) | type, true);
    out.set(data, 4);
    return out;
  }
  const padded = pad ? Math.ceil(data.length / 8) * 8 : data.length;
  const out = new Uint8Array(8 + padded);
  const v = new DataView(out.buffer);
  v.setUint32(0, type, true);
  v.setUint32(4, data.length, true);
  out.set(data, 8);
  return out;
}

const concat = (parts: Uint8Array[]): Uint8Array => {
  const out = new Uint8Array(parts.reduce((a, p) => a + p.length, 0));
  let o = 0;
  for (const p of parts) {
    out.set(p, o);
    o += p.length;
  }
  return out;
};

export interface MatVar {
  name: string;
  /** mxCLASS: 6 double, 9 uint8. */
  classId: number;
  dims: number[];
  values: ArrayLike<number>;
  /** Storage type: 2 miUINT8, 9 miDOUBLE. */
  storage: number;
  compress?: boolean;
}

export function matVariable(v: MatVar): Uint8Array {
  const flags = new Uint8Array(8);
  new DataView(flags.buffer).setUint32(0, v.classId, true);
  const dims = new Uint8Array(4 * v.dims.length);
  v.dims.forEach((d, i) => new DataView(dims.buffer).setInt32(4 * i, d, true));
  let real: Uint8Array;
  if (v.storage === MI.DOUBLE) {
    real = new Uint8Array(8 * v.values.length);
    const dv = new DataView(real.buffer);
    for (let i = 0; i < v.values.length; i++) dv.setFloat64(8 * i, v.values[i], true);
  } else {
    real = Uint8Array.from(v.values);
  }
  const matrix = element(
    MI.MATRIX,
    concat([
      element(MI.UINT32, flags),
      element(MI.INT32, dims),
      element(MI.INT8, new TextEncoder().encode(v.name)),
      element(v.storage, real),
    ]),
  );
  return v.compress ? element(MI.COMPRESSED, new Uint8Array(deflateSync(matrix)), false) : matrix;
}

export function matFile(
  vars: MatVar[],
  headerText = "MATLAB 5.0 MAT-file, Platform: ddrepro test",
): Uint8Array {
  const header = new Uint8Array(128).fill(0x20);
  header.set(new TextEncoder().encode(headerText));
  header.fill(0, 116, 124);
  new DataView(header.buffer).setUint16(124, 0x0100, true);
  header[126] = "I".charCodeAt(0);
  header[127] = "M".charCodeAt(0);
  return concat([header, ...vars.map(matVariable)]);
}

/** SVHN-style X (32×32×3×n, column-major) where X(i,j,k,s) = (i + 2j + 3k + 5s) & 255, and y. */
export function svhnVars(ys: number[], compress: boolean, yStorage = 9): MatVar[] {
  const n = ys.length;
  const X = new Uint8Array(3072 * n);
  for (let s = 0; s < n; s++) {
    for (let k = 0; k < 3; k++) {
      for (let j = 0; j < 32; j++) {
        for (let i = 0; i < 32; i++) X[i + 32 * j + 1024 * k + 3072 * s] = (i + 2 * j + 3 * k + 5 * s) & 255;
      }
    }
  }
  return [
    { name: "X", classId: 9, dims: [32, 32, 3, n], values: X, storage: 2, compress },
    { name: "y", classId: 6, dims: [n, 1], values: ys, storage: yStorage, compress },
  ];
}

// ---------------------------------------------------------------- JPEG trees

const jpegMemo = new Map<string, Uint8Array>();

/**
 * A w×h JPEG whose colour encodes `seed` (so labels can be checked from pixels). jpeg-js spends ~30 ms
 * setting up its encoder per call, so encodings are memoised; `tag` makes a file unique (a JPEG COM
 * segment spliced in after SOI) without encoding again.
 */
export function jpeg(w: number, h: number, seed: number, tag?: string): Uint8Array {
  const key = `${w}x${h}:${seed}`;
  let base = jpegMemo.get(key);
  if (!base) {
    const data = new Uint8Array(w * h * 4);
    for (let p = 0; p < w * h; p++) {
      data[4 * p] = (seed * 37) & 255;
      data[4 * p + 1] = (seed * 91 + 40) & 255;
      data[4 * p + 2] = (seed * 13 + 200) & 255;
      data[4 * p + 3] = 255;
    }
    base = new Uint8Array(encodeJpeg({ width: w, height: h, data }, 95).data);
    jpegMemo.set(key, base);
  }
  if (tag === undefined) return base.slice();
  const text = new TextEncoder().encode(tag);
  const seg = new Uint8Array(4 + text.length);
  seg.set([0xff, 0xfe, (text.length + 2) >> 8, (text.length + 2) & 255]);
  seg.set(text, 4);
  const out = new Uint8Array(base.length + seg.length);
  out.set(base.subarray(0, 2));
  out.set(seg, 2);
  out.set(base.subarray(2), 2 + seg.length);
  return out;
}

/** The mean colour `jpeg(…, seed)` was made with. */
export function seedColour(seed: number): number[] {
  return [(seed * 37) & 255, (seed * 91 + 40) & 255, (seed * 13 + 200) & 255];
}

/** ImageFolder tree: root/{train,val}/<wnid>/<n>.JPEG with `perClass` images per class and split. */
export function writeImageFolder(
  root: string,
  wnids: readonly string[],
  perClass: { train: number; val: number },
  size: { w: number; h: number } = { w: 20, h: 16 },
): void {
  wnids.forEach((wnid, c) => {
    for (const split of ["train", "val"] as const) {
      for (let i = 0; i < perClass[split]; i++) {
        writeFile(
          `${root}/${split}/${wnid}/${wnid}_${i}.JPEG`,
          jpeg(size.w, size.h, c, `${split}/${wnid}/${i}`),
        );
      }
    }
  });
}

/** Mean of each channel over one NHWC image. */
export function meanColour(images: Uint8Array, index: number, px: number): number[] {
  const sums = [0, 0, 0];
  for (let p = 0; p < px; p++) for (let c = 0; c < 3; c++) sums[c] += images[(index * px + p) * 3 + c];
  return sums.map((s) => s / px);
}

export const close = (a: number[], b: number[], tol: number): boolean =>
  a.every((v, i) => Math.abs(v - b[i]) <= tol);
