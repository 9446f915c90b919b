/**
 * Optimizers as fused in-place updates: one elementwise kernel per step rewrites every parameter
 * and all of its state at once (several outputs written `into` the existing storages, all tensors in
 * one multi-tensor kernel as far as the binding budget allows: ConvNet-3's 14 tensors with momentum
 * in two), and parameter references held elsewhere (model layers, autodiff leaves) stay valid. Every scalar — learning rate, bias corrections, betas, weight
 * decay — reaches the kernel as a runtime parameter (`prm`), never as a constant: a schedule that
 * changes the lr each step, or an evaluator that rebuilds its optimizer with other settings, reuses
 * the compiled pipelines.
 *
 * Update rules follow PyTorch (torch.optim.SGD / Adam / AdamW, single-tensor code path) so that
 * hyperparameters taken from reference implementations mean the same thing here.
 */
import type { Backend, MapGroup } from "./backend.ts";
import * as E from "./expr.ts";
import { type Expr, inp, prm } from "./expr.ts";
import { fill } from "./ops/create.ts";
import { map as mapOp, sumOf } from "./ops/elementwise.ts";
import { fmtShape } from "./shape.ts";
import { assign } from "./assign.ts";
import { backend, fromStorage, noGrad, type Tensor } from "./tensor.ts";

/** What every optimizer offers; training loops depend on this, not on a concrete class. */
export interface Optimizer {
  readonly params: readonly Tensor[];
  /** The learning rate the next step uses. */
  readonly lr: number;
  /** Steps taken since construction or the last reset (Adam's bias-correction counter). */
  readonly steps: number;
  /** Applies one update from `grads` (same order and sizes as `params`); no readback, no allocation kept. */
  step(grads: readonly Tensor[]): void;
  setLr(lr: number): void;
  /**
   * Zeroes all state (momentum, moments, step count): what rebuilding the optimizer does in the
   * reference code, e.g. DC's evaluator at its lr drop.
   */
  reset(): void;
  /** Frees the state tensors; the parameters are the caller's. */
  dispose(): void;
}

// ---------------------------------------------------------------- shared machinery

/** Checks parameters are f32 tensors and returns the backend that owns them. */
function checkParams(params: readonly Tensor[], what: string): Backend {
  params.forEach((p, i) => {
    if (p.dtype !== "f32") {
      throw new Error(`${what}: parameter ${i} is ${p.dtype}, only f32 can be optimised`);
    }
    if (p.disposed) throw new Error(`${what}: parameter ${i} is disposed`);
  });
  return backend();
}

function checkGrads(params: readonly Tensor[], grads: readonly Tensor[], what: string): void {
  if (grads.length !== params.length) {
    throw new Error(`${what}: ${grads.length} gradients for ${params.length} parameters`);
  }
  grads.forEach((g, i) => {
    // Sizes must match; shapes may differ (a gradient of a reshaped view updates the same elements).
    if (g.size !== params[i].size || g.dtype !== "f32") {
      throw new Error(
        `${what}: gradient ${i} ${fmtShape(g.shape)}:${g.dtype} does not fit parameter ${
          fmtShape(params[i].shape)
        }`,
      );
    }
  });
}

/** A zero state tensor shaped like `p`, alive until dispose() (not owned by any tidy scope). */
function zerosLike(p: Tensor): Tensor {
  return noGrad(() => fill(p.shape, 0)).keep();
}

/**
 * One tensor's share of a fused update over all parameters (`Backend.mapGroups`): outputs written
 * into `into` in place, operands read before being overwritten.
 */
function group(operands: readonly Tensor[], into: readonly Tensor[]): MapGroup {
  return { operands: operands.map((t) => t.storage), into: into.map((t) => t.storage), size: into[0].size };
}

function zeroInPlace(b: Backend, ts: readonly Tensor[]): void {
  b.mapGroups([E.cst(0)], ts.map((t) => group([], [t])));
}

function checkLr(lr: number, what: string): void {
  if (!(Number.isFinite(lr) && lr >= 0)) throw new Error(`${what}: invalid learning rate ${lr}`);
}

// ---------------------------------------------------------------- SGD

export interface SgdOptions {
  lr: number;
  /** Heavy-ball momentum (0 disables the buffer). */
  momentum?: number;
  /** PyTorch's dampening: the gradient enters the buffer with weight (1 − dampening). Default 0. */
  dampening?: number;
  /** L2 penalty added to the gradient (PyTorch semantics: g + wd·p, before momentum). */
  weightDecay?: number;
  nesterov?: boolean;
}

