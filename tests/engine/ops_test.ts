/** Every pointwise op, loss and normalisation: WebGPU vs the reference, and gradients vs finite differences. */
import { assertBackendsAgree, assertClose, cpu, gpu, gradCheck, gradGradCheck, randn } from "./helpers.ts";
import * as T from "../../engine/ops/mod.ts";
import * as E from "../../engine/expr.ts";
import { setBackend, type Tensor, tensor, tidy } from "../../engine/tensor.ts";
import type { UnaryOp } from "../../engine/expr.ts";

const UNARY: UnaryOp[] = [
  "neg",
  "exp",
  "abs",
  "square",
  "relu",
  "sigmoid",
  "tanh",
  "softplus",
  "erf",
  "sin",
  "cos",
  "floor",
  "sign",
  "step",
];
// Ops needing positive inputs.
const POSITIVE: UnaryOp[] = ["log", "sqrt", "rsqrt", "recip"];

Deno.test("ops: every unary op agrees between WebGPU and the reference (incl. large |x|)", async () => {
  const x = Float32Array.from([...randn(61, 1, 4), 30, -30, 0, 1e-3, -80, 80]);
  const pos = x.map((v) => Math.abs(v) + 0.1);
  for (const op of UNARY) {
    await assertBackendsAgree(() => T.map(E.un(op, E.inp(0)), [tensor(x)]), 2e-6, op);
  }
  for (const op of POSITIVE) {
    await assertBackendsAgree(() => T.map(E.un(op, E.inp(0)), [tensor(pos)]), 2e-6, op);
  }
});

Deno.test("ops: binary ops, pow with integer and fractional exponents, where, clamp", async () => {
  const a = randn(24, 2, 3), b = randn(6, 3, 3);
  for (const op of ["add", "sub", "mul", "div", "max", "min", "gt", "ge", "lt", "eq"] as const) {
    await assertBackendsAgree(
      () => T.map(E.bin(op, E.inp(0), E.inp(1)), [tensor(a, [4, 6]), tensor(b, [6])]),
      2e-6,
      op,
    );
  }
  await assertBackendsAgree(() => T.pow(tensor(a), 3), 2e-6, "pow 3 (negative base)");
  await assertBackendsAgree(() => T.pow(T.abs(tensor(a)), 0.7), 2e-6, "pow 0.7");
  await assertBackendsAgree(() => T.where(tensor(a), tensor(a), -1), 0, "where");
  await assertBackendsAgree(() => T.clamp(tensor(a), -1, 1.5), 0, "clamp");
});

