/**
 * Pointwise ops and reductions, all defined by one `Expr`: the forward kernel, the reference and the
 * backward (symbolic derivative of the expression, itself a map/reduce) come from that description.
 */
import * as E from "../expr.ts";
import { type Expr, inp } from "../expr.ts";
import { broadcastAxes, broadcastShapes, normAxes, reducedShape, sameShape, type Shape } from "../shape.ts";
import { backend, fromStorage, isGradEnabled, needsGrad, record, type Tensor } from "../tensor.ts";
import type { ReduceOp } from "../backend.ts";

export type Scalar = number;
export type TensorLike = Tensor | Scalar;

/** Elementwise `expr` over broadcast inputs; differentiable w.r.t. every f32 input. */
export function map(expr: Expr, inputs: readonly Tensor[], params?: readonly number[]): Tensor {
  return mapMany([expr], inputs, params)[0];
}

/** Several elementwise exprs over the same inputs in one kernel (one read of them); each output differentiable. */
export function mapMany(
  exprs: readonly Expr[],
  inputs: readonly Tensor[],
  params?: readonly number[],
): Tensor[] {
  return mapTo(exprs, inputs, broadcastShapes(...inputs.map((t) => t.shape)), params);
}

/** mapMany with the output shape given (the inputs broadcast to it; some may be unread). */
function mapTo(
  exprs: readonly Expr[],
  inputs: readonly Tensor[],
  shape: Shape,
  params?: readonly number[],
): Tensor[] {
  if (overBudget(exprs.length, inputs.length, params)) {
    if (exprs.length > 1) return exprs.flatMap((e) => mapTo([e], inputs, shape, params));
    const f = fitBindings(exprs[0], inputs, params);
    return mapTo([f.expr], f.inputs, shape, params);
  }
  const outs = backend().map(exprs, inputs.map((t) => ({ s: t.storage, shape: t.shape })), shape, { params });
  return outs.map((s, j) =>
    record(fromStorage(s, shape), "map", inputs, (g) => mapGrads(exprs[j], inputs, g, shape, params))
  );
}

/** Storage buffers a kernel has for its inputs and outputs once its params (if any) are bound. */
function freeBuffers(params?: readonly number[]): number {
  return backend().maxKernelBuffers - (params?.length ? 1 : 0);
}

/** A kernel with these outputs and inputs binds more buffers than the device has. */
function overBudget(outputs: number, inputs: number, params?: readonly number[]): boolean {
  return outputs + inputs > freeBuffers(params);
}

/**
 * Rewrites a one-output expression to read at most as many tensors as one kernel can bind beside its
 * output and params (WebGPU guarantees 8 storage buffers per kernel; lavapipe offers 32, so this only
 * runs on tight devices). Second-order gradients of normalisations read more: their subexpressions are
 * computed first, bottom-up, as differentiable maps of their own (each distinct one once), and read as one
 * input each. Returns the rewritten expression over the tensors it reads.
 */
function fitBindings(
  expr: Expr,
  inputs: readonly Tensor[],
  params?: readonly number[],
): { expr: Expr; inputs: Tensor[] } {
  const room = freeBuffers(params) - 1;
  // Every node has at most 3 operands, so 3 tensors per kernel always suffice.
  if (room < 3) {
    throw new Error(
      `the device binds ${backend().maxKernelBuffers} storage buffers per kernel; ddrepro needs ` +
        `${backend().maxKernelBuffers - room + 3}`,
    );
  }
  const ins = [...inputs];
  const made = new Map<string, number>();
  type Cut = { e: Expr; reads: Set<number> };
  const materialize = (c: Cut): Cut => {
    const key = E.exprKey(c.e);
    let at = made.get(key);
    if (at === undefined) {
      const ids = [...c.reads].sort((a, b) => a - b);
      const local = E.renumberInputs(c.e, (i) => ids.indexOf(i));
      at = ins.push(map(local, ids.map((i) => ins[i]), params)) - 1;
      made.set(key, at);
    }
    return { e: inp(at), reads: new Set([at]) };
  };
  const cut = (e: Expr): Cut => {
    if (e.k === "in") return { e, reads: new Set([e.i]) };
    if (e.k === "c" || e.k === "p") return { e, reads: new Set() };
    const kids = (e.k === "u" ? [e.a] : e.k === "b" ? [e.a, e.b] : [e.c, e.a, e.b]).map(cut);
    const union = () => new Set(kids.flatMap((k) => [...k.reads]));
    for (let u = union(); u.size > room; u = union()) {
      // The operand reading the most tensors becomes one (it fits a kernel: it was cut itself).
      const j = kids.reduce((b, k, i) => (k.reads.size > kids[b].reads.size ? i : b), 0);
      kids[j] = materialize(kids[j]);
    }
    const [a, b, c] = kids.map((k) => k.e);
    const rebuilt: Expr = e.k === "u"
      ? { ...e, a }
      : e.k === "b"
      ? { ...e, a, b }
      : { ...e, c: a, a: b, b: c };
    return { e: rebuilt, reads: union() };
  };
  const top = cut(expr);
  const ids = [...top.reads].sort((a, b) => a - b);
  return { expr: E.renumberInputs(top.e, (i) => ids.indexOf(i)), inputs: ids.map((i) => ins[i]) };
}

