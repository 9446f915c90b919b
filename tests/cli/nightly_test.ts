/**
 * `dd nightly` as a scheduler runs it: `plan`'s matrix, `shard`'s summary and exit codes, and `finish`
 * on shard stores made by the runner (fake evaluator, no GPU): merge, reports, comparison with the
 * previous night, history, and the exit codes 0 / 3 (an injected regression, named) / 4 (a missing shard).
 * The GitHub Actions workflow runs exactly these commands (tests/scheduling/workflow_test.ts checks it).
 */
import { deepStrictEqual as eq, ok } from "node:assert";
import { join } from "node:path";
import { runTable } from "../../runner/run.ts";
import { planTable } from "../../runner/plan.ts";
import { loadSpecFile } from "../../experiments/user_specs.ts";
import type { EvalRequest } from "../../evaluator/types.ts";
import { FAKE_ENV, fakeEvaluate, tempDir, testRunOptions, tinyTable } from "../runner/_fixtures.ts";
import { dd, type Out } from "./_dd.ts";

const EXAMPLE = new URL("../../experiments/examples/mnist-coresets.yaml", import.meta.url).pathname;

/** Exit code `code` and exactly one `error:` line matching `pattern` (none when code is 0). */
function expectExit(r: Out, code: number, pattern?: RegExp): void {
  eq(r.code, code, `exit ${r.code}, expected ${code}:\n${r.stderr}`);
  const errors = r.stderr.split("\n").filter((l) => l.startsWith("error:"));
  if (pattern === undefined) return eq(errors, []);
  eq(errors.length, 1, `one error line expected, got:\n${r.stderr}`);
  ok(pattern.test(errors[0]), `${errors[0]} should match ${pattern}`);
  ok(!/\n\s+at /.test(r.stderr), "no stack trace");
}

const EXAMPLE_PLAN = ["--profile", "smoke", "--tables", "examples/mnist-coresets", "--spec", EXAMPLE];

Deno.test("dd nightly plan: the shard matrix, and shards that partition each table as dd run --shard does", async () => {
  const r = await dd("nightly", "plan", "--shards", "3", ...EXAMPLE_PLAN, "--filter", "", "--json");
  expectExit(r, 0);
  const plan = JSON.parse(r.stdout);
  eq(plan.matrix, [1, 2, 3]);
  eq(plan.profile, "smoke");
  const spec = await loadSpecFile(EXAMPLE);
  const expected = [1, 2, 3].map((k) => planTable(spec, "smoke", { shard: { k, n: 3 } }).repeats.length);
  eq(plan.tables.map((t: { tableId: string }) => t.tableId), ["examples/mnist-coresets"]);
  eq(plan.tables[0].perShard, expected);
  eq(plan.perShard, expected);
  eq(plan.total, 24);

  const filtered = JSON.parse(
    (await dd("nightly", "plan", "--shards", "2", ...EXAMPLE_PLAN, "--filter", "method=random", "--json"))
      .stdout,
  );
  eq([filtered.total, filtered.perShard], [3, [2, 1]]);

  expectExit(
    await dd("nightly", "plan", "--shards", "0", ...EXAMPLE_PLAN),
    1,
    /--shards must be a positive integer/,
  );
  expectExit(
    await dd("nightly", "plan", "--shards", "2", "--profile", "smoke", "--tables", "igds/table99"),
    1,
    /unknown table "igds\/table99"/,
  );
  expectExit(
    await dd("nightly", "plan", "--shards", "2", "--profile", "smoke", "--tables", "igds/table1,igds/table1"),
    1,
    /listed twice/,
  );
  expectExit(
    await dd("nightly", "plan", "--shards", "2", ...EXAMPLE_PLAN, "--filter", "method=nosuch"),
    1,
    /--filter "method=nosuch" matches no cell/,
  );
  expectExit(await dd("nightly", "plan", "--shards", "2", "--profile", "fast"), 1, /unknown profile "fast"/);
  expectExit(await dd("nightly", "plan", "--profile", "smoke"), 1, /required option '--shards <n>'/);
});

