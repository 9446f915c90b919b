/** Reports word substitutions as today's code does, not as the code that stored the rows did. */
import { deepStrictEqual as eq } from "node:assert";
import { withCurrentReasons } from "../../cli/report_cmd.ts";
import { loadSpecFile } from "../../experiments/user_specs.ts";
import { resolveTable } from "../../experiments/resolve.ts";
import { fakeResult } from "../results/_fixtures.ts";

Deno.test("report: a stored substitution takes today's reason when today's plan makes the same one", async () => {
  const spec = await loadSpecFile("experiments/examples/baselines-evidence.yaml");
  const plan = resolveTable(spec, "quick").find((p) => p.resolved.cellId === "mnist-ipc10-dm-cmi")!;
  const lambda = plan.resolved.substitutions.find((s) => s.field === "method.cmiLambda")!;
  const row = (field: string, from: number, to: number) =>
    fakeResult({
      tableId: spec.id,
      cellId: "mnist-ipc10-dm-cmi",
      acc: 90,
      profile: "quick",
      substitutions: [{ field, from, to, reason: "old wording" }],
    });
  const [same, other] = withCurrentReasons(spec, "quick", [
    row("method.cmiLambda", lambda.from as number, lambda.to as number),
    row("method.cmiLambda", lambda.from as number, 433), // a user's --set: not today's plan
  ]);
  eq(same.resolved.substitutions[0].reason, lambda.reason);
  eq(/Table 10/.test(lambda.reason), true);
  eq(other.resolved.substitutions[0].reason, "old wording");
});