/**
 * The input gradients of a map (or of a sum reduction, whose incoming gradient broadcasts back).
 * Gradients reduced over the same axes (none for full-shape inputs) share one kernel with an output
 * each, as they read the same inputs: binary ops with both operands trainable and normalisations
 * with several per-channel statistics are common in second-order graphs, where every gradient kernel
 * is a full pass over the tensors.
 */
function mapGrads(
  expr: Expr,
  inputs: readonly Tensor[],
  g: Tensor,
  shape: Shape,
  params?: readonly number[],
): (Tensor | null)[] {
  const n = inputs.length;
  const all = [...inputs, g];
  // Inputs the expression does not read (other outputs' operands in a fused kernel) get no gradient.
  const d = inputs.map((x, i) => needsGrad(x) && E.dependsOn(expr, i) ? E.derivative(expr, i, inp(n)) : null);
  const groups = new Map<string, number[]>();
  inputs.forEach((x, i) => {
    if (d[i] === null || passThrough(d[i]!, all, x.shape)) return;
    const key = broadcastAxes(x.shape, shape).join(",");
    if (!groups.has(key)) groups.set(key, []);
    groups.get(key)!.push(i);
  });
  const out: (Tensor | null)[] = inputs.map(() => null);
  const room = freeBuffers(params) - all.length;
  for (const idx of groups.values()) {
    const axes = broadcastAxes(inputs[idx[0]].shape, shape);
    for (let at = 0; at + 1 < idx.length && room > 1; at += room) {
      const part = idx.slice(at, at + room);
      const exprs = part.map((i) => d[i]!);
      const rs = axes.length
        ? reduceMany("sum", exprs, all, shape, axes, params)
        : mapMany(exprs, all, params);
      part.forEach((i, j) => {
        out[i] = sameShape(rs[j].shape, inputs[i].shape) ? rs[j] : reshapeView(rs[j], inputs[i].shape);
      });
    }
  }
  return out.map((o, i) => o ?? (d[i] === null ? null : sumTo(d[i]!, all, shape, inputs[i].shape, params)));
}

/** sumTo's no-kernel case: the derivative is the incoming gradient itself, outside a higher-order graph. */
function passThrough(e: Expr, inputs: readonly Tensor[], target: Shape): e is { k: "in"; i: number } {
  return e.k === "in" && sameShape(inputs[e.i].shape, target) && !isGradEnabled();
}

/** Evaluates `expr` over `inputs` (full shape `shape`) summed down to `target` (a broadcast source). */
function sumTo(
  expr: Expr,
  inputs: readonly Tensor[],
  shape: Shape,
  target: Shape,
  params?: readonly number[],
): Tensor {
  const axes = broadcastAxes(target, shape);
  if (axes.length === 0) {
    // d(a + b)/da is the incoming gradient itself: no kernel. Not when building a graph for higher
    // orders, where the pass-through handle must stay connected to it.
    if (passThrough(expr, inputs, target)) return inputs[expr.i];
    const r = map(expr, inputs, params);
    return sameShape(r.shape, target) ? r : reshapeView(r, target);
  }
  return reshapeView(reduceExpr("sum", expr, inputs, shape, axes, params), target);
}