Deno.test("dd nightly shard: an empty shard succeeds; a failing repeat exits 4 with its summary; bad k/n exits 1", async () => {
  const dir = await tempDir("dd-nightly-shard-");
  // One repeat in the plan: shard 2/2 owns nothing and needs no GPU.
  const one = [...EXAMPLE_PLAN, "--filter", "method=random,ipc=1"];
  const empty = await dd("nightly", "shard", "2/2", ...one, "--store", `${dir}/s2.db`, "--json");
  expectExit(empty, 0);
  const s = JSON.parse(empty.stdout);
  eq([s.shard, s.status, s.exitCode, s.tables[0].total, s.tables[0].planned], ["2/2", "ok", 0, 1, 0]);

  // Distilled sets cannot be saved under a regular file: the repeat fails, the shard exits 4.
  await Deno.writeTextFile(`${dir}/file`, "");
  const failing = await dd(
    "nightly",
    "shard",
    "1/1",
    ...one,
    "--store",
    `${dir}/s1.db`,
    "--artifacts",
    `${dir}/file/artifacts`,
    "--json",
  );
  expectExit(
    failing,
    4,
    /shard 1\/1: 1 repeat\(s\) failed; first: examples\/mnist-coresets mnist-ipc1-random#0/,
  );
  const f = JSON.parse(failing.stdout);
  eq([f.status, f.exitCode, f.tables[0].failed.length], ["incomplete", 4, 1]);

  expectExit(
    await dd("nightly", "shard", "3/2", ...one, "--store", `${dir}/x.db`),
    1,
    /invalid shard "3\/2"/,
  );
  await Deno.remove(dir, { recursive: true }); // kept when a check fails, to look at
});

/** A night of the tiny table in two shard stores, made by the runner with the fake evaluator. */
async function night(dir: string, sha: string, opts: { dropIpc2?: number } = {}): Promise<string[]> {
  const base = fakeEvaluate();
  const evaluate = async (req: EvalRequest) => {
    const r = await base(req);
    // The injected regression: every IPC-2 set evaluates `dropIpc2` points lower.
    const drop = req.set.labels.length === 20 ? opts.dropIpc2 ?? 0 : 0;
    const acc = (x: number) => Math.max(0, x - drop);
    return {
      ...r,
      metrics: Object.fromEntries(Object.entries(r.metrics).map(([k, v]) => [k, acc(v)])) as typeof r.metrics,
    };
  };
  const stores = [];
  for (const k of [1, 2]) {
    const storePath = join(dir, `shard-${k}.db`);
    const s = await runTable(
      tinyTable(),
      testRunOptions(dir, {
        storePath,
        shard: { k, n: 2 },
        evaluate,
        environment: { ...FAKE_ENV, git: { sha, dirty: false } },
      }),
    );
    eq(s.failed, []);
    stores.push(storePath);
  }
  return stores;
}

