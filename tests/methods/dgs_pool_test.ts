/**
 * DGS's pool cache (methods/dgs_pool.ts): computed once per key, read back bit for bit, keyed by what the
 * pool depends on, and a damaged or foreign file is recomputed rather than used.
 */
import { deepStrictEqual as eq, ok, rejects } from "node:assert";
import { silentProgress } from "../../data/progress.ts";
import { cachedPool, loadPool, type Pool, poolKey, savePool } from "../../methods/dgs_pool.ts";
import { tinyDataset } from "../runner/_fixtures.ts";

const classes = 3, perClass = 2;

function fakePool(seed: number): Pool {
  const n = classes * perClass, data = new Float32Array(n * 4 * 4 * 1);
  data.forEach((_, i) => (data[i] = Math.sin(seed + i) / 3));
  return {
    images: { data, shape: [n, 4, 4, 1] },
    labels: Array.from({ length: n }, (_, i) => Math.floor(i / perClass)),
    tuneSteps: 7,
    tuneLoss: 0.125,
  };
}

const inputs = { foundation: "f", weights: ["aa"], minimax: { maxSteps: 120 }, perClass, seed: 0 };

Deno.test("dgs pool: computed once per key, then read back bit for bit", async () => {
  const dir = await Deno.makeTempDir({ prefix: "ddrepro-dgs-pool-" });
  const path = `${dir}/pool.safetensors`, key = poolKey(tinyDataset(), inputs);
  let computed = 0;
  const compute = () => (computed++, Promise.resolve(fakePool(1)));
  const a = await cachedPool(path, { key, classes, perClass }, compute, silentProgress);
  const b = await cachedPool(path, { key, classes, perClass }, compute, silentProgress);
  eq([computed, a.cached, b.cached], [1, false, true]);
  eq(b.pool.images.data, a.pool.images.data);
  eq([b.pool.labels, b.pool.images.shape, b.pool.tuneSteps, b.pool.tuneLoss], [
    a.pool.labels,
    a.pool.images.shape,
    7,
    0.125,
  ]);
  // Another key at the same path (a truncated key collided, or the inputs changed): computed again.
  const other = poolKey(tinyDataset(), { ...inputs, seed: 1 });
  const c = await cachedPool(path, { key: other, classes, perClass }, compute, silentProgress);
  eq([computed, c.cached], [2, false]);
});

Deno.test("dgs pool: the key follows every input the pool depends on", () => {
  const d = tinyDataset(), base = poolKey(d, inputs);
  const variants = [
    { ...inputs, seed: 1 },
    { ...inputs, perClass: 3 },
    { ...inputs, minimax: { maxSteps: 121 } },
    { ...inputs, weights: ["ab"] },
    { ...inputs, foundation: "g" },
  ];
  for (const v of variants) ok(poolKey(d, v) !== base, JSON.stringify(v));
  const other = tinyDataset();
  other.train.images[0] ^= 1;
  ok(poolKey(other, inputs) !== base, "the train images");
  eq(poolKey(tinyDataset(), inputs), base, "deterministic");
});

Deno.test("dgs pool: a damaged or mismatched file is rejected before use", async () => {
  const dir = await Deno.makeTempDir({ prefix: "ddrepro-dgs-pool-" });
  const path = `${dir}/pool.safetensors`, key = "k";
  eq(await loadPool(`${dir}/absent.safetensors`, { key, classes, perClass }), null);
  const p = fakePool(2);
  p.images.data[3] = NaN;
  await savePool(path, key, p);
  await rejects(loadPool(path, { key, classes, perClass }), /non-finite/);
  await savePool(path, key, { ...fakePool(2), labels: [0, 1, 0, 1, 2, 2] });
  await rejects(loadPool(path, { key, classes, perClass }), /class-major/);
  await savePool(path, key, fakePool(2));
  await rejects(loadPool(path, { key, classes, perClass: 3 }), /images must be F32 \[9/);
  await rejects(loadPool(path, { key: "other", classes, perClass }), /key differs/);
  await Deno.writeTextFile(path, "not a safetensors file");
  let computed = 0;
  const r = await cachedPool(path, { key, classes, perClass }, () => {
    computed++;
    return Promise.resolve(fakePool(3));
  }, silentProgress);
  eq([computed, r.cached], [1, false]);
});
