import { cpu, gpu, gradCheck, gradGradCheck, randn, withBindings } from "./helpers.ts";
import * as T from "../../engine/ops/mod.ts";
import * as E from "../../engine/expr.ts";
import { inp } from "../../engine/expr.ts";
import { setBackend, type Tensor, tensor, tidy } from "../../engine/tensor.ts";
import { grad } from "../../engine/autograd.ts";
import type { Backend } from "../../engine/backend.ts";
import { deepStrictEqual as eq, ok } from "node:assert";

const both = [["cpu", cpu], ["webgpu", gpu]] as const;

for (const [name, b] of both) {
  Deno.test(`autograd ${name}: broadcast arithmetic and activations`, async () => {
    const f = ([x, y]: Tensor[]) => T.sum(T.mul(T.tanh(T.add(x, y)), T.sigmoid(T.sub(x, T.gelu(y)))));
    await gradCheck(b, f, [{ data: randn(12, 1), shape: [3, 4] }, { data: randn(4, 2), shape: [4] }]);
    await gradGradCheck(b, f, [{ data: randn(12, 1), shape: [3, 4] }, { data: randn(4, 2), shape: [4] }]);
  });

  Deno.test(`autograd ${name}: matmul in every layout, first and second order`, async () => {
    for (const transA of [false, true]) {
      for (const transB of [false, true]) {
        const f = ([a, bb]: Tensor[]) => T.sum(T.square(T.matmul(a, bb, { transA, transB })));
        const ins = [{ data: randn(15, 3), shape: transA ? [5, 3] : [3, 5] }, {
          data: randn(10, 4),
          shape: transB ? [2, 5] : [5, 2],
        }];
        await gradCheck(b, f, ins, { what: `matmul ${transA}/${transB}` });
        await gradGradCheck(b, f, ins, { what: `matmul ${transA}/${transB}` });
      }
    }
  });

  Deno.test(`autograd ${name}: cross-entropy, log-softmax, reductions`, async () => {
    const labels = [2, 0, 3];
    const f = ([x]: Tensor[]) => T.crossEntropy(x, tensor(labels, [3], "i32"));
    await gradCheck(b, f, [{ data: randn(12, 5, 2), shape: [3, 4] }]);
    await gradGradCheck(b, f, [{ data: randn(12, 5, 2), shape: [3, 4] }]);
    const g = ([x]: Tensor[]) => T.add(T.sum(T.variance(x, [0], true)), T.sum(T.max(x, 1)));
    await gradCheck(b, g, [{ data: randn(12, 6), shape: [3, 4] }]);
  });

  Deno.test(`autograd ${name}: shape ops (permute, slice/pad, concat, gather)`, async () => {
    const f = ([x]: Tensor[]) => {
      const p = T.permute(x, [1, 0, 2]);
      const s = T.slice(p, [1, 0, 1], [2, 2, 2]);
      const c = T.concat([s, T.pad(s, [[0, 0], [1, 0], [0, 1]])], 1);
      const gth = T.gather(T.reshape(x, [6, 4]), tensor([5, 0, 5], [3], "i32"));
      return T.add(T.sum(T.square(c)), T.sum(T.mul(gth, gth)));
    };
    await gradCheck(b, f, [{ data: randn(24, 7), shape: [2, 3, 4] }]);
    await gradGradCheck(b, f, [{ data: randn(24, 7), shape: [2, 3, 4] }]);
  });

  Deno.test(`autograd ${name}: a tensor feeding more ops than one sum kernel takes, first and second order`, async () => {
    // x feeds 17 ops and y 8: contributions are summed SUM_FAN_IN at a time, then the partial sums.
    const f = ([x, y]: Tensor[]) => {
      let acc = T.sum(T.mul(x, y));
      for (let k = 1; k <= 15; k++) acc = T.add(acc, T.sum(T.sin(T.mul(x, 0.2 * k))));
      for (let k = 1; k <= 7; k++) acc = T.add(acc, T.sum(T.mul(T.tanh(y), T.mul(x, 0.1 * k))));
      return acc;
    };
    const ins = [{ data: randn(6, 11), shape: [2, 3] }, { data: randn(6, 12), shape: [2, 3] }];
    await gradCheck(b, f, ins);
    await gradGradCheck(b, f, ins);
  });

  for (const groups of [4, 2, 1]) {
    Deno.test(`autograd ${name}: group norm (${groups} groups of 4 channels) first and second order`, async () => {
      const f = ([x, w, bb]: Tensor[]) => T.sum(T.mul(T.groupNorm(x, groups, w, bb), T.tanh(x)));
      const ins = [
        { data: randn(2 * 3 * 3 * 4, 8), shape: [2, 3, 3, 4] },
        { data: randn(4, 9), shape: [4] },
        {
          data: randn(4, 10),
          shape: [4],
        },
      ];
      await gradCheck(b, f, ins);
      await gradGradCheck(b, f, ins, { tol: 5e-2 });
    });
  }
}

