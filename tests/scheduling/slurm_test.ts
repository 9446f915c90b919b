/**
 * The Slurm route for real: a single-node cluster (tests/scheduling/_slurm.ts) runs
 * scheduling/slurm/submit.sh — a 2-task job array of `dd nightly shard` on a smoke table, then the
 * finish job behind `--dependency=afterok` — and the night it merges must equal a single-process
 * `dd run` of the same cells: same rows (content keys) with the same metrics. Skipped, with the reason
 * in its name, where Slurm cannot start (not root, packages absent); .ci/run installs slurm-wlm and munge.
 */
import { deepStrictEqual as eq, ok } from "node:assert";
import { join } from "node:path";
import { openStore } from "../../results/store.ts";
import type { CellRepeatResult } from "../../results/types.ts";
import { type LocalSlurm, sleep, slurmUnavailable, startLocalSlurm } from "./_slurm.ts";

const ROOT = new URL("../../", import.meta.url).pathname;
const SUBMIT = join(ROOT, "scheduling/slurm/submit.sh");
const SPEC = join(ROOT, "experiments/examples/mnist-coresets.yaml");
const SHARDS = 2;
// Two random-subset cells: one smoke repeat each, seconds of work per shard.
const PLAN = ["--profile", "smoke", "--tables", "examples/mnist-coresets", "--spec", SPEC];
const FILTER = "method=random,ipc=1|10";
const TERMINAL = /^(COMPLETED|FAILED|CANCELLED|TIMEOUT|NODE_FAIL|OUT_OF_MEMORY|PREEMPTED|BOOT_FAIL|DEADLINE)/;

const skip = slurmUnavailable();

