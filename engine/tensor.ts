/**
 * Tensors, the engine context (backend, grad mode, scopes) and the autodiff graph.
 *
 * Memory: GPU buffers are not garbage collected, so every tensor belongs to the innermost `tidy`
 * scope that created it and is freed when that scope ends, unless returned from it or `keep()`-ed.
 * Storage is reference counted so that reshapes can share it.
 *
 * Autodiff: when grad mode is on and an input requires grad, an op records a Node whose backward
 * function is written with the same differentiable ops. `grad(..., { createGraph: true })` runs the
 * backward functions with recording on, which yields gradients that are themselves differentiable
 * (PyTorch's create_graph=True): what gradient matching and trajectory matching need.
 */
import type { Backend, DType, Storage } from "./backend.ts";
import { fmtShape, type Shape, sizeOf } from "./shape.ts";

// ---------------------------------------------------------------- context
let current: Backend | null = null;
let gradEnabled = true;
const scopes: Set<Tensor>[] = [];

export function setBackend(b: Backend): void {
  current = b;
}

export function backend(): Backend {
  if (!current) {
    throw new Error(
      "no backend selected: call setBackend(await webgpuBackend()) or setBackend(new CpuBackend())",
    );
  }
  return current;
}

export function isGradEnabled(): boolean {
  return gradEnabled;
}

/** Runs `fn` without recording autodiff graph (evaluation, optimizer updates). */
export function noGrad<T>(fn: () => T): T {
  const prev = gradEnabled;
  gradEnabled = false;
  try {
    return fn();
  } finally {
    gradEnabled = prev;
  }
}

function withGrad<T>(on: boolean, fn: () => T): T {
  const prev = gradEnabled;
  gradEnabled = on;
  try {
    return fn();
  } finally {
    gradEnabled = prev;
  }
}

/** Anything containing tensors that a scope may return. */
export type TensorContainer = Tensor | null | undefined | number | string | boolean | TensorContainer[] | {
  [k: string]: TensorContainer;
};

function collect(x: unknown, out: Set<Tensor>): void {
  if (x instanceof Tensor) out.add(x);
  else if (Array.isArray(x)) x.forEach((v) => collect(v, out));
  else if (x && typeof x === "object") Object.values(x).forEach((v) => collect(v, out));
}

/**
 * Frees every tensor created inside `fn` except those it returns (which move to the enclosing
 * scope). Synchronous only: await outside of it.
 */
export function tidy<T>(fn: () => T): T {
  const scope = new Set<Tensor>();
  scopes.push(scope);
  let result: T;
  try {
    result = fn();
  } catch (e) {
    scopes.pop();
    for (const t of scope) t.dispose();
    throw e;
  }
  scopes.pop();
  if (result instanceof Promise) throw new Error("tidy() does not accept async functions");
  const keepSet = new Set<Tensor>();
  collect(result, keepSet);
  for (const t of scope) if (!keepSet.has(t)) t.dispose();
  const parent = scopes[scopes.length - 1];
  if (parent) { for (const t of keepSet) if (scope.has(t)) parent.add(t); }
  return result;
}

// ---------------------------------------------------------------- storage sharing
class Buf {
  refs = 1;
  constructor(readonly storage: Storage, readonly backend: Backend) {}
  release(): void {
    if (--this.refs === 0) this.backend.free(this.storage);
  }
}

// ---------------------------------------------------------------- graph
export interface Node {
  readonly op: string;
  readonly inputs: readonly Tensor[];
  /** Gradients for each input (null where an input needs none), given the output gradient. */
  readonly backward: (g: Tensor) => readonly (Tensor | null)[];
}

let nextId = 1;

export class Tensor {
  readonly id = nextId++;
  private buf: Buf | null;
  node: Node | null = null;
  requiresGrad = false;

