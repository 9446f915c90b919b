/**
 * Decode caches are never trusted unless complete and current: truncated, corrupted or stale caches are
 * detected and rebuilt, writes leave no temp files, and a corrupt digest memo cannot corrupt the manifest.
 */
import { deepStrictEqual as eq, ok } from "node:assert";
import { loadDataset } from "../../data/registry.ts";
import { cachePath, readCache, writeCache } from "../../data/cache.ts";
import { IMAGEWOOF_CLASSES } from "../../data/classlists/imagewoof.ts";
import { jpeg, withTempDir, writeFile, writeImageFolder } from "./_fixtures.ts";
import type { Split } from "../../data/types.ts";

const WOOF = IMAGEWOOF_CLASSES.map((c) => c.id);

function setup(dir: string) {
  writeImageFolder(`${dir}/data/imagewoof`, WOOF, { train: 1, val: 1 }, { w: 14, h: 10 });
  return { dataRoot: `${dir}/data`, cacheDir: `${dir}/cache`, resolution: 8 };
}

const same = (a: Split, b: Split) =>
  a.count === b.count && a.images.every((v, i) => v === b.images[i]) &&
  a.labels.every((v, i) => v === b.labels[i]);

Deno.test("cache: a truncated cache file is detected and rebuilt; the rebuilt one is trusted again", async () => {
  await withTempDir(async (dir) => {
    const opts = setup(dir);
    const first = await loadDataset("imagewoof", opts);
    ok(first.cache && !first.cache.hit, "first load decodes");
    const path = first.cache.path;
    const full = await Deno.readFile(path);
    for (const cut of [full.length - 1, full.length - 8 - 100, 40, 10]) {
      await Deno.writeFile(path, full.subarray(0, cut));
      const again = await loadDataset("imagewoof", opts);
      ok(again.cache && !again.cache.hit, `truncated to ${cut} bytes must not be trusted`);
      ok(
        same(again.train, first.train) && same(again.test, first.test),
        "rebuilt data equals the original",
      );
      eq((await Deno.readFile(path)).length, full.length, "cache rewritten whole");
    }
    const hit = await loadDataset("imagewoof", opts);
    ok(hit.cache?.hit, "rebuilt cache is used");
    ok(same(hit.train, first.train), "cached data equals decoded data");
    const leftovers = [...Deno.readDirSync(opts.cacheDir)].filter((e) => e.name.endsWith(".tmp"));
    eq(leftovers.length, 0, "no temp files left behind");
  });
});

Deno.test("cache: corrupted header, flipped end marker and stale manifest are rejected", async () => {
  await withTempDir(async (dir) => {
    const opts = setup(dir);
    const first = await loadDataset("imagewoof", opts);
    const path = first.cache!.path;
    const full = await Deno.readFile(path);

    const badHeader = full.slice();
    badHeader[20] ^= 0xff;
    await Deno.writeFile(path, badHeader);
    ok(!(await loadDataset("imagewoof", opts)).cache?.hit, "corrupt header rebuilt");

    const badEnd = full.slice();
    badEnd[badEnd.length - 1] ^= 0xff;
    await Deno.writeFile(path, badEnd);
    ok(!(await loadDataset("imagewoof", opts)).cache?.hit, "bad end marker rebuilt");

    const key = {
      datasetId: "imagewoof",
      resolution: 8,
      manifestHash: first.manifest.hash,
      classes: first.info.classes,
      shape: first.info.shape,
    };
    ok((await readCache(path, key)).ok, "valid cache reads");
    const stale = await readCache(path, { ...key, manifestHash: "0".repeat(64) });
    ok(!stale.ok && stale.reason.includes("stale"), "another manifest hash is stale");
    const other = await readCache(path, { ...key, classes: [...key.classes].reverse() });
    ok(!other.ok && other.reason.includes("class"), "another class order is rejected");

    // Changing an input image changes the manifest hash, hence the cache key: a fresh decode.
    writeFile(`${opts.dataRoot}/imagewoof/train/${WOOF[0]}/${WOOF[0]}_0.JPEG`, jpeg(14, 10, 5));
    const changed = await loadDataset("imagewoof", opts);
    ok(changed.manifest.hash !== first.manifest.hash, "manifest hash follows file contents");
    ok(!changed.cache?.hit && changed.cache?.path !== path, "new key, new cache");
  });
});

Deno.test("cache: round trip at odd sizes, padding and labels preserved; half-written temp ignored", async () => {
  await withTempDir(async (dir) => {
    const shape = { channels: 3, height: 3, width: 3 };
    const key = {
      datasetId: "tiny-imagenet",
      resolution: 3,
      manifestHash: "ab".repeat(32),
      classes: [{ id: "n1", name: "a" }, { id: "n2", name: "b" }, { id: "n3", name: "c" }],
      shape,
    };
    const split = (n: number, s: number): Split => ({
      images: Uint8Array.from({ length: n * 27 }, (_, i) => (i * s) & 255),
      labels: Int32Array.from({ length: n }, (_, i) => (i + s) % 3),
      count: n,
    });
    const path = cachePath(`${dir}/c`, key);
    await Deno.mkdir(`${dir}/c`);
    await Deno.writeFile(`${path}.999.deadbeef.tmp`, new Uint8Array(10));
    const train = split(5, 3);
    const test = split(1, 7);
    await writeCache(path, key, train, test);
    const r = await readCache(path, key);
    ok(r.ok, "round trip");
    ok(same(r.train, train) && same(r.test, test), "contents preserved");
    const empty = await readCache(`${dir}/c/none.ddcache`, key);
    ok(!empty.ok && empty.reason === "no cache file", "missing cache reported, not thrown");
  });
});

Deno.test("manifest memo: a corrupt memo is ignored and the manifest is unchanged", async () => {
  await withTempDir(async (dir) => {
    const opts = setup(dir);
    const first = await loadDataset("imagewoof", opts);
    const memos = [...Deno.readDirSync(`${opts.cacheDir}/manifests`)];
    eq(memos.length, 1, "one digest memo per dataset root");
    await Deno.writeTextFile(`${opts.cacheDir}/manifests/${memos[0].name}`, "{not json");
    const again = await loadDataset("imagewoof", opts);
    eq(again.manifest, first.manifest);
    ok(again.cache?.hit, "same manifest → same cache");
  });
});
