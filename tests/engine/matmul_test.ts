/**
 * WebGPU matmul vs the CPU reference in every layout, with sizes that are not multiples of 4 or of the
 * tiles, batched and broadcast operands, and sizes large enough for the packed-B (NN → NT) path.
 */
import { assertClose, cpu, gpu, on, randn } from "./helpers.ts";
import { tensor } from "../../engine/tensor.ts";
import * as T from "../../engine/ops/mod.ts";
import type { WebGpuBackend } from "../../engine/webgpu/backend.ts";

const CASES: [string, number, number, number, number, number][] = [
  // name, batchA, batchB, m, n, k
  ["small odd", 1, 1, 7, 5, 3],
  ["thin logits", 1, 1, 33, 10, 2048],
  ["tile edges", 2, 2, 37, 45, 19],
  ["packed 64³", 1, 1, 64, 64, 64],
  ["packed odd m/n", 1, 1, 97, 130, 68],
  ["packed batched", 3, 3, 70, 66, 72],
  ["packed broadcast B", 3, 1, 65, 80, 96],
];

for (const [name, ba, bb, m, n, k] of CASES) {
  Deno.test(`matmul ${name}: WebGPU equals the reference in all four layouts`, async () => {
    for (const transA of [false, true]) {
      for (const transB of [false, true]) {
        const a = randn(ba * m * k, 1), b = randn(bb * k * n, 2);
        const sa = ba === 1 ? (transA ? [k, m] : [m, k]) : (transA ? [ba, k, m] : [ba, m, k]);
        const sb = bb === 1 ? (transB ? [n, k] : [k, n]) : (transB ? [bb, n, k] : [bb, k, n]);
        const f = () => T.matmul(tensor(a, sa), tensor(b, sb), { transA, transB });
        const want = await on(cpu, f);
        const got = await on(gpu, f);
        assertClose(got, want, 1e-4 * Math.sqrt(k), `${name} transA=${transA} transB=${transB}`);
      }
    }
  });
}

Deno.test("matmul large NT tile (32×32, vec4 dot products): WebGPU equals the reference at odd m/n", async () => {
  const wg = gpu as WebGpuBackend;
  const saved = wg.tuning;
  // Forced on a small product: the tile normally starts at 2^26 multiply-adds (slow to compile).
  wg.tuning = { ...saved, largeMacs: 0 };
  try {
    for (const [ba, bb, m, n, k] of [[1, 1, 45, 70, 36], [2, 1, 33, 64, 20]]) {
      const a = randn(ba * m * k, 3), b = randn(bb * k * n, 4);
      const f = () =>
        T.matmul(tensor(a, ba === 1 ? [m, k] : [ba, m, k]), tensor(b, bb === 1 ? [n, k] : [bb, n, k]), {
          transB: true,
        });
      assertClose(await on(gpu, f), await on(cpu, f), 1e-4 * Math.sqrt(k), `${m}×${n}×${k}`);
    }
  } finally {
    wg.tuning = saved;
  }
});