  constructor(storage: Storage | Buf, readonly shape: readonly number[], readonly dtype: DType) {
    if (storage instanceof Buf) {
      storage.refs++;
      this.buf = storage;
    } else {
      this.buf = new Buf(storage, backend());
    }
    if (sizeOf(shape) !== this.buf.storage.size) {
      throw new Error(`shape ${fmtShape(shape)} does not match storage of ${this.buf.storage.size} elements`);
    }
    scopes[scopes.length - 1]?.add(this);
  }

  get size(): number {
    return sizeOf(this.shape);
  }
  get rank(): number {
    return this.shape.length;
  }
  get disposed(): boolean {
    return this.buf === null;
  }

  get storage(): Storage {
    if (!this.buf) throw new Error(`tensor #${this.id} ${fmtShape(this.shape)} used after dispose`);
    return this.buf.storage;
  }

  /** A tensor sharing this one's storage under another shape (no copy). */
  view(shape: readonly number[]): Tensor {
    if (!this.buf) throw new Error("view of a disposed tensor");
    return new Tensor(this.buf, shape, this.dtype);
  }

  /** Marks a leaf as trainable (autodiff tracks ops on it). */
  requireGrad(on = true): this {
    this.requiresGrad = on;
    return this;
  }

  /** Removes the tensor from scope tracking: it lives until dispose(). */
  keep(): this {
    for (const s of scopes) s.delete(this);
    return this;
  }

  /** A new leaf sharing storage, cut from the graph. */
  detach(): Tensor {
    return this.view(this.shape);
  }

  dispose(): void {
    if (!this.buf) return;
    this.buf.release();
    this.buf = null;
    this.node = null;
  }

  async data(): Promise<Float32Array | Int32Array> {
    return await this.buf!.backend.read(this.storage);
  }

  async f32(): Promise<Float32Array> {
    const d = await this.data();
    return d instanceof Float32Array ? d : Float32Array.from(d);
  }

  async item(): Promise<number> {
    if (this.size !== 1) throw new Error(`item() needs a single element, got ${fmtShape(this.shape)}`);
    return (await this.data())[0];
  }

  toString(): string {
    return `Tensor#${this.id}${fmtShape(this.shape)}:${this.dtype}`;
  }
}

// ---------------------------------------------------------------- creation
export function tensor(data: ArrayLike<number>, shape?: Shape, dtype: DType = "f32"): Tensor {
  const arr = dtype === "f32" ? Float32Array.from(data) : Int32Array.from(data);
  const s = shape ?? [arr.length];
  if (sizeOf(s) !== arr.length) throw new Error(`tensor(): ${arr.length} values for shape ${fmtShape(s)}`);
  return new Tensor(backend().upload(arr), s, dtype);
}

export function fromStorage(s: Storage, shape: Shape): Tensor {
  return new Tensor(s, shape, s.dtype);
}

/** Records the autodiff node for `out` if grad mode is on and any input needs grad. */
export function record(
  out: Tensor,
  op: string,
  inputs: readonly Tensor[],
  backward: Node["backward"],
): Tensor {
  if (gradEnabled && inputs.some((t) => t.requiresGrad)) {
    out.requiresGrad = true;
    out.node = { op, inputs, backward };
  }
  return out;
}

// ---------------------------------------------------------------- reverse mode
/** The tensors the running backward pass propagates to (null outside one): see `needsGrad`. */
let needed: Set<number> | null = null;

/**
 * Whether a backward function should compute its input `t`'s gradient: `t` is trainable and, inside
 * `grad`, lies between the output and a tensor asked for. Backward functions test this, never
 * `requiresGrad` alone; ops they record still use `requiresGrad`, so higher-order graphs stay whole.
 */
export function needsGrad(t: Tensor): boolean {
  return t.requiresGrad && (needed === null || needed.has(t.id));
}

export interface GradOptions {
  /** Make the returned gradients differentiable (higher-order autodiff). */
  createGraph?: boolean;
  /** The output's gradient (default: ones; the output must then be a scalar). */
  gradOutput?: Tensor;
}

/**
 * At most this many gradient contributions are summed by one kernel: with the output, that fills the 8
 * storage buffers every WebGPU device grants a shader stage.
 */
export const SUM_FAN_IN = 7;

