/**
 * The `dd` command line as a user (or a script) sees it: the --json contracts, exit codes and
 * one-line errors for bad input, and the store commands on a store made by the runner (with the
 * fake evaluator of tests/runner, so no GPU is needed).
 */
import { deepStrictEqual as eq, ok } from "node:assert";
import { runTable } from "../../runner/run.ts";
import { loadSpecFile } from "../../experiments/user_specs.ts";
import { tempDir, testRunOptions, tinyLoad, tinyTable } from "../runner/_fixtures.ts";
import { dd, fails, json } from "./_dd.ts";

const EXAMPLE = new URL("../../experiments/examples/mnist-coresets.yaml", import.meta.url).pathname;

Deno.test("dd tables --json: [{ id, paper, caption, cells, claimed, claims }]", async () => {
  const rows = await json("tables", "--json") as Record<string, unknown>[];
  ok(rows.length >= 30);
  for (const r of rows) {
    eq(Object.keys(r).sort(), ["caption", "cells", "claimed", "claims", "id", "paper"]);
    ok(typeof r.id === "string" && typeof r.cells === "number" && typeof r.claimed === "number");
    ok((r.claimed as number) <= (r.cells as number));
  }
  const t1 = rows.find((r) => r.id === "igds/table1")!;
  eq([t1.paper, t1.cells, t1.claimed, t1.claims], ["igds", 150, 0, 1]);
  ok((rows.find((r) => r.id === "igds/table4")!.claimed as number) > 0);
  // User specs join the list.
  const dir = await tempDir();
  await Deno.copyFile(EXAMPLE, `${dir}/ex.yaml`);
  const withUser = await json("tables", "--json", "--include", dir) as { id: string; cells: number }[];
  eq(withUser.find((r) => r.id === "examples/mnist-coresets")?.cells, 24);
});

Deno.test("dd show <table> --json: the spec, cells with method/dataset/ipc/model/claimed, and claims", async () => {
  const t = await json("show", "igds/table4", "--json") as {
    id: string;
    cells: { method: string; dataset: string; ipc: number | null; model: string; claimed: unknown }[];
    claims: unknown[];
  };
  eq(t.id, "igds/table4");
  ok(t.cells.length > 0 && Array.isArray(t.claims));
  for (const c of t.cells) {
    ok(typeof c.method === "string" && typeof c.dataset === "string" && typeof c.model === "string");
    ok(c.ipc === null || Number.isInteger(c.ipc));
    ok(c.claimed === null || (typeof c.claimed === "object" && "mean" in c.claimed && "std" in c.claimed));
  }
  ok(t.cells.some((c) => c.claimed !== null));
  // A spec file path works as the table argument.
  const ex = await json("show", EXAMPLE, "--json") as { id: string };
  eq(ex.id, "examples/mnist-coresets");
});

Deno.test("dd methods --json and dd datasets --json", async () => {
  const methods = await json("methods", "--json") as { id: string; implemented: boolean; tables: string[] }[];
  const random = methods.find((m) => m.id === "random")!;
  eq(random.implemented, true);
  ok(random.tables.includes("igds/table1"));
  for (const m of methods) ok(typeof m.implemented === "boolean" && Array.isArray(m.tables));
  ok(methods.some((m) => !m.implemented));

  const datasets = await json("datasets", "--json") as Record<string, unknown>[];
  for (const d of datasets) {
    for (const k of ["id", "classes", "shape", "available", "source", "reason"]) {
      ok(k in d, `${k} in ${d.id}`);
    }
  }
  const mnist = datasets.find((d) => d.id === "mnist")!;
  eq([mnist.classes, mnist.available, mnist.source], [10, true, "embedded"]);
  eq(mnist.shape, { channels: 1, height: 28, width: 28 });
  eq(datasets.find((d) => d.id === "cifar100")!.classes, 100);
});

Deno.test("dd: bad input gives a non-zero exit and one clear message", async () => {
  await fails(/unknown table "igds\/table99"/, "show", "igds/table99");
  await fails(/unknown table/, "run", "nope/nope", "--profile", "smoke");
  await fails(/unknown option '--frobnicate'/, "tables", "--frobnicate");
  await fails(/unknown command 'frobnicate'/, "frobnicate");
  await fails(/unknown profile "fast"/, "run", "igds/table1", "--profile", "fast");
  await fails(/invalid shard "3\/2"/, "run", "igds/table1", "--shard", "3/2");
  await fails(/unknown field "colour"/, "run", "igds/table1", "--filter", "colour=red");
  await fails(/expected method\.key=value/, "run", "igds/table1", "--set", "iterations=3");
  await fails(/unknown method "nosuch"/, "run", "igds/table1", "--set", "nosuch.iterations=3");
  await fails(
    /invalid config for dm: .*valid keys: .*iterations/,
    "run",
    "igds/table1",
    "--set",
    "dm.iteration=3",
  );
  await fails(/no cell of igds\/table1 uses method "mtt"/, "run", "igds/table1", "--set", "mtt.iterations=3");
  await fails(/--repeats/, "run", "igds/table1", "--repeats", "0");
  await fails(/missing required argument 'table'|error: missing/, "show");
  await fails(/--set random needs --ipc/, "eval", "--dataset", "mnist", "--set", "random");
  await fails(
    /unknown method "nope"/,
    "distill",
    "--method",
    "nope",
    "--dataset",
    "mnist",
    "--ipc",
    "1",
    "--out",
    "/tmp/x",
  );
  await fails(
    /invalid config for random: .*unrecognized|Unrecognized key/i,
    "distill",
    "--method",
    "random",
    "--dataset",
    "mnist",
    "--ipc",
    "1",
    "--set",
    "iterations=5",
    "--out",
    "/tmp/x.safetensors",
  );

  const dir = await tempDir();
  await Deno.writeTextFile(`${dir}/junk.db`, "this is not a database, just text ".repeat(100));
  await fails(
    /results store .*junk\.db.*(not a|database)/i,
    "report",
    "igds/table1",
    "--store",
    `${dir}/junk.db`,
  );
  await fails(/results store .*absent\.db: no such file/, "export", "--store", `${dir}/absent.db`);

  const text = await Deno.readTextFile(EXAMPLE);
  await Deno.writeTextFile(`${dir}/bad.yaml`, text.replace("ipc: 10", "ipc: ten"));
  await fails(
    /spec .*bad\.yaml: \$\.cells\[\d+\]\.ipc \(line \d+\): .*expected number/,
    "show",
    `${dir}/bad.yaml`,
  );
  await fails(/spec .*bad\.yaml/, "tables", "--include", dir);
});