/**
 * torch.optim.SGD: d = g + wd·p; buf = d on the first step, else momentum·buf + (1 − dampening)·d;
 * update = nesterov ? d + momentum·buf : buf; p -= lr·update.
 */
export class SGD implements Optimizer {
  readonly params: readonly Tensor[];
  private readonly b: Backend;
  private readonly bufs: Tensor[];
  private readonly momentum: number;
  private readonly dampening: number;
  private readonly weightDecay: number;
  private readonly exprs: Expr[];
  private _lr: number;
  private _steps = 0;

  constructor(params: readonly Tensor[], opts: SgdOptions) {
    this.b = checkParams(params, "SGD");
    checkLr(opts.lr, "SGD");
    this.params = [...params];
    this._lr = opts.lr;
    this.momentum = opts.momentum ?? 0;
    this.dampening = opts.dampening ?? 0;
    this.weightDecay = opts.weightDecay ?? 0;
    if (this.momentum < 0 || this.weightDecay < 0) {
      throw new Error("SGD: momentum and weight decay must be ≥ 0");
    }
    if (opts.nesterov && (this.momentum <= 0 || this.dampening !== 0)) {
      throw new Error("SGD: nesterov needs momentum > 0 and dampening 0 (as PyTorch)");
    }
    this.bufs = this.momentum > 0 ? params.map(zerosLike) : [];
    // Inputs: 0 param, 1 grad, 2 momentum buffer. Params: 0 lr, 1 wd, 2 buffer keep factor,
    // 3 gradient factor, 4 momentum (nesterov look-ahead).
    const p = inp(0), g = inp(1), buf = inp(2);
    const d = E.add(g, E.mul(prm(1), p));
    if (this.momentum > 0) {
      const nb = E.add(E.mul(prm(2), buf), E.mul(prm(3), d));
      const upd = opts.nesterov ? E.add(d, E.mul(prm(4), nb)) : nb;
      this.exprs = [E.sub(p, E.mul(prm(0), upd)), nb];
    } else {
      this.exprs = [E.sub(p, E.mul(prm(0), d))];
    }
  }

  get lr(): number {
    return this._lr;
  }
  get steps(): number {
    return this._steps;
  }
  setLr(lr: number): void {
    checkLr(lr, "SGD");
    this._lr = lr;
  }

  step(grads: readonly Tensor[]): void {
    checkGrads(this.params, grads, "SGD");
    // PyTorch initialises the buffer to the first gradient: keep factor 0 and gradient factor 1 on
    // the first step (the zeroed buffer contributes exactly 0), so one kernel serves every step.
    const first = this._steps === 0;
    const ps = [
      this._lr,
      this.weightDecay,
      first ? 0 : this.momentum,
      first ? 1 : 1 - this.dampening,
      this.momentum,
    ];
    const groups = this.params.map((p, i) =>
      this.momentum > 0 ? group([p, grads[i], this.bufs[i]], [p, this.bufs[i]]) : group([p, grads[i]], [p])
    );
    this.b.mapGroups(this.exprs, groups, ps);
    this._steps++;
  }

  reset(): void {
    zeroInPlace(this.b, this.bufs);
    this._steps = 0;
  }

  dispose(): void {
    for (const t of this.bufs) t.dispose();
    this.bufs.length = 0;
  }
}

// ---------------------------------------------------------------- Adam / AdamW

export interface AdamOptions {
  lr: number;
  betas?: readonly [number, number];
  eps?: number;
  /** Adam: L2 added to the gradient; AdamW: decoupled decay p ← p·(1 − lr·wd). */
  weightDecay?: number;
}

/**
 * torch.optim.Adam / AdamW (amsgrad off): m = lerp(m, d, 1 − β1); v = β2·v + (1 − β2)·d²;
 * p -= (lr / (1 − β1ᵗ)) · m / (√v / √(1 − β2ᵗ) + eps), with eps outside the square root.
 */
class AdamBase implements Optimizer {
  readonly params: readonly Tensor[];
  private readonly b: Backend;
  private readonly m: Tensor[];
  private readonly v: Tensor[];
  private readonly beta1: number;
  private readonly beta2: number;
  private readonly eps: number;
  private readonly weightDecay: number;
  private readonly exprs: Expr[];
  private _lr: number;
  private _steps = 0;

