/**
 * Helper process for concurrent_run_test.ts (not a test): runs the tiny table at the quick profile on the
 * store in <dir>, with a slow fake evaluator, printing `distill <set>` and `eval <work>` on stdout for every
 * distillation and evaluation it really computes. It starts when <dir>/go exists, so two copies begin
 * together; `--eval-ms n` sets the evaluator's delay.
 */
import { runTable } from "../../runner/run.ts";
import { defaultDistill } from "../../runner/pipeline.ts";
import { sha256Hex } from "../../results/key.ts";
import { fakeEvaluate, testRunOptions, tinyTable } from "./_fixtures.ts";

const dir = Deno.args[0];
const evalMs = Deno.args[1] === "--eval-ms" ? Number(Deno.args[2]) : 300;
const inner = fakeEvaluate();
const enc = new TextEncoder();
const say = (line: string) => Deno.stdout.writeSync(enc.encode(line + "\n"));

await Deno.writeTextFile(`${dir}/ready-${Deno.pid}`, "");
while (true) {
  try {
    await Deno.stat(`${dir}/go`);
    break;
  } catch {
    await new Promise((r) => setTimeout(r, 20));
  }
}
const summary = await runTable(
  tinyTable(),
  testRunOptions(dir, {
    profile: "quick",
    distill: async (method, ctx) => {
      say(`distill ${method.id} ipc${ctx.ipc} seed${ctx.seed}`);
      return await defaultDistill(method, ctx);
    },
    evaluate: async (req) => {
      const img = req.set.images;
      const set = sha256Hex(new Uint8Array(img.buffer, img.byteOffset, img.byteLength));
      say(`eval ${set.slice(0, 12)} ipc${req.set.meta.ipc} ${req.model} seed${req.seed}`);
      await new Promise((r) => setTimeout(r, evalMs));
      return inner(req);
    },
    leases: { pollMs: 50 },
  }),
);
const { completed, doneElsewhere, alreadyDone } = summary;
say(`summary ${JSON.stringify({ completed, doneElsewhere, alreadyDone })}`);
if (summary.failed.length) {
  console.error(JSON.stringify(summary.failed));
  Deno.exit(1);
}
