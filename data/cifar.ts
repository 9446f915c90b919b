/**
 * CIFAR-10 / CIFAR-100 "binary version": fixed-size records of label byte(s) + 3072 pixel bytes stored
 * channel-major (1024 R, 1024 G, 1024 B, each row-major 32×32). CIFAR-10 has one label byte;
 * CIFAR-100 has two (coarse, fine) and we use the fine label. Records are converted to HWC.
 */
import { DatasetError } from "./errors.ts";
import { firstExisting, isDir, isFile, join, readBytes, readText } from "./fsutil.ts";
import { buildManifest } from "./manifest.ts";
import { CIFAR100_CLASSES, CIFAR10_CLASSES } from "./classlists/small.ts";
import type { DatasetDef, LoadContext } from "./def.ts";
import type { Availability, ClassInfo, Dataset, DatasetInfo, Split } from "./types.ts";

const PIXELS = 32 * 32;
const IMAGE_BYTES = 3 * PIXELS;

interface CifarVariant {
  info: DatasetInfo;
  /** Label bytes before the pixels: 1 (CIFAR-10) or 2 (CIFAR-100: coarse, fine). */
  labelBytes: 1 | 2;
  trainFiles: string[];
  testFiles: string[];
  namesFile: string;
  /** Folder names to look in under the data root, in order. */
  dirs: string[];
  howToGet: (dataRoot: string) => string;
}

/** Parse concatenated records of one or more batch files into a Split (HWC). */
export function parseCifarRecords(
  parts: { bytes: Uint8Array; file: string }[],
  labelBytes: 1 | 2,
  numClasses: number,
): Split {
  const record = labelBytes + IMAGE_BYTES;
  let count = 0;
  for (const { bytes, file } of parts) {
    if (bytes.length === 0 || bytes.length % record !== 0) {
      throw new DatasetError(
        `${file}: ${bytes.length} bytes is not a whole number of ${record}-byte CIFAR records ` +
          `(${labelBytes} label byte${labelBytes > 1 ? "s" : ""} + 3072 pixels); truncated or wrong file?`,
        file,
      );
    }
    count += bytes.length / record;
  }
  const images = new Uint8Array(count * IMAGE_BYTES);
  const labels = new Int32Array(count);
  let n = 0;
  for (const { bytes, file } of parts) {
    const records = bytes.length / record;
    for (let r = 0; r < records; r++, n++) {
      const base = r * record;
      if (labelBytes === 2 && bytes[base] >= 20) {
        throw new DatasetError(
          `${file}: coarse label ${bytes[base]} in record ${r} is out of range (expected 0..19)`,
          file,
        );
      }
      const y = bytes[base + labelBytes - 1];
      if (y >= numClasses) {
        throw new DatasetError(
          `${file}: label ${y} in record ${r} is out of range (expected 0..${numClasses - 1})`,
          file,
        );
      }
      labels[n] = y;
      const src = base + labelBytes;
      const dst = n * IMAGE_BYTES;
      for (let p = 0; p < PIXELS; p++) {
        images[dst + 3 * p] = bytes[src + p];
        images[dst + 3 * p + 1] = bytes[src + PIXELS + p];
        images[dst + 3 * p + 2] = bytes[src + 2 * PIXELS + p];
      }
    }
  }
  return { images, labels, count };
}

function locate(v: CifarVariant, dataRoot: string): { dir: string | null; searched: string[] } {
  const searched: string[] = [];
  for (const sub of v.dirs) {
    const dir = join(dataRoot, sub);
    if (!isDir(dir)) {
      searched.push(`${dir} (no such folder)`);
      continue;
    }
    const missing = [...v.trainFiles, ...v.testFiles].filter((f) => !isFile(join(dir, f)));
    if (missing.length === 0) return { dir, searched };
    searched.push(`${dir} (missing ${missing.join(", ")})`);
  }
  return { dir: null, searched };
}

