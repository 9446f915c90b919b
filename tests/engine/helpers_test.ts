/** The comparison helpers themselves: NaN and ±Inf never count as a match. */
import { assertClose, cpu, gradCheck, gradGradCheck, maxAbsDiff } from "./helpers.ts";
import * as T from "../../engine/ops/mod.ts";
import type { Tensor } from "../../engine/tensor.ts";

async function rejects(p: () => Promise<unknown> | unknown, what: string): Promise<void> {
  let threw = false;
  try {
    await p();
  } catch {
    threw = true;
  }
  if (!threw) throw new Error(`${what}: accepted`);
}

const x = { data: Float32Array.from([-1.5, -0.5, 0.5, 2]), shape: [4] };

Deno.test("gradCheck: a correct gradient passes (the rejections below are not vacuous)", async () => {
  await gradCheck(cpu, (xs) => T.sum(T.square(xs[0])), [x]);
  await gradGradCheck(cpu, (xs) => T.sum(T.mul(T.square(xs[0]), xs[0])), [x]);
});

Deno.test("gradCheck: NaN values, NaN gradients and infinite gradients fail", async () => {
  // log of a negative input: f is NaN, so the numeric derivative is NaN while 1/x is finite.
  await rejects(() => gradCheck(cpu, (xs) => T.sum(T.log(xs[0])), [x]), "NaN value");
  // sqrt(x²) at 0: f is finite (|x|, numeric derivative 0) but the chain rule gives Inf · 0 = NaN.
  const atZero = { data: Float32Array.from([0, 1, 4]), shape: [3] };
  const sqrtSquare = (xs: Tensor[]) => T.sum(T.sqrt(T.square(xs[0])));
  await rejects(() => gradCheck(cpu, sqrtSquare, [atZero], { eps: 1e-3 }), "NaN gradient");
  // sqrt at 0: the analytic gradient is +Inf.
  await rejects(() => gradCheck(cpu, (xs) => T.sum(T.sqrt(xs[0])), [atZero], { eps: 1e-3 }), "Inf");
  // Second order goes through the same comparison: ∂ sqrt(x)/∂x = 0.5 / sqrt(x) is NaN at x < 0.
  await rejects(() => gradGradCheck(cpu, (xs) => T.sum(T.sqrt(xs[0])), [x]), "NaN 2nd order");
});

Deno.test("assertClose and maxAbsDiff: NaN or Inf on either side is a mismatch", async () => {
  const ok = Float32Array.from([1, 2, 3]);
  for (const bad of [NaN, Infinity, -Infinity]) {
    const b = Float32Array.from([1, bad, 3]);
    await rejects(() => assertClose(b, ok, 1e-3, "a"), `assertClose(${bad}, ·)`);
    await rejects(() => assertClose(ok, b, 1e-3, "b"), `assertClose(·, ${bad})`);
    await rejects(() => assertClose(b, b, 1e-3, "both"), `assertClose(${bad}, ${bad})`);
    await rejects(() => assertClose(b, b, 0, "both exact"), `assertClose(${bad}, ${bad}, 0)`);
    if (!(maxAbsDiff(b, ok) === Infinity && maxAbsDiff(b, b) === Infinity)) {
      throw new Error(`maxAbsDiff with ${bad}: ${maxAbsDiff(b, ok)}, ${maxAbsDiff(b, b)}`);
    }
  }
});
