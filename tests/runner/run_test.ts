/** runTable: planning, skipping stored repeats, interrupts, shards, artifacts, provenance, failures. */
import { deepStrictEqual as eq, ok } from "node:assert";
import { join, relative } from "node:path";
import { DatabaseSync } from "node:sqlite";
import { runTable } from "../../runner/run.ts";
import { openStore } from "../../results/store.ts";
import { loadDistilledSet } from "../../runner/distilled_set.ts";
import type { EvalRequest } from "../../evaluator/types.ts";
import type { CellRepeatResult } from "../../results/types.ts";
import { fakeEvaluate, tempDir, testRunOptions, tinyLoad, tinyTable } from "./_fixtures.ts";
import type { DatasetLoad } from "../../experiments/resolve.ts";

function rows(path: string): CellRepeatResult[] {
  const s = openStore(path);
  try {
    return s.list();
  } finally {
    s.close();
  }
}

/** What must agree between two runs: keys and numbers (not timings or timestamps). */
function essence(rs: CellRepeatResult[]) {
  return rs.map((r) => ({ key: r.key, cell: r.resolved.cellId, repeat: r.repeat, metrics: r.metrics }))
    .sort((a, b) => a.key.localeCompare(b.key));
}

Deno.test("runTable: runs runnable cells, skips unimplemented ones, rerun is a no-op", async () => {
  const dir = await tempDir();
  const evals: EvalRequest[] = [];
  const loads: DatasetLoad[] = [];
  const opts = testRunOptions(dir, { evaluate: fakeEvaluate(evals), load: tinyLoad(loads) });
  const s = await runTable(tinyTable(), opts);
  eq(s.total, 4); // r1, r1-resnet, r2, full × 1 repeat (smoke); dream is not implemented
  eq(s.completed, 4);
  eq(s.failed, []);
  eq(s.skipped.map((k) => k.cellId), ["dream1"]);
  ok(/not implemented/.test(s.skipped[0].reason));
  eq(loads.length, 1, "each dataset is loaded once per run");
  // r1 and r1-resnet evaluate the same set with the same (substituted) model: one evaluation.
  eq(evals.length, 3);
  const stored = rows(opts.storePath);
  eq(stored.length, 4);
  ok(!stored.some((r) => r.resolved.method === "dream"), "an unimplemented method is never faked");
  const resnet = stored.find((r) => r.resolved.cellId === "r1-resnet")!;
  eq(resnet.resolved.model, "convnet3-w32");
  ok(resnet.resolved.substitutions.some((x) => x.field === "model" && x.from === "resnet18"));
  eq(resnet.metrics, stored.find((r) => r.resolved.cellId === "r1")!.metrics);
  // Provenance is complete.
  const p = stored[0].provenance;
  eq([p.gitSha.length, p.gitDirty, p.hostname, p.adapter.vendor], [40, false, "test-host", "test"]);
  ok(p.finishedAt >= p.startedAt);

  const again = await runTable(tinyTable(), { ...opts, evaluate: fakeEvaluate(evals) });
  eq([again.completed, again.alreadyDone], [0, 4]);
  eq(again.keys, s.keys);
  eq(evals.length, 3, "nothing is recomputed");
});

Deno.test("runTable: distilled sets are saved once (safetensors + PNG) and reused across cells", async () => {
  const dir = await tempDir();
  let distills = 0;
  const opts = testRunOptions(dir, {
    distill: (m, ctx) => (distills++, m.distill(ctx)),
    filter: "method=random",
  });
  await runTable(tinyTable(), opts);
  eq(distills, 2, "r1 and r1-resnet share one set");
  const stored = rows(opts.storePath);
  const r1 = stored.find((r) => r.resolved.cellId === "r1")!;
  ok(r1.artifact !== null);
  ok(!r1.artifact.path.startsWith("/"), "artifact paths are relative to the store folder");
  const file = join(dir, r1.artifact.path);
  const set = await loadDistilledSet(file);
  eq(set.shape, [10, 1, 8, 8]);
  eq(set.meta.method, "random");
  ok((await Deno.stat(file.replace(/\.safetensors$/, ".png"))).size > 0);

  // A new run (e.g. after a crash during evaluation) reuses the saved set instead of distilling, and
  // draws its PNG again if the crash came between the set and its picture.
  const png = file.replace(/\.safetensors$/, ".png");
  const picture = await Deno.readFile(png);
  await Deno.remove(png);
  const dir2Store = join(dir, "other.db");
  await runTable(tinyTable(), { ...opts, storePath: dir2Store });
  eq(distills, 2);
  eq(await Deno.readFile(png), picture);
  eq(essence(rows(dir2Store)), essence(stored));

  // A store in another folder than its artifacts (given relative to the working directory, as the CLI
  // does) records them absolute, so reports find them from anywhere.
  const far = join(dir, "elsewhere", "far.db");
  await Deno.mkdir(join(dir, "elsewhere"));
  await runTable(tinyTable(), {
    ...opts,
    storePath: far,
    artifactsDir: relative(Deno.cwd(), `${dir}/artifacts`),
  });
  const a = rows(far).find((r) => r.resolved.cellId === "r1")!.artifact!;
  ok(a.path.startsWith("/") && (await Deno.stat(a.path)).isFile, a.path);
});

