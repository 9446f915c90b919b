/**
 * Long chains on WebGPU: device memory and compiled pipelines stay flat over the steps (also with
 * gradients through the model at every step), progress counts done/total, Ctrl-C (an AbortSignal)
 * stops between steps without leaking, WebGPU agrees with the CPU reference, and a chain that goes
 * non-finite is reported.
 */
import { assertClose, cpu, gpu } from "../engine/helpers.ts";
import { GaussianPredictor } from "./predictors.ts";
import {
  ddimInvert,
  linearBetas,
  makeSchedule,
  modelGuidance,
  type NoisePredictor,
  sample,
  type SampleOptions,
  spacedSchedule,
} from "../../diffusion/mod.ts";
import type { WebGpuBackend } from "../../engine/webgpu/backend.ts";
import * as E from "../../engine/expr.ts";
import { inp } from "../../engine/expr.ts";
import { setBackend, type Tensor, tensor } from "../../engine/tensor.ts";
import * as T from "../../engine/ops/mod.ts";
import { deepStrictEqual as eq, ok, rejects } from "node:assert";

const BASE = makeSchedule(linearBetas(1000));
const MU = [[1.0, -0.5], [-1.0, 0.8], [0.0, 0.15]];
const SIGMA = [[0.5, 0.8], [0.7, 1.3], [1.1, 1.0]];
const model = (learnSigma = false) => new GaussianPredictor(BASE, MU, SIGMA, learnSigma, 0.1);
const stats = () => (gpu as WebGpuBackend).rt.stats;

const opts = (extra: Partial<SampleOptions> = {}): SampleOptions => ({
  method: "ddim",
  schedule: spacedSchedule(BASE, "ddim50"),
  labels: [0, 1, 2, 0],
  sampleShape: [4, 4, 2],
  seed: 8,
  cfg: { scale: 4 },
  ...extra,
});

Deno.test("chain (webgpu): memory and pipelines do not grow over 50 steps; progress reports done/total", async () => {
  setBackend(gpu);
  const guided = modelGuidance(({ x0 }) => T.sumOf(E.un("square", inp(0)), [x0]), -0.01);
  for (
    const extra of [{}, { guidance: guided }, {
      method: "ddpm" as const,
      schedule: spacedSchedule(BASE, "50"),
    }]
  ) {
    const warm = await sample(model(true), opts(extra));
    warm.dispose();
    const base = stats().liveBytes;
    const seen: { done: number; total: number; live: number; pipelines: number }[] = [];
    const out = await sample(model(true), {
      ...opts(extra),
      progress: {
        update: (done, total) =>
          seen.push({ done, total, live: stats().liveBytes, pipelines: stats().pipelines }),
        log() {},
      },
    });
    eq(seen.map((s) => [s.done, s.total]), Array.from({ length: 50 }, (_, k) => [k + 1, 50]));
    ok(
      seen.every((s) => s.live === seen[0].live),
      `live bytes per step: ${[...new Set(seen.map((s) => s.live))]}`,
    );
    ok(seen.every((s) => s.pipelines === seen[0].pipelines), "a kernel was compiled after the first step");
    out.dispose();
    eq(stats().liveBytes, base, "the chain left tensors behind");
  }
});

Deno.test("chain (webgpu): an abort stops between steps and frees everything", async () => {
  setBackend(gpu);
  const warm = await sample(model(), opts());
  warm.dispose();
  const base = stats().liveBytes;
  const ctl = new AbortController();
  let last = 0;
  await rejects(
    sample(model(), {
      ...opts(),
      signal: ctl.signal,
      progress: {
        update(done) {
          last = done;
          if (done === 3) ctl.abort();
        },
        log() {},
      },
    }),
    (e: unknown) => e instanceof DOMException && e.name === "AbortError",
  );
  eq(last, 3);
  eq(stats().liveBytes, base);
  // Inversion too, and it leaves the caller's x_0 alone.
  const x0 = tensor(new Float32Array(4 * 32).fill(0.3), [4, 4, 4, 2]);
  const ctl2 = new AbortController();
  ctl2.abort();
  await rejects(
    ddimInvert(model(), x0, {
      schedule: opts().schedule,
      labels: [0, 1, 2, 0],
      toIndex: 31,
      signal: ctl2.signal,
    }),
    (e: unknown) => e instanceof DOMException && e.name === "AbortError",
  );
  ok(!x0.disposed);
  x0.dispose();
  eq(stats().liveBytes, base);
});

Deno.test("chain: WebGPU agrees with the CPU reference and is deterministic on the device", async () => {
  const run = async (b: typeof cpu | typeof gpu, method: "ddpm" | "ddim") => {
    setBackend(b);
    const out = await sample(model(true), {
      ...opts(),
      method,
      schedule: spacedSchedule(BASE, method === "ddim" ? "ddim10" : "10"),
      ...(method === "ddim" ? { eta: 1 } : {}),
    });
    const d = await out.f32();
    out.dispose();
    return d;
  };
  for (const method of ["ddpm", "ddim"] as const) {
    const g = await run(gpu, method);
    eq(await run(gpu, method), g);
    assertClose(g, await run(cpu, method), 2e-4, `${method}: webgpu vs cpu`);
  }
});

Deno.test("chain: a predictor returning NaN is reported with the step", async () => {
  setBackend(cpu);
  const inner = model();
  const broken: NoisePredictor = {
    numClasses: inner.numClasses,
    learnSigma: false,
    predict(x: Tensor, t: Tensor, y: Tensor) {
      const eps = inner.predict(x, t, y);
      return inner.calls === 7 ? T.map(E.div(inp(0), E.cst(0)), [T.mul(eps, 0)]) : eps;
    },
  };
  await rejects(
    sample(broken, opts({ cfg: undefined })),
    /ddim sampling: non-finite values after step 7 \(index 43, t = 860\) of 50/,
  );
});