/** Differentiable reshape (storage shared). */
export function reshapeView(x: Tensor, shape: Shape): Tensor {
  const out = x.view(shape);
  return record(out, "reshape", [x], (g) => [reshapeView(g, x.shape)]);
}

/** Reduces `expr` over `axes` of the full broadcast shape; result has keepdims shape. */
export function reduceExpr(
  op: ReduceOp,
  expr: Expr,
  inputs: readonly Tensor[],
  shape: Shape,
  axes: readonly number[],
  params?: readonly number[],
): Tensor {
  return reduceMany(op, [expr], inputs, shape, axes, params)[0];
}

/** Several expressions over the same inputs reduced over the same axes in one kernel; each differentiable. */
export function reduceMany(
  op: ReduceOp,
  exprs: readonly Expr[],
  inputs: readonly Tensor[],
  shape: Shape,
  axes: readonly number[],
  params?: readonly number[],
): Tensor[] {
  if (overBudget(exprs.length, inputs.length, params)) {
    if (exprs.length > 1) return exprs.flatMap((e) => reduceMany(op, [e], inputs, shape, axes, params));
    const f = fitBindings(exprs[0], inputs, params);
    return reduceMany(op, [f.expr], f.inputs, shape, axes, params);
  }
  const ss = backend().reduce(
    op,
    exprs,
    inputs.map((t) => ({ s: t.storage, shape: t.shape })),
    shape,
    axes,
    params,
  );
  const n = inputs.length;
  return ss.map((s, j) => {
    const out = fromStorage(s, reducedShape(shape, axes));
    return record(out, `reduce-${op}`, inputs, (g) => {
      if (op === "sum") return mapGrads(exprs[j], inputs, g, shape, params);
      // max/min: the gradient flows to the elements equal to the extremum.
      const mask = E.where(E.bin("eq", exprs[j], inp(n + 1)), inp(n), E.cst(0));
      return inputs.map((x, i) =>
        needsGrad(x)
          ? sumTo(E.derivative(exprs[j], i, mask), [...inputs, g, out.detach()], shape, x.shape, params)
          : null
      );
    });
  });
}

// ---------------------------------------------------------------- binary / unary helpers
function lift(xs: readonly TensorLike[]): { exprs: Expr[]; tensors: Tensor[] } {
  const tensors: Tensor[] = [];
  const exprs = xs.map((x) => {
    if (typeof x === "number") return E.cst(x);
    tensors.push(x);
    return inp(tensors.length - 1);
  });
  return { exprs, tensors };
}

function binary(op: E.BinaryOp, a: TensorLike, b: TensorLike): Tensor {
  const { exprs, tensors } = lift([a, b]);
  if (tensors.length === 0) throw new Error(`${op}: needs at least one tensor`);
  return map(E.bin(op, exprs[0], exprs[1]), tensors);
}

const unary = (op: E.UnaryOp) => (x: Tensor): Tensor => map(E.un(op, inp(0)), [x]);

export const add = (a: TensorLike, b: TensorLike) => binary("add", a, b);
export const sub = (a: TensorLike, b: TensorLike) => binary("sub", a, b);
export const mul = (a: TensorLike, b: TensorLike) => binary("mul", a, b);
export const div = (a: TensorLike, b: TensorLike) => binary("div", a, b);
export const pow = (a: TensorLike, b: TensorLike) => binary("pow", a, b);
export const maximum = (a: TensorLike, b: TensorLike) => binary("max", a, b);
export const minimum = (a: TensorLike, b: TensorLike) => binary("min", a, b);
export const greater = (a: TensorLike, b: TensorLike) => binary("gt", a, b);
export const equal = (a: TensorLike, b: TensorLike) => binary("eq", a, b);

export const neg = unary("neg");
export const exp = unary("exp");
export const log = unary("log");
export const sqrt = unary("sqrt");
export const rsqrt = unary("rsqrt");
export const abs = unary("abs");
export const sign = unary("sign");
export const square = unary("square");
export const relu = unary("relu");
export const sigmoid = unary("sigmoid");
export const tanh = unary("tanh");
export const softplus = unary("softplus");
export const sin = unary("sin");
export const cos = unary("cos");