for (const [name, b] of [["cpu", cpu], ["webgpu", gpu]] as const) {
  Deno.test(`ops ${name}: gradients of activations (1st and 2nd order)`, async () => {
    const acts: [string, (x: Tensor) => Tensor][] = [
      ["leakyRelu", (x) => T.leakyRelu(x, 0.1)],
      ["gelu", T.gelu],
      ["silu", T.silu],
      ["softplus", T.softplus],
      ["sigmoid", T.sigmoid],
      ["tanh", T.tanh],
      ["exp", T.exp],
      ["sin", T.sin],
      ["pow", (x) => T.pow(T.add(T.square(x), 1), 1.5)],
      ["log", (x) => T.log(T.add(T.square(x), 0.5))],
      ["sqrt", (x) => T.sqrt(T.add(T.square(x), 0.5))],
      ["div", (x) => T.div(x, T.add(T.square(x), 1))],
    ];
    for (const [n, f] of acts) {
      const fn = ([x]: Tensor[]) => T.sum(T.mul(f(x), T.cos(x)));
      // Keep inputs away from the kinks of piecewise-linear ops.
      const data = randn(10, 11, 1.5).map((v) => (Math.abs(v) < 0.1 ? v + 0.3 : v));
      await gradCheck(b, fn, [{ data, shape: [10] }], { what: n });
      await gradGradCheck(b, fn, [{ data, shape: [10] }], { what: n, tol: 4e-2 });
    }
  });

  Deno.test(`ops ${name}: losses (soft cross-entropy, KL at temperature, MSE) and softmax`, async () => {
    const t = randn(12, 5).map((v) => Math.abs(v) + 0.05);
    const rows = [0, 1, 2].map((r) => t.slice(r * 4, r * 4 + 4).reduce((s, v) => s + v, 0));
    const soft = t.map((v, i) => v / rows[Math.floor(i / 4)]);
    await gradCheck(b, ([x]) => T.crossEntropy(x, tensor(soft, [3, 4])), [{
      data: randn(12, 6, 2),
      shape: [3, 4],
    }]);
    await gradCheck(b, ([s, te]) => T.klDivSoft(s, te, 4), [{ data: randn(12, 7, 3), shape: [3, 4] }, {
      data: randn(12, 8, 3),
      shape: [3, 4],
    }]);
    await gradGradCheck(b, ([x, y]) => T.mseLoss(x, y), [{ data: randn(6, 9), shape: [2, 3] }, {
      data: randn(6, 10),
      shape: [2, 3],
    }]);
    await gradCheck(b, ([x]) => T.sum(T.mul(T.softmax(x), tensor(randn(12, 12), [3, 4]))), [{
      data: randn(12, 13, 2),
      shape: [3, 4],
    }]);
  });

  Deno.test(`ops ${name}: batch norm (train statistics, running update, eval) and layer norm`, async () => {
    setBackend(b);
    const x = randn(2 * 3 * 3 * 4, 14, 2);
    const state = tidy(() => ({
      runningMean: T.zeros([4]).keep(),
      runningVar: T.ones([4]).keep(),
      momentum: 0.1,
    }));
    const y = await tidy(() => T.batchNorm(tensor(x, [2, 3, 3, 4]), null, null, state, true)).f32();
    // Per-channel output mean 0 / variance 1.
    for (let c = 0; c < 4; c++) {
      let m = 0, v = 0;
      for (let i = c; i < y.length; i += 4) m += y[i] / 18;
      for (let i = c; i < y.length; i += 4) v += (y[i] - m) ** 2 / 18;
      assertClose([m, v], [0, 1], 1e-3, `bn channel ${c}`);
    }
    // Running stats: 0.9·init + 0.1·batch (unbiased variance), as PyTorch.
    const rm = await state.runningMean.f32(), rv = await state.runningVar.f32();
    for (let c = 0; c < 4; c++) {
      const vals = Array.from({ length: 18 }, (_, k) => x[k * 4 + c]);
      const m = vals.reduce((s, v) => s + v, 0) / 18;
      const uv = vals.reduce((s, v) => s + (v - m) ** 2, 0) / 17;
      assertClose([rm[c], rv[c]], [0.1 * m, 0.9 + 0.1 * uv], 1e-4, `running stats ${c}`);
    }
    await gradCheck(
      b,
      ([xx, w, bb]) => T.sum(T.mul(T.batchNorm(xx, w, bb, { ...state, momentum: 0 }, true), T.tanh(xx))),
      [
        { data: x, shape: [2, 3, 3, 4] },
        { data: randn(4, 15), shape: [4] },
        { data: randn(4, 16), shape: [4] },
      ],
    );
    await gradCheck(b, ([xx]) => T.sum(T.mul(T.groupNorm(xx, 1, null, null), T.sin(xx))), [{
      data: x,
      shape: [2, 3, 3, 4],
    }]);
    state.runningMean.dispose();
    state.runningVar.dispose();
  });

  Deno.test(`ops ${name}: attention block (batched matmul + softmax) and embedding lookup`, async () => {
    const f = ([q, k, v, emb]: Tensor[]) => {
      const att = T.softmax(T.mul(T.matmul(q, k, { transB: true }), 0.5));
      const tok = T.gather(emb, tensor([2, 0, 2], [3], "i32"));
      return T.sum(T.mul(T.matmul(att, v), T.reshape(tok, [1, 3, 2])));
    };
    const ins = [
      { data: randn(12, 17), shape: [2, 3, 2] },
      { data: randn(12, 18), shape: [2, 3, 2] },
      { data: randn(12, 19), shape: [2, 3, 2] },
      { data: randn(8, 20), shape: [4, 2] },
    ];
    await gradCheck(b, f, ins);
    await gradGradCheck(b, f, ins, { tol: 4e-2 });
  });

  Deno.test(`ops ${name}: argmax, mean/variance over axes, correct counts`, async () => {
    setBackend(b);
    const x = tensor([1, 5, 2, 9, 0, 3, 7, 7, 1], [3, 3]);
    assertClose(await T.argmax(x, 1).data(), [1, 0, 0], 0, "argmax (first on ties)");
    assertClose(await T.correctCount(x, tensor([1, 1, 0], [3], "i32")).data(), [2], 0, "correct count");
    const cols = [[1, 9, 7], [5, 0, 7], [2, 3, 1]];
    const avg = (v: number[]) => v.reduce((p, q) => p + q, 0) / v.length;
    const pvar = (v: number[]) => avg(v.map((a) => (a - avg(v)) ** 2));
    assertClose(await T.variance(x, 0).f32(), cols.map(pvar), 1e-6, "variance");
  });
}
