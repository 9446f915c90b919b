/**
 * The engine on a device with WebGPU's guaranteed minimum limits (8 storage buffers per kernel, 128 MiB
 * bindings) instead of lavapipe's 32 buffers: the backward passes that read the most tensors
 * (normalisations differentiated twice, as MTT's unroll and gradient matching do) must still compile and
 * give the adapter-limit device's numbers. `DD_WEBGPU_LIMITS=spec deno task test` runs everything so.
 */
import { ok } from "node:assert";
import { assertClose, gpu, gradCheck, gradGradCheck, randn } from "./helpers.ts";
import { openWebGpuBackend } from "../../engine/webgpu/backend.ts";
import type { Backend } from "../../engine/backend.ts";
import * as T from "../../engine/ops/mod.ts";
import { setBackend, type Tensor, tensor, tidy } from "../../engine/tensor.ts";
import { grad } from "../../engine/autograd.ts";
import { adapterFromInfo } from "../../runner/provenance.ts";

const spec = await openWebGpuBackend("spec");

Deno.test("spec limits: the device grants WebGPU's minimum of 8 storage buffers per kernel", () => {
  ok(spec.maxKernelBuffers === 8, `got ${spec.maxKernelBuffers}`);
  // Results computed on it record so in their provenance.
  ok(adapterFromInfo(spec.info).limits === "spec", "provenance records the spec limits");
});

Deno.test("spec limits: instance and group norm, first and second order", async () => {
  for (const groups of [4, 1]) {
    const f = ([x, w, b]: Tensor[]) => T.sum(T.mul(T.groupNorm(x, groups, w, b), T.tanh(x)));
    const ins = [
      { data: randn(2 * 3 * 3 * 4, 8), shape: [2, 3, 3, 4] },
      { data: randn(4, 9), shape: [4] },
      { data: randn(4, 10), shape: [4] },
    ];
    await gradCheck(spec, f, ins, { what: `${groups} groups` });
    await gradGradCheck(spec, f, ins, { tol: 5e-2, what: `${groups} groups` });
  }
});

Deno.test("spec limits: one unrolled SGD step of a conv + instance-norm net, image gradient as on the adapter's limits", async () => {
  // MTT's shape in miniature: θ1 = θ0 − lr·∇θ L(x; θ0), then ∇x of L(x; θ1) through the first gradient.
  const x0 = randn(4 * 8 * 8 * 2, 1), w0 = randn(3 * 3 * 3 * 2, 2, 0.4), v0 = randn(48 * 5, 3, 0.2);
  const labels = [0, 3, 1, 4];
  const run = async (b: Backend) => {
    setBackend(b);
    const g = tidy(() => {
      const x = tensor(x0, [4, 8, 8, 2]).requireGrad();
      const y = tensor(labels, [4], "i32");
      // Conv weights, the instance norm's affine scale and shift (as DC's ConvNet), the classifier.
      const theta = [
        tensor(w0, [3, 3, 3, 2]),
        tensor(Float32Array.from(randn(3, 4), (u) => 1 + u / 4), [3]),
        tensor(randn(3, 5, 0.1), [3]),
        tensor(v0, [48, 5]),
      ].map((t) => t.requireGrad());
      const loss = ([cw, gamma, beta, fv]: Tensor[]) => {
        const h = T.relu(T.groupNorm(T.conv2d(x, cw, { padding: 1 }), 3, gamma, beta));
        const p = T.avgPool2d(h, { kernel: 2, stride: 2 });
        return T.crossEntropy(T.matmul(T.reshape(p, [4, 48]), fv), y);
      };
      const g0 = grad(loss(theta), theta, { createGraph: true });
      const [gx] = grad(loss(theta.map((t, i) => T.sub(t, T.mul(g0[i], 0.5)))), [x]);
      return gx.keep();
    });
    const out = await g.f32();
    g.dispose();
    return out;
  };
  const ref = await run(gpu), got = await run(spec);
  ok(ref.some((v) => v !== 0), "the image gradient must not vanish");
  assertClose(got, ref, 1e-5, "∇x on 8 buffers vs the adapter's");
});
