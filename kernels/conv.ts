/**
 * Convolution kernels (NHWC images, OHWI weights).
 *
 * `convGemmKernel` is an implicit GEMM: rows are result pixels, columns result channels, and the
 * reduction runs over taps × source channels of one group; B is stored [col, tap, channel] (K
 * contiguous: the "NT" layout that is fastest on llvmpipe). Each invocation owns a TM×TN register
 * tile; loads are vec4 along channels when the group width is a multiple of 4. Rows/columns past the
 * end read clamped indices and are never stored; padding taps read index 0 and are zeroed by select.
 * The same kernel, in `transposed` mode with transposed weights, is the input gradient: every result
 * pixel gathers the source pixels whose window covers it (no atomics). Result pixels are grouped by
 * stride phase (o mod s), so within a tile a tap is either valid for all rows or skipped (uniform
 * branch) and no FLOP is spent on the s²−1 of s² taps that do not hit.
 *
 * `convWeightGradKernel` reduces gy[m, co]·x_col[m, tap, ci] over m = n·oh·ow in chunks of image
 * rows (partial sums, then `chunkSumKernel`): parallelism for the long reduction and shorter f32
 * sums. For each tap only the output columns whose tap lands inside the image are visited, so no
 * padding is multiplied.
 *
 * Depthwise convolution (one input and one output channel per group) has its own kernels that
 * vectorise over channels instead, since its GEMM would have a single column; so do forward and
 * weight-gradient passes with 1–3 input channels (kernels/conv_thin.ts).
 *
 * Measured on llvmpipe (2 cores, 3×3 128→128 14×14 ×64): every storage load is a per-lane gather,
 * and the accumulators live in stack memory whatever the tile size, so loads per multiply-add decide
 * the speed and bigger tiles keep winning: 16×16 ≈ 19, 32×32 ≈ 30, 64×32 ≈ 35 GFLOPS — but LLVM's
 * compile time grows with the live accumulators (uncached ≈ 1, 6, 18 s). Private arrays instead of
 * unrolled variables, a runtime loop over vec4 components, and a B layout with vec4 loads along
 * output channels ("NN") were all slower. The tile choice lives in engine/webgpu/extended.ts.
 */
import { binding, BUILTINS, type Kernel, linearGrid, MAX_GRID, memoized, WG_LINEAR } from "./kernel.ts";

export interface ConvTile {
  /** Rows (pixels) and columns (channels) per invocation, invocations per workgroup. */
  readonly tm: number;
  readonly tn: number;
  readonly wg: number;
}

/** Geometry of one implicit-GEMM convolution pass. */
export interface GemmConv {
  readonly n: number;
  /** Source image [n, ih, iw, ic] (x forward, gy for the input gradient). */
  readonly ih: number;
  readonly iw: number;
  readonly ic: number;
  /** Result image [n, oh, ow, oc]. */
  readonly oh: number;
  readonly ow: number;
  readonly oc: number;
  readonly kh: number;
  readonly kw: number;
  readonly groups: number;
  /** The forward convolution's stride, padding and dilation. */
  readonly sh: number;
  readonly sw: number;
  readonly ph: number;
  readonly pw: number;
  readonly dh: number;
  readonly dw: number;
  /**
   * false: result pixel o reads source o·s − p + k·d (convolution). true: source (o + p − k·d)/s
   * where that divides exactly (the adjoint of the convolution w.r.t. its input).
   */
  readonly transposed: boolean;
}

/** A workgroup grid over `count` row-workgroups × the column workgroups, y/z spread past 65535. */
export function rowGrid(cols: number, count: number): [number, number, number] {
  return count <= MAX_GRID ? [cols, count, 1] : [cols, MAX_GRID, Math.ceil(count / MAX_GRID)];
}

/** Lanes of a workgroup split into lc column blocks × lr row blocks (lc ≤ the column blocks present). */
export function laneSplit(colBlocks: number, wg: number): { lc: number; lr: number } {
  const lc = Math.max(1, Math.min(wg, colBlocks));
  return { lc, lr: Math.max(1, Math.floor(wg / lc)) };
}