Deno.test("runTable: an evaluation failure is reported and the other cells still run", async () => {
  const dir = await tempDir();
  const ok2 = fakeEvaluate();
  const opts = testRunOptions(dir, {
    evaluate: (req) => req.set.meta.ipc === 2 ? Promise.reject(new Error("boom")) : ok2(req),
  });
  const s = await runTable(tinyTable(), opts);
  eq(s.failed.map((f) => [f.cellId, f.error]), [["r2", "boom"]]);
  eq(s.completed, 3);
  eq(rows(opts.storePath).length, 3);
});

Deno.test("runTable: an abort after k repeats writes no partial row; the rerun equals an uninterrupted run", async () => {
  const full = await tempDir();
  await runTable(tinyTable(), testRunOptions(full, { profile: "quick" }));
  const expected = essence(rows(`${full}/results.db`));
  eq(expected.length, 8); // 4 runnable cells × 2 repeats

  const dir = await tempDir();
  const controller = new AbortController();
  const inner = fakeEvaluate();
  let n = 0;
  const interrupted = await runTable(
    tinyTable(),
    testRunOptions(dir, {
      profile: "quick",
      signal: controller.signal,
      // The 3rd evaluation is interrupted while running: its repeat must not be stored.
      evaluate: (req) => {
        if (++n === 3) controller.abort();
        return inner(req);
      },
    }),
  );
  ok(interrupted.interrupted);
  const partial = rows(`${dir}/results.db`);
  ok(partial.length >= 2 && partial.length < 8, `partial run stored ${partial.length}`);
  const resumed = await runTable(tinyTable(), testRunOptions(dir, { profile: "quick" }));
  eq(resumed.alreadyDone, partial.length);
  eq(essence(rows(`${dir}/results.db`)), expected);
});

Deno.test("runTable: shards 1/2 and 2/2, merged, equal the unsharded run", async () => {
  const whole = await tempDir();
  const w = await runTable(tinyTable(), testRunOptions(whole, { profile: "quick" }));
  const dir = await tempDir();
  const a = await runTable(
    tinyTable(),
    testRunOptions(dir, { profile: "quick", shard: { k: 1, n: 2 }, storePath: `${dir}/a.db` }),
  );
  const b = await runTable(
    tinyTable(),
    testRunOptions(dir, { profile: "quick", shard: { k: 2, n: 2 }, storePath: `${dir}/b.db` }),
  );
  eq(a.planned + b.planned, w.planned);
  eq(a.keys.filter((k) => b.keys.includes(k)), [], "shards are disjoint");
  const merged = openStore(`${dir}/merged.db`);
  merged.merge(`${dir}/a.db`);
  merged.merge(`${dir}/b.db`);
  merged.close();
  eq(essence(rows(`${dir}/merged.db`)), essence(rows(`${whole}/results.db`)));
});

Deno.test("runTable: SIGKILL after some committed repeats loses none of them; rerun completes", async () => {
  const dir = await tempDir();
  const child = new Deno.Command(Deno.execPath(), {
    args: ["run", "-A", new URL("./kill_run.ts", import.meta.url).pathname, dir],
    stdout: "piped",
    stderr: "inherit",
  }).spawn();
  // The child prints each key after its row committed; kill it after the third.
  const reader = child.stdout.pipeThrough(new TextDecoderStream()).getReader();
  const committed: string[] = [];
  let buf = "";
  while (committed.length < 3) {
    const { value, done } = await reader.read();
    if (done) break;
    buf += value;
    const lines = buf.split("\n");
    buf = lines.pop()!;
    committed.push(...lines.filter((l) => /^[0-9a-f]{64}$/.test(l)));
  }
  child.kill("SIGKILL");
  await child.status;
  await reader.cancel().catch(() => {});
  ok(committed.length >= 3, "the child committed rows before the kill");
  const survived = new Set(rows(`${dir}/results.db`).map((r) => r.key));
  for (const k of committed) ok(survived.has(k), `committed row ${k} survived SIGKILL`);

  const resumed = await runTable(tinyTable(), testRunOptions(dir, { profile: "quick" }));
  ok(resumed.alreadyDone >= committed.length);
  const whole = await tempDir();
  await runTable(tinyTable(), testRunOptions(whole, { profile: "quick" }));
  eq(essence(rows(`${dir}/results.db`)), essence(rows(`${whole}/results.db`)));
});

