/**
 * Acquires a WebGPU device with the adapter's own limits and describes the adapter for provenance; on
 * Linux, first chooses the wgpu backend (Vulkan when it works, else GL).
 */
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

/** Set beside DENO_WEBGPU_BACKEND=gl when ddrepro chose GL because Vulkan had no adapter (and why). */
const FALLBACK_ENV = "DD_WEBGPU_FALLBACK";

/** The wgpu backend a process uses, and why GL when ddrepro fell back to it. */
export interface BackendChoice {
  /** DENO_WEBGPU_BACKEND's value ("vulkan", "gl", …), or "auto" where wgpu picks. */
  backend: string;
  /** Why Vulkan was not used, when ddrepro fell back to GL; null otherwise. */
  fallback: string | null;
}

/**
 * The Vulkan loader's driver manifests (ICD JSON files), searched as the loader does on Linux:
 * VK_DRIVER_FILES (or the older VK_ICD_FILENAMES) replaces the search path, VK_ADD_DRIVER_FILES adds to
 * it. None means no Vulkan driver is installed (e.g. no `mesa-vulkan-drivers`).
 */
export function vulkanDriverManifests(
  env: Record<string, string | undefined> = Deno.env.toObject(),
): string[] {
  const home = env.HOME ?? "";
  const list = (v: string | undefined) => (v ?? "").split(":").filter((x) => x !== "");
  const standard = [
    `${env.XDG_CONFIG_HOME || `${home}/.config`}/vulkan/icd.d`,
    ...list(env.XDG_CONFIG_DIRS || "/etc/xdg").map((d) => `${d}/vulkan/icd.d`),
    "/etc/vulkan/icd.d",
    `${env.XDG_DATA_HOME || `${home}/.local/share`}/vulkan/icd.d`,
    ...list(env.XDG_DATA_DIRS || "/usr/local/share:/usr/share").map((d) => `${d}/vulkan/icd.d`),
  ];
  const replaced = env.VK_DRIVER_FILES ?? env.VK_ICD_FILENAMES;
  const paths = [...(replaced !== undefined ? list(replaced) : standard), ...list(env.VK_ADD_DRIVER_FILES)];
  const out: string[] = [];
  for (const p of paths) {
    try {
      const st = Deno.statSync(p);
      if (st.isFile) out.push(p);
      else if (st.isDirectory) {
        for (const e of Deno.readDirSync(p)) if (e.name.endsWith(".json")) out.push(`${p}/${e.name}`);
      }
    } catch {
      // absent or unreadable: the loader skips it too
    }
  }
  return [...new Set(out)].sort();
}

/**
 * Asks a child process, limited to Vulkan, whether wgpu finds an adapter: wgpu reads
 * DENO_WEBGPU_BACKEND once per process, so after a failed Vulkan request this process could no longer
 * switch to GL. "yes", "no", or "unknown" when the child could not answer (no permission to run it, not
 * a `deno` executable, a timeout).
 */
export async function probeVulkan(timeoutMs = 60_000): Promise<"yes" | "no" | "unknown"> {
  const code =
    'const a = await navigator.gpu?.requestAdapter(); console.log(a ? "adapter:yes" : "adapter:no");';
  try {
    const out = await new Deno.Command(Deno.execPath(), {
      args: ["eval", "--no-config", "--quiet", code],
      env: { DENO_WEBGPU_BACKEND: "vulkan", XDG_RUNTIME_DIR: Deno.env.get("XDG_RUNTIME_DIR") ?? "/tmp" },
      stdin: "null",
      stdout: "piped",
      stderr: "null",
      signal: AbortSignal.timeout(timeoutMs),
    }).output();
    // Judged by what it printed: its exit status does not matter once it has answered.
    const said = new TextDecoder().decode(out.stdout);
    return said.includes("adapter:yes") ? "yes" : said.includes("adapter:no") ? "no" : "unknown";
  } catch {
    return "unknown";
  }
}

/**
 * Chooses the wgpu backend before the first adapter request, and records the choice in the environment
 * (DENO_WEBGPU_BACKEND, and DD_WEBGPU_FALLBACK when falling back) so child processes inherit it.
 *
 * On Linux, Vulkan only when it works: with every backend enabled, wgpu also opens Mesa's EGL/GL driver
 * (never used for the adapter), whose library destructors race its threads at process exit and sometimes
 * corrupt the heap (glibc abort after the work is done; core dump: main thread in libEGL's fini). When no
 * Vulkan driver is installed, or a child process finds no Vulkan adapter, GL is the fallback (Mesa's
 * llvmpipe on a CPU-only machine), said once on stderr. A user's DENO_WEBGPU_BACKEND always wins.
 */
export async function chooseBackend(
  log: (line: string) => void = (l) => console.error(l),
): Promise<BackendChoice> {
  const set = Deno.env.get("DENO_WEBGPU_BACKEND");
  if (set) return { backend: set, fallback: set === "gl" ? Deno.env.get(FALLBACK_ENV) ?? null : null };
  if (Deno.build.os !== "linux") return { backend: "auto", fallback: null };
  let fallback: string | null = null;
  if (vulkanDriverManifests().length === 0) fallback = "no Vulkan driver is installed (no ICD manifest)";
  else if (await probeVulkan() === "no") fallback = "the Vulkan driver offers no adapter";
  const backend = fallback === null ? "vulkan" : "gl";
  Deno.env.set("DENO_WEBGPU_BACKEND", backend);
  if (fallback !== null) {
    Deno.env.set(FALLBACK_ENV, fallback);
    log(
      `webgpu: ${fallback}; using the GL backend (Mesa llvmpipe on a CPU). ` +
        "For Vulkan install mesa-vulkan-drivers (or your GPU's driver); DENO_WEBGPU_BACKEND=vulkan|gl chooses.",
    );
  }
  return { backend, fallback };
}

export interface GpuContext {
  readonly device: GPUDevice;
  readonly info: AdapterInfo;
  readonly limits: Readonly<Record<string, number>>;
  /** The device can write GPU timestamps (requested only when `DD_PROFILE` is set). */
  readonly timestamps: boolean;
  /** Why GL rather than Vulkan, when ddrepro fell back (see chooseBackend); null otherwise. */
  readonly fallback: string | null;
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
  // Read by wgpu once, at the first adapter request, so the choice must precede it.
  const chosen = await chooseBackend();
  const noAdapter = () =>
    new Error(
      NO_ADAPTER_HELP +
        (chosen.backend === "vulkan"
          ? " (Only Vulkan was tried; set DENO_WEBGPU_BACKEND=gl to use a GL driver.)"
          : "") +
        (chosen.fallback !== null ? ` (GL was tried because ${chosen.fallback}.)` : ""),
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
  return {
    device,
    fallback: chosen.fallback,
    info: {
      backend: chosen.backend,
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