function convGemmKernelSource(p: GemmConv, tile: ConvTile): Kernel {
  const ICG = p.ic / p.groups, OCG = p.oc / p.groups;
  const TM = tile.tm, TN = Math.min(tile.tn, Math.max(1, OCG));
  const K = p.kh * p.kw * ICG;
  const vec = ICG % 4 === 0;
  const V = vec ? 4 : 1;
  const SH = p.transposed ? p.sh : 1, SW = p.transposed ? p.sw : 1; // stride phases
  const phases = SH * SW;
  // Stride-1 adjoints need no phases: result pixel o reads source o + p − k·d, a plain convolution.
  const phased = phases > 1;
  const maxRows = p.n * Math.ceil(p.oh / SH) * Math.ceil(p.ow / SW);
  const colBlocks = Math.ceil(OCG / TN);
  const { lc, lr } = laneSplit(colBlocks, tile.wg);
  const WG = lc * lr;
  const rowWG = Math.ceil(maxRows / TM / lr);
  const colWG = Math.ceil(colBlocks / lc);
  const slices = p.groups * phases;
  const ty = vec ? "vec4<f32>" : "f32";
  const zero = vec ? "vec4<f32>(0.0)" : "0.0";

  const L: string[] = [];
  L.push(binding(0, "X", `array<${ty}>`, false));
  L.push(binding(1, "B", `array<${ty}>`, false));
  // vec4 stores: one store op instead of four (each is a per-lane scatter on llvmpipe).
  const yVec = OCG % 4 === 0 && TN % 4 === 0;
  L.push(binding(2, "Y", yVec ? "array<vec4<f32>>" : "array<f32>", true));
  L.push(`@compute @workgroup_size(${WG}) fn main(${BUILTINS}) {`);
  L.push(`  let c0 = (wid.x * ${lc}u + ${lr === 1 ? "lid.x" : `lid.x % ${lc}u`}) * ${TN}u;`);
  L.push(`  let lin = wid.y + wid.z * nwg.y;`);
  L.push(`  let slice = lin / ${rowWG}u;`);
  L.push(`  if (slice >= ${slices}u || c0 >= ${OCG}u) { return; }`);
  // With one row block per workgroup the rows derive from workgroup_id only, so llvmpipe sees the
  // source loads as uniform across lanes (one load, not a gather).
  const rowLane = lr === 1 ? "" : ` * ${lr}u + lid.x / ${lc}u`;
  L.push(`  let r0 = ((lin % ${rowWG}u)${rowLane}) * ${TM}u;`);
  L.push(`  let g = slice / ${phases}u;`);
  if (phased) {
    L.push(`  let py = i32((slice % ${phases}u) / ${SW}u);`);
    L.push(`  let px = i32(slice % ${SW}u);`);
    L.push(`  let qh = u32(${p.oh} - py + ${SH - 1}) / ${SH}u;`);
    L.push(`  let qw = u32(${p.ow} - px + ${SW - 1}) / ${SW}u;`);
  } else {
    L.push(`  let qh = ${p.oh}u;`);
    L.push(`  let qw = ${p.ow}u;`);
  }
  L.push(`  let rows = ${p.n}u * qh * qw;`);
  L.push(`  if (r0 >= rows) { return; }`);
  // Row geometry, once per invocation: image, source origin, result offset.
  const AH = p.transposed ? 1 : p.sh, AW = p.transposed ? 1 : p.sw;
  for (let r = 0; r < TM; r++) {
    L.push(`  let m${r} = min(r0 + ${r}u, rows - 1u);`);
    L.push(`  let img${r} = m${r} / (qh * qw);`);
    L.push(`  let qy${r} = (m${r} % (qh * qw)) / qw;`);
    L.push(`  let qx${r} = m${r} % qw;`);
    L.push(`  let by${r} = i32(qy${r}) * ${AH};`);
    L.push(`  let bx${r} = i32(qx${r}) * ${AW};`);
    L.push(`  let xb${r} = i32(img${r}) * ${p.ih};`);
  }
  for (let c = 0; c < TN; c++) {
    L.push(`  let wr${c} = (g * ${OCG}u + min(c0 + ${c}u, ${OCG - 1}u)) * ${K / V}u;`);
  }
  for (let r = 0; r < TM; r++) for (let c = 0; c < TN; c++) L.push(`  var acc${r}_${c} = 0.0;`);
  L.push(`  let gx = g * ${ICG / V}u;`);
  L.push(`  for (var ky = 0; ky < ${p.kh}; ky++) {`);
  if (phased) {
    L.push(`    let ty = py + ${p.ph} - ky * ${p.dh};`);
    L.push(`    if (ty % ${SH} != 0) { continue; }`);
    L.push(`    let dy = ty / ${SH};`);
  } else if (p.transposed) {
    L.push(`    let dy = ${p.ph} - ky * ${p.dh};`);
  } else {
    L.push(`    let dy = ky * ${p.dh} - ${p.ph};`);
  }
  L.push(`    for (var kx = 0; kx < ${p.kw}; kx++) {`);
  if (phased) {
    L.push(`      let tx = px + ${p.pw} - kx * ${p.dw};`);
    L.push(`      if (tx % ${SW} != 0) { continue; }`);
    L.push(`      let dx = tx / ${SW};`);
  } else if (p.transposed) {
    L.push(`      let dx = ${p.pw} - kx * ${p.dw};`);
  } else {
    L.push(`      let dx = kx * ${p.dw} - ${p.pw};`);
  }
  L.push(`      let tap = u32(ky * ${p.kw} + kx) * ${ICG / V}u;`);
  for (let r = 0; r < TM; r++) {
    L.push(`      let iy${r} = by${r} + dy;`);
    L.push(`      let ix${r} = bx${r} + dx;`);
    L.push(`      let ok${r} = iy${r} >= 0 && iy${r} < ${p.ih} && ix${r} >= 0 && ix${r} < ${p.iw};`);
    L.push(
      `      let xo${r} = select(0u, u32((xb${r} + iy${r}) * ${p.iw} + ix${r}) * ${p.ic / V}u + gx, ok${r});`,
    );
  }
  L.push(`      for (var ci = 0u; ci < ${ICG / V}u; ci++) {`);
  for (let r = 0; r < TM; r++) L.push(`        let a${r} = select(${zero}, X[xo${r} + ci], ok${r});`);
  const comps = vec ? [".x", ".y", ".z", ".w"] : [""];
  for (let c = 0; c < TN; c++) L.push(`        let b${c} = B[wr${c} + tap + ci];`);
  for (const s of comps) {
    for (let r = 0; r < TM; r++) {
      for (let c = 0; c < TN; c++) L.push(`        acc${r}_${c} = fma(a${r}${s}, b${c}${s}, acc${r}_${c});`);
    }
  }
  L.push("      }");
  L.push("    }");
  L.push("  }");
  for (let r = 0; r < TM; r++) {
    const pix = phased
      ? `(img${r} * ${p.oh}u + qy${r} * ${SH}u + u32(py)) * ${p.ow}u + qx${r} * ${SW}u + u32(px)`
      : `(img${r} * ${p.oh}u + qy${r}) * ${p.ow}u + qx${r}`;
    L.push(`  if (r0 + ${r}u < rows) {`);
    L.push(`    let yo = (${pix}) * ${p.oc}u + g * ${OCG}u + c0;`);
    if (yVec) {
      for (let q = 0; q < TN / 4; q++) {
        const guard = OCG % TN === 0 ? "" : `if (c0 + ${4 * q}u < ${OCG}u) `;
        const v = [0, 1, 2, 3].map((e) => `acc${r}_${4 * q + e}`).join(", ");
        L.push(`    ${guard}{ Y[yo / 4u + ${q}u] = vec4<f32>(${v}); }`);
      }
    } else {
      for (let c = 0; c < TN; c++) {
        const guard = OCG % TN === 0 ? "" : `if (c0 + ${c}u < ${OCG}u) `;
        L.push(`    ${guard}{ Y[yo + ${c}u] = acc${r}_${c}; }`);
      }
    }
    L.push("  }");
  }
  L.push("}");
  return { code: L.join("\n") + "\n", workgroups: rowGrid(colWG, rowWG * slices) };
}