Deno.test("dd run: a spec with nothing runnable exits 0 and says why, without touching the GPU", async () => {
  const dir = await tempDir();
  // The example's methods get implemented over time; DGS (a seed method still planned) stands in for one
  // that is not.
  const spec = `${dir}/dgs.yaml`;
  await Deno.writeTextFile(
    spec,
    (await Deno.readTextFile(EXAMPLE)).replaceAll("method: dm\n", "method: dgs\n"),
  );
  const r = await dd(
    "run",
    "examples/mnist-coresets",
    "--spec",
    spec,
    "--filter",
    "method=dgs",
    "--profile",
    "smoke",
    "--store",
    `${dir}/s.db`,
    "--json",
  );
  eq(r.code, 0, r.stderr);
  const s = JSON.parse(r.stdout) as { total: number; skipped: { cellId: string; reason: string }[] };
  eq(s.total, 0);
  eq(s.skipped.length, 3);
  ok(/not implemented/.test(s.skipped[0].reason));
});

Deno.test("dd export / merge / compare / report on runner-made stores", async () => {
  const dir = await tempDir();
  const spec = await loadSpecFile(EXAMPLE);
  await runTable(spec, testRunOptions(dir, { storePath: `${dir}/a.db`, load: tinyLoad(undefined, 70) }));
  await runTable(tinyTable(), testRunOptions(dir, { storePath: `${dir}/b.db` }));

  const exported = await json("export", "--json", "--store", `${dir}/a.db`) as {
    key: string;
    resolved: { tableId: string };
  }[];
  eq(exported.length, 3);
  ok(exported.every((r) => r.resolved.tableId === "examples/mnist-coresets" && /^[0-9a-f]{64}$/.test(r.key)));

  const merged = await json("merge", `${dir}/a.db`, `${dir}/b.db`, "--store", `${dir}/m.db`, "--json") as {
    merged: { added: number; skipped: number }[];
  };
  eq(merged.merged.map((m) => m.added), [3, 4]);
  const again = await json("merge", `${dir}/a.db`, "--store", `${dir}/m.db`, "--json") as {
    merged: { added: number }[];
  };
  eq(again.merged[0].added, 0, "merging is idempotent");

  const cmp = await json("compare", `${dir}/a.db`, `${dir}/m.db`, "--json") as { rows: { status: string }[] };
  ok(cmp.rows.length > 0);
  ok(cmp.rows.every((r) => r.status === "unchanged" || r.status === "new"));

  const rep = await json(
    "report",
    "--store",
    `${dir}/a.db`,
    "--spec",
    EXAMPLE,
    "--out",
    `${dir}/out`,
    "--json",
  ) as {
    tables: { tableId: string; profile: string; html: string }[];
  };
  eq(rep.tables.map((t) => [t.tableId, t.profile]), [["examples/mnist-coresets", "smoke"]]);
  ok((await Deno.stat(rep.tables[0].html)).size > 1000);
});

Deno.test("dd cmi: the CMI value of a set equals the cmiEnd its +cmi run reported", async () => {
  const dir = await Deno.makeTempDir({ prefix: "ddrepro-cmi-" });
  try {
    const out = `${dir}/dm-cmi.safetensors`;
    const d = await json(
      "distill",
      "--method",
      "dm+cmi",
      "--dataset",
      "mnist",
      "--ipc",
      "2",
      "--profile",
      "smoke",
      "--out",
      out,
      "--json",
    ) as { metrics: { cmiEnd: number } };
    const c = await json("cmi", "--dataset", "mnist", "--set", out, "--profile", "smoke", "--json") as {
      rows: { set: string; cmi: number }[];
    };
    eq(c.rows.length, 1);
    // IPC 2: with one image per class every centroid is that image and CMI is exactly 0.
    ok(Number.isFinite(c.rows[0].cmi) && c.rows[0].cmi > 1e-6, JSON.stringify(c));
    ok(
      Math.abs(c.rows[0].cmi - d.metrics.cmiEnd) <= 1e-4 * Math.max(1, d.metrics.cmiEnd),
      `${c.rows[0].cmi} vs ${d.metrics.cmiEnd}`,
    );
    await fails(
      /no implemented method "random\+cmi"/,
      "cmi",
      "--dataset",
      "mnist",
      "--set",
      out,
      "--base",
      "random",
    );
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});