  constructor(params: readonly Tensor[], opts: AdamOptions, private readonly decoupled: boolean) {
    const what = decoupled ? "AdamW" : "Adam";
    this.b = checkParams(params, what);
    checkLr(opts.lr, what);
    this.params = [...params];
    this._lr = opts.lr;
    [this.beta1, this.beta2] = opts.betas ?? [0.9, 0.999];
    this.eps = opts.eps ?? 1e-8;
    this.weightDecay = opts.weightDecay ?? (decoupled ? 0.01 : 0);
    for (const [k, x] of [["beta1", this.beta1], ["beta2", this.beta2]] as const) {
      if (!(x >= 0 && x < 1)) throw new Error(`${what}: ${k} must be in [0, 1), got ${x}`);
    }
    if (!(this.eps >= 0) || !(this.weightDecay >= 0)) {
      throw new Error(`${what}: eps and weight decay must be ≥ 0`);
    }
    this.m = params.map(zerosLike);
    this.v = params.map(zerosLike);
    // Inputs: 0 param, 1 grad, 2 m, 3 v. Params: 0 step size lr/(1 − β1ᵗ), 1 √(1 − β2ᵗ), 2 1 − β1,
    // 3 β2, 4 1 − β2, 5 eps, 6 L2 weight decay (Adam), 7 decoupled decay factor 1 − lr·wd (AdamW).
    const p = inp(0), g = inp(1), m = inp(2), v = inp(3);
    const p0 = decoupled ? E.mul(p, prm(7)) : p;
    const d = decoupled ? g : E.add(g, E.mul(prm(6), p));
    const nm = E.add(m, E.mul(prm(2), E.sub(d, m)));
    const nv = E.add(E.mul(prm(3), v), E.mul(prm(4), E.mul(d, d)));
    const denom = E.add(E.div(E.un("sqrt", nv), prm(1)), prm(5));
    this.exprs = [E.sub(p0, E.mul(prm(0), E.div(nm, denom))), nm, nv];
  }

  get lr(): number {
    return this._lr;
  }
  get steps(): number {
    return this._steps;
  }
  setLr(lr: number): void {
    checkLr(lr, this.decoupled ? "AdamW" : "Adam");
    this._lr = lr;
  }

  step(grads: readonly Tensor[]): void {
    checkGrads(this.params, grads, this.decoupled ? "AdamW" : "Adam");
    const t = this._steps + 1;
    // Bias corrections in double precision on the host, as PyTorch computes them in Python floats.
    const bc1 = 1 - Math.pow(this.beta1, t), bc2 = 1 - Math.pow(this.beta2, t);
    const ps = [
      this._lr / bc1,
      Math.sqrt(bc2),
      1 - this.beta1,
      this.beta2,
      1 - this.beta2,
      this.eps,
      this.decoupled ? 0 : this.weightDecay,
      this.decoupled ? 1 - this._lr * this.weightDecay : 1,
    ];
    const groups = this.params.map((p, i) =>
      group([p, grads[i], this.m[i], this.v[i]], [p, this.m[i], this.v[i]])
    );
    this.b.mapGroups(this.exprs, groups, ps);
    this._steps = t;
  }

  reset(): void {
    zeroInPlace(this.b, this.m);
    zeroInPlace(this.b, this.v);
    this._steps = 0;
  }

  /** The moment tensors (every parameter's m, then every v): what a resumable checkpoint saves and writes back. */
  get state(): readonly Tensor[] {
    return [...this.m, ...this.v];
  }

  /** Sets the step counter (bias corrections) of an optimizer whose `state` was restored from a checkpoint. */
  restoreSteps(steps: number): void {
    if (!Number.isInteger(steps) || steps < 0) throw new Error(`restoreSteps: invalid step count ${steps}`);
    this._steps = steps;
  }

  dispose(): void {
    for (const t of [...this.m, ...this.v]) t.dispose();
    this.m.length = 0;
    this.v.length = 0;
  }
}

/** torch.optim.Adam: weight decay is an L2 term added to the gradient (default 0). */
export class Adam extends AdamBase {
  constructor(params: readonly Tensor[], opts: AdamOptions) {
    super(params, opts, false);
  }
}

/** torch.optim.AdamW: decoupled weight decay p ← p·(1 − lr·wd) before the Adam step (default wd 0.01). */
export class AdamW extends AdamBase {
  constructor(params: readonly Tensor[], opts: AdamOptions) {
    super(params, opts, true);
  }
}

// ---------------------------------------------------------------- gradient clipping

/** WebGPU guarantees 8 storage buffers per stage: 6 partial sums + 1 output leave room to spare. */
const SUM_FANIN = 6;

