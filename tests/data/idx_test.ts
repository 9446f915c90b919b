/** IDX parsing and the IDX datasets on fixtures written in the real format (plain and gzip). */
import { deepStrictEqual as eq, ok } from "node:assert";
import { checkIdxFile, parseIdx } from "../../data/idx.ts";
import { idxDataset } from "../../data/idx_dataset.ts";
import { datasetInfo, loadDataset } from "../../data/registry.ts";
import { assertDatasetError, gzip, idx, idxSet, withTempDir, writeFile, writeIdxSet } from "./_fixtures.ts";

Deno.test("idx: parses images and labels, zero-copy view of the payload", () => {
  const img = parseIdx(idx(0x803, [2, 3, 4], Uint8Array.from({ length: 24 }, (_, i) => i)), "a", "images");
  eq(img.dims, [2, 3, 4]);
  eq(Array.from(img.data.subarray(20)), [20, 21, 22, 23]);
  const lab = parseIdx(idx(0x801, [3], Uint8Array.of(7, 8, 9)), "b", "labels");
  eq([lab.dims, Array.from(lab.data)], [[3], [7, 8, 9]]);
});

Deno.test("idx: wrong magic, truncation, trailing bytes and zero dims are DatasetErrors naming the file", async () => {
  const good = idx(0x803, [2, 2, 2], new Uint8Array(8));
  await assertDatasetError(
    () => parseIdx(good, "imgs.idx", "labels"),
    "imgs.idx",
    "wrong magic",
    "0x00000801",
  );
  await assertDatasetError(
    () => parseIdx(idx(0x0d03, [2, 2, 2], new Uint8Array(8)), "f.idx", "images"),
    "f.idx",
    "0x00000803",
  );
  await assertDatasetError(() => parseIdx(good.subarray(0, 15), "t.idx", "images"), "t.idx", "truncated");
  await assertDatasetError(() => parseIdx(good.subarray(0, 2), "t.idx", "images"), "truncated");
  await assertDatasetError(() => parseIdx(good.subarray(0, 10), "h.idx", "images"), "truncated IDX header");
  const extra = new Uint8Array(good.length + 3);
  extra.set(good);
  await assertDatasetError(() => parseIdx(extra, "x.idx", "images"), "x.idx", "trailing");
  await assertDatasetError(() => parseIdx(idx(0x803, [0, 2, 2], new Uint8Array(0)), "z", "images"), "zero");
});

Deno.test("idx dataset: plain and gzipped copies in the data root load identically", async () => {
  await withTempDir(async (dir) => {
    const set = idxSet(30, 12);
    writeIdxSet(`${dir}/plain/mnist`, set);
    writeIdxSet(`${dir}/gz/mnist`, set, true);
    writeIdxSet(`${dir}/gz/fashion-mnist`, set, true);
    const plain = await loadDataset("mnist", { dataRoot: `${dir}/plain` });
    const gz = await loadDataset("mnist", { dataRoot: `${dir}/gz` });
    const fashion = await loadDataset("fashion-mnist", { dataRoot: `${dir}/gz` });
    for (const ds of [plain, gz, fashion]) {
      eq([ds.train.count, ds.test.count], [30, 12]);
      eq(Array.from(ds.train.labels.subarray(0, 12)), [0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 0, 1]);
      eq(
        Array.from(ds.train.images.subarray(0, 784)),
        Array.from(set.trainImages.subarray(16, 800)),
      );
    }
    ok(plain.manifest.hash !== gz.manifest.hash, "manifest hashes the files as stored");
    eq(gz.manifest.files.map((f) => f.path)[0], "t10k-images-idx3-ubyte.gz");
    const again = await loadDataset("mnist", { dataRoot: `${dir}/gz` });
    eq(again.manifest, gz.manifest, "manifest is deterministic");
  });
});

