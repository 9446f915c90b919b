/**
 * The vec4 variants of the map and reduce kernels (four elements per step when the innermost
 * dimension allows) against the CPU reference: contiguous, broadcast-splat and i32 operands, in-place
 * outputs, several outputs (maps and reductions), and shapes on both sides of the vec4 condition.
 */
import { assertBackendsAgree, assertClose, cpu, gpu, randn, withBindings } from "./helpers.ts";
import type { Backend } from "../../engine/backend.ts";
import type { WebGpuBackend } from "../../engine/webgpu/backend.ts";
import { backend, fromStorage, setBackend, tensor } from "../../engine/tensor.ts";
import * as E from "../../engine/expr.ts";
import { inp } from "../../engine/expr.ts";
import { mapKernel } from "../../kernels/map.ts";
import { reduceKernel } from "../../kernels/reduce.ts";
import * as T from "../../engine/ops/mod.ts";
import { ok } from "node:assert";

// Every unary/binary node in one expression, so the vec4 emitter is checked for each.
const ALL = E.add(
  E.add(
    E.mul(E.un("sigmoid", inp(0)), E.un("tanh", inp(1))),
    E.add(E.un("softplus", inp(0)), E.un("erf", inp(1))),
  ),
  E.add(
    E.where(inp(1), E.un("relu", inp(0)), E.un("step", inp(1))),
    E.add(
      E.add(E.bin("max", inp(0), inp(1)), E.bin("min", inp(0), E.cst(0.25))),
      E.add(
        E.bin("gt", inp(0), inp(1)),
        E.add(E.bin("pow", E.un("abs", inp(0)), E.cst(3)), E.un("sign", inp(1))),
      ),
    ),
  ),
);

const size = (s: number[]) => s.reduce((a, b) => a * b, 1);

const SHAPES: [string, number[], number[], number[]][] = [
  // name, output shape, input 0 shape, input 1 shape
  ["contiguous", [3, 5, 8], [3, 5, 8], [3, 5, 8]],
  ["channel vector", [4, 6, 12], [4, 6, 12], [12]],
  ["splat per row", [4, 6, 12], [4, 6, 12], [4, 6, 1]],
  ["splat per sample", [2, 3, 3, 8], [2, 1, 1, 8], [2, 1, 1, 1]],
  ["odd last dim (scalar path)", [3, 5, 7], [3, 5, 7], [5, 1]],
  ["long reduction (chunked partial sums)", [40, 60, 8], [40, 60, 8], [8]],
];

for (const [name, out, s0, s1] of SHAPES) {
  Deno.test(`map kernel ${name}: WebGPU equals the reference`, async () => {
    await assertBackendsAgree(
      () => T.map(ALL, [tensor(randn(size(s0), 1), s0), tensor(randn(size(s1), 2), s1)]),
      1e-5,
      name,
    );
  });
  for (const op of ["sum", "max", "min"] as const) {
    Deno.test(`reduce kernel ${op} ${name}: WebGPU equals the reference`, async () => {
      const axes = out.length === 4 ? [1, 2] : [0, 1];
      await assertBackendsAgree(
        () =>
          T.reduceExpr(
            op,
            E.mul(inp(0), E.add(inp(1), E.cst(2))),
            [tensor(randn(size(s0), 3), s0), tensor(randn(size(s1), 4), s1)],
            out,
            axes,
          ),
        1e-4,
        `${op} ${name}`,
      );
    });
  }
  Deno.test(`reduce kernel, three outputs in one pass, ${name}: WebGPU equals the reference`, async () => {
    const axes = out.length === 4 ? [1, 2] : [0, 1];
    await assertBackendsAgree(
      () => {
        // Outputs reading different subsets of the inputs, one with a runtime parameter.
        const outs = T.reduceMany(
          "sum",
          [E.mul(inp(0), inp(1)), E.un("tanh", inp(1)), E.mul(inp(0), E.prm(0))],
          [tensor(randn(size(s0), 5), s0), tensor(randn(size(s1), 6), s1)],
          out,
          axes,
          [0.5],
        );
        return T.concat(outs, 0);
      },
      1e-4,
      `three outputs ${name}`,
    );
  });
}

Deno.test("map/reduce kernels take the vec4 path exactly when the innermost dimension allows", () => {
  const f32 = (shape: number[]) => ({ shape, dtype: "f32" as const });
  const spec = (shape: number[], ins: number[][]) =>
    mapKernel({ exprs: [E.add(inp(0), inp(1))], inputs: ins.map(f32), shape, outDtype: "f32", alias: [-1] });
  ok(spec([4, 12], [[4, 12], [12]]).code.includes("vec4"), "channel vector → vec4");
  ok(spec([4, 12], [[4, 12], [4, 1]]).code.includes("vec4"), "row splat → vec4");
  ok(!spec([4, 7], [[4, 7], [7]]).code.includes("vec4"), "odd last dim → scalar");
  const red = (shape: number[], axes: number[]) =>
    reduceKernel({ op: "sum", exprs: [inp(0)], inputs: [f32(shape)], shape, axes, chunks: 1 }).code;
  ok(red([6, 8], [0]).includes("vec4"), "kept channels → vec4");
  ok(!red([6, 8], [1]).includes("vec4"), "reduced last dim → scalar");
});

