/** Acquires a WebGPU device with the adapter's own limits and describes the adapter for provenance. */
import type { AdapterInfo } from "../backend.ts";

const LIMITS = [
  "maxStorageBuffersPerShaderStage",
  "maxBufferSize",
  "maxStorageBufferBindingSize",
  "maxComputeInvocationsPerWorkgroup",
  "maxComputeWorkgroupStorageSize",
  "maxComputeWorkgroupsPerDimension",
  "maxComputeWorkgroupSizeX",
  "maxComputeWorkgroupSizeY",
  "maxComputeWorkgroupSizeZ",
  "maxBindGroups",
] as const;

export const NO_ADAPTER_HELP =
  "No WebGPU adapter found. ddrepro needs one: on a CPU-only Debian/Ubuntu machine run " +
  "`apt-get install mesa-vulkan-drivers` (Mesa lavapipe, a Vulkan driver on the CPU; Mesa's GL llvmpipe also " +
  "works), or install your GPU's Vulkan/Metal/DX12 driver. Force a backend with DENO_WEBGPU_BACKEND=vulkan|gl.";

export interface GpuContext {
  readonly device: GPUDevice;
  readonly info: AdapterInfo;
  readonly limits: Readonly<Record<string, number>>;
  /** The device can write GPU timestamps (requested only when `DD_PROFILE` is set). */
  readonly timestamps: boolean;
}

/**
 * Which limits to request: the adapter's own (default), or WebGPU's guaranteed minimums ("spec": 8
 * storage buffers per stage, 128 MiB bindings), to check on a big-limit adapter such as lavapipe that
 * kernels stay within what every device offers. `DD_WEBGPU_LIMITS=spec` selects the latter.
 */
export type LimitsChoice = "adapter" | "spec";

export function limitsFromEnv(): LimitsChoice {
  const v = Deno.env.get("DD_WEBGPU_LIMITS") ?? "adapter";
  if (v !== "adapter" && v !== "spec") {
    throw new Error(`DD_WEBGPU_LIMITS must be "adapter" or "spec", got "${v}"`);
  }
  return v;
}

export async function openDevice(choice: LimitsChoice = limitsFromEnv()): Promise<GpuContext> {
  // The Vulkan loader warns (and some drivers misbehave) without a runtime dir.
  if (!Deno.env.get("XDG_RUNTIME_DIR")) Deno.env.set("XDG_RUNTIME_DIR", "/tmp");
  // On Linux, Vulkan only unless the user picks: with every backend enabled, wgpu also opens Mesa's EGL/GL
  // driver (never used for the adapter), whose library destructors race its threads at process exit and
  // sometimes corrupt the heap (glibc abort after the work is done; core dump: main thread in libEGL's fini).
  // Read once, when the first adapter is requested, so this must precede it.
  const pinnedVulkan = Deno.build.os === "linux" && !Deno.env.get("DENO_WEBGPU_BACKEND");
  if (pinnedVulkan) Deno.env.set("DENO_WEBGPU_BACKEND", "vulkan");
  const noAdapter = () =>
    new Error(
      NO_ADAPTER_HELP +
        (pinnedVulkan ? " (Only Vulkan was tried; set DENO_WEBGPU_BACKEND=gl to use a GL driver.)" : ""),
    );
  if (!("gpu" in navigator) || !navigator.gpu) throw noAdapter();
  const adapter = await navigator.gpu.requestAdapter({ powerPreference: "high-performance" });
  if (!adapter) throw noAdapter();
  // Without requiredLimits the device gets the spec defaults (8 storage buffers, 256 MiB buffers).
  const requiredLimits: Record<string, number> = {};
  const al = adapter.limits as unknown as Record<string, number>;
  if (choice === "adapter") {
    for (const k of LIMITS) {
      if (typeof al[k] === "number") requiredLimits[k] = al[k];
    }
  }
  // Timestamps only when profiling: a device with the feature is otherwise identical, but the
  // feature is optional on real GPUs and never needed outside `DD_PROFILE` runs.
  const timestamps = !!Deno.env.get("DD_PROFILE") && adapter.features.has("timestamp-query");
  const device = await adapter.requestDevice({
    requiredLimits,
    requiredFeatures: timestamps ? ["timestamp-query"] : [],
  });
  const limits: Record<string, number> = {};
  const dl = device.limits as unknown as Record<string, number>;
  for (const k of LIMITS) limits[k] = dl[k];
  const ai = adapter.info;
  const description = ai.description || ai.device || "";
  const software = /llvmpipe|lavapipe|swiftshader|software|warp/i.test(
    `${description} ${ai.architecture} ${ai.vendor}`,
  );
  const backend = Deno.env.get("DENO_WEBGPU_BACKEND") ?? "auto";
  return {
    device,
    info: {
      backend,
      vendor: ai.vendor,
      architecture: ai.architecture,
      description,
      software,
      limits: choice,
    },
    limits,
    timestamps,
  };
}