Deno.test({
  name: `slurm: a job array of nightly shards + an afterok finish job equals one dd run` +
    (skip ? ` (skipped: ${skip})` : ""),
  ignore: skip !== null,
  sanitizeResources: false,
  sanitizeOps: false,
  fn: async () => {
    const work = await Deno.makeTempDir({ prefix: "ddrepro-slurm-night-" });
    const env = {
      XDG_RUNTIME_DIR: Deno.env.get("XDG_RUNTIME_DIR") ?? "/tmp",
      DD_CLI: `${Deno.execPath()} run -A ${join(ROOT, "cli/main.ts")}`,
      NO_COLOR: "1",
    };
    let cluster: LocalSlurm | null = null;
    try {
      // The reference: one process, no scheduler.
      const single = await new Deno.Command(Deno.execPath(), {
        args: [
          "run",
          "-A",
          join(ROOT, "cli/main.ts"),
          "run",
          "examples/mnist-coresets",
          "--spec",
          SPEC,
          "--profile",
          "smoke",
          "--filter",
          FILTER,
          "--store",
          join(work, "single.db"),
          "--no-save-sets",
        ],
        env,
        stdout: "piped",
        stderr: "piped",
      }).output();
      ok(single.success, `single-process dd run failed: ${new TextDecoder().decode(single.stderr)}`);

      cluster = await startLocalSlurm();
      const c = cluster;
      const t0 = performance.now();
      const submitted = await c.run(SUBMIT, [
        join(work, "nightly"),
        String(SHARDS),
        ...PLAN,
        "--filter",
        FILTER,
      ], env);
      const ids = /array=(\d+) finish=(\d+) night=(\S+)/.exec(submitted);
      ok(ids, `submit.sh printed: ${submitted}`);
      const [, arrayId, finishId, night] = ids;

      // Wait for the finish job; the array's own span comes from its tasks' start/end times.
      let finish: Record<string, string> = {};
      let arrayDoneAt: number | null = null;
      const deadline = Date.now() + 15 * 60_000;
      while (Date.now() < deadline) {
        const tasks = await c.jobs(arrayId);
        if (
          arrayDoneAt === null && tasks.length === SHARDS && tasks.every((t) => TERMINAL.test(t.JobState))
        ) {
          arrayDoneAt = performance.now();
        }
        finish = (await c.jobs(finishId))[0] ?? {};
        if (TERMINAL.test(finish.JobState ?? "")) break;
        if (finish.Reason === "DependencyNeverSatisfied") break;
        await sleep(1000);
      }
      const tasks = await c.jobs(arrayId);
      const logs = async () =>
        (await Promise.all(
          [...Array.from({ length: SHARDS }, (_, i) => `shard-${i}.log`), "finish.log"].map((f) =>
            Deno.readTextFile(join(night, f)).then(
              (t) => `--- ${f}\n${t.slice(-2000)}`,
              () => `--- ${f}: none`,
            )
          ),
        )).join("\n") + "\n" + c.logs();
      eq(
        tasks.map((t) => t.JobState),
        Array(SHARDS).fill("COMPLETED"),
        `array tasks: ${
          JSON.stringify(tasks.map((t) => [t.ArrayTaskId, t.JobState, t.ExitCode]))
        }\n${await logs()}`,
      );
      eq(finish.JobState, "COMPLETED", `finish job ${JSON.stringify(finish)}\n${await logs()}`);
      const span = (t: Record<string, string>) => [Date.parse(t.StartTime), Date.parse(t.EndTime)];
      const starts = tasks.map((t) => span(t)[0]), ends = tasks.map((t) => span(t)[1]);
      ok(span(finish)[0] >= Math.max(...ends), "the finish job started after every shard ended (afterok)");
      console.log(
        `slurm: ${SHARDS}-task array ran ${(Math.max(...ends) - Math.min(...starts)) / 1000} s ` +
          `(tasks ${
            tasks.map((t) => `${t.ArrayTaskId}: ${(span(t)[1] - span(t)[0]) / 1000} s`).join(", ")
          }; ` +
          `submit → array done ${(((arrayDoneAt ?? performance.now()) - t0) / 1000).toFixed(1)} s), ` +
          `whole night ${((performance.now() - t0) / 1000).toFixed(1)} s`,
      );

      // Task i ran shard i+1 of N, and the shards partitioned the plan.
      const shardSummaries = await Promise.all(
        Array.from(
          { length: SHARDS },
          (_, i) => Deno.readTextFile(join(night, `shard-${i + 1}.json`)).then((t) => JSON.parse(t)),
        ),
      );
      eq(
        shardSummaries.map((s) => [s.shard, s.status]),
        Array.from({ length: SHARDS }, (_, i) => [`${i + 1}/${SHARDS}`, "ok"]),
      );
      eq(shardSummaries.reduce((n, s) => n + s.tables[0].planned, 0), shardSummaries[0].tables[0].total);
      ok(shardSummaries.every((s) => s.tables[0].planned >= 1), "every task had work");

      const summary = JSON.parse(await Deno.readTextFile(join(night, "nightly.json")));
      eq([summary.status, summary.exitCode], ["ok", 0]);
      eq(summary.tables[0].missing, []);
      ok(summary.history.nights === 1 && (await Deno.stat(summary.history.html)).size > 1000);
      ok(
        (await Deno.stat(join(work, "nightly", "last-good.db"))).isFile,
        "a good night becomes the baseline",
      );

      // The merged night equals the single-process run: same keys, same numbers.
      const merged = rows(join(night, "night.db")), reference = rows(join(work, "single.db"));
      eq([...merged.keys()].sort(), [...reference.keys()].sort());
      ok(merged.size === 2);
      for (const [key, r] of reference) {
        const m = merged.get(key)!;
        eq([m.resolved, m.repeat, m.seed, m.codeVersion], [r.resolved, r.repeat, r.seed, r.codeVersion]);
        eq(m.metrics, r.metrics, `metrics of ${r.resolved.cellId}#${r.repeat}`);
        eq(m.distillMetrics, r.distillMetrics);
      }
    } finally {
      await cluster?.stop();
      await Deno.remove(work, { recursive: true }).catch(() => {});
    }
  },
});

function rows(path: string): Map<string, CellRepeatResult> {
  const s = openStore(path);
  try {
    return new Map(s.exportAll().map((r) => [r.key, r]));
  } finally {
    s.close();
  }
}