/** Geometry of the weight gradient: the forward convolution's shapes. */
export interface WeightGradConv {
  readonly n: number;
  readonly h: number;
  readonly w: number;
  readonly cin: number;
  readonly cout: number;
  readonly kh: number;
  readonly kw: number;
  readonly sh: number;
  readonly sw: number;
  readonly ph: number;
  readonly pw: number;
  readonly dh: number;
  readonly dw: number;
  readonly groups: number;
  readonly oh: number;
  readonly ow: number;
}

/** How a weight-gradient reduction is cut: `rowsPerChunk` image rows (of n·oh) per partial sum. */
export function weightGradChunks(p: WeightGradConv, targetM: number, maxPartial: number): {
  chunks: number;
  rowsPerChunk: number;
} {
  const R = p.n * p.oh;
  const wsize = p.cout * p.kh * p.kw * (p.cin / p.groups);
  let chunks = Math.max(1, Math.round((R * p.ow) / targetM));
  chunks = Math.max(1, Math.min(chunks, R, Math.floor(maxPartial / wsize)));
  const rowsPerChunk = Math.ceil(R / chunks);
  return { chunks: Math.ceil(R / rowsPerChunk), rowsPerChunk };
}

/**
 * Partial weight gradients P[chunk, co, ky, kx, ci] = Σ over the chunk's image rows of
 * gy[m, co]·x_col[m, (ky, kx, ci)]. Bindings: X, GY, P.
 */
