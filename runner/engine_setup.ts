/**
 * The real engine and evaluator, loaded on first use: commands that only read specs or stores (and
 * tests that inject a fake evaluator) never open a WebGPU device.
 */
import type { Adapter } from "../results/types.ts";
import type { EvalRequest, EvalResult } from "../evaluator/types.ts";
import { adapterFromInfo } from "./provenance.ts";

/**
 * Selects the WebGPU backend (once per process) and describes its adapter. DD_BACKEND=cpu selects the
 * CPU reference backend instead (slow; for debugging the engine, recorded in provenance).
 */
export async function initWebGpu(): Promise<Adapter> {
  const { setBackend, backend } = await import("../engine/tensor.ts");
  if (Deno.env.get("DD_BACKEND") === "cpu") {
    const { CpuBackend } = await import("../engine/cpu/backend.ts");
    setBackend(new CpuBackend());
  } else {
    const { webgpuBackend } = await import("../engine/webgpu/backend.ts");
    setBackend(await webgpuBackend());
  }
  return adapterFromInfo(backend().info);
}

/** evaluator/evaluate.ts's evaluate(). */
export async function defaultEvaluate(req: EvalRequest): Promise<EvalResult> {
  const { evaluate } = await import("../evaluator/evaluate.ts");
  return await evaluate(req);
}
