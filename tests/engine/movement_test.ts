/** permute and slice/pad on WebGPU vs the reference, on shapes that move vec4s (innermost axis kept) and that do not. */
import { deepStrictEqual as eq } from "node:assert";
import { assertBackendsAgree, cpu, gpu, on, randn } from "./helpers.ts";
import * as T from "../../engine/ops/mod.ts";
import { tensor } from "../../engine/tensor.ts";

Deno.test("movement: permutes keeping the innermost axis (vec4) and moving it (scalar) agree with the reference", async () => {
  const x = randn(2 * 5 * 3 * 2 * 8, 1);
  const cases: [number[], number[]][] = [
    [[2, 5, 3, 2, 8], [2, 0, 3, 1, 4]], // DiT's qkv split: innermost kept
    [[2, 5, 3, 2, 8], [0, 3, 1, 2, 4]],
    [[2, 5, 3, 2, 8], [4, 1, 2, 3, 0]], // innermost moved
    [[20, 3, 8], [1, 0, 2]],
    [[60, 8], [1, 0]],
  ];
  for (const [shape, perm] of cases) {
    await assertBackendsAgree(() => T.permute(tensor(x, shape), perm), 0, `permute [${shape}] by [${perm}]`);
  }
  // i32 data moves bit for bit too.
  const ints = Int32Array.from({ length: 4 * 3 * 8 }, (_, i) => i * 7 - 50);
  for (const b of [cpu, gpu]) {
    const got = await on(
      b,
      () => T.map({ k: "in", i: 0 }, [T.permute(tensor(ints, [4, 3, 8], "i32"), [1, 0, 2])]),
    );
    const want = new Float32Array(ints.length);
    for (let i = 0; i < 4; i++) {
      for (let j = 0; j < 3; j++) {
        for (let k = 0; k < 8; k++) want[(j * 4 + i) * 8 + k] = ints[(i * 3 + j) * 8 + k];
      }
    }
    eq([...got], [...want], `i32 permute on ${b.name}`);
  }
});

Deno.test("movement: slices and zero pads with and without the innermost axis whole agree with the reference", async () => {
  const x = randn(3 * 6 * 4 * 8, 2);
  const cases: [number[], number[], number[]][] = [
    [[3, 6, 4, 8], [1, 0, 0, 0], [1, 6, 4, 8]], // a chunk along the first axis (vec4)
    [[3, 6, 4, 8], [0, 2, 1, 0], [3, 1, 2, 8]],
    [[3, 6, 4, 8], [-1, 0, -2, 0], [5, 6, 7, 8]], // zero padding, innermost whole (vec4)
    [[3, 6, 4, 8], [0, 0, 0, 4], [3, 6, 4, 4]], // innermost cut (scalar)
    [[3, 6, 4, 8], [0, 0, 0, -2], [3, 6, 4, 12]], // innermost padded (scalar)
  ];
  for (const [shape, begin, out] of cases) {
    await assertBackendsAgree(
      () => T.slicePad(tensor(x, shape), begin, out),
      0,
      `slicePad [${shape}] at [${begin}] → [${out}]`,
    );
  }
});
