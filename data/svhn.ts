/**
 * SVHN cropped digits (format 2): train_32x32.mat / test_32x32.mat, each holding X (32×32×3×N uint8, MATLAB
 * column-major: X(row, col, channel, n)) and y (N×1, values 1..10 where 10 means digit 0). The "extra" split
 * is not used, as in the seed papers. Converted to NHWC with labels 0..9.
 */
import { DatasetError } from "./errors.ts";
import { isDir, isFile, join, readBytes } from "./fsutil.ts";
import { buildManifest } from "./manifest.ts";
import { readMatV5 } from "./matv5.ts";
import { DIGIT_CLASSES } from "./classlists/small.ts";
import type { DatasetDef, LoadContext } from "./def.ts";
import type { Availability, Dataset, DatasetInfo, Split } from "./types.ts";

const FILES = { train: "train_32x32.mat", test: "test_32x32.mat" } as const;

export const svhnInfo: DatasetInfo = {
  id: "svhn",
  name: "SVHN",
  classes: [...DIGIT_CLASSES],
  numClasses: 10,
  shape: { channels: 3, height: 32, width: 32 },
  mean: [0.4377, 0.4438, 0.4728],
  std: [0.1980, 0.2010, 0.1970],
  digits: true,
  source: "user",
  resizable: false,
};

/** Convert one parsed SVHN MAT file into a Split. */
export function svhnSplitFromMat(bytes: Uint8Array, file: string): Split {
  const vars = readMatV5(bytes, file);
  const X = vars.get("X");
  const y = vars.get("y");
  if (!X || !y) {
    throw new DatasetError(
      `${file}: expected variables X and y (found ${[...vars.keys()].join(", ") || "none"})`,
      file,
    );
  }
  if (X.className !== "uint8" || !(X.data instanceof Uint8Array)) {
    throw new DatasetError(`${file}: X is ${X.className}, expected uint8`, file);
  }
  if (X.dims.length !== 4 || X.dims[0] !== 32 || X.dims[1] !== 32 || X.dims[2] !== 3) {
    throw new DatasetError(`${file}: X is ${X.dims.join("×")}, expected 32×32×3×N`, file);
  }
  const n = X.dims[3];
  const yCount = y.dims.reduce((a, b) => a * b, 1);
  if (!y.data || y.dims.filter((d) => d !== 1).length > 1) {
    throw new DatasetError(
      `${file}: y is ${y.className} ${y.dims.join("×")}, expected a numeric N×1 vector`,
      file,
    );
  }
  if (yCount !== n) {
    throw new DatasetError(
      `count mismatch in ${file}: X holds ${n} images but y holds ${yCount} labels (expected equal counts)`,
      file,
    );
  }
  const labels = new Int32Array(n);
  for (let i = 0; i < n; i++) {
    const v = y.data[i];
    if (!Number.isInteger(v) || v < 1 || v > 10) {
      throw new DatasetError(`${file}: y(${i + 1}) = ${v}, expected an integer 1..10 (10 = digit 0)`, file);
    }
    labels[i] = v === 10 ? 0 : v;
  }
  // Column-major X(i,j,k,n) sits at i + 32j + 1024k + 3072n; NHWC wants n*3072 + (32i + j)*3 + k.
  const src = X.data;
  const images = new Uint8Array(n * 3072);
  for (let s = 0; s < n; s++) {
    const base = s * 3072;
    for (let k = 0; k < 3; k++) {
      for (let j = 0; j < 32; j++) {
        const col = base + 1024 * k + 32 * j;
        for (let i = 0; i < 32; i++) images[base + (32 * i + j) * 3 + k] = src[col + i];
      }
    }
  }
  return { images, labels, count: n };
}

function locate(dataRoot: string): string | null {
  const dir = join(dataRoot, "svhn");
  return isFile(join(dir, FILES.train)) && isFile(join(dir, FILES.test)) ? dir : null;
}

function availability(dataRoot: string): Availability {
  const dir = locate(dataRoot);
  if (dir) return { available: true, location: dir, reason: `SVHN cropped digits (MAT v5) in ${dir}` };
  const want = join(dataRoot, "svhn");
  const missing = Object.values(FILES).filter((f) => !isFile(join(want, f)));
  return {
    available: false,
    location: null,
    reason: `SVHN: ${isDir(want) ? `missing ${missing.join(", ")} in ${want}` : `no folder ${want}`}. ` +
      `Fix: download train_32x32.mat and test_32x32.mat (format 2, cropped digits; 73,257 / 26,032 images) ` +
      `from the Stanford SVHN page into ${want}.`,
  };
}

async function load(ctx: LoadContext): Promise<Dataset> {
  if (ctx.resolution !== undefined && ctx.resolution !== 32) {
    throw new DatasetError(`svhn is 32×32 only (requested resolution ${ctx.resolution})`);
  }
  const dir = locate(ctx.dataRoot);
  if (!dir) throw new DatasetError(availability(ctx.dataRoot).reason, join(ctx.dataRoot, "svhn"));
  const read = async (f: string) =>
    svhnSplitFromMat(await readBytes(join(dir, f), "SVHN MAT file"), join(dir, f));
  const train = await read(FILES.train);
  const test = await read(FILES.test);
  const manifest = await buildManifest(Object.values(FILES).map((f) => ({ abs: join(dir, f), rel: f })));
  return { info: { ...svhnInfo, classes: [...svhnInfo.classes] }, train, test, manifest };
}

export const svhn: DatasetDef = { info: svhnInfo, availability, load };