function convWeightGradKernelSource(p: WeightGradConv, tile: ConvTile, rowsPerChunk: number): Kernel {
  const ICG = p.cin / p.groups, OCG = p.cout / p.groups;
  const TM = Math.min(tile.tm, Math.max(1, OCG)), TN = Math.min(tile.tn, Math.max(1, ICG));
  const gVec = OCG % 4 === 0 && TM % 4 === 0;
  const xVec = ICG % 4 === 0 && TN % 4 === 0;
  const taps = p.kh * p.kw;
  const coB = Math.ceil(OCG / TM), ciB = Math.ceil(ICG / TN);
  const R = p.n * p.oh;
  const chunks = Math.ceil(R / rowsPerChunk);
  const wsize = p.cout * taps * ICG;
  // Lanes take input-channel blocks; the output-channel block, tap, group and chunk come from the
  // workgroup id, so gy loads are uniform across lanes (see convGemmKernel).
  const { lc, lr } = laneSplit(ciB, tile.wg);
  const WG = lc * lr;
  const coWG = Math.ceil(coB / lr);
  const rowsOfGrid = coWG * taps * p.groups * chunks;
  const L: string[] = [];
  L.push(binding(0, "X", xVec ? "array<vec4<f32>>" : "array<f32>", false));
  L.push(binding(1, "G", gVec ? "array<vec4<f32>>" : "array<f32>", false));
  L.push(binding(2, "P", "array<f32>", true));
  L.push(`@compute @workgroup_size(${WG}) fn main(${BUILTINS}) {`);
  L.push(`  let ci0 = (wid.x * ${lc}u + ${lr === 1 ? "lid.x" : `lid.x % ${lc}u`}) * ${TN}u;`);
  L.push(`  var t = wid.y + wid.z * nwg.y;`);
  L.push(`  if (t >= ${rowsOfGrid}u || ci0 >= ${ICG}u) { return; }`);
  L.push(
    `  let co0 = ((t % ${coWG}u)${lr === 1 ? "" : ` * ${lr}u + lid.x / ${lc}u`}) * ${TM}u; t = t / ${coWG}u;`,
  );
  L.push(`  if (co0 >= ${OCG}u) { return; }`);
  L.push(`  let tap = t % ${taps}u; t = t / ${taps}u;`);
  L.push(`  let g = t % ${p.groups}u;`);
  L.push(`  let chunk = t / ${p.groups}u;`);
  L.push(`  let ky = i32(tap / ${p.kw}u);`);
  L.push(`  let kx = i32(tap % ${p.kw}u);`);
  // Output columns whose tap lands inside the image: ox·sw − pw + kx·dw ∈ [0, w).
  L.push(`  let ex = ${p.pw} - kx * ${p.dw};`);
  L.push(`  let ox0 = u32(clamp(select(ex, ex + ${p.sw - 1}, ex > 0) / ${p.sw}, 0, ${p.ow}));`);
  L.push(`  let fx = ${p.w - 1} + ex;`);
  L.push(`  let ox1 = u32(select(clamp(fx / ${p.sw} + 1, 0, ${p.ow}), 0, fx < 0));`);
  L.push(`  let dyo = ky * ${p.dh} - ${p.ph};`);
  L.push(`  let dxo = kx * ${p.dw} - ${p.pw};`);
  // Channel offsets (elements) of this tile's operands.
  if (gVec) {
    for (let q = 0; q < TM / 4; q++) {
      L.push(`  let go${q} = (g * ${OCG}u + min(co0 + ${4 * q}u, ${OCG - 4}u)) / 4u;`);
    }
  } else {
    for (let r = 0; r < TM; r++) L.push(`  let go${r} = g * ${OCG}u + min(co0 + ${r}u, ${OCG - 1}u);`);
  }
  if (xVec) {
    for (let q = 0; q < TN / 4; q++) {
      L.push(`  let xo${q} = (g * ${ICG}u + min(ci0 + ${4 * q}u, ${ICG - 4}u)) / 4u;`);
    }
  } else {
    for (let c = 0; c < TN; c++) L.push(`  let xo${c} = g * ${ICG}u + min(ci0 + ${c}u, ${ICG - 1}u);`);
  }
  for (let r = 0; r < TM; r++) for (let c = 0; c < TN; c++) L.push(`  var acc${r}_${c} = 0.0;`);
  L.push(`  let rEnd = min((chunk + 1u) * ${rowsPerChunk}u, ${R}u);`);
  L.push(`  for (var rr = chunk * ${rowsPerChunk}u; rr < rEnd; rr++) {`);
  L.push(`    let img = rr / ${p.oh}u;`);
  L.push(`    let iy = i32(rr % ${p.oh}u) * ${p.sh} + dyo;`);
  L.push(`    if (iy < 0 || iy >= ${p.h}) { continue; }`);
  L.push(`    let grow = rr * ${p.ow}u;`);
  L.push(`    let xrow = (img * ${p.h}u + u32(iy)) * ${p.w}u;`);
  L.push(`    for (var ox = ox0; ox < ox1; ox++) {`);
  L.push(`      let gp = (grow + ox) * ${gVec ? p.cout / 4 : p.cout}u;`);
  L.push(`      let xp = (xrow + u32(i32(ox) * ${p.sw} + dxo)) * ${xVec ? p.cin / 4 : p.cin}u;`);
  const gv: string[] = [], xv: string[] = [];
  if (gVec) {
    for (let q = 0; q < TM / 4; q++) {
      L.push(`      let gq${q} = G[gp + go${q}];`);
      for (const s of ["x", "y", "z", "w"]) gv.push(`gq${q}.${s}`);
    }
  } else {
    for (let r = 0; r < TM; r++) {
      L.push(`      let gs${r} = G[gp + go${r}];`);
      gv.push(`gs${r}`);
    }
  }
  if (xVec) {
    for (let q = 0; q < TN / 4; q++) {
      L.push(`      let xq${q} = X[xp + xo${q}];`);
      for (const s of ["x", "y", "z", "w"]) xv.push(`xq${q}.${s}`);
    }
  } else {
    for (let c = 0; c < TN; c++) {
      L.push(`      let xs${c} = X[xp + xo${c}];`);
      xv.push(`xs${c}`);
    }
  }
  for (let r = 0; r < TM; r++) {
    for (let c = 0; c < TN; c++) L.push(`      acc${r}_${c} = fma(${gv[r]}, ${xv[c]}, acc${r}_${c});`);
  }
  L.push("    }");
  L.push("  }");
  L.push(`  let pb = chunk * ${wsize}u + tap * ${ICG}u;`);
  for (let r = 0; r < TM; r++) {
    L.push(`  if (co0 + ${r}u < ${OCG}u) {`);
    L.push(`    let po = pb + (g * ${OCG}u + co0 + ${r}u) * ${taps * ICG}u + ci0;`);
    for (let c = 0; c < TN; c++) {
      const guard = ICG % TN === 0 ? "" : `if (ci0 + ${c}u < ${ICG}u) `;
      L.push(`    ${guard}{ P[po + ${c}u] = acc${r}_${c}; }`);
    }
    L.push("  }");
  }
  L.push("}");
  return { code: L.join("\n") + "\n", workgroups: rowGrid(Math.ceil(ciB / lc), rowsOfGrid) };
}

