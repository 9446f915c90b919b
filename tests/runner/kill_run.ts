/**
 * Helper process for run_test.ts (not a test): runs the tiny table at the quick profile with a slow
 * fake evaluator and prints each repeat's key on stdout after its row was committed. The test kills
 * it with SIGKILL part-way through.
 */
import { runTable } from "../../runner/run.ts";
import { openStore } from "../../results/store.ts";
import { fakeEvaluate, testRunOptions, tinyTable } from "./_fixtures.ts";

const dir = Deno.args[0];
const inner = fakeEvaluate();
const enc = new TextEncoder();
const store = `${dir}/results.db`;
const seen = new Set<string>();
await runTable(
  tinyTable(),
  testRunOptions(dir, {
    profile: "quick",
    evaluate: async (req) => {
      await new Promise((r) => setTimeout(r, 150)); // slow enough to be killed mid-run
      return inner(req);
    },
    // Called after store.put returned: report the newly committed keys.
    log: () => {
      const s = openStore(store);
      for (const r of s.list()) {
        if (!seen.has(r.key)) {
          seen.add(r.key);
          Deno.stdout.writeSync(enc.encode(r.key + "\n"));
        }
      }
      s.close();
    },
  }),
);
