/**
 * Philox-4x32-10 (Salmon et al., "Parallel random numbers: as easy as 1, 2, 3", SC'11) and the exact
 * mapping from (seed, element index) to uniform and normal f32 values that every backend follows.
 * kernels/random.ts is a line-by-line WGSL transcription; keep the two in step.
 *
 * Stream layout. Element e (= offset + i) of a stream lives in Philox block b = ⌊e/4⌋, word e mod 4:
 *   key     = (seed mod 2³², ⌊seed / 2³²⌋)
 *   counter = (b mod 2³², ⌊b / 2³²⌋, kind, 0)      kind 0 = uniform, 1 = normal
 * so uniform and normal draws never share a counter, and element e depends only on (seed, e).
 *   uniform: u(w) = (w >> 8) · 2⁻²⁴ ∈ [0, 1)   (the top 24 bits: exact in f32)
 *   normal:  words (w0,w1) give elements 4b, 4b+1 and (w2,w3) give 4b+2, 4b+3 by Box–Muller:
 *            r = √(−2 ln(1 − u(w_even))), θ = 2π·u(w_odd), z = r·cos θ (even e), r·sin θ (odd e).
 * ln, cos and sin are our own f32 polynomials (Cephes logf / sinf / cosf) evaluated with the same
 * f32 operation sequence here (Math.fround after every step) and in WGSL, because WGSL's builtins
 * only promise ~2⁻¹¹ absolute error for sin/cos on real GPUs; the streams then agree to ~1e-7.
 */

const M0 = 0xd2511f53, M1 = 0xcd9e8d57;
const W0 = 0x9e3779b9, W1 = 0xbb67ae85;

/** High 32 bits of the 64-bit product of two u32 (16-bit limbs: JS numbers hold 53 bits exactly). */
export function mulhi32(a: number, b: number): number {
  const a0 = a & 0xffff, a1 = a >>> 16, b0 = b & 0xffff, b1 = b >>> 16;
  const lo = a0 * b0, m1 = a1 * b0, m2 = a0 * b1;
  const carry = ((lo >>> 16) + (m1 & 0xffff) + (m2 & 0xffff)) >>> 16;
  return (a1 * b1 + (m1 >>> 16) + (m2 >>> 16) + carry) >>> 0;
}

/** Philox-4x32 with 10 rounds; writes the 4 output words into `out`. */
export function philox4x32(
  c0: number,
  c1: number,
  c2: number,
  c3: number,
  k0: number,
  k1: number,
  out: Uint32Array,
): void {
  for (let r = 0; r < 10; r++) {
    if (r > 0) {
      k0 = (k0 + W0) >>> 0;
      k1 = (k1 + W1) >>> 0;
    }
    const hi0 = mulhi32(M0, c0), lo0 = Math.imul(M0, c0) >>> 0;
    const hi1 = mulhi32(M1, c2), lo1 = Math.imul(M1, c2) >>> 0;
    c0 = (hi1 ^ c1 ^ k0) >>> 0;
    c1 = lo1;
    c2 = (hi0 ^ c3 ^ k1) >>> 0;
    c3 = lo0;
  }
  out[0] = c0;
  out[1] = c1;
  out[2] = c2;
  out[3] = c3;
}

const f = Math.fround;
/** A constant as the f32 that WGSL's literal denotes. */
const C = Math.fround;
const TWO32 = 4294967296;

/** The top 24 bits of a word as a uniform in [0, 1). */
export function wordToUniform(w: number): number {
  return (w >>> 8) * 2 ** -24;
}