const SUM_WG = 64;

/** out[i] = Σ_c P[c·size + i], in chunk order (deterministic). Bindings: P, O. */
function chunkSumKernelSource(size: number, chunks: number): Kernel {
  const vec = size % 4 === 0;
  const n = vec ? size / 4 : size;
  const ty = vec ? "vec4<f32>" : "f32";
  const code = `${binding(0, "P", `array<${ty}>`, false)}
${binding(1, "O", `array<${ty}>`, true)}
@compute @workgroup_size(${SUM_WG}) fn main(${BUILTINS}) {
  let i = ${WG_LINEAR} * ${SUM_WG}u + lid.x;
  if (i >= ${n}u) { return; }
  var acc = P[i];
  for (var c = 1u; c < ${chunks}u; c++) { acc += P[c * ${n}u + i]; }
  O[i] = acc;
}
`;
  return { code, workgroups: linearGrid(Math.ceil(n / SUM_WG)) };
}

/**
 * Depthwise convolution (groups = channels, one filter each), forward or transposed (its input
 * adjoint, same weights [c, kh, kw, 1]): each invocation computes TM pixels × 4 channels, loading
 * vec4 along channels when c % 4 == 0 (else four clamped scalars). Bindings: X, W, Y.
 */
function depthwiseKernelSource(p: GemmConv, tm: number, wg: number): Kernel {
  const C = p.oc;
  const vec = C % 4 === 0;
  const cb = Math.ceil(C / 4);
  const SH = p.transposed ? p.sh : 1, SW = p.transposed ? p.sw : 1;
  const phases = SH * SW;
  const maxRows = p.n * Math.ceil(p.oh / SH) * Math.ceil(p.ow / SW);
  const rowBlocks = Math.ceil(maxRows / tm);
  const total = phases * rowBlocks * cb;
  const taps = p.kh * p.kw;
  const L: string[] = [];
  L.push(binding(0, "X", vec ? "array<vec4<f32>>" : "array<f32>", false));
  L.push(binding(1, "W", "array<f32>", false));
  L.push(binding(2, "Y", vec ? "array<vec4<f32>>" : "array<f32>", true));
  L.push(`@compute @workgroup_size(${wg}) fn main(${BUILTINS}) {`);
  L.push(`  var t = ${WG_LINEAR} * ${wg}u + lid.x;`);
  L.push(`  if (t >= ${total}u) { return; }`);
  L.push(`  let cq = t % ${cb}u; t = t / ${cb}u;`);
  L.push(`  let r0 = (t % ${rowBlocks}u) * ${tm}u;`);
  L.push(`  let phase = t / ${rowBlocks}u;`);
  if (p.transposed) {
    L.push(`  let py = i32(phase / ${SW}u);`);
    L.push(`  let px = i32(phase % ${SW}u);`);
    L.push(`  let qh = u32(${p.oh} - py + ${SH - 1}) / ${SH}u;`);
    L.push(`  let qw = u32(${p.ow} - px + ${SW - 1}) / ${SW}u;`);
  } else {
    L.push(`  let qh = ${p.oh}u;`);
    L.push(`  let qw = ${p.ow}u;`);
  }
  L.push(`  let rows = ${p.n}u * qh * qw;`);
  L.push(`  if (r0 >= rows) { return; }`);
  const AH = p.transposed ? 1 : p.sh, AW = p.transposed ? 1 : p.sw;
  for (let r = 0; r < tm; r++) {
    L.push(`  let m${r} = min(r0 + ${r}u, rows - 1u);`);
    L.push(`  let img${r} = m${r} / (qh * qw);`);
    L.push(`  let qy${r} = (m${r} % (qh * qw)) / qw;`);
    L.push(`  let qx${r} = m${r} % qw;`);
    L.push(`  var acc${r} = vec4<f32>(0.0);`);
  }
  for (let j = 0; j < 4; j++) L.push(`  let wc${j} = min(cq * 4u + ${j}u, ${C - 1}u) * ${taps}u;`);
  L.push(`  for (var ky = 0; ky < ${p.kh}; ky++) {`);
  if (p.transposed) {
    L.push(`    let ty = py + ${p.ph} - ky * ${p.dh};`);
    L.push(`    if (ty % ${SH} != 0) { continue; }`);
    L.push(`    let dy = ty / ${SH};`);
  } else L.push(`    let dy = ky * ${p.dh} - ${p.ph};`);
  L.push(`    for (var kx = 0; kx < ${p.kw}; kx++) {`);
  if (p.transposed) {
    L.push(`      let tx = px + ${p.pw} - kx * ${p.dw};`);
    L.push(`      if (tx % ${SW} != 0) { continue; }`);
    L.push(`      let dx = tx / ${SW};`);
  } else L.push(`      let dx = kx * ${p.dw} - ${p.pw};`);
  L.push(`      let tap = u32(ky * ${p.kw} + kx);`);
  L.push(`      let wv = vec4<f32>(W[wc0 + tap], W[wc1 + tap], W[wc2 + tap], W[wc3 + tap]);`);
  for (let r = 0; r < tm; r++) {
    L.push(`      {`);
    L.push(`        let iy = i32(qy${r}) * ${AH} + dy;`);
    L.push(`        let ix = i32(qx${r}) * ${AW} + dx;`);
    L.push(`        let ok = iy >= 0 && iy < ${p.ih} && ix >= 0 && ix < ${p.iw};`);
    L.push(`        let pix = select(0u, (img${r} * ${p.ih}u + u32(iy)) * ${p.iw}u + u32(ix), ok);`);
    if (vec) {
      L.push(`        acc${r} = fma(select(vec4<f32>(0.0), X[pix * ${C / 4}u + cq], ok), wv, acc${r});`);
    } else {
      const ld = (j: number) => `X[pix * ${C}u + min(cq * 4u + ${j}u, ${C - 1}u)]`;
      L.push(`        let xv = vec4<f32>(${[0, 1, 2, 3].map(ld).join(", ")});`);
      L.push(`        acc${r} = fma(select(vec4<f32>(0.0), xv, ok), wv, acc${r});`);
    }
    L.push(`      }`);
  }
  L.push("    }");
  L.push("  }");
  for (let r = 0; r < tm; r++) {
    const pix = p.transposed
      ? `(img${r} * ${p.oh}u + qy${r} * ${SH}u + u32(py)) * ${p.ow}u + qx${r} * ${SW}u + u32(px)`
      : `(img${r} * ${p.oh}u + qy${r}) * ${p.ow}u + qx${r}`;
    L.push(`  if (r0 + ${r}u < rows) {`);
    L.push(`    let yp = ${pix};`);
    if (vec) L.push(`    Y[yp * ${C / 4}u + cq] = acc${r};`);
    else {
      for (let j = 0; j < 4; j++) {
        L.push(`    if (cq * 4u + ${j}u < ${C}u) { Y[yp * ${C}u + cq * 4u + ${j}u] = acc${r}[${j}]; }`);
      }
    }
    L.push("  }");
  }
  L.push("}");
  return { code: L.join("\n") + "\n", workgroups: linearGrid(Math.ceil(total / wg)) };
}