Deno.test("map kernel vec4: i32 operands, in-place outputs and two outputs agree with the reference", async () => {
  const run = async (b: typeof cpu | typeof gpu) => {
    setBackend(b);
    const x = tensor(randn(48, 5), [4, 12]);
    const lab = tensor(Array.from({ length: 4 }, (_, i) => i * 3), [4, 1], "i32");
    const acc = tensor(randn(48, 6), [4, 12]);
    const [o0] = backend().map(
      [E.add(inp(0), E.mul(inp(1), inp(2))), E.mul(inp(0), E.cst(2))],
      [{ s: acc.storage, shape: acc.shape }, { s: x.storage, shape: x.shape }, {
        s: lab.storage,
        shape: lab.shape,
      }],
      [4, 12],
      { into: [acc.storage] },
    );
    ok(o0 === acc.storage, "in-place output reuses the input's storage");
    return await fromStorage(o0, [4, 12]).data();
  };
  assertClose(await run(gpu), await run(cpu), 1e-5, "in-place i32 map");
  setBackend(gpu);
});

Deno.test("reduce kernel: a long reduction's partial sums of several outputs are finished in as many passes as bindings allow", async () => {
  // A device granting 5 storage buffers (2 inputs + 3 partial sums in the first pass) finishes 2 outputs
  // per pass: 3 outputs take 2 passes.
  const small = withBindings(gpu, 5);
  const shape = [40, 60, 8], x = randn(size(shape), 7), y = randn(8, 8);
  const exprs = [inp(0), E.mul(inp(0), inp(1)), E.un("sin", inp(0))];
  const run = async (b: Backend) => {
    setBackend(b);
    const ins = [tensor(x, shape), tensor(y, [8])];
    const d0 = (gpu as WebGpuBackend).rt.stats.dispatches;
    const outs = T.reduceMany("sum", exprs, ins, shape, [0, 1]);
    const kernels = (gpu as WebGpuBackend).rt.stats.dispatches - d0;
    const data = await Promise.all(outs.map((o) => o.f32()));
    [...ins, ...outs].forEach((t) => t.dispose());
    return { data, kernels };
  };
  const ref = await run(cpu);
  const got = await run(small);
  got.data.forEach((d, j) => assertClose(d, ref.data[j], 1e-4, `output ${j}`));
  ok(got.kernels === 3, `partial sums + 2 finishing passes, got ${got.kernels} kernels`);
});

Deno.test("remembered kernels: constants JSON cannot tell apart (NaN, ±Infinity, -0) get their own sources", () => {
  const spec = (v: number) => ({
    exprs: [E.bin("max", inp(0), E.cst(v))],
    inputs: [{ shape: [8], dtype: "f32" as const }],
    shape: [8],
    outDtype: "f32" as const,
    alias: [-1],
  });
  const codes = [NaN, Infinity, -Infinity, 0, -0].map((v) => mapKernel(spec(v)).code);
  ok(new Set(codes).size === codes.length, "each constant generated its own kernel");
  ok(mapKernel(spec(Infinity)) === mapKernel(spec(Infinity)), "a repeated argument set is remembered");
});

Deno.test("mapGroups (one kernel over several tensors): WebGPU equals the reference, split by the binding budget", async () => {
  const { randn: rn } = await import("./helpers.ts");
  // Sizes on both sides of the vec4 condition, including 1 and sizes not a multiple of 4.
  const sizes = [1, 10, 128, 4096, 4098, 3, 5000];
  // Operands: 0 p (overwritten by output 0), 1 g, 2 buf (overwritten by output 1); output 2 fresh.
  const exprs = [
    E.sub(inp(0), E.mul(E.prm(0), E.add(E.mul(E.prm(1), inp(2)), inp(1)))),
    E.add(E.mul(E.prm(1), inp(2)), inp(1)),
    E.mul(E.un("sqrt", E.un("abs", inp(1))), E.cst(2)),
  ];
  const run = async (b: Backend) => {
    const groups = sizes.map((n, k) => {
      const [p, g, buf, out] = [0, 1, 2, 3].map((i) => b.upload(rn(n, 10 * k + i)));
      return { operands: [p, g, buf], into: [p, buf, out], size: n };
    });
    b.mapGroups(exprs, groups, [0.1, 0.9]);
    const outs: number[] = [];
    for (const g of groups) for (const s of g.into) outs.push(...await b.read(s));
    groups.forEach((g) => [...g.operands, g.into[2]].forEach((s) => b.free(s)));
    return outs;
  };
  const ref = await run(cpu);
  for (const budget of [32, 8, 4]) {
    const d0 = (gpu as WebGpuBackend).rt.stats.dispatches;
    const got = await run(withBindings(gpu, budget));
    const kernels = (gpu as WebGpuBackend).rt.stats.dispatches - d0;
    assertClose(got, ref, 1e-5, `mapGroups with ${budget} bindings`);
    // 4 bindings per group (g, p, buf, out) + the params: 7 groups fit in 1 kernel, 1 per kernel, or
    // none (4 - 1 < 4: each group falls back to a plain map).
    const expected = budget === 32 ? 1 : 7;
    ok(kernels === expected, `${kernels} kernels with ${budget} bindings, expected ${expected}`);
  }
});
