/** The WebGPU device: on Linux, ddrepro keeps wgpu off Mesa's EGL/GL driver unless the user asks for it. */
import { gpu } from "./helpers.ts";

Deno.test({
  name: "device: on Linux only the Vulkan driver is loaded (EGL's exit-time destructors corrupt the heap)",
  ignore: Deno.build.os !== "linux" || (Deno.env.get("DENO_WEBGPU_BACKEND") ?? "vulkan") !== "vulkan",
  fn() {
    // helpers.ts opened the device; a user's other backend choice is ignored.
    const maps = Deno.readTextFileSync("/proc/self/maps");
    if (/libEGL|libGLX|libGLdispatch/.test(maps)) throw new Error("a GL driver library is mapped");
    if (gpu.info.backend !== "vulkan") throw new Error(`provenance says backend ${gpu.info.backend}`);
  },
});
