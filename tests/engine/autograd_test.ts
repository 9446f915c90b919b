import { cpu, gpu, gradCheck, gradGradCheck, randn } from "./helpers.ts";
import * as T from "../../engine/ops/mod.ts";
import { type Tensor, tensor } from "../../engine/tensor.ts";

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
