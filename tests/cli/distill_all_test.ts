/**
 * `dd distill`'s path (the runner's distillStep with the method's smoke-profile config) for every
 * implemented method, on a tiny MNIST-shaped dataset so CI stays fast: each returns a labelled,
 * class-balanced, finite set that saves and loads with a PNG grid beside it. The CLI's own flag
 * handling is covered by cli_test.ts.
 */
import { scaleConfig } from "../../experiments/budget.ts";
import { deepStrictEqual as eq, ok } from "node:assert";
import { listMethods } from "../../methods/registry.ts";
import { DatasetPool } from "../../runner/datasets.ts";
import { distillStep, saveWithGrid } from "../../runner/pipeline.ts";
import { codeVersionFor } from "../../runner/version.ts";
import { loadDistilledSet } from "../../runner/distilled_set.ts";
import { initWebGpu } from "../../runner/engine_setup.ts";
import { tempDir, tinyLoad } from "../runner/_fixtures.ts";

// The full-dataset "method" is the whole training split, not a distilled set.
const methods = listMethods().filter((m) => m.implemented && m.id !== "full-dataset");

Deno.test("dd distill: the registry implements the coreset and matching baselines", () => {
  for (
    const id of [
      "random",
      "herding",
      "kcenter",
      "forgetting",
      "dc",
      "dsa",
      "dm",
      "idm",
      "idc",
      "idc-1",
      "mtt",
      "dm+cmi",
    ]
  ) {
    ok(methods.some((m) => m.id === id), `${id} is implemented`);
  }
});

await initWebGpu();
const pool = new DatasetPool(tinyLoad(undefined, 12));
const load = { id: "mnist" };
// Teachers, experts and extractor pools the methods train go to a cache shared by this file's tests
// (they reuse each other's), never to the checkout's .cache.
const cache = await tempDir("dd-distill-cache-");
globalThis.addEventListener("unload", () => Deno.removeSync(cache, { recursive: true }));

for (const m of methods) {
  Deno.test(`dd distill --method ${m.id} --profile smoke: a valid set and grid`, async () => {
    const outer = Deno.env.get("DD_CACHE");
    Deno.env.set("DD_CACHE", cache);
    try {
      await distillsValidSet(m);
    } finally {
      if (outer === undefined) Deno.env.delete("DD_CACHE");
      else Deno.env.set("DD_CACHE", outer);
    }
  });
}

async function distillsValidSet(m: (typeof methods)[number]): Promise<void> {
  const data = await pool.prepare(load, 2);
  const config = m.schema.parse(scaleConfig(m, m.defaults("mnist", 1), "smoke", 1));
  const out = await distillStep({
    method: m,
    codeVersion: codeVersionFor(m),
    data,
    datasetLoad: load,
    ipc: 1,
    seed: 0,
    config,
    profile: "smoke",
    artifactsDir: null,
  });
  const file = `${await tempDir()}/set.safetensors`;
  await saveWithGrid(file, out.set);
  const set = await loadDistilledSet(file);
  eq([set.meta.method, set.meta.ipc, set.meta.profile], [m.id, 1, "smoke"]);
  const [n, c, h, w] = set.shape;
  eq([c, h, w], [1, 8, 8]);
  const counts = new Array(10).fill(0);
  for (const y of set.labels) counts[y]++;
  ok(n >= 10 && counts.every((k) => k === n / 10), `class-balanced labels: ${counts}`);
  ok(set.images.every(Number.isFinite), "finite images");
  ok((await Deno.stat(file.replace(/\.safetensors$/, ".png"))).size > 50, "PNG grid");
}
