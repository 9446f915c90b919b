/**
 * Optimizers against plain TypeScript re-implementations of PyTorch's update rules (f32 rounding
 * after every operation, as PyTorch's CPU kernels do), on the CPU reference and on WebGPU.
 */
import { ok } from "node:assert";
import { assertClose, cpu, gpu, randn } from "./helpers.ts";
import type { Backend } from "../../engine/backend.ts";
import type { WebGpuBackend } from "../../engine/webgpu/backend.ts";
import {
  Adam,
  type AdamOptions,
  AdamW,
  clipGradNorm,
  Ema,
  type Optimizer,
  SGD,
  type SgdOptions,
} from "../../engine/optim.ts";
import { noGrad, setBackend, type Tensor, tensor, tidy } from "../../engine/tensor.ts";
import { grad } from "../../engine/autograd.ts";
import * as T from "../../engine/ops/mod.ts";

const both = [["cpu", cpu], ["webgpu", gpu]] as const;
const fr = Math.fround;

// ---------------------------------------------------------------- PyTorch reference rules

interface RefOptimizer {
  lr: number;
  step(params: Float32Array[], grads: Float32Array[]): void;
  reset(): void;
}

/** torch.optim.SGD, single-tensor path. */
class RefSgd implements RefOptimizer {
  private bufs: Float32Array[] | null = null;
  lr: number;
  constructor(private readonly o: SgdOptions) {
    this.lr = o.lr;
  }
  step(params: Float32Array[], grads: Float32Array[]): void {
    const m = this.o.momentum ?? 0, damp = this.o.dampening ?? 0, wd = this.o.weightDecay ?? 0;
    const first = this.bufs === null;
    if (first) this.bufs = params.map((p) => new Float32Array(p.length));
    params.forEach((p, i) => {
      const buf = this.bufs![i];
      for (let j = 0; j < p.length; j++) {
        let d = wd !== 0 ? fr(grads[i][j] + fr(wd * p[j])) : grads[i][j];
        if (m !== 0) {
          buf[j] = first ? d : fr(fr(buf[j] * m) + fr(d * fr(1 - damp)));
          d = this.o.nesterov ? fr(d + fr(buf[j] * m)) : buf[j];
        }
        p[j] = fr(p[j] - fr(this.lr * d));
      }
    });
  }
  reset(): void {
    this.bufs = null;
  }
}

/** torch.optim.Adam / AdamW, single-tensor path (lerp for the first moment, addcdiv at the end). */
class RefAdam implements RefOptimizer {
  private m: Float32Array[] | null = null;
  private v: Float32Array[] | null = null;
  private t = 0;
  lr: number;
  constructor(private readonly o: AdamOptions, private readonly decoupled: boolean) {
    this.lr = o.lr;
  }
  step(params: Float32Array[], grads: Float32Array[]): void {
    const [b1, b2] = this.o.betas ?? [0.9, 0.999];
    const eps = this.o.eps ?? 1e-8, wd = this.o.weightDecay ?? (this.decoupled ? 0.01 : 0);
    if (!this.m) {
      this.m = params.map((p) => new Float32Array(p.length));
      this.v = params.map((p) => new Float32Array(p.length));
    }
    this.t++;
    const bc1 = 1 - b1 ** this.t, bc2 = 1 - b2 ** this.t;
    const stepSize = fr(this.lr / bc1), bc2Sqrt = fr(Math.sqrt(bc2));
    params.forEach((p, i) => {
      const m = this.m![i], v = this.v![i];
      for (let j = 0; j < p.length; j++) {
        if (this.decoupled) p[j] = fr(p[j] * fr(1 - this.lr * wd));
        const d = !this.decoupled && wd !== 0 ? fr(grads[i][j] + fr(wd * p[j])) : grads[i][j];
        m[j] = fr(m[j] + fr(fr(1 - b1) * fr(d - m[j])));
        v[j] = fr(fr(v[j] * b2) + fr(fr(d * d) * fr(1 - b2)));
        const denom = fr(fr(fr(Math.sqrt(v[j])) / bc2Sqrt) + fr(eps));
        p[j] = fr(p[j] - fr(stepSize * fr(m[j] / denom)));
      }
    });
  }
  reset(): void {
    this.m = this.v = null;
    this.t = 0;
  }
}