Deno.test("runTable: a resumed run reuses stored evaluations for rows that share them", async () => {
  const dir = await tempDir();
  // First run: only r1 (r1-resnet shares its substituted ConvNet evaluation) is stored.
  await runTable(tinyTable(), testRunOptions(dir, { filter: "id=r1" }));
  const first = rows(`${dir}/results.db`);
  eq(first.map((r) => r.resolved.cellId), ["r1"]);
  const evaluated: string[] = [];
  const inner = fakeEvaluate();
  const summary = await runTable(
    tinyTable(),
    testRunOptions(dir, {
      filter: "method=random",
      evaluate: (req) => (evaluated.push(`${req.set.meta.ipc}`), inner(req)),
    }),
  );
  eq(summary.completed, 2, "r1-resnet and r2");
  eq(evaluated, ["2"], "r1-resnet takes r1's stored numbers; only r2 is evaluated");
  const all = rows(`${dir}/results.db`);
  eq(
    all.find((r) => r.resolved.cellId === "r1-resnet")!.metrics,
    first[0].metrics,
  );
});

Deno.test("runTable: another table's rows in the store share their evaluations", async () => {
  const dir = await tempDir();
  await runTable(tinyTable(), testRunOptions(dir, { filter: "method=random" }));
  const evaluated: string[] = [];
  const inner = fakeEvaluate();
  const other = { ...tinyTable(), id: "test/tiny-again" };
  const summary = await runTable(
    other,
    testRunOptions(dir, {
      filter: "method=random",
      evaluate: (req) => (evaluated.push(`${req.set.meta.ipc}`), inner(req)),
    }),
  );
  eq([summary.completed, summary.alreadyDone], [3, 0], "the other table's rows are its own");
  eq(evaluated, [], "every evaluation is taken from the first table's rows");
  const all = rows(`${dir}/results.db`);
  for (const cell of ["r1", "r1-resnet", "r2"]) {
    const [a, b] = ["test/tiny", "test/tiny-again"].map((t) =>
      all.find((r) => r.resolved.tableId === t && r.resolved.cellId === cell)!
    );
    eq(b.metrics, a.metrics, cell);
  }
  // The index is data of the store: a name pointing at a row of another cell is not believed.
  const db = new DatabaseSync(`${dir}/results.db`);
  const r2 = all.find((r) => r.resolved.cellId === "r2")!;
  db.prepare("UPDATE evaluations SET result_key = ?").run(all.find((r) => r.resolved.cellId === "r1")!.key);
  db.close();
  await runTable({ ...tinyTable(), id: "test/tiny-third" }, testRunOptions(dir, { filter: "id=r2" }));
  const third = rows(`${dir}/results.db`).find((r) => r.resolved.tableId === "test/tiny-third")!;
  eq(third.metrics, r2.metrics, "r2 evaluated itself again, not r1's numbers");
});

Deno.test("runTable: rows stored before the evaluation index are named by a rerun of their table", async () => {
  const dir = await tempDir();
  await runTable(tinyTable(), testRunOptions(dir, { filter: "method=random" }));
  const db = new DatabaseSync(`${dir}/results.db`);
  db.exec("DROP TABLE evaluations");
  db.close();
  const evaluated: string[] = [];
  const inner = fakeEvaluate();
  const count = (req: EvalRequest) => (evaluated.push(`${req.set.meta.ipc}`), inner(req));
  const other = { ...tinyTable(), id: "test/tiny-again" };
  await runTable(other, testRunOptions(dir, { filter: "id=r2", evaluate: count }));
  eq(evaluated, ["2"], "an unindexed store has nothing to share");
  // The first table's rerun computes nothing and names its rows' evaluations.
  const rerun = await runTable(
    tinyTable(),
    testRunOptions(dir, { filter: "method=random", evaluate: count }),
  );
  eq([rerun.completed, rerun.alreadyDone, evaluated.length], [0, 3, 1]);
  await runTable(other, testRunOptions(dir, { filter: "id=r1", evaluate: count }));
  eq(evaluated, ["2"], "r1 takes the first table's numbers");
});

Deno.test("runTable: a dry run lists what would run, runs and stores nothing; after the run it lists none", async () => {
  const dir = await tempDir();
  const evals: EvalRequest[] = [];
  const opts = testRunOptions(dir, { evaluate: fakeEvaluate(evals), load: tinyLoad([]) });
  const lines: string[] = [];
  const dry = await runTable(tinyTable(), { ...opts, dryRun: true, log: (l) => lines.push(l) });
  eq(dry.toRun, ["r1#0", "r1-resnet#0", "r2#0", "full#0"]);
  eq([dry.completed, dry.alreadyDone, evals.length, rows(opts.storePath).length], [0, 0, 0, 0]);
  ok(lines.some((l) => l.includes("would run r2#0")), lines.join("\n"));
  await runTable(tinyTable(), opts);
  const again = await runTable(tinyTable(), { ...opts, dryRun: true, log: () => {} });
  eq([again.toRun, again.alreadyDone], [[], 4]);
});
