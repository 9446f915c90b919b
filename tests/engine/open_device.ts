/**
 * Helper process for device_test.ts (not a test): opens the WebGPU backend as ddrepro does, runs one
 * small kernel on it and prints what it chose, what the environment now says (what child processes
 * inherit) and the kernel's result, as one JSON line.
 */
import { webgpuBackend } from "../../engine/webgpu/backend.ts";
import { setBackend, tensor } from "../../engine/tensor.ts";
import * as T from "../../engine/ops/mod.ts";

const b = await webgpuBackend();
setBackend(b);
const sum = await T.sum(T.mul(tensor([1, 2, 3]), tensor([4, 5, 6]))).item();
console.log(JSON.stringify({
  backend: b.info.backend,
  description: b.info.description,
  env: Deno.env.get("DENO_WEBGPU_BACKEND") ?? null,
  fallback: Deno.env.get("DD_WEBGPU_FALLBACK") ?? null,
  sum,
}));