/**
 * Depthwise weight-gradient partials P[chunk, c, tap] = Σ_m gy[m, c]·x[m@tap, c]; each invocation
 * owns 4 channels × one tap × one chunk of image rows. Bindings: X, GY, P.
 */
function depthwiseWeightGradKernelSource(p: WeightGradConv, wg: number, rowsPerChunk: number): Kernel {
  const C = p.cout;
  const vec = C % 4 === 0;
  const cb = Math.ceil(C / 4);
  const taps = p.kh * p.kw;
  const R = p.n * p.oh;
  const chunks = Math.ceil(R / rowsPerChunk);
  const total = chunks * taps * cb;
  const ld = (a: string, base: string) =>
    vec
      ? `${a}[${base} / 4u + cq]`
      : `vec4<f32>(${[0, 1, 2, 3].map((j) => `${a}[${base} + min(cq * 4u + ${j}u, ${C - 1}u)]`).join(", ")})`;
  const L: string[] = [];
  L.push(binding(0, "X", vec ? "array<vec4<f32>>" : "array<f32>", false));
  L.push(binding(1, "G", vec ? "array<vec4<f32>>" : "array<f32>", false));
  L.push(binding(2, "P", "array<f32>", true));
  L.push(`@compute @workgroup_size(${wg}) fn main(${BUILTINS}) {`);
  L.push(`  var t = ${WG_LINEAR} * ${wg}u + lid.x;`);
  L.push(`  if (t >= ${total}u) { return; }`);
  L.push(`  let cq = t % ${cb}u; t = t / ${cb}u;`);
  L.push(`  let tap = t % ${taps}u;`);
  L.push(`  let chunk = t / ${taps}u;`);
  L.push(`  let ky = i32(tap / ${p.kw}u);`);
  L.push(`  let kx = i32(tap % ${p.kw}u);`);
  L.push(`  let ex = ${p.pw} - kx * ${p.dw};`);
  L.push(`  let ox0 = u32(clamp(select(ex, ex + ${p.sw - 1}, ex > 0) / ${p.sw}, 0, ${p.ow}));`);
  L.push(`  let fx = ${p.w - 1} + ex;`);
  L.push(`  let ox1 = u32(select(clamp(fx / ${p.sw} + 1, 0, ${p.ow}), 0, fx < 0));`);
  L.push(`  var acc = vec4<f32>(0.0);`);
  L.push(`  let rEnd = min((chunk + 1u) * ${rowsPerChunk}u, ${R}u);`);
  L.push(`  for (var rr = chunk * ${rowsPerChunk}u; rr < rEnd; rr++) {`);
  L.push(`    let img = rr / ${p.oh}u;`);
  L.push(`    let iy = i32(rr % ${p.oh}u) * ${p.sh} + ky * ${p.dh} - ${p.ph};`);
  L.push(`    if (iy < 0 || iy >= ${p.h}) { continue; }`);
  L.push(`    for (var ox = ox0; ox < ox1; ox++) {`);
  L.push(`      let gp = (rr * ${p.ow}u + ox) * ${C}u;`);
  L.push(`      let xp = ((img * ${p.h}u + u32(iy)) * ${p.w}u + u32(i32(ox) * ${p.sw} - ex)) * ${C}u;`);
  L.push(`      acc = fma(${ld("G", "gp")}, ${ld("X", "xp")}, acc);`);
  L.push("    }");
  L.push("  }");
  L.push(`  let pb = chunk * ${C * taps}u + tap;`);
  for (let j = 0; j < 4; j++) {
    L.push(`  if (cq * 4u + ${j}u < ${C}u) { P[pb + (cq * 4u + ${j}u) * ${taps}u] = acc[${j}]; }`);
  }
  L.push("}");
  return { code: L.join("\n") + "\n", workgroups: linearGrid(Math.ceil(total / wg)) };
}

export const convGemmKernel = memoized(convGemmKernelSource);

export const convWeightGradKernel = memoized(convWeightGradKernelSource);

export const depthwiseKernel = memoized(depthwiseKernelSource);

export const depthwiseWeightGradKernel = memoized(depthwiseWeightGradKernelSource);

export const chunkSumKernel = memoized(chunkSumKernelSource);