// ---------------------------------------------------------------- harness

const SHAPES = [[3, 4], [5], [2, 1, 3]];

const pipelines = (b: Backend) => (b.name === "webgpu" ? (b as WebGpuBackend).rt.stats.pipelines : 0);
const dispatches = (b: Backend) => (b.name === "webgpu" ? (b as WebGpuBackend).rt.stats.dispatches : 0);
const liveBytes = (b: Backend) => (b.name === "webgpu" ? (b as WebGpuBackend).rt.stats.liveBytes : 0);

/**
 * Runs `steps` optimizer steps with random gradients and a learning rate that changes every step,
 * resetting the state at `resets`; compares every parameter with the reference after every step,
 * and checks (on WebGPU) that after warm-up no step compiles a pipeline or leaks a buffer.
 */
async function compareWithReference(
  b: Backend,
  make: (ps: Tensor[]) => Optimizer,
  ref: RefOptimizer,
  what: string,
): Promise<void> {
  setBackend(b);
  const host = SHAPES.map((s, i) => randn(s.reduce((a, d) => a * d, 1), 100 + i));
  const params = host.map((h, i) => tensor(h, SHAPES[i]).keep().requireGrad());
  // A view taken before training must see every in-place update (references stay valid).
  const view = params[0].view([12]).keep();
  const opt = make(params);
  const resets = new Set([3, 7]);
  let warmPipes = -1, warmBytes = -1;
  const steps = 11;
  try {
    for (let s = 0; s < steps; s++) {
      if (resets.has(s)) {
        opt.reset();
        ref.reset();
        ok(opt.steps === 0, "reset clears the step count");
      }
      const lr = ref.lr = 0.05 * (1 + 0.3 * Math.sin(s)); // a new lr each step
      opt.setLr(lr);
      const g = SHAPES.map((sh, i) => randn(sh.reduce((a, d) => a * d, 1), 1000 * s + i, 2));
      tidy(() => {
        const gs = g.map((d, i) => tensor(d, SHAPES[i]));
        const before = dispatches(b);
        noGrad(() => opt.step(gs));
        if (b.name === "webgpu") {
          ok(dispatches(b) - before === 1, `${what}: one fused kernel for all parameter tensors`);
        }
      });
      ref.step(host, g);
      for (let i = 0; i < params.length; i++) {
        assertClose(await params[i].f32(), host[i], 2e-5, `${what} step ${s} param ${i}`);
      }
      assertClose(await view.f32(), host[0], 2e-5, `${what} step ${s} view`);
      // Warm after the first reset and one step following it: every kernel has been built once.
      if (s === 4) [warmPipes, warmBytes] = [pipelines(b), liveBytes(b)];
    }
    ok(opt.steps === steps - 7, `step count ${opt.steps}`);
    ok(
      pipelines(b) === warmPipes,
      `${what}: ${pipelines(b) - warmPipes} pipelines compiled after warm-up`,
    );
    ok(liveBytes(b) === warmBytes, `${what}: ${liveBytes(b) - warmBytes} bytes leaked per run`);
  } finally {
    opt.dispose();
    view.dispose();
    params.forEach((p) => p.dispose());
  }
}

const SGD_CASES: [string, SgdOptions][] = [
  ["plain", { lr: 0.1 }],
  ["momentum 0.9, wd 5e-4 (DC)", { lr: 0.01, momentum: 0.9, weightDecay: 5e-4 }],
  ["nesterov, wd 1e-2", { lr: 0.01, momentum: 0.9, weightDecay: 1e-2, nesterov: true }],
  ["momentum 0.5, dampening 0.3", { lr: 0.01, momentum: 0.5, dampening: 0.3 }],
];
const ADAM_CASES: [string, AdamOptions, boolean][] = [
  ["Adam defaults", { lr: 0.01 }, false],
  ["Adam wd 0.1 betas (0.5, 0.9)", { lr: 0.25, betas: [0.5, 0.9], weightDecay: 0.1 }, false],
  ["AdamW defaults (wd 0.01)", { lr: 0.001 }, true],
  ["AdamW wd 0.1 eps 1e-6", { lr: 0.001, weightDecay: 0.1, eps: 1e-6 }, true],
];