/**
 * torch.nn.utils.clip_grad_norm_ without the host round trip: the global L2 norm and the factor
 * min(1, maxNorm / (norm + 1e-6)) stay on the device and the factor is broadcast into every
 * gradient. Returns new gradient tensors (the inputs are untouched) and the norm as a scalar
 * tensor, both in the current scope. A non-finite norm is not an error here (PyTorch's default);
 * read `norm` back if the caller wants to skip such steps.
 */
export function clipGradNorm(grads: readonly Tensor[], maxNorm: number): { grads: Tensor[]; norm: Tensor } {
  if (!(maxNorm > 0)) throw new Error(`clipGradNorm: maxNorm must be > 0, got ${maxNorm}`);
  if (grads.length === 0) throw new Error("clipGradNorm: no gradients");
  return noGrad(() => {
    let partial: Tensor[] = grads.map((g) => sumOf(E.un("square", inp(0)), [g]));
    // Tree-sum the per-tensor squared norms in a few small kernels.
    while (partial.length > 1) {
      const next: Tensor[] = [];
      for (let i = 0; i < partial.length; i += SUM_FANIN) {
        const group = partial.slice(i, i + SUM_FANIN);
        if (group.length === 1) next.push(group[0]);
        else {
          next.push(mapOp(group.slice(1).reduce<Expr>((acc, _, j) => E.add(acc, inp(j + 1)), inp(0)), group));
          group.forEach((t) => t.dispose());
        }
      }
      partial = next;
    }
    const sq = partial[0];
    const b = backend();
    const norm = E.un("sqrt", inp(0));
    // maxNorm as a runtime parameter: callers that vary it do not recompile.
    const coef = E.bin("min", E.div(prm(0), E.add(norm, E.cst(1e-6))), E.cst(1));
    const [ns, cs] = b.map([norm, coef], [{ s: sq.storage, shape: [] }], [], { params: [maxNorm] });
    sq.dispose();
    const normT = fromStorage(ns, []), coefT = fromStorage(cs, []);
    const out = grads.map((g) => mapOp(E.mul(inp(0), inp(1)), [g, coefT]));
    coefT.dispose();
    return { grads: out, norm: normT };
  });
}

// ---------------------------------------------------------------- EMA

/**
 * Exponential moving average of parameters (timm ModelEmaV2 / DiT training): shadow ← decay·shadow
 * + (1 − decay)·param, in place, one kernel per tensor, decay as a runtime parameter so warm-up
 * schedules of the decay do not recompile.
 */
export class Ema {
  readonly params: readonly Tensor[];
  readonly shadow: readonly Tensor[];
  private readonly b: Backend;
  decay: number;

  constructor(params: readonly Tensor[], decay: number) {
    this.b = checkParams(params, "Ema");
    checkDecay(decay);
    this.params = [...params];
    this.decay = decay;
    this.shadow = params.map((p) => {
      const [s] = this.b.map([inp(0)], [{ s: p.storage, shape: p.shape }], p.shape);
      return fromStorage(s, p.shape).keep();
    });
  }

  /** One EMA step from the current parameters (`decay` overrides the stored one for this step). */
  update(decay = this.decay): void {
    checkDecay(decay);
    const ex = [E.add(E.mul(prm(0), inp(0)), E.mul(prm(1), inp(1)))];
    this.b.mapGroups(ex, this.params.map((p, i) => group([this.shadow[i], p], [this.shadow[i]])), [
      decay,
      1 - decay,
    ]);
  }

  /** Writes the averaged weights into `targets` (default: the tracked parameters), e.g. for evaluation. */
  copyTo(targets: readonly Tensor[] = this.params): void {
    this.checkTargets(targets);
    targets.forEach((t, i) => assign(t, this.shadow[i]));
  }

  /** Resets the average to `sources` (default: the tracked parameters). */
  copyFrom(sources: readonly Tensor[] = this.params): void {
    this.checkTargets(sources);
    sources.forEach((s, i) => assign(this.shadow[i], s));
  }

  dispose(): void {
    for (const t of this.shadow) t.dispose();
  }

  private checkTargets(ts: readonly Tensor[]): void {
    if (ts.length !== this.shadow.length || ts.some((t, i) => t.size !== this.shadow[i].size)) {
      throw new Error("Ema: tensors do not match the tracked parameters");
    }
  }
}

function checkDecay(d: number): void {
  if (!(d >= 0 && d <= 1)) throw new Error(`Ema: decay must be in [0, 1], got ${d}`);
}