/**
 * d(output)/d(wrt) for each tensor in `wrt` (zeros where unreachable). `sum` (of same-shape tensors)
 * and the fills are injected by autograd.ts to keep this module free of op definitions.
 */
export function gradImpl(
  output: Tensor,
  wrt: readonly Tensor[],
  opts: GradOptions,
  sum: (parts: readonly Tensor[]) => Tensor,
  onesLike: (t: Tensor) => Tensor,
  zerosLike: (t: Tensor) => Tensor,
): Tensor[] {
  if (!opts.gradOutput && output.size !== 1) {
    throw new Error(`grad of a non-scalar output ${fmtShape(output.shape)} needs gradOutput`);
  }
  // Topological order of the tensors that lead to `output`.
  const order: Tensor[] = [];
  const seen = new Set<number>();
  const stack: [Tensor, boolean][] = [[output, false]];
  while (stack.length) {
    const [t, done] = stack.pop()!;
    if (done) {
      order.push(t);
      continue;
    }
    if (seen.has(t.id)) continue;
    seen.add(t.id);
    stack.push([t, true]);
    for (const i of t.node?.inputs ?? []) if (i.requiresGrad && !seen.has(i.id)) stack.push([i, false]);
  }
  const create = opts.createGraph ?? false;
  const wanted = new Set(wrt.map((t) => t.id));
  // Only tensors that depend on some `wrt` carry a gradient to it. Without this pruning, a grad taken
  // inside an unrolled loop (MTT's student step k: d CE / d θ_k) walked back through every earlier
  // step, computing (and, with createGraph, keeping) gradients nobody asked for: quadratic in steps.
  const relevant = new Set<number>();
  for (const t of order) {
    if (wanted.has(t.id) || t.node?.inputs.some((i) => relevant.has(i.id))) relevant.add(t.id);
  }
  // A tensor's gradient contributions, summed when it is reached (all its consumers come first in the
  // reverse order). One n-ary sum instead of a chain of adds: in second-order graphs a tensor often
  // feeds 3–20 ops, and each add would be its own kernel reading and writing the whole tensor.
  const pending = new Map<number, Tensor[]>();
  const total = (parts: Tensor[]): Tensor => {
    if (parts.length === 1) return parts[0];
    const s = sum(parts);
    if (!create) { for (const p of parts) p.dispose(); }
    return s;
  };
  const take = (id: number): Tensor | undefined => {
    const parts = pending.get(id);
    if (!parts) return undefined;
    const g = total(parts);
    pending.set(id, [g]);
    return g;
  };
  const outer = needed;
  needed = relevant;
  try {
    return withGrad(create, () => backprop());
  } finally {
    needed = outer;
  }

  function backprop(): Tensor[] {
    pending.set(output.id, [opts.gradOutput ?? onesLike(output)]);
    for (let k = order.length - 1; k >= 0; k--) {
      const t = order[k];
      const g = take(t.id);
      if (!g || !t.node || !t.node.inputs.some((i) => relevant.has(i.id))) continue;
      const gs = t.node.backward(g);
      t.node.inputs.forEach((inp, j) => {
        // A backward may pass g straight through; give each input its own handle so disposal is safe.
        const gi = gs[j] === g ? g.view(g.shape) : gs[j];
        if (!gi) return;
        if (!relevant.has(inp.id)) {
          if (!create) gi.dispose();
          return;
        }
        const parts = pending.get(inp.id);
        if (!parts) pending.set(inp.id, [gi]);
        else {
          parts.push(gi);
          // Bounded memory: a tensor with hundreds of consumers holds at most SUM_FAN_IN parts.
          if (parts.length === SUM_FAN_IN) pending.set(inp.id, [total(parts)]);
        }
      });
      // Intermediate gradients are no longer needed once propagated (unless a higher order needs them).
      if (!create && !wanted.has(t.id) && t !== output) {
        pending.delete(t.id);
        g.dispose();
      }
    }
    return wrt.map((t) => take(t.id) ?? zerosLike(t));
  }
}