export function leakyRelu(x: Tensor, slope = 0.01): Tensor {
  return map(E.where(inp(0), inp(0), E.mul(E.cst(slope), inp(0))), [x]);
}

/** GELU, exact (erf) form as PyTorch's default. */
export function gelu(x: Tensor): Tensor {
  const v = inp(0);
  return map(E.mul(E.mul(E.cst(0.5), v), E.add(E.cst(1), E.un("erf", E.mul(v, E.cst(Math.SQRT1_2))))), [x]);
}

/** GELU, tanh approximation (PyTorch `approximate="tanh"`): DiT's MLP activation. */
export function geluTanh(x: Tensor): Tensor {
  const v = inp(0);
  const inner = E.mul(
    E.cst(Math.sqrt(2 / Math.PI)),
    E.add(v, E.mul(E.cst(0.044715), E.mul(v, E.un("square", v)))),
  );
  return map(E.mul(E.mul(E.cst(0.5), v), E.add(E.cst(1), E.un("tanh", inner))), [x]);
}

export function silu(x: Tensor): Tensor {
  return map(E.mul(inp(0), E.un("sigmoid", inp(0))), [x]);
}

export function clamp(x: Tensor, lo: number, hi: number): Tensor {
  return map(E.bin("min", E.bin("max", inp(0), E.cst(lo)), E.cst(hi)), [x]);
}

/** c > 0 ? a : b, differentiable in a and b. */
export function where(c: Tensor, a: TensorLike, b: TensorLike): Tensor {
  const { exprs, tensors } = lift([c, a, b]);
  return map(E.where(exprs[0], exprs[1], exprs[2]), tensors);
}

// ---------------------------------------------------------------- reductions
function reduceAxes(
  op: ReduceOp,
  x: Tensor,
  axes: number | readonly number[] | undefined,
  keepdims: boolean,
): Tensor {
  const ax = normAxes(axes, x.rank);
  const r = reduceExpr(op, inp(0), [x], x.shape, ax);
  return keepdims ? r : reshapeView(r, x.shape.filter((_, i) => !ax.includes(i)));
}

export function sum(x: Tensor, axes?: number | readonly number[], keepdims = false): Tensor {
  return reduceAxes("sum", x, axes, keepdims);
}

export function max(x: Tensor, axes?: number | readonly number[], keepdims = false): Tensor {
  return reduceAxes("max", x, axes, keepdims);
}

export function min(x: Tensor, axes?: number | readonly number[], keepdims = false): Tensor {
  return reduceAxes("min", x, axes, keepdims);
}

export function mean(x: Tensor, axes?: number | readonly number[], keepdims = false): Tensor {
  const ax = normAxes(axes, x.rank);
  const n = ax.reduce((a, d) => a * x.shape[d], 1);
  const r = reduceExpr("sum", E.mul(inp(0), E.cst(1 / n)), [x], x.shape, ax);
  return keepdims ? r : reshapeView(r, x.shape.filter((_, i) => !ax.includes(i)));
}

/** Biased (population) variance, as normalisation layers use. */
export function variance(x: Tensor, axes?: number | readonly number[], keepdims = false): Tensor {
  const ax = normAxes(axes, x.rank);
  const m = mean(x, ax, true);
  const n = ax.reduce((a, d) => a * x.shape[d], 1);
  const r = reduceExpr(
    "sum",
    E.mul(E.un("square", E.sub(inp(0), inp(1))), E.cst(1 / n)),
    [x, m],
    x.shape,
    ax,
  );
  return keepdims ? r : reshapeView(r, x.shape.filter((_, i) => !ax.includes(i)));
}

/** Sum of a fused elementwise expression over everything: e.g. dot products and losses in one kernel. */
export function sumOf(expr: Expr, inputs: readonly Tensor[]): Tensor {
  const shape = broadcastShapes(...inputs.map((t) => t.shape));
  return reshapeView(reduceExpr("sum", expr, inputs, shape, normAxes(undefined, shape.length)), []);
}

/** Index of the maximum along `axis` (not differentiable). */
export function argmax(x: Tensor, axis = -1): Tensor {
  const a = normAxes(axis, x.rank)[0];
  return fromStorage(backend().argmax(x.storage, x.shape, a), x.shape.filter((_, i) => i !== a));
}
