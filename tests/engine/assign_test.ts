/** In-place writes keep the destination's storage and refuse a value count that does not fill it. */
import { deepStrictEqual as assertEquals, strictEqual, throws } from "node:assert";
import { cpu, gpu, randn } from "./helpers.ts";
import { assign, assignHost } from "../../engine/assign.ts";
import { setBackend, tensor, tidy } from "../../engine/tensor.ts";

for (const [name, b] of [["cpu", cpu], ["webgpu", gpu]] as const) {
  Deno.test(`assign ${name}: writes a tensor's or host values into the same storage`, async () => {
    setBackend(b);
    const src = randn(24, 1), host = randn(24, 2);
    const dst = tensor(new Float32Array(24), [2, 3, 4]).keep();
    const storage = dst.storage;
    tidy(() => assign(dst, tensor(src, [4, 6])));
    assertEquals(Array.from(await dst.data()), Array.from(src));
    assignHost(dst, host);
    assertEquals(Array.from(await dst.data()), Array.from(host));
    strictEqual(dst.storage, storage);
    throws(() => assignHost(dst, new Float32Array(23)), /23 values for a tensor of 24/);
    throws(() => tidy(() => assign(dst, tensor(new Float32Array(25), [25]))), /25 values for a tensor of 24/);
    dst.dispose();
  });
}