for (const [name, b] of both) {
  for (const [c, o] of SGD_CASES) {
    Deno.test(`optim ${name}: SGD ${c} matches PyTorch over steps, lr changes and resets`, async () => {
      await compareWithReference(b, (ps) => new SGD(ps, o), new RefSgd(o), `SGD ${c}`);
    });
  }
  for (const [c, o, decoupled] of ADAM_CASES) {
    Deno.test(`optim ${name}: ${c} matches PyTorch over steps, lr changes and resets`, async () => {
      const make = (ps: Tensor[]) => (decoupled ? new AdamW(ps, o) : new Adam(ps, o));
      await compareWithReference(b, make, new RefAdam(o, decoupled), c);
    });
  }

  Deno.test(`optim ${name}: clipGradNorm scales on the device, returns the norm`, async () => {
    setBackend(b);
    const shapes = [[3, 4], [7], [2, 2, 2], [1], [5, 3], [4], [6], [2, 9]]; // > 6 tensors: tree sum
    const host = shapes.map((s, i) => randn(s.reduce((a, d) => a * d, 1), 7 + i, 3));
    const total = Math.sqrt(host.reduce((a, h) => a + h.reduce((x, v) => x + v * v, 0), 0));
    const grads = host.map((h, i) => tensor(h, shapes[i]).keep());
    let warm = -1;
    try {
      for (const [k, maxNorm] of [total / 3, total * 2, total / 10, total * 5].entries()) {
        const out = tidy(() => {
          const r = clipGradNorm(grads, maxNorm);
          return [r.norm, ...r.grads];
        });
        const [norm, ...clipped] = out;
        ok(norm.shape.length === 0, "norm is a scalar tensor");
        assertClose([await norm.item()], [total], 1e-5, "norm");
        const coef = Math.min(1, maxNorm / (total + 1e-6));
        for (let i = 0; i < clipped.length; i++) {
          const want = coef === 1 ? host[i] : host[i].map((v) => v * coef);
          assertClose(await clipped[i].f32(), want, 1e-5, `clipped grad ${i} (maxNorm ${maxNorm})`);
        }
        assertClose(await grads[0].f32(), host[0], 1e-12, "inputs untouched");
        out.forEach((t) => t.dispose());
        if (k === 0) warm = pipelines(b);
      }
      ok(pipelines(b) === warm, "changing maxNorm compiles nothing");
      const single = tidy(() => clipGradNorm([grads[1]], 0.5));
      const n1 = Math.sqrt(host[1].reduce((x, v) => x + v * v, 0));
      assertClose([await single.norm.item()], [n1], 1e-5, "single-tensor norm");
      assertClose(
        await single.grads[0].f32(),
        host[1].map((v) => v * Math.min(1, 0.5 / (n1 + 1e-6))),
        1e-5,
        "one",
      );
      single.norm.dispose();
      single.grads[0].dispose();
    } finally {
      grads.forEach((g) => g.dispose());
    }
  });

  Deno.test(`optim ${name}: Ema tracks parameters in place; copyTo / copyFrom`, async () => {
    setBackend(b);
    const host = SHAPES.map((s, i) => randn(s.reduce((a, d) => a * d, 1), 50 + i));
    const params = host.map((h, i) => tensor(h, SHAPES[i]).keep());
    const shadow = host.map((h) => h.slice());
    const ema = new Ema(params, 0.9);
    const sgd = new SGD(params, { lr: 0.5 });
    let warm = -1;
    try {
      for (let s = 0; s < 6; s++) {
        const g = SHAPES.map((sh, i) => randn(sh.reduce((a, d) => a * d, 1), 77 * s + i));
        tidy(() => sgd.step(g.map((d, i) => tensor(d, SHAPES[i]))));
        host.forEach((h, i) => h.forEach((v, j) => (h[j] = fr(v - fr(0.5 * g[i][j])))));
        const decay = 0.9 + 0.015 * s; // a changing decay (warm-up schedules) must not recompile
        ema.update(decay);
        shadow.forEach((sh, i) =>
          sh.forEach((v, j) => (sh[j] = fr(fr(decay * v) + fr(fr(1 - decay) * host[i][j]))))
        );
        for (let i = 0; i < params.length; i++) {
          assertClose(await ema.shadow[i].f32(), shadow[i], 2e-6, `shadow ${i} step ${s}`);
        }
        if (s === 0) warm = pipelines(b);
      }
      ok(pipelines(b) === warm, "EMA steps with new decays compile nothing");
      ema.copyTo();
      for (let i = 0; i < params.length; i++) {
        assertClose(await params[i].f32(), shadow[i], 2e-6, `copyTo ${i}`);
      }
      const others = SHAPES.map((s, i) => tensor(randn(s.reduce((a, d) => a * d, 1), 900 + i), s).keep());
      ema.copyFrom(others);
      for (let i = 0; i < params.length; i++) {
        assertClose(await ema.shadow[i].f32(), await others[i].f32(), 1e-12, `copyFrom ${i}`);
      }
      others.forEach((t) => t.dispose());
    } finally {
      ema.dispose();
      sgd.dispose();
      params.forEach((p) => p.dispose());
    }
  });

  Deno.test(`optim ${name}: a tiny linear regression trains with every optimizer`, async () => {
    setBackend(b);
    const n = 32, d = 4;
    const xs = randn(n * d, 5);
    const wTrue = [1, -2, 0.5, 3], bTrue = 0.7;
    const ys = Float32Array.from(
      { length: n },
      (_, i) => wTrue.reduce((a, w, k) => a + w * xs[i * d + k], bTrue),
    );
    const X = tensor(xs, [n, d]).keep(), Y = tensor(ys, [n, 1]).keep();
    const makers: [string, (ps: Tensor[]) => Optimizer][] = [
      ["SGD", (ps) => new SGD(ps, { lr: 0.1 })],
      [
        "SGD nesterov + wd",
        (ps) => new SGD(ps, { lr: 0.05, momentum: 0.9, nesterov: true, weightDecay: 1e-4 }),
      ],
      ["Adam", (ps) => new Adam(ps, { lr: 0.1 })],
      ["AdamW", (ps) => new AdamW(ps, { lr: 0.1, weightDecay: 0.01 })],
    ];
    try {
      for (const [what, make] of makers) {
        const w = tensor(new Float32Array(d), [d, 1]).keep().requireGrad();
        const bias = tensor([0], [1]).keep().requireGrad();
        const opt = make([w, bias]);
        const losses: number[] = [];
        for (let s = 0; s < 80; s++) {
          const loss = tidy(() => {
            const l = T.mean(T.square(T.sub(T.add(T.matmul(X, w), bias), Y)));
            const gs = grad(l, [w, bias]);
            noGrad(() => opt.step(gs));
            return l.detach();
          });
          if (s === 0 || s === 79) losses.push(await loss.item());
          loss.dispose();
        }
        opt.dispose();
        w.dispose();
        bias.dispose();
        ok(losses[1] < 0.02 * losses[0], `${what}: loss ${losses[0]} → ${losses[1]}`);
      }
    } finally {
      X.dispose();
      Y.dispose();
    }
  });
}

Deno.test("optim: argument checks", () => {
  setBackend(cpu);
  const p = tensor([1, 2, 3]).keep();
  const threw = (fn: () => unknown) => {
    try {
      fn();
      return false;
    } catch {
      return true;
    }
  };
  ok(threw(() => new SGD([p], { lr: 0.1, nesterov: true })), "nesterov without momentum");
  ok(threw(() => new SGD([p], { lr: -1 })), "negative lr");
  ok(threw(() => new Adam([p], { lr: 0.1, betas: [1, 0.9] })), "beta1 = 1");
  ok(threw(() => new Ema([p], 1.5)), "decay > 1");
  ok(threw(() => clipGradNorm([p], 0)), "maxNorm 0");
  const opt = new SGD([p], { lr: 0.1 });
  ok(threw(() => opt.step([])), "gradient count");
  ok(threw(() => tidy(() => opt.step([tensor([1, 2])]))), "gradient size");
  ok(threw(() => new SGD([tensor([1], [1], "i32")], { lr: 0.1 })), "i32 parameter");
  opt.dispose();
  p.dispose();
});