// x [3, 4] with four per-row operands [3, 1] and two per-column ones [4]: the gradients of each group
// are reductions over the same axes, one kernel per group (more when the binding budget is smaller).
const BROADCAST_OPERANDS = E.add(
  E.add(E.mul(inp(0), inp(1)), E.mul(E.un("tanh", E.sub(inp(0), inp(2))), inp(3))),
  E.add(E.un("sin", E.mul(inp(4), inp(0))), E.add(E.mul(E.mul(inp(5), inp(0)), inp(0)), inp(6))),
);
const broadcastInputs = [[3, 4], [3, 1], [3, 1], [3, 1], [3, 1], [4], [4]].map((shape, i) => ({
  data: randn(shape.reduce((a, c) => a * c, 1), 40 + i),
  shape,
}));
const broadcastF = (xs: Tensor[]) => T.sum(T.map(BROADCAST_OPERANDS, xs));

for (const [name, b] of both) {
  for (const budget of [32, 10]) {
    Deno.test({
      name:
        `autograd ${name}: broadcast operands' gradients share reduce kernels (${budget} buffers per kernel), first and second order`,
      ignore: budget > b.maxKernelBuffers,
    }, async () => {
      const lb = withBindings(b, budget);
      await gradCheck(lb, broadcastF, broadcastInputs);
      await gradGradCheck(lb, broadcastF, broadcastInputs);
      const { backend, count } = countingCalls(lb, ["reduce"]);
      setBackend(backend);
      tidy(() => {
        const xs = broadcastInputs.map((x) => tensor(x.data, x.shape).requireGrad());
        const loss = broadcastF(xs);
        const before = count();
        grad(loss, xs);
        // 7 inputs + the incoming gradient leave room for 2 outputs at 10 buffers: rows 2 + 2, columns 1.
        eq(count() - before, budget === 10 ? 3 : 2, "reduce kernels in the backward pass");
      });
    });
  }
  // 7 inputs: the forward kernel fits 8 buffers, its gradients (7 inputs + the incoming one) do not.
  for (const budget of [8, 6]) {
    Deno.test(`autograd ${name}: kernels reading more tensors than ${budget} buffers bind are split, first and second order`, async () => {
      const lb = withBindings(b, budget);
      const { backend, widest } = bindingWidth(lb);
      await gradCheck(backend, broadcastF, broadcastInputs);
      await gradGradCheck(backend, broadcastF, broadcastInputs);
      ok(widest() <= budget, `a kernel bound ${widest()} buffers, the device ${budget}`);
    });
  }
}

/** `b` recording the most buffers one map or reduce kernel binds (inputs, outputs, params). */
function bindingWidth(b: Backend): { backend: Backend; widest: () => number } {
  let most = 0;
  const note = (outputs: number, inputs: number, params?: readonly number[]) =>
    most = Math.max(most, outputs + inputs + (params?.length ? 1 : 0));
  const map: Backend["map"] = (exprs, inputs, shape, opts) => (
    note(exprs.length, inputs.length, opts?.params), b.map(exprs, inputs, shape, opts)
  );
  const reduce: Backend["reduce"] = (op, exprs, inputs, shape, axes, params) => (
    note(exprs.length, inputs.length, params), b.reduce(op, exprs, inputs, shape, axes, params)
  );
  const backend = Object.create(b, { map: { value: map }, reduce: { value: reduce } });
  return { backend, widest: () => most };
}

