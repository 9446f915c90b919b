/** CIFAR binary batches and SVHN MAT v5 files, written in the real formats into a temp data root. */
import { deepStrictEqual as eq, ok } from "node:assert";
import { loadDataset } from "../../data/registry.ts";
import { readMatV5 } from "../../data/matv5.ts";
import {
  assertDatasetError,
  cifarRecords,
  matFile,
  matVariable,
  svhnVars,
  withTempDir,
  writeFile,
} from "./_fixtures.ts";

/** Pixel (row y, col x, channel c) of CIFAR fixture record r, per cifarRecords(). */
const cifarPixel = (r: number, y: number, x: number, c: number) => (r * 7 + c * 50 + y * 32 + x) & 255;

function writeCifar10(dir: string, perBatch = 3): void {
  for (let b = 1; b <= 5; b++) {
    writeFile(
      `${dir}/data_batch_${b}.bin`,
      cifarRecords(Array.from({ length: perBatch }, (_, i) => [(b + i) % 10])),
    );
  }
  writeFile(`${dir}/test_batch.bin`, cifarRecords([[9], [0]]));
}

Deno.test("cifar10: binary batches, CHW records become HWC, labels and names", async () => {
  await withTempDir(async (root) => {
    writeCifar10(`${root}/cifar10/cifar-10-batches-bin`);
    writeFile(
      `${root}/cifar10/cifar-10-batches-bin/batches.meta.txt`,
      "airplane\nautomobile\nbird\ncat\ndeer\ndog\nfrog\nhorse\nship\ntruck\n\n",
    );
    const ds = await loadDataset("cifar10", { dataRoot: root });
    eq([ds.train.count, ds.test.count], [15, 2]);
    eq(Array.from(ds.train.labels.subarray(0, 6)), [1, 2, 3, 2, 3, 4]);
    eq(Array.from(ds.test.labels), [9, 0]);
    // Record 1 of test (r = 1), pixel (y=2, x=5): HWC offset ((2*32)+5)*3 + c.
    const base = 1 * 3072 + (2 * 32 + 5) * 3;
    eq(
      Array.from(ds.test.images.subarray(base, base + 3)),
      [0, 1, 2].map((c) => cifarPixel(1, 2, 5, c)),
    );
    eq(ds.info.classes[1], { id: "1", name: "automobile" });
    eq(ds.manifest.files.length, 7, "5 train batches + test + names");
  });
});

Deno.test("cifar10: truncated batch, bad label, missing batch, bad names file", async () => {
  await withTempDir(async (root) => {
    const dir = `${root}/cifar10`;
    writeCifar10(dir);
    const good = cifarRecords([[1], [2]]);
    writeFile(`${dir}/data_batch_3.bin`, good.subarray(0, good.length - 100));
    await assertDatasetError(
      () => loadDataset("cifar10", { dataRoot: root }),
      "data_batch_3.bin",
      "truncated",
    );
    writeFile(`${dir}/data_batch_3.bin`, cifarRecords([[1], [12]]));
    await assertDatasetError(() => loadDataset("cifar10", { dataRoot: root }), "label 12", "record 1");
    writeFile(`${dir}/data_batch_3.bin`, good);
    writeFile(`${dir}/batches.meta.txt`, "cat\ndog\n");
    await assertDatasetError(
      () => loadDataset("cifar10", { dataRoot: root }),
      "batches.meta.txt",
      "expected 10",
    );
    await Deno.remove(`${dir}/batches.meta.txt`);
    await Deno.remove(`${dir}/data_batch_4.bin`);
    await assertDatasetError(() => loadDataset("cifar10", { dataRoot: root }), "missing data_batch_4.bin");
  });
});

Deno.test("cifar100: two label bytes, fine label used, coarse validated", async () => {
  await withTempDir(async (root) => {
    const dir = `${root}/cifar100/cifar-100-binary`;
    writeFile(`${dir}/train.bin`, cifarRecords([[3, 99], [19, 0], [0, 42]]));
    writeFile(`${dir}/test.bin`, cifarRecords([[1, 7]]));
    const ds = await loadDataset("cifar100", { dataRoot: root });
    eq(Array.from(ds.train.labels), [99, 0, 42]);
    eq(ds.info.classes[99].name, "worm");
    eq(ds.info.numClasses, 100);
    writeFile(`${dir}/test.bin`, cifarRecords([[20, 7]]));
    await assertDatasetError(
      () => loadDataset("cifar100", { dataRoot: root }),
      "test.bin",
      "coarse label 20",
    );
    writeFile(`${dir}/test.bin`, cifarRecords([[1], [2]]));
    await assertDatasetError(() => loadDataset("cifar100", { dataRoot: root }), "3074-byte");
  });
});

