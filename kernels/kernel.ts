/**
 * What every kernel generator returns: WGSL source plus its dispatch size. Bindings are
 * `@group(0) @binding(i)` in the order of the buffers the backend passes; a generator states how
 * many bindings it declares. Shapes are baked into the source as constants (pipelines are cached
 * by source), which lets the compiler fold index arithmetic; training loops repeat few shapes.
 */
export interface Kernel {
  readonly code: string;
  readonly workgroups: readonly [number, number, number];
}

/** Max workgroups along one grid dimension (WebGPU's guaranteed limit). */
export const MAX_GRID = 65535;

/** Spreads `count` workgroups over x and y; kernels recover the linear id with `WG_LINEAR`. */
export function linearGrid(count: number): [number, number, number] {
  if (count <= MAX_GRID) return [Math.max(count, 1), 1, 1];
  return [MAX_GRID, Math.ceil(count / MAX_GRID), 1];
}

/** WGSL expression of the linear workgroup id (needs `wid` and `nwg` builtins in scope). */
export const WG_LINEAR = "(wid.x + wid.y * nwg.x)";

export const BUILTINS =
  "@builtin(workgroup_id) wid: vec3u, @builtin(num_workgroups) nwg: vec3u, @builtin(local_invocation_id) lid: vec3u";

/** A WGSL f32 literal that round-trips (`1` → `1.0`, NaN/∞ spelled as bit casts). */
export function f32Lit(v: number): string {
  const f = Math.fround(v);
  if (Number.isNaN(f)) return "bitcast<f32>(0x7fc00000u)";
  if (f === Infinity) return "bitcast<f32>(0x7f800000u)";
  if (f === -Infinity) return "bitcast<f32>(0xff800000u)";
  if (Object.is(f, -0)) return "-0.0";
  const s = f.toString();
  return /[.eE]/.test(s) ? (s.includes("e") && !s.includes(".") ? s.replace("e", ".0e") : s) : `${s}.0`;
}

/** Storage binding declaration. */
export function binding(i: number, name: string, type: string, write: boolean): string {
  return `@group(0) @binding(${i}) var<storage, ${write ? "read_write" : "read"}> ${name}: ${type};`;
}

/**
 * `gen` with its kernels remembered by argument values. The big generators (matmul and convolution
 * register tiles) spend 1–3 ms of JavaScript building each source, and even the small ones (fused
 * element-wise maps, reductions) add up: a training step re-dispatches the same few dozen shapes, and on
 * llvmpipe that JavaScript shares the cores with the kernels. The remembered kernel is the same source,
 * so results are unchanged; callers must not mutate it. Bounded: the oldest entries go when more than
 * `cap` kernels or `capChars` characters of source are held.
 */
export function memoized<A extends unknown[], K extends Kernel>(
  gen: (...args: A) => K,
  cap = 4096,
  capChars = 32 << 20,
): (...args: A) => K {
  const memo = new Map<string, K>();
  let chars = 0;
  return (...args: A): K => {
    const key = argsKey(args);
    let k = memo.get(key);
    if (k === undefined) {
      k = gen(...args);
      memo.set(key, k);
      chars += k.code.length;
      while (memo.size > 1 && (memo.size > cap || chars > capChars)) {
        const [oldest, old] = memo.entries().next().value as [string, K];
        memo.delete(oldest);
        chars -= old.code.length;
      }
    }
    return k;
  };
}

/**
 * JSON of plain-data arguments, except that numbers JSON cannot tell apart (NaN, ±Infinity, -0, all of
 * which constants in an expression can be and which generate different sources) keep their identity.
 */
export function argsKey(args: readonly unknown[]): string {
  return JSON.stringify(
    args,
    (_k, v) =>
      typeof v === "number" && (!Number.isFinite(v) || Object.is(v, -0))
        ? { $num: Object.is(v, -0) ? "-0" : String(v) }
        : v,
  );
}