Deno.test("idx dataset: count mismatch, bad labels, truncated gzip, missing file", async () => {
  await withTempDir(async (dir) => {
    const root = `${dir}/r`;
    const set = idxSet(10, 5);
    writeIdxSet(`${root}/mnist`, { ...set, trainLabels: idx(0x801, [9], new Uint8Array(9)) });
    await assertDatasetError(
      () => loadDataset("mnist", { dataRoot: root }),
      "count mismatch",
      "10 images",
      "9 labels",
      "train-labels-idx1-ubyte",
    );

    writeIdxSet(`${root}/mnist`, { ...set, testLabels: idx(0x801, [5], Uint8Array.of(0, 1, 2, 10, 3)) });
    await assertDatasetError(
      () => loadDataset("mnist", { dataRoot: root }),
      "t10k-labels",
      "label 10",
      "0..9",
    );

    writeIdxSet(`${root}/mnist`, { ...set, testImages: idx(0x803, [5, 32, 32], new Uint8Array(5 * 1024)) });
    await assertDatasetError(() => loadDataset("mnist", { dataRoot: root }), "32×32", "expected 28×28");

    writeIdxSet(`${root}/fashion-mnist`, set, true);
    const gz = gzip(set.trainImages);
    writeFile(`${root}/fashion-mnist/train-images-idx3-ubyte.gz`, gz.subarray(0, gz.length - 9));
    await assertDatasetError(
      () => loadDataset("fashion-mnist", { dataRoot: root }),
      "train-images-idx3-ubyte.gz",
      "truncated",
    );

    writeIdxSet(`${root}/fashion-mnist`, { ...set, trainImages: idx(0x801, [10], new Uint8Array(10)) }, true);
    await assertDatasetError(() => loadDataset("fashion-mnist", { dataRoot: root }), "wrong magic");
  });
});

Deno.test("idx dataset: a data-root folder missing a file falls through to the next source", async () => {
  await withTempDir(async (dir) => {
    const set = idxSet(4, 4);
    writeIdxSet(`${dir}/mnist`, set);
    await Deno.remove(`${dir}/mnist/t10k-labels-idx1-ubyte`);
    // The incomplete user copy is skipped and the embedded npm copy is used.
    const ds = await loadDataset("mnist", { dataRoot: dir });
    eq(ds.train.count, 60000);
  });
});

Deno.test("checkIdxFile: header, exact size (plain) and gzip trailer size, without reading the data", async () => {
  await withTempDir(async (dir) => {
    const good = idx(0x803, [3, 28, 28], new Uint8Array(3 * 784));
    writeFile(`${dir}/a`, good);
    writeFile(`${dir}/a.gz`, gzip(good));
    eq(checkIdxFile(`${dir}/a`, "images"), [3, 28, 28]);
    eq(checkIdxFile(`${dir}/a.gz`, "images"), [3, 28, 28]);
    writeFile(`${dir}/short`, good.subarray(0, good.length - 1));
    await assertDatasetError(() => checkIdxFile(`${dir}/short`, "images"), "short", "needs exactly 2368");
    const gz = gzip(good);
    writeFile(`${dir}/cut.gz`, gz.subarray(0, gz.length - 5));
    await assertDatasetError(() => checkIdxFile(`${dir}/cut.gz`, "images"), "cut.gz", "gzip trailer");
    await assertDatasetError(() => checkIdxFile(`${dir}/a`, "labels"), "wrong magic");
    writeFile(`${dir}/junk.gz`, Uint8Array.of(0x1f, 0x8b, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10));
    await assertDatasetError(() => checkIdxFile(`${dir}/junk.gz`, "images"), "junk.gz", "corrupt gzip");
  });
});

Deno.test("idx dataset: availability checks the headers of the copy the loader would read", async () => {
  await withTempDir((dir) => {
    const ds = idxDataset({
      info: datasetInfo("mnist"),
      candidates: () => [{ dir, label: "test folder" }],
      howToGet: () => "Fix: copy intact files.",
    });
    const set = idxSet(6, 4);
    writeIdxSet(dir, set);
    eq(ds.availability(dir).available, true);
    writeIdxSet(dir, { ...set, testLabels: idx(0x801, [5], new Uint8Array(5)) });
    const a = ds.availability(dir);
    eq([a.available, a.location], [false, dir]);
    ok(
      /damaged: .*t10k-images-idx3-ubyte holds 4 images but .*t10k-labels-idx1-ubyte 5 labels/.test(a.reason),
    );
    writeIdxSet(dir, { ...set, trainImages: idx(0x803, [6, 32, 32], new Uint8Array(6 * 1024)) });
    ok(/images are 32×32, expected 28×28/.test(ds.availability(dir).reason));
    return Promise.resolve();
  });
});
