/** The registry: every dataset the seed-paper specs name is registered, ids are validated, reasons are useful. */
import { deepStrictEqual as eq, ok } from "node:assert";
import { availability, DatasetError, datasetInfo, listDatasets, loadDataset } from "../../data/registry.ts";
import { builtinTables } from "../../experiments/registry.ts";
import { assertDatasetError } from "./_fixtures.ts";

Deno.test("registry: lists every dataset with consistent static info", () => {
  const list = listDatasets();
  eq(list.map((d) => d.id), [
    "mnist",
    "fashion-mnist",
    "cifar10",
    "cifar100",
    "svhn",
    "tiny-imagenet",
    "imagewoof",
    "imagenette",
    "imageidc",
    "imagenet-100",
    "imagenet-1k",
  ]);
  for (const d of list) {
    eq(d.mean.length, d.shape.channels, `${d.id} mean per channel`);
    eq(d.std.length, d.shape.channels, `${d.id} std per channel`);
    ok(d.classes.length === 0 || d.classes.length === d.numClasses, `${d.id} class list`);
  }
  eq(datasetInfo("cifar100").mean, [0.5071, 0.4866, 0.4409]);
  eq(datasetInfo("svhn").digits, true);
  eq(datasetInfo("cifar10").digits, false);
  list[0].classes.length = 0;
  eq(datasetInfo("mnist").classes.length, 10, "listDatasets returns copies");
});

Deno.test("registry: every dataset id in the seed-paper table specs is registered", () => {
  const known = new Set(listDatasets().map((d) => d.id));
  for (const t of builtinTables) {
    for (const c of t.cells) {
      ok(known.has(c.dataset), `${t.id} cell ${c.id}: unknown dataset ${c.dataset}`);
    }
  }
});

Deno.test("registry: unknown ids and bad options are DatasetErrors that say what is known/expected", async () => {
  const e = await assertDatasetError(
    () => loadDataset("cifar-10"),
    'unknown dataset id "cifar-10"',
    "cifar10",
  );
  ok(e.message.includes("imagewoof") && e.message.includes("tiny-imagenet"), e.message);
  await assertDatasetError(() => availability("imagenet"), "known ids");
  await assertDatasetError(() => datasetInfo("nope"), "known ids");
  await assertDatasetError(() => loadDataset("mnist", { resolution: 32 }), "28×28 only");
  await assertDatasetError(() => loadDataset("imagewoof", { resolution: 3 }), "invalid options");
  ok(new DatasetError("x", "f").file === "f", "DatasetError carries the file");
});

Deno.test("registry: missing user datasets explain where to put them", async () => {
  const root = await Deno.makeTempDir();
  try {
    for (const id of ["cifar10", "cifar100", "svhn", "tiny-imagenet", "imagewoof", "imagenet-1k"]) {
      const a = availability(id, { dataRoot: root });
      ok(!a.available && a.location === null, `${id} should be missing`);
      ok(a.reason.includes(root) && a.reason.includes("Fix"), `${id}: ${a.reason}`);
      await assertDatasetError(() => loadDataset(id, { dataRoot: root }), root);
    }
  } finally {
    await Deno.remove(root, { recursive: true });
  }
});
