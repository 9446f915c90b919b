/** Tiny-ImageNet in its real tiny-imagenet-200 layout, with real JPEGs encoded by jpeg-js. */
import { deepStrictEqual as eq, ok } from "node:assert";
import { availability, loadDataset } from "../../data/registry.ts";
import {
  assertDatasetError,
  close,
  jpeg,
  meanColour,
  seedColour,
  withTempDir,
  writeFile,
} from "./_fixtures.ts";

const N = 200;
/** WNIDs deliberately listed in reverse so sorted (label) order differs from file order. */
const WNIDS = Array.from({ length: N }, (_, i) => `n${String(10000000 + (N - 1 - i) * 7).padStart(8, "0")}`);
const SORTED = [...WNIDS].sort();

/** Colour seed of class c: ten distinct colours keep the fixture cheap to encode (see fixtures.jpeg). */
const seedOf = (c: number) => c % 10;

/** tiny-imagenet-200 with one 64×64 train image per class (two for the first) and one val image each. */
function writeTiny(root: string): void {
  writeFile(`${root}/wnids.txt`, WNIDS.join("\n") + "\n");
  writeFile(`${root}/words.txt`, `${SORTED[0]}\tgoldfish, Carassius auratus\nn99999999\tunused\n`);
  const ann: string[] = [];
  SORTED.forEach((w, c) => {
    writeFile(`${root}/train/${w}/images/${w}_0.JPEG`, jpeg(64, 64, seedOf(c), `t${c}`));
    writeFile(`${root}/train/${w}/${w}_boxes.txt`, `${w}_0.JPEG\t0\t0\t63\t63\n`);
    writeFile(`${root}/val/images/val_${c}.JPEG`, jpeg(64, 64, seedOf(c), `v${c}`));
    ann.push(`val_${c}.JPEG\t${w}\t0\t0\t63\t63`);
  });
  writeFile(`${root}/train/${SORTED[0]}/images/${SORTED[0]}_1.JPEG`, jpeg(64, 64, 0, "t0b"));
  writeFile(`${root}/val/val_annotations.txt`, ann.join("\n") + "\n");
}

Deno.test("tiny-imagenet: 200 sorted WNIDs, train/<wnid>/images, val via val_annotations.txt, cached", async () => {
  await withTempDir(async (dir) => {
    const root = `${dir}/data/tiny-imagenet/tiny-imagenet-200`;
    writeTiny(root);
    const a = availability("tiny-imagenet", { dataRoot: `${dir}/data` });
    ok(a.available && a.location === root, a.reason);
    const opts = { dataRoot: `${dir}/data`, cacheDir: `${dir}/cache` };
    const ds = await loadDataset("tiny-imagenet", opts);
    eq([ds.train.count, ds.test.count], [N + 1, N]);
    eq(ds.info.classes.map((c) => c.id), SORTED);
    eq(ds.info.classes[0].name, "goldfish, Carassius auratus");
    eq(ds.info.classes[1].name, SORTED[1], "no words.txt entry → WNID");
    eq(ds.info.shape, { channels: 3, height: 64, width: 64 });
    eq(Array.from(ds.train.labels.subarray(0, 4)), [0, 0, 1, 2]);
    eq(Array.from(ds.test.labels.subarray(0, 3)), [0, 1, 2]);
    for (const i of [0, 57, 199]) {
      ok(
        close(meanColour(ds.test.images, i, 64 * 64), seedColour(seedOf(ds.test.labels[i])), 3),
        `val ${i} colour`,
      );
    }
    eq(ds.cache?.hit, false);
    const again = await loadDataset("tiny-imagenet", opts);
    eq(again.cache?.hit, true, "second load comes from the cache");
    eq(again.manifest.hash, ds.manifest.hash);
    ok(again.train.images.every((v, i) => v === ds.train.images[i]), "cached pixels equal decoded ones");
    const small = await loadDataset("tiny-imagenet", { ...opts, resolution: 32 });
    eq(small.info.shape, { channels: 3, height: 32, width: 32 });
    eq(small.train.images.length, (N + 1) * 32 * 32 * 3);
    eq(small.cache?.hit, false, "another resolution is another cache entry");
  });
});

Deno.test("tiny-imagenet: unknown class folder, unknown/missing annotations, bad JPEG, wrong WNID count", async () => {
  await withTempDir(async (dir) => {
    const data = `${dir}/data`;
    const root = `${data}/tiny-imagenet-200`;
    writeTiny(root);
    const opts = { dataRoot: data, cacheDir: `${dir}/cache` };

    writeFile(`${root}/train/n99999999/images/x.JPEG`, jpeg(64, 64, 1));
    await assertDatasetError(() => loadDataset("tiny-imagenet", opts), "unknown class folder", "n99999999");
    await Deno.remove(`${root}/train/n99999999`, { recursive: true });

    const ann = await Deno.readTextFile(`${root}/val/val_annotations.txt`);
    writeFile(`${root}/val/val_annotations.txt`, ann.replace(`\t${SORTED[5]}\t`, "\tn88888888\t"));
    await assertDatasetError(
      () => loadDataset("tiny-imagenet", opts),
      "val_annotations.txt",
      "unknown class n88888888",
    );
    writeFile(`${root}/val/val_annotations.txt`, ann);

    writeFile(`${root}/val/images/val_extra.JPEG`, jpeg(64, 64, 3));
    await assertDatasetError(() => loadDataset("tiny-imagenet", opts), "count mismatch", "val_extra.JPEG");
    await Deno.remove(`${root}/val/images/val_extra.JPEG`);

    const bad = `${root}/train/${SORTED[3]}/images/${SORTED[3]}_0.JPEG`;
    writeFile(bad, "this is not a JPEG");
    await assertDatasetError(() => loadDataset("tiny-imagenet", opts), bad, "not a JPEG");
    writeFile(bad, jpeg(64, 64, 3));

    writeFile(`${root}/wnids.txt`, WNIDS.slice(1).join("\n"));
    await assertDatasetError(
      () => loadDataset("tiny-imagenet", opts),
      "wnids.txt",
      "199 WNIDs",
      "expected 200",
    );

    await Deno.remove(`${root}/val`, { recursive: true });
    const a = availability("tiny-imagenet", opts);
    ok(
      !a.available && a.reason.includes("val/images") && a.reason.includes("tiny-imagenet-200.zip"),
      a.reason,
    );
    await assertDatasetError(() => loadDataset("tiny-imagenet", opts), "incomplete");
  });
});
