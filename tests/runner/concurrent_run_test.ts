/**
 * Several `dd run`s on one store: real processes sharing the work through leases in the store, a crashed
 * owner's work taken over, and content-keyed sets that are never replaced under their name.
 */
import { deepStrictEqual as eq, ok } from "node:assert";
import { runTable } from "../../runner/run.ts";
import { openStore } from "../../results/store.ts";
import { sha256Hex } from "../../results/key.ts";
import { dirname, join } from "node:path";
import { fakeEvaluate, tempDir, testRunOptions, tinyTable } from "./_fixtures.ts";

const HELPER = new URL("./concurrent_run.ts", import.meta.url).pathname;

function spawn(dir: string, evalMs: number): Deno.ChildProcess {
  return new Deno.Command(Deno.execPath(), {
    args: ["run", "-A", HELPER, dir, "--eval-ms", String(evalMs)],
    stdout: "piped",
    stderr: "piped",
    env: { XDG_RUNTIME_DIR: Deno.env.get("XDG_RUNTIME_DIR") ?? "/tmp" },
  }).spawn();
}

async function waitFor(test: () => Promise<boolean>, what: string, ms = 60_000): Promise<void> {
  const end = Date.now() + ms;
  while (!(await test())) {
    if (Date.now() > end) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 25));
  }
}

async function readyCount(dir: string): Promise<number> {
  let n = 0;
  for await (const e of Deno.readDir(dir)) if (e.name.startsWith("ready-")) n++;
  return n;
}

function storedRows(path: string) {
  const s = openStore(path);
  try {
    return s.list();
  } finally {
    s.close();
  }
}

/** Every row's artifact still is the file whose hash the row recorded. */
async function artifactsMatch(storePath: string): Promise<void> {
  for (const r of storedRows(storePath)) {
    if (!r.artifact) continue;
    const file = join(dirname(storePath), r.artifact.path);
    eq(sha256Hex(await Deno.readFile(file)), r.artifact.sha256, `${r.resolved.cellId}#${r.repeat}: ${file}`);
  }
}

Deno.test("two processes running one table on one store compute each repeat once", async () => {
  const dir = await tempDir();
  const a = spawn(dir, 300), b = spawn(dir, 300);
  await waitFor(async () => (await readyCount(dir)) === 2, "both processes to start");
  await Deno.writeTextFile(`${dir}/go`, "");
  const dec = new TextDecoder();
  const [oa, ob] = await Promise.all([a.output(), b.output()]);
  eq([oa.code, ob.code], [0, 0], dec.decode(oa.stderr) + dec.decode(ob.stderr));
  const lines = (o: Deno.CommandOutput) => dec.decode(o.stdout).trim().split("\n");
  const la = lines(oa), lb = lines(ob);
  const work = [...la, ...lb].filter((l) => l.startsWith("eval ") || l.startsWith("distill "));
  const dupes = work.filter((l, i) => work.indexOf(l) !== i);
  eq(dupes, [], `computed twice:\n  A: ${la.join("\n  A: ")}\n  B: ${lb.join("\n  B: ")}`);
  // quick: 2 repeats of r1 (r1-resnet shares its evaluation), r2 and the full-data row.
  eq(work.filter((l) => l.startsWith("eval ")).length, 6);
  eq(work.filter((l) => l.startsWith("distill ")).length, 6);
  const rows = storedRows(`${dir}/results.db`);
  eq(rows.length, 8);
  await artifactsMatch(`${dir}/results.db`);
  const sums = [la, lb].map((l) => JSON.parse(l.find((x) => x.startsWith("summary "))!.slice(8)));
  eq(sums[0].completed + sums[1].completed, 8, "each row committed by one of them");
  for (const s of sums) eq(s.completed + s.doneElsewhere + s.alreadyDone, 8);
});

Deno.test("a run takes over the work of a process killed while holding its lease", async () => {
  const dir = await tempDir();
  const a = spawn(dir, 60_000); // never finishes its first evaluation
  await waitFor(async () => (await readyCount(dir)) === 1, "the process to start");
  await Deno.writeTextFile(`${dir}/go`, "");
  // Read until the first evaluation started: the process holds that repeat's lease now.
  const reader = a.stdout.pipeThrough(new TextDecoderStream()).getReader();
  let seen = "";
  while (!seen.includes("eval ")) {
    const { value, done } = await reader.read();
    if (done) throw new Error(`helper ended early: ${seen}`);
    seen += value;
  }
  const held = storedLeases(`${dir}/results.db`);
  ok(held.length >= 1, "the running process holds a lease");
  a.kill("SIGKILL");
  await a.status;
  reader.releaseLock();
  await a.stdout.cancel().catch(() => {});
  await a.stderr.cancel();

  // Same host, pid gone: the lease is free at once, long before its expiry.
  const t0 = performance.now();
  const s = await runTable(tinyTable(), testRunOptions(dir, { profile: "quick", leases: { pollMs: 50 } }));
  ok(performance.now() - t0 < 30_000);
  eq([s.completed, s.failed.length], [8, 0]);
  eq(storedLeases(`${dir}/results.db`), [], "finished runs leave no lease behind");
});

Deno.test("a set file another process wrote under the content key is kept, not replaced", async () => {
  const dir = await tempDir();
  const opts = testRunOptions(dir, { profile: "quick", filter: "r2" });
  await runTable(tinyTable(), opts);
  const row = storedRows(opts.storePath).find((r) => r.repeat === 0)!;
  const file = join(dir, row.artifact!.path);
  const before = await Deno.readFile(file);
  // A second store, same artifacts folder: its run finds the set on disk and reuses it byte for byte…
  await runTable(tinyTable(), { ...opts, storePath: `${dir}/other.db` });
  eq(await Deno.readFile(file), before);
  // …and one that computes its own copy (the file appears while it distils) keeps the first file too.
  await Deno.remove(file);
  let kept: Uint8Array | null = null;
  await runTable(tinyTable(), {
    ...opts,
    storePath: `${dir}/third.db`,
    evaluate: fakeEvaluate(),
    distill: async (method, ctx) => {
      const out = await method.distill(ctx);
      await Deno.writeFile(file, before); // another process published meanwhile
      kept = before;
      return out;
    },
  });
  ok(kept !== null);
  eq(await Deno.readFile(file), before, "the first file under the name stays");
  await artifactsMatch(`${dir}/third.db`);
});

function storedLeases(path: string): { key: string; pid: number }[] {
  const s = openStore(path);
  try {
    return s.leases().map((l) => ({ key: l.key, pid: l.pid }));
  } finally {
    s.close();
  }
}
