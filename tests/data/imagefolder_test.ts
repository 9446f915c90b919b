/** ImageNet-style ImageFolder trees (own subset folders and subsets drawn from an ImageNet-1k tree). */
import { deepStrictEqual as eq, ok } from "node:assert";
import { availability, datasetInfo, loadDataset } from "../../data/registry.ts";
import { IMAGEWOOF_CLASSES } from "../../data/classlists/imagewoof.ts";
import { checkMemory, decodeItems, type ImageItem } from "../../data/image_dataset.ts";
import { IMAGENETTE_CLASSES } from "../../data/classlists/imagenette.ts";
import {
  assertDatasetError,
  close,
  jpeg,
  meanColour,
  seedColour,
  withTempDir,
  writeFile,
  writeImageFolder,
} from "./_fixtures.ts";

const WOOF = IMAGEWOOF_CLASSES.map((c) => c.id);
const NETTE = IMAGENETTE_CLASSES.map((c) => c.id);

Deno.test("imagewoof: own ImageFolder tree, pinned label order, resize + centre crop, fastai note", async () => {
  await withTempDir(async (dir) => {
    writeImageFolder(`${dir}/data/imagewoof`, WOOF, { train: 2, val: 1 });
    writeFile(`${dir}/data/imagewoof/noisy_imagewoof.csv`, "path,noisy_labels_0\n");
    const a = availability("imagewoof", { dataRoot: `${dir}/data` });
    ok(a.available && a.reason.includes("fastai"), a.reason);
    const ds = await loadDataset("imagewoof", {
      dataRoot: `${dir}/data`,
      cacheDir: `${dir}/c`,
      resolution: 8,
    });
    eq([ds.train.count, ds.test.count], [20, 10]);
    eq(ds.info.classes, [...IMAGEWOOF_CLASSES]);
    eq(ds.info.shape, { channels: 3, height: 8, width: 8 });
    eq(Array.from(ds.train.labels), [0, 0, 1, 1, 2, 2, 3, 3, 4, 4, 5, 5, 6, 6, 7, 7, 8, 8, 9, 9]);
    for (let i = 0; i < 10; i++) {
      ok(
        close(meanColour(ds.test.images, i, 64), seedColour(i), 4),
        `val image ${i} has class ${i}'s colour`,
      );
    }
    eq(ds.manifest.files.length, 30);
    ok(ds.manifest.files.every((f, i, all) => i === 0 || all[i - 1].path < f.path), "manifest sorted");
    eq(ds.manifest.files[0].path, `train/${[...WOOF].sort()[0]}/${[...WOOF].sort()[0]}_0.JPEG`);
    eq(datasetInfo("imagewoof").shape.height, 128, "protocol default resolution");
  });
});

Deno.test("imagenette / imageidc drawn from an ImageNet-1k tree (extra classes ignored)", async () => {
  await withTempDir(async (dir) => {
    const data = `${dir}/data`;
    const idc = ["n01000001", "n01000002", "n01000003", "n01000004", "n01000005"].concat(
      ["n01000006", "n01000007", "n01000008", "n01000009", "n01000010"],
    );
    writeImageFolder(`${data}/imagenet-1k`, [...NETTE, ...idc, "n09999991", "n09999992"], {
      train: 1,
      val: 1,
    }, {
      w: 12,
      h: 12,
    });
    writeFile(`${data}/imagenet-1k/LOC_synset_mapping.txt`, "n01000003 gyromitra\n");
    const a = availability("imagenette", { dataRoot: data });
    ok(a.available && a.location === `${data}/imagenet-1k` && a.reason.includes("drawn from"), a.reason);
    const nette = await loadDataset("imagenette", { dataRoot: data, cacheDir: `${dir}/c`, resolution: 12 });
    eq([nette.train.count, nette.test.count], [10, 10]);
    eq(nette.info.classes.map((c) => c.id), NETTE);

    // ImageIDC has no pinned list: without classes.txt it cannot be drawn from the full tree.
    const missing = availability("imageidc", { dataRoot: data });
    ok(!missing.available && missing.reason.includes("classes.txt"), missing.reason);
    // IDC's class100.txt convention: the first 10 lines are ImageIDC.
    writeFile(`${data}/imageidc/classes.txt`, [...idc, "n09999991", "n09999992"].join("\n") + "\n");
    const ds = await loadDataset("imageidc", { dataRoot: data, cacheDir: `${dir}/c`, resolution: 12 });
    eq(ds.info.classes.map((c) => c.id), idc);
    eq(ds.info.classes[2].name, "gyromitra", "names from LOC_synset_mapping.txt");
    eq(ds.train.count, 10);
    ok(ds.manifest.files.some((f) => f.path === "classes.txt"), "the class list is part of the manifest");
  });
});

