/**
 * The WebGPU device: on Linux, ddrepro keeps wgpu off Mesa's EGL/GL driver when Vulkan works, and falls
 * back to GL by itself when it does not (no Vulkan driver installed, or one without an adapter).
 */
import { deepStrictEqual as eq, ok } from "node:assert";
import { gpu } from "./helpers.ts";
import { vulkanDriverManifests } from "../../engine/webgpu/device.ts";

const linux = Deno.build.os === "linux";

Deno.test({
  name:
    "device: with Vulkan working only the Vulkan driver is loaded (EGL's exit-time destructors corrupt the heap)",
  ignore: !linux || (Deno.env.get("DENO_WEBGPU_BACKEND") ?? "vulkan") !== "vulkan",
  fn() {
    // helpers.ts opened the device; a user's other backend choice is ignored.
    const maps = Deno.readTextFileSync("/proc/self/maps");
    if (/libEGL|libGLX|libGLdispatch/.test(maps)) throw new Error("a GL driver library is mapped");
    if (gpu.info.backend !== "vulkan") throw new Error(`provenance says backend ${gpu.info.backend}`);
  },
});

Deno.test("device: Vulkan driver manifests are found where the loader looks, and env overrides replace that", async () => {
  const dir = await Deno.makeTempDir({ prefix: "ddrepro-icd-" });
  try {
    await Deno.writeTextFile(`${dir}/a_icd.json`, "{}");
    await Deno.writeTextFile(`${dir}/notes.txt`, "");
    eq(vulkanDriverManifests({ VK_ICD_FILENAMES: "/nonexistent" }), []);
    eq(vulkanDriverManifests({ VK_DRIVER_FILES: "/nonexistent", VK_ICD_FILENAMES: dir }), []);
    eq(vulkanDriverManifests({ VK_DRIVER_FILES: dir }), [`${dir}/a_icd.json`]);
    eq(vulkanDriverManifests({ VK_ICD_FILENAMES: `/nonexistent:${dir}/a_icd.json` }), [
      `${dir}/a_icd.json`,
    ]);
    const home = vulkanDriverManifests({ HOME: "/nonexistent", XDG_DATA_DIRS: dir, XDG_CONFIG_DIRS: dir });
    ok(!home.includes(`${dir}/a_icd.json`), "XDG dirs are searched in their vulkan/icd.d");
    await Deno.mkdir(`${dir}/vulkan/icd.d`, { recursive: true });
    await Deno.writeTextFile(`${dir}/vulkan/icd.d/b_icd.json`, "{}");
    const found = vulkanDriverManifests({ HOME: "/nonexistent", XDG_DATA_DIRS: dir, XDG_CONFIG_DIRS: dir });
    ok(found.includes(`${dir}/vulkan/icd.d/b_icd.json`), found.join());
    const added = vulkanDriverManifests({ VK_DRIVER_FILES: "/nonexistent", VK_ADD_DRIVER_FILES: dir });
    eq(added, [`${dir}/a_icd.json`]);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

interface Opened {
  backend: string;
  description: string;
  env: string | null;
  fallback: string | null;
  sum: number;
}

/** Runs open_device.ts in a fresh process with `env` over this one's minus any backend choice. */
async function openInChild(env: Record<string, string>): Promise<{ opened: Opened | null; stderr: string }> {
  const base = Deno.env.toObject();
  delete base.DENO_WEBGPU_BACKEND;
  delete base.DD_WEBGPU_FALLBACK;
  const out = await new Deno.Command(Deno.execPath(), {
    args: ["run", "-A", new URL("./open_device.ts", import.meta.url).pathname],
    clearEnv: true,
    env: { ...base, XDG_RUNTIME_DIR: base.XDG_RUNTIME_DIR ?? "/tmp", ...env },
    stdin: "null",
    stdout: "piped",
    stderr: "piped",
  }).output();
  const line = new TextDecoder().decode(out.stdout).split("\n").find((l) => l.startsWith("{"));
  // Judged by what the child printed: with GL loaded, its exit status can be glibc's abort at exit, after
  // the work is done (the reason ddrepro prefers Vulkan).
  return { opened: line ? JSON.parse(line) : null, stderr: new TextDecoder().decode(out.stderr) };
}

const NO_VULKAN = { VK_ICD_FILENAMES: "/nonexistent", VK_DRIVER_FILES: "/nonexistent" };

Deno.test({
  name: "device: without a Vulkan driver, GL is chosen by itself, said once, and inherited by children",
  ignore: !linux,
  async fn() {
    const { opened, stderr } = await openInChild(NO_VULKAN);
    ok(opened !== null, `no device: ${stderr}`);
    eq([opened.backend, opened.env], ["gl", "gl"]);
    ok(opened.fallback?.includes("no Vulkan driver") ?? false, `fallback ${opened.fallback}`);
    eq(opened.sum, 32);
    const said = stderr.split("\n").filter((l) => l.startsWith("webgpu:"));
    eq(said.length, 1);
    ok(said[0].includes("using the GL backend"), said[0]);
  },
});

Deno.test({
  name: "device: a Vulkan driver without an adapter (a probe process finds none) also falls back to GL",
  ignore: !linux,
  async fn() {
    const dir = await Deno.makeTempDir({ prefix: "ddrepro-icd-" });
    try {
      const icd = `${dir}/broken_icd.json`;
      await Deno.writeTextFile(
        icd,
        JSON.stringify({
          file_format_version: "1.0.0",
          ICD: { library_path: `${dir}/missing.so`, api_version: "1.3.0" },
        }),
      );
      const { opened, stderr } = await openInChild({ VK_ICD_FILENAMES: icd, VK_DRIVER_FILES: icd });
      ok(opened !== null, `no device: ${stderr}`);
      eq(opened.backend, "gl");
      ok(opened.fallback?.includes("no adapter") ?? false, `fallback ${opened.fallback}`);
      eq(opened.sum, 32);
    } finally {
      await Deno.remove(dir, { recursive: true });
    }
  },
});

Deno.test({
  name: "device: a user's DENO_WEBGPU_BACKEND wins (no fallback from an explicit vulkan)",
  ignore: !linux,
  async fn() {
    const { opened, stderr } = await openInChild({ ...NO_VULKAN, DENO_WEBGPU_BACKEND: "vulkan" });
    eq(opened, null);
    ok(stderr.includes("No WebGPU adapter found") && stderr.includes("Only Vulkan was tried"), stderr);
    ok(!stderr.includes("webgpu:"), "no fallback line");
  },
});