Deno.test("autograd: an output of a fused reduction sends no gradient to inputs it does not read", () => {
  const { backend, count } = countingCalls(cpu, ["map"]);
  setBackend(backend);
  tidy(() => {
    const x = tensor(randn(6, 50), [2, 3]).requireGrad(), y = tensor(randn(6, 51), [2, 3]).requireGrad();
    const [a, c] = T.reduceMany("sum", [E.mul(inp(0), inp(0)), E.un("exp", inp(1))], [x, y], [2, 3], [1]);
    const loss = T.add(T.sum(a), T.sum(c));
    const before = count();
    grad(loss, [x, y]);
    // The seed, the two sums' broadcast gradients, then one kernel each for x and y: no zero gradients
    // of a w.r.t. y or of c w.r.t. x computed and then added to the real ones (two more kernels).
    eq(count() - before, 5, "map kernels in the backward pass");
  });
});

/** `b` counting its calls of the listed kernel-launching methods. */
function countingCalls(
  b: Backend,
  methods: readonly (keyof Backend)[],
): { backend: Backend; count: () => number } {
  let n = 0;
  const props = Object.fromEntries(methods.map((m) => {
    const fn = b[m] as (...a: unknown[]) => unknown;
    return [m, { value: (...a: unknown[]) => (n++, fn.apply(b, a)) }];
  }));
  return { backend: Object.create(b, props), count: () => n };
}

// A student unrolled by gradient steps (MTT): step k's parameters depend on every earlier step. Its
// gradient must stop at them, not walk back through earlier steps (which made the unroll quadratic),
// and must skip the input-side gradients of an upstream tensor nobody asked for.
const unrolledLoss = (x: Tensor, w: Tensor) => T.sum(T.square(T.conv2d(T.tanh(x), w, { padding: 1 })));
function unrolled(x: Tensor, w: Tensor, steps: number, onStep?: (grad: () => Tensor) => Tensor): Tensor {
  let v = w;
  for (let k = 0; k < steps; k++) {
    const l = unrolledLoss(x, v);
    const step = () => grad(l, [v], { createGraph: true })[0];
    v = T.sub(v, T.mul(onStep ? onStep(step) : step(), 0.05));
  }
  return unrolledLoss(x, v);
}

Deno.test("autograd: a gradient stops at the tensors asked for (each unrolled step costs the same)", () => {
  const { backend, count } = countingCalls(cpu, [
    "map",
    "reduce",
    "conv2d",
    "conv2dInputGrad",
    "conv2dWeightGrad",
  ]);
  setBackend(backend);
  tidy(() => {
    const xData = randn(2 * 6 * 6, 7), wData = randn(3 * 3 * 3, 8, 0.3);
    const costs: number[] = [];
    const measure = (g: () => Tensor) => {
      const before = count();
      const r = g();
      costs.push(count() - before);
      return r;
    };
    unrolled(
      tensor(xData, [2, 6, 6, 1]).requireGrad(),
      tensor(wData, [3, 3, 3, 1]).requireGrad(),
      4,
      measure,
    );
    eq(new Set(costs).size, 1, `kernels per step's gradient: ${costs}`);
    // The same as when x is a constant: no gradient computed towards it.
    const [asked] = costs;
    costs.length = 0;
    unrolled(tensor(xData, [2, 6, 6, 1]), tensor(wData, [3, 3, 3, 1]).requireGrad(), 1, measure);
    eq(costs[0], asked, "kernels with x trainable vs constant");
  });
});

for (const [name, b] of both) {
  Deno.test(`autograd ${name}: an unrolled loop's gradient reaches its start and its input (finite differences)`, async () => {
    const f = ([x, w]: Tensor[]) => unrolled(x.requireGrad(), w.requireGrad(), 3);
    await gradCheck(b, f, [{ data: randn(2 * 6 * 6, 7), shape: [2, 6, 6, 1] }, {
      data: randn(3 * 3 * 3, 8, 0.3),
      shape: [3, 3, 3, 1],
    }], { eps: 1e-2, tol: 3e-2 });
  });
}