async function readNames(dir: string, v: CifarVariant): Promise<ClassInfo[]> {
  const path = firstExisting([join(dir, v.namesFile)]);
  if (!path) return [...v.info.classes];
  const names = (await readText(path, "class names, one per line")).split(/\r?\n/).map((s) => s.trim())
    .filter((s) => s.length > 0);
  if (names.length !== v.info.numClasses) {
    throw new DatasetError(
      `${path}: ${names.length} class names, expected ${v.info.numClasses} (one per line)`,
      path,
    );
  }
  return names.map((name, i) => ({ id: String(i), name }));
}

function cifarDataset(v: CifarVariant): DatasetDef {
  const availability = (dataRoot: string): Availability => {
    const { dir, searched } = locate(v, dataRoot);
    if (dir) return { available: true, location: dir, reason: `${v.info.name} binary version in ${dir}` };
    return {
      available: false,
      location: null,
      reason: `${v.info.name}: binary batches not found. Searched: ${searched.join("; ")}. ${
        v.howToGet(dataRoot)
      }`,
    };
  };

  const load = async (ctx: LoadContext): Promise<Dataset> => {
    if (ctx.resolution !== undefined && ctx.resolution !== 32) {
      throw new DatasetError(`${v.info.id} is 32×32 only (requested resolution ${ctx.resolution})`);
    }
    const { dir } = locate(v, ctx.dataRoot);
    if (!dir) throw new DatasetError(availability(ctx.dataRoot).reason, join(ctx.dataRoot, v.dirs[0]));
    const read = (files: string[]) =>
      Promise.all(
        files.map(async (f) => ({ file: join(dir, f), bytes: await readBytes(join(dir, f), "CIFAR batch") })),
      );
    const train = parseCifarRecords(await read(v.trainFiles), v.labelBytes, v.info.numClasses);
    const test = parseCifarRecords(await read(v.testFiles), v.labelBytes, v.info.numClasses);
    const classes = await readNames(dir, v);
    const inputs = [...v.trainFiles, ...v.testFiles, v.namesFile].filter((f) => isFile(join(dir, f)))
      .map((f) => ({ abs: join(dir, f), rel: f }));
    const manifest = await buildManifest(inputs);
    return { info: { ...v.info, classes }, train, test, manifest };
  };

  return { info: v.info, availability, load };
}

export const cifar10 = cifarDataset({
  info: {
    id: "cifar10",
    name: "CIFAR-10",
    classes: [...CIFAR10_CLASSES],
    numClasses: 10,
    shape: { channels: 3, height: 32, width: 32 },
    mean: [0.4914, 0.4822, 0.4465],
    std: [0.2023, 0.1994, 0.2010],
    digits: false,
    source: "user",
    resizable: false,
  },
  labelBytes: 1,
  trainFiles: [1, 2, 3, 4, 5].map((i) => `data_batch_${i}.bin`),
  testFiles: ["test_batch.bin"],
  namesFile: "batches.meta.txt",
  dirs: ["cifar10", "cifar10/cifar-10-batches-bin", "cifar-10-batches-bin"],
  howToGet: (root) =>
    "Fix: download the CIFAR-10 *binary version* (cifar-10-binary.tar.gz, 50k train / 10k test) from " +
    `Alex Krizhevsky's CIFAR page and extract it into ${join(root, "cifar10")} (the cifar-10-batches-bin ` +
    "folder may stay as it is). The python/matlab versions are not read.",
});

export const cifar100 = cifarDataset({
  info: {
    id: "cifar100",
    name: "CIFAR-100",
    classes: [...CIFAR100_CLASSES],
    numClasses: 100,
    shape: { channels: 3, height: 32, width: 32 },
    mean: [0.5071, 0.4866, 0.4409],
    std: [0.2673, 0.2564, 0.2762],
    digits: false,
    source: "user",
    resizable: false,
  },
  labelBytes: 2,
  trainFiles: ["train.bin"],
  testFiles: ["test.bin"],
  namesFile: "fine_label_names.txt",
  dirs: ["cifar100", "cifar100/cifar-100-binary", "cifar-100-binary"],
  howToGet: (root) =>
    "Fix: download the CIFAR-100 *binary version* (cifar-100-binary.tar.gz, 50k train / 10k test) from " +
    `Alex Krizhevsky's CIFAR page and extract it into ${join(root, "cifar100")} (the cifar-100-binary ` +
    "folder may stay as it is). Fine labels are used.",
});