Deno.test("imagefolder: unknown, missing and empty class folders; flat val; undecodable JPEG", async () => {
  await withTempDir(async (dir) => {
    const data = `${dir}/data`;
    const root = `${data}/imagewoof`;
    const opts = { dataRoot: data, cacheDir: `${dir}/c`, resolution: 8 };
    writeImageFolder(root, WOOF, { train: 1, val: 1 }, { w: 10, h: 10 });

    writeFile(`${root}/train/n01440764/x.JPEG`, jpeg(10, 10, 1));
    await assertDatasetError(
      () => loadDataset("imagewoof", opts),
      "unknown class folder",
      `${root}/train/n01440764`,
    );
    await Deno.remove(`${root}/train/n01440764`, { recursive: true });

    await Deno.remove(`${root}/val/${WOOF[4]}`, { recursive: true });
    await assertDatasetError(() => loadDataset("imagewoof", opts), "missing class folder", `val/${WOOF[4]}`);
    Deno.mkdirSync(`${root}/val/${WOOF[4]}`);
    await assertDatasetError(() => loadDataset("imagewoof", opts), "no JPEG images", `val/${WOOF[4]}`);
    writeFile(`${root}/val/${WOOF[4]}/a.JPEG`, jpeg(10, 10, 4));

    writeFile(`${root}/val/ILSVRC2012_val_00000001.JPEG`, jpeg(10, 10, 4));
    await assertDatasetError(() => loadDataset("imagewoof", opts), "class folders", "valprep");
    await Deno.remove(`${root}/val/ILSVRC2012_val_00000001.JPEG`);

    const bad = `${root}/train/${WOOF[7]}/${WOOF[7]}_0.JPEG`;
    writeFile(bad, jpeg(10, 10, 7).slice(0, 60));
    await assertDatasetError(() => loadDataset("imagewoof", opts), bad, "undecodable JPEG");
    writeFile(bad, jpeg(10, 10, 7));
    const loaded = await loadDataset("imagewoof", opts);
    eq(loaded.train.count, 10);
  });
});

Deno.test("imagefolder: class-count checks for folder-defined lists and honest missing-data reasons", async () => {
  await withTempDir(async (dir) => {
    const data = `${dir}/data`;
    writeImageFolder(`${data}/imagenet-1k`, ["n01000001", "n01000002", "n01000003"], { train: 1, val: 1 });
    await assertDatasetError(
      () => loadDataset("imagenet-1k", { dataRoot: data }),
      "3 class folders",
      "expected 1000",
    );
    writeImageFolder(`${data}/imageidc`, ["n01000001", "n01000002"], { train: 1, val: 1 });
    await assertDatasetError(
      () => loadDataset("imageidc", { dataRoot: data }),
      "2 class folders",
      "expected 10",
    );
    writeFile(`${data}/imageidc/classes.txt`, "n01000001\nbonnet\n");
    await assertDatasetError(
      () => loadDataset("imageidc", { dataRoot: data }),
      "classes.txt:2",
      "not a WNID",
    );
    const a = availability("imagenet-100", { dataRoot: data });
    ok(
      !a.available && a.reason.includes("could not be verified") && a.reason.includes("classes.txt"),
      a.reason,
    );
    const w = availability("imagewoof", { dataRoot: `${dir}/none` });
    ok(!w.available && w.reason.includes("imagenet-1k") && w.reason.includes("classlists"), w.reason);
  });
});

Deno.test("imagefolder: a decode that cannot fit in memory fails early with advice", async () => {
  // ImageNet-1k at 224 px: 1,331,167 images × 150,528 bytes ≈ 187 GiB.
  await assertDatasetError(
    () => checkMemory("imagenet-1k", 1331167, 224, 24 * 2 ** 30),
    "GiB",
    "lower resolution",
  );
  checkMemory("imagewoof", 13394, 128, 24 * 2 ** 30);
});

Deno.test("decode workers: same pixels as in-thread decoding; a bad file still names itself", async () => {
  await withTempDir(async (dir) => {
    const items: ImageItem[] = [];
    for (let i = 0; i < 70; i++) {
      const abs = `${dir}/img_${i}.JPEG`;
      writeFile(abs, jpeg(13 + (i % 3), 11, i % 10, `n${i}`));
      items.push({ abs, rel: `img_${i}.JPEG`, label: i % 10 });
    }
    const seen: number[] = [];
    const par = await decodeItems(items, 8, { workers: 2, onProgress: (done) => seen.push(done) });
    const seq = await decodeItems(items, 8, { workers: 0 });
    eq(par.count, 70);
    ok(par.images.every((v, i) => v === seq.images[i]), "worker output equals in-thread output");
    eq(Array.from(par.labels), Array.from(seq.labels));
    eq(seen[seen.length - 1], 70, "progress reaches the total");
    writeFile(items[45].abs, "garbage");
    await assertDatasetError(() => decodeItems(items, 8, { workers: 2 }), items[45].abs, "not a JPEG");
  });
});