Deno.test("dd nightly finish: merge, report, compare with the previous night, history; exit 0, 3 naming the cell, 4", async () => {
  const dir = await tempDir("dd-nightly-finish-");
  const spec = join(dir, "tiny.json");
  await Deno.writeTextFile(spec, JSON.stringify(tinyTable()));
  const plan = ["--profile", "smoke", "--tables", "test/tiny", "--spec", spec, "--filter", ""];
  const history = join(dir, "history");

  // Night 1: complete, nothing to compare with.
  const n1 = await night(join(dir, "n1"), "1".repeat(40));
  const first = await dd(
    "nightly",
    "finish",
    ...n1,
    ...plan,
    "--store",
    `${dir}/n1/night.db`,
    "--out",
    `${dir}/n1/out`,
    "--history",
    history,
    "--fail-on-regression",
    "--json",
  );
  expectExit(first, 0);
  const s1 = JSON.parse(first.stdout);
  eq([s1.status, s1.exitCode, s1.comparison], ["ok", 0, null]);
  eq(s1.merged.map((m: { added: number }) => m.added).reduce((a: number, b: number) => a + b), 4);
  eq(s1.tables, [{ tableId: "test/tiny", planned: 4, stored: 4, missing: [] }]);
  eq(JSON.parse(await Deno.readTextFile(`${dir}/n1/out/nightly.json`)), s1, "the summary is also written");
  ok((await Deno.stat(s1.reports.tables[0].html)).size > 1000);
  eq([s1.history.nights, s1.history.stores], [1, 1]);

  // Night 2, another commit: IPC 2 drops 10 points.
  const n2 = await night(join(dir, "n2"), "2".repeat(40), { dropIpc2: 10 });
  const args2 = [
    "nightly",
    "finish",
    ...n2,
    ...plan,
    "--store",
    `${dir}/n2/night.db`,
    "--out",
    `${dir}/n2/out`,
    "--history",
    history,
    "--previous",
    `${dir}/n1/night.db`,
  ];
  const regressed = await dd(...args2, "--fail-on-regression", "--json");
  expectExit(regressed, 3, /1 regression\(s\) against the previous night: test\/tiny r2 \(.*Δ −10\.00/);
  const s2 = JSON.parse(regressed.stdout);
  eq([s2.status, s2.exitCode], ["regression", 3]);
  eq(s2.comparison.regressions.map((r: { cellId: string }) => r.cellId), ["r2"]);
  eq(s2.comparison.previousCommits, ["1".repeat(40)]);
  ok(
    /\| test\/tiny \| r2 \| smoke \| .* \| \*\*regression\*\* \|/.test(
      await Deno.readTextFile(s2.comparison.markdown),
    ),
  );
  eq(s2.history.nights, 2);
  const page = await Deno.readTextFile(s2.history.html);
  ok(page.includes("2222222222") && page.includes("1111111111"), "both commits on the history page");
  ok(/<tr class="regressed">.*test\/tiny.*r2/.test(page), "the regression is listed on the history page");

  // Without --fail-on-regression the night still says so, but exits 0; rerunning finish is idempotent.
  const reported = await dd(...args2, "--json");
  expectExit(reported, 0);
  eq(JSON.parse(reported.stdout).status, "regression");
  eq([...Deno.readDirSync(history)].length, 2, "a rerun replaces its night in the history folder");

  // A missing shard: the merged night lacks its repeats.
  const partial = await dd(
    "nightly",
    "finish",
    n2[0],
    ...plan,
    "--store",
    `${dir}/partial.db`,
    "--out",
    `${dir}/partial`,
    "--json",
  );
  expectExit(partial, 4, /the merged night lacks 2 planned repeat\(s\).*test\/tiny /);
  eq(JSON.parse(partial.stdout).tables[0].missing.length, 2);

  expectExit(
    await dd("nightly", "finish", ...n2, ...plan, "--store", `${dir}/x.db`, "--previous", `${dir}/absent.db`),
    1,
    /--previous .*absent\.db: no such file/,
  );
  expectExit(
    await dd("nightly", "finish", `${dir}/absent.db`, ...plan, "--store", `${dir}/y.db`),
    1,
    /absent\.db: no such file/,
  );

  // dd nightly history renders the same from store files.
  const h = await dd(
    "nightly",
    "history",
    `${dir}/n1/night.db`,
    `${dir}/n2/night.db`,
    "--spec",
    spec,
    "--out",
    `${dir}/h`,
    "--json",
  );
  expectExit(h, 0);
  const hj = JSON.parse(h.stdout);
  eq(hj.nights.map((n: { gitSha: string }) => n.gitSha), ["1".repeat(40), "2".repeat(40)]);
  eq(hj.regressions.map((r: { cellId: string }) => r.cellId), ["r2"]);
  await Deno.remove(dir, { recursive: true }); // kept when a check fails, to look at
});
