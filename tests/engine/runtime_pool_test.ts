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

Deno.test("runtime caches: a repeated op reuses its kernel and bind group, and a destroyed buffer's groups go", async () => {
  const cap = rt.poolCapBytes;
  try {
    const run = () => tidy(() => T.add(T.mul(tensor(new Float32Array(4096).fill(2), [4096]), 3), 1));
    // Pooled buffers return in an order that settles into a short cycle after a few repeats.
    for (let i = 0; i < 4; i++) run().dispose();
    const p0 = rt.stats.pipelines, g0 = rt.stats.bindGroups;
    for (let i = 0; i < 5; i++) run().dispose();
    ok(rt.stats.pipelines === p0, "no new pipeline for a repeated op");
    ok(rt.stats.bindGroups === g0, `bind groups were recreated: ${g0} → ${rt.stats.bindGroups}`);
    // Trimming destroys the pooled buffers; ops that bind fresh ones must not reuse stale groups.
    rt.poolCapBytes = 0;
    rt.flush();
    run().dispose();
    rt.flush();
    rt.poolCapBytes = cap;
    const y = run();
    const d = await y.data();
    y.dispose();
    ok(d.every((v) => v === 7), "results after trimming are intact");
  } finally {
    rt.poolCapBytes = cap;
  }
});

Deno.test("runtime caches: a reused bind group reads its pooled buffer's new contents", async () => {
  // Same shapes twice: the pool hands back the same buffers, so the second run binds cached groups,
  // which must see the second run's data (groups bind buffers, not contents).
  const run = async (v: number) => {
    const y = tidy(() => T.mul(tensor(new Float32Array(2048).fill(v), [2048]), 2));
    const d = await y.data();
    y.dispose();
    return d;
  };
  for (let i = 0; i < 3; i++) await run(i);
  const g0 = rt.stats.bindGroups;
  const a = await run(5), b = await run(-1);
  ok(rt.stats.bindGroups === g0, "the repeated op reused its bind group");
  ok(a.every((v) => v === 10) && b.every((v) => v === -2), "reused groups read the fresh contents");
});
