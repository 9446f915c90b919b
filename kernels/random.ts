/**
 * Philox-4x32-10 random streams: a WGSL transcription of engine/cpu/philox.ts (see there for the
 * exact mapping from (seed, element) to values; keep the two in step). One invocation per Philox
 * block of 4 elements. Seed, offset and length come from a small u32 parameter buffer, so one
 * pipeline per kind serves every draw. Bindings: PRM [blockLo, blockHi, seedLo, seedHi, first, n, blocks], Y.
 */
import { binding, BUILTINS, type Kernel, linearGrid, memoized, WG_LINEAR } from "./kernel.ts";

const WG = 64;

const PHILOX = `fn mulhi(a: u32, b: u32) -> u32 {
  let a0 = a & 0xffffu; let a1 = a >> 16u; let b0 = b & 0xffffu; let b1 = b >> 16u;
  let lo = a0 * b0; let m1 = a1 * b0; let m2 = a0 * b1;
  let carry = ((lo >> 16u) + (m1 & 0xffffu) + (m2 & 0xffffu)) >> 16u;
  return a1 * b1 + (m1 >> 16u) + (m2 >> 16u) + carry;
}
fn philox(ctr: vec4<u32>, key: vec2<u32>) -> vec4<u32> {
  var c = ctr;
  var k = key;
  for (var r = 0u; r < 10u; r++) {
    if (r > 0u) { k += vec2<u32>(0x9e3779b9u, 0xbb67ae85u); }
    let hi0 = mulhi(0xd2511f53u, c.x); let lo0 = 0xd2511f53u * c.x;
    let hi1 = mulhi(0xcd9e8d57u, c.z); let lo1 = 0xcd9e8d57u * c.z;
    c = vec4<u32>(hi1 ^ c.y ^ k.x, lo1, hi0 ^ c.w ^ k.y, lo0);
  }
  return c;
}
fn uniform(w: u32) -> f32 { return f32(w >> 8u) * 5.9604644775390625e-8; }
// ln(m·2^-24) for integer m in [1, 2^24] (Cephes logf; same steps as logUnit in philox.ts).
fn logUnit(m: u32) -> f32 {
  let bits = i32(firstLeadingBit(m)) + 1;
  var e = f32(bits - 24);
  var x = ldexp(f32(m), -bits);
  if (x < 0.70710677) { e -= 1.0; x = (x + x) - 1.0; } else { x = x - 1.0; }
  let z = x * x;
  var y = 7.0376836292e-2 * x - 1.1514610310e-1;
  y = y * x + 1.1676998740e-1;
  y = y * x - 1.2420140846e-1;
  y = y * x + 1.4249322787e-1;
  y = y * x - 1.6668057665e-1;
  y = y * x + 2.0000714765e-1;
  y = y * x - 2.4999993993e-1;
  y = y * x + 3.3333331174e-1;
  y = (y * x) * z;
  y = y + -2.12194440e-4 * e;
  y = y - 0.5 * z;
  var r = x + y;
  r = r + 0.693359375 * e;
  return r;
}
// (cos 2πt, sin 2πt) for t = (w >> 8)·2^-24: exact quadrant reduction, Cephes sinf/cosf on [−π/4, π/4].
fn cosSinTurn(w: u32) -> vec2<f32> {
  let q4 = f32(w >> 8u) * 2.384185791015625e-7;
  let j = floor(q4 + 0.5);
  let x = (q4 - j) * 1.5707963705062866;
  let z = x * x;
  var s = -1.9515295891e-4 * z + 8.3321608736e-3;
  s = s * z - 1.6666654611e-1;
  s = (s * z) * x + x;
  var c = 2.443315711809948e-5 * z - 1.388731625493765e-3;
  c = c * z + 4.166664568298827e-2;
  c = ((c * z) * z) - 0.5 * z;
  c = c + 1.0;
  switch (u32(j) & 3u) {
    case 0u: { return vec2<f32>(c, s); }
    case 1u: { return vec2<f32>(-s, c); }
    case 2u: { return vec2<f32>(-c, -s); }
    default: { return vec2<f32>(s, -c); }
  }
}
fn boxMuller(wr: u32, wt: u32) -> vec2<f32> {
  let r = sqrt(-2.0 * logUnit(16777216u - (wr >> 8u)));
  return r * cosSinTurn(wt);
}`;

/**
 * Each invocation t computes block PRM[0..1] + t and writes its elements e = 4t + k with
 * first ≤ e < first + n to Y[e − first]. `blocks` only sizes the grid (it is also PRM[6]).
 */
function randomKernelSource(kind: "uniform" | "normal", blocks: number): Kernel {
  const vals = kind === "uniform"
    ? "vec4<f32>(uniform(w.x), uniform(w.y), uniform(w.z), uniform(w.w))"
    : "vec4<f32>(boxMuller(w.x, w.y), boxMuller(w.z, w.w))";
  const code = `${binding(0, "PRM", "array<u32>", false)}
${binding(1, "Y", "array<f32>", true)}
${PHILOX}
@compute @workgroup_size(${WG}) fn main(${BUILTINS}) {
  let t = ${WG_LINEAR} * ${WG}u + lid.x;
  if (t >= PRM[6]) { return; }
  let lo = PRM[0] + t;
  let hi = PRM[1] + select(0u, 1u, lo < t);
  let w = philox(vec4<u32>(lo, hi, ${kind === "uniform" ? 0 : 1}u, 0u), vec2<u32>(PRM[2], PRM[3]));
  let v = ${vals};
  let first = PRM[4];
  let n = PRM[5];
  for (var k = 0u; k < 4u; k++) {
    let e = t * 4u + k;
    if (e >= first && e - first < n) { Y[e - first] = v[k]; }
  }
}
`;
  return { code, workgroups: linearGrid(Math.ceil(blocks / WG)) };
}

export const randomKernel = memoized(randomKernelSource);
