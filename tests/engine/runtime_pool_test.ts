/** The WebGPU buffer pool: freed buffers are reused, and the pool stays bounded across phases. */
import { ok } from "node:assert";
import { gpu } from "./helpers.ts";
import type { WebGpuBackend } from "../../engine/webgpu/backend.ts";
import { setBackend, tensor, tidy } from "../../engine/tensor.ts";
import * as T from "../../engine/ops/mod.ts";

setBackend(gpu);
const rt = (gpu as WebGpuBackend).rt;

Deno.test("runtime pool: reuses a freed buffer of the same size, and trims to its cap after a submit", async () => {
  const cap = rt.poolCapBytes;
  try {
    rt.poolCapBytes = 1 << 20; // 1 MiB for the test
    const before = rt.stats.pooledBytes;
    // A phase that frees many differently sized buffers (2–5 MiB in total), then keeps computing.
    for (let k = 1; k <= 40; k++) {
      tidy(() => void T.mul(tensor(new Float32Array(4096 * k), [4096 * k]), 2));
    }
    const x = tidy(() => T.add(tensor(new Float32Array([1, 2, 3]), [3]), 1));
    ok((await x.data())[2] === 4, "computation after trimming is intact");
    x.dispose();
    rt.flush();
    ok(
      rt.stats.pooledBytes <= rt.poolCapBytes,
      `pooled ${rt.stats.pooledBytes} B > cap ${rt.poolCapBytes} B`,
    );
    ok(before <= (1 << 20) || rt.stats.pooledBytes < before, "the pool shrank");
    // Reuse: freeing and re-allocating one size does not grow live + pooled bytes.
    const total = () => rt.stats.pooledBytes + rt.stats.liveBytes;
    tidy(() => void T.mul(tensor(new Float32Array(1000), [1000]), 3));
    const t0 = total();
    for (let i = 0; i < 5; i++) tidy(() => void T.mul(tensor(new Float32Array(1000), [1000]), 3));
    ok(total() === t0, `pool did not reuse: ${t0} → ${total()} bytes`);
  } finally {
    rt.poolCapBytes = cap;
  }
});
