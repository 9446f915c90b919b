/** Index arithmetic for broadcast reads: dimension coalescing and WGSL offset expressions. */
import { broadcastStrides, type Shape, stridesOf } from "../engine/shape.ts";

/**
 * Merges adjacent dimensions that every operand walks contiguously (e.g. [N,H,W,C] + [C] becomes
 * [N·H·W, C] + [C]), so kernels decompose fewer coordinates per element.
 */
export function coalesce(shape: Shape, strides: readonly (readonly number[])[]): {
  shape: number[];
  strides: number[][];
} {
  const dims: number[] = [];
  const st: number[][] = strides.map(() => []);
  for (let d = 0; d < shape.length; d++) {
    if (shape[d] === 1) continue; // size-1 dims never move an offset
    const last = dims.length - 1;
    if (last >= 0 && strides.every((s, j) => st[j][last] === s[d] * shape[d])) {
      dims[last] *= shape[d];
      strides.forEach((s, j) => (st[j][last] = s[d]));
    } else {
      dims.push(shape[d]);
      strides.forEach((s, j) => st[j].push(s[d]));
    }
  }
  return { shape: dims, strides: st };
}

/**
 * WGSL expressions for the offsets of several broadcast operands at linear output index `idx`.
 * Operands whose layout equals the output's read at `idx` directly.
 */
export function broadcastOffsets(idx: string, out: Shape, operands: readonly Shape[]): string[] {
  return stridedOffsets(idx, out, operands.map((s) => broadcastStrides(s, out)));
}

/** Offsets of operands with explicit per-dimension strides over `dims`, at linear index `idx` of `dims`. */
export function stridedOffsets(idx: string, dims: Shape, strides: readonly (readonly number[])[]): string[] {
  const operands = strides;
  const c = coalesce(dims, [stridesOf(dims), ...strides]);
  const outSt = c.strides[0];
  return operands.map((_, j) => {
    const s = c.strides[j + 1];
    if (s.every((v, d) => v === outSt[d])) return idx;
    const terms: string[] = [];
    for (let d = 0; d < c.shape.length; d++) {
      if (s[d] === 0) continue;
      let coord = outSt[d] === 1 ? idx : `(${idx} / ${outSt[d]}u)`;
      if (d > 0) coord = `(${coord} % ${c.shape[d]}u)`;
      terms.push(s[d] === 1 ? coord : `${coord} * ${s[d]}u`);
    }
    return terms.length ? terms.join(" + ") : "0u";
  });
}

/**
 * How each operand is read by a kernel that handles four consecutive elements of dimension `last` at
 * once: "vec" (contiguous along it, other strides 4-aligned: one vec4 load) or "splat" (constant along
 * it: one scalar load); null when some operand is neither.
 */
export function vec4Lanes(strides: readonly (readonly number[])[], last: number): ("vec" | "splat")[] | null {
  const lanes: ("vec" | "splat")[] = [];
  for (const st of strides) {
    if (st[last] === 0) lanes.push("splat");
    else if (st[last] === 1 && st.every((v, d) => d === last || v % 4 === 0)) lanes.push("vec");
    else return null;
  }
  return lanes;
}
