/** Shape arithmetic shared by every backend: sizes, strides, broadcasting, axes. */

export type Shape = readonly number[];

export function sizeOf(shape: Shape): number {
  let n = 1;
  for (const d of shape) n *= d;
  return n;
}

export function stridesOf(shape: Shape): number[] {
  const s = new Array<number>(shape.length);
  let acc = 1;
  for (let i = shape.length - 1; i >= 0; i--) {
    s[i] = acc;
    acc *= shape[i];
  }
  return s;
}

export function sameShape(a: Shape, b: Shape): boolean {
  return a.length === b.length && a.every((d, i) => d === b[i]);
}

export function assertShape(shape: Shape, what: string): void {
  for (const d of shape) {
    if (!Number.isInteger(d) || d < 0) throw new Error(`${what}: invalid shape [${shape.join(", ")}]`);
  }
}

/** NumPy broadcasting of several shapes; throws naming the shapes when incompatible. */
export function broadcastShapes(...shapes: Shape[]): number[] {
  const rank = Math.max(0, ...shapes.map((s) => s.length));
  const out = new Array<number>(rank).fill(1);
  for (const s of shapes) {
    for (let i = 0; i < s.length; i++) {
      const o = rank - s.length + i;
      const d = s[i];
      if (d === 1) continue;
      if (out[o] !== 1 && out[o] !== d) {
        throw new Error(`cannot broadcast shapes ${shapes.map((x) => `[${x.join(",")}]`).join(" and ")}`);
      }
      out[o] = d;
    }
  }
  return out;
}

/** Strides of `shape` read as if broadcast to `out` (0 along broadcast dimensions). */
export function broadcastStrides(shape: Shape, out: Shape): number[] {
  const st = stridesOf(shape);
  const res = new Array<number>(out.length).fill(0);
  for (let i = 0; i < shape.length; i++) {
    const o = out.length - shape.length + i;
    res[o] = shape[i] === 1 && out[o] !== 1 ? 0 : st[i];
  }
  return res;
}

/** Normalises possibly negative axes; `undefined` means all axes. */
export function normAxes(axes: number | readonly number[] | undefined, rank: number): number[] {
  if (axes === undefined) return [...Array(rank).keys()];
  const list = typeof axes === "number" ? [axes] : [...axes];
  const res = list.map((a) => {
    const r = a < 0 ? a + rank : a;
    if (r < 0 || r >= rank) throw new Error(`axis ${a} out of range for rank ${rank}`);
    return r;
  });
  return [...new Set(res)].sort((a, b) => a - b);
}

/** The shape after reducing `axes` with keepdims. */
export function reducedShape(shape: Shape, axes: readonly number[]): number[] {
  return shape.map((d, i) => (axes.includes(i) ? 1 : d));
}

/** Axes along which `from` (broadcast up to `to`) was expanded: what a gradient must be summed over. */
export function broadcastAxes(from: Shape, to: Shape): number[] {
  const axes: number[] = [];
  for (let i = 0; i < to.length; i++) {
    const j = i - (to.length - from.length);
    if (j < 0 || (from[j] === 1 && to[i] !== 1)) axes.push(i);
  }
  return axes;
}

export function fmtShape(s: Shape): string {
  return `[${s.join(", ")}]`;
}