/** Natural log of v = m·2⁻²⁴ (m an integer in [1, 2²⁴]): exponent from the integer, Cephes logf polynomial. */
export function logUnit(m: number): number {
  const bits = 32 - Math.clz32(m); // m = fr·2^bits with fr ∈ [0.5, 1)
  let e = bits - 24;
  let x = f(m * 2 ** -bits);
  if (x < C(0.70710677)) {
    e -= 1;
    x = f(f(x + x) - 1);
  } else {
    x = f(x - 1);
  }
  const z = f(x * x);
  let y = f(f(C(7.0376836292e-2) * x) - C(1.1514610310e-1));
  y = f(f(y * x) + C(1.1676998740e-1));
  y = f(f(y * x) - C(1.2420140846e-1));
  y = f(f(y * x) + C(1.4249322787e-1));
  y = f(f(y * x) - C(1.6668057665e-1));
  y = f(f(y * x) + C(2.0000714765e-1));
  y = f(f(y * x) - C(2.4999993993e-1));
  y = f(f(y * x) + C(3.3333331174e-1));
  y = f(f(y * x) * z);
  y = f(y + f(-C(2.12194440e-4) * e));
  y = f(y - f(0.5 * z));
  let r = f(x + y);
  r = f(r + f(C(0.693359375) * e));
  return r;
}

/** [cos 2πt, sin 2πt] for t = k·2⁻²⁴ ∈ [0, 1): exact quadrant reduction, Cephes polynomials on [−π/4, π/4]. */
export function cosSinTurn(t: number): [number, number] {
  const q4 = t * 4; // exact
  const j = Math.floor(q4 + 0.5); // nearest quadrant, 0..4
  const x = f(f(q4 - j) * C(1.5707963705062866)); // f32(π/2)
  const z = f(x * x);
  let s = f(f(-C(1.9515295891e-4) * z) + C(8.3321608736e-3));
  s = f(f(s * z) - C(1.6666654611e-1));
  s = f(f(f(s * z) * x) + x);
  let c = f(f(C(2.443315711809948e-5) * z) - C(1.388731625493765e-3));
  c = f(f(c * z) + C(4.166664568298827e-2));
  c = f(f(f(c * z) * z) - f(0.5 * z));
  c = f(c + 1);
  switch (j & 3) {
    case 0:
      return [c, s];
    case 1:
      return [-s, c];
    case 2:
      return [-c, -s];
    default:
      return [s, -c];
  }
}

/** Box–Muller on a pair of words. */
export function boxMuller(wr: number, wt: number): [number, number] {
  const m = (1 << 24) - (wr >>> 8); // 1 − u as an integer count of 2⁻²⁴, in [1, 2²⁴]
  const r = f(Math.sqrt(f(-2 * logUnit(m))));
  const [c, s] = cosSinTurn(wordToUniform(wt));
  return [f(r * c), f(r * s)];
}

/** n values of stream (seed, offset): element i is stream element offset + i (see module comment). */
export function philoxStream(
  kind: "uniform" | "normal",
  n: number,
  seed: number,
  offset: number,
): Float32Array {
  if (!Number.isSafeInteger(seed) || seed < 0 || !Number.isSafeInteger(offset) || offset < 0) {
    throw new Error(`random: seed and offset must be non-negative safe integers (${seed}, ${offset})`);
  }
  const out = new Float32Array(n);
  const k0 = seed % TWO32, k1 = Math.floor(seed / TWO32);
  const w = new Uint32Array(4);
  const kindWord = kind === "uniform" ? 0 : 1;
  let i = 0;
  while (i < n) {
    const e = offset + i;
    const b = Math.floor(e / 4);
    philox4x32(b % TWO32, Math.floor(b / TWO32), kindWord, 0, k0, k1, w);
    let vals: number[];
    if (kind === "uniform") vals = [0, 1, 2, 3].map((j) => wordToUniform(w[j]));
    else vals = [...boxMuller(w[0], w[1]), ...boxMuller(w[2], w[3])];
    for (let j = e % 4; j < 4 && i < n; j++, i++) out[i] = vals[j];
  }
  return out;
}

/** A uniformly random permutation of 0..n−1 from stream (seed, offset): argsort, ties by index. */
export function permutation(n: number, seed: number, offset = 0): Int32Array {
  const u = philoxStream("uniform", n, seed, offset);
  const idx = Array.from({ length: n }, (_, i) => i).sort((a, b) => u[a] - u[b] || a - b);
  return Int32Array.from(idx);
}