Deno.test("matv5: header, small elements, compressed variables, double stored as uint8", () => {
  const bytes = matFile([
    { name: "a", classId: 6, dims: [2, 3], values: [1, 2, 3, 4, 5, 6], storage: 9 },
    { name: "bb", classId: 6, dims: [1, 2], values: [7, 250], storage: 2, compress: true },
    { name: "img", classId: 9, dims: [2, 2], values: [9, 8, 7, 6], storage: 2, compress: true },
  ]);
  const vars = readMatV5(bytes, "f.mat");
  eq([...vars.keys()], ["a", "bb", "img"]);
  eq(Array.from(vars.get("a")!.data!), [1, 2, 3, 4, 5, 6]);
  eq(vars.get("a")!.dims, [2, 3]);
  ok(vars.get("bb")!.data instanceof Float64Array, "double class widened from uint8 storage");
  eq(Array.from(vars.get("bb")!.data!), [7, 250]);
  ok(vars.get("img")!.data instanceof Uint8Array, "uint8 class stays bytes");
});

Deno.test("matv5: bad header, v7.3, truncated, corrupt compressed data, size mismatch", async () => {
  const ok = matFile(svhnVars([1, 2], false));
  await assertDatasetError(() => readMatV5(ok.subarray(0, 100), "s.mat"), "s.mat", "truncated MAT file");
  await assertDatasetError(() => readMatV5(ok.subarray(0, ok.length - 5), "s.mat"), "s.mat", "truncated");
  await assertDatasetError(() => readMatV5(matFile([], "MATLAB 7.3 MAT-file"), "h.mat"), "h.mat", "v7.3");
  await assertDatasetError(() => readMatV5(matFile([], "hello"), "h.mat"), "not a MATLAB Level 5");
  const comp = matFile(svhnVars([1, 2], true));
  const broken = comp.slice();
  broken.fill(0, 150, 170); // inside the first compressed element's zlib stream
  await assertDatasetError(() => readMatV5(broken, "c.mat"), "c.mat", "zlib");
  await assertDatasetError(
    () => readMatV5(comp.subarray(0, comp.length - 20), "c.mat"),
    "c.mat",
    "truncated",
  );
  const wrong = matVariable({ name: "X", classId: 9, dims: [3, 3], values: [1, 2, 3, 4], storage: 2 });
  const file = matFile([]);
  const joined = new Uint8Array(file.length + wrong.length);
  joined.set(file);
  joined.set(wrong, file.length);
  await assertDatasetError(() => readMatV5(joined, "w.mat"), "w.mat", "3×3", "9 values");
});

Deno.test("svhn: X column-major → NHWC, label 10 → 0, plain and compressed files", async () => {
  await withTempDir(async (root) => {
    writeFile(`${root}/svhn/train_32x32.mat`, matFile(svhnVars([10, 1, 5], true)));
    writeFile(`${root}/svhn/test_32x32.mat`, matFile(svhnVars([3, 10], false, 2)));
    const ds = await loadDataset("svhn", { dataRoot: root });
    eq(Array.from(ds.train.labels), [0, 1, 5]);
    eq(Array.from(ds.test.labels), [3, 0]);
    // Train image s=2, row i=4, col j=7: X(i,j,k,s) = i + 2j + 3k + 5s.
    const o = 2 * 3072 + (4 * 32 + 7) * 3;
    eq(Array.from(ds.train.images.subarray(o, o + 3)), [0, 1, 2].map((k) => 4 + 14 + 3 * k + 10));
    ok(ds.info.digits, "SVHN must not be flipped");
  });
});

Deno.test("svhn: count mismatch, bad label, wrong X shape, missing file", async () => {
  await withTempDir(async (root) => {
    const vars = svhnVars([1, 2, 3], true);
    writeFile(`${root}/svhn/test_32x32.mat`, matFile(svhnVars([1], false)));
    writeFile(
      `${root}/svhn/train_32x32.mat`,
      matFile([vars[0], { ...vars[1], dims: [2, 1], values: [1, 2] }]),
    );
    await assertDatasetError(
      () => loadDataset("svhn", { dataRoot: root }),
      "count mismatch",
      "train_32x32.mat",
      "3 images",
      "2 labels",
    );
    writeFile(`${root}/svhn/train_32x32.mat`, matFile(svhnVars([1, 11, 3], false)));
    await assertDatasetError(() => loadDataset("svhn", { dataRoot: root }), "y(2) = 11", "1..10");
    writeFile(`${root}/svhn/train_32x32.mat`, matFile([{ ...vars[0], dims: [32, 32, 1, 9] }, vars[1]]));
    await assertDatasetError(() => loadDataset("svhn", { dataRoot: root }), "32×32×1×9", "32×32×3×N");
    await Deno.remove(`${root}/svhn/test_32x32.mat`);
    await assertDatasetError(() => loadDataset("svhn", { dataRoot: root }), "missing test_32x32.mat");
  });
});
