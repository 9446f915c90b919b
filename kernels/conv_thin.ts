/**
 * Convolutions with few input channels (grayscale and RGB first layers), forward and weight gradient.
 *
 * The implicit GEMM (kernels/conv.ts) vectorises along input channels; with 1–3 of them it used to pad
 * to 4 (a quarter to three quarters of its multiply-adds on zeros) and its weight gradient left most
 * lanes idle (one input-channel block to share among them). Here the reduction runs over taps × the
 * few channels as scalars instead:
 * - forward: each invocation owns TM result pixels × TN output channels; the channel block comes from
 *   the workgroup id, so weight loads are uniform across lanes (one load, not a gather, on llvmpipe)
 *   and each loaded pixel value feeds TN multiply-adds;
 * - weight gradient: each invocation owns TM output channels × every (tap, channel) of the kernel for
 *   one chunk of image rows; lanes take output-channel blocks of the same pixels, so the source loads
 *   are uniform and only gy is gathered. Partial sums per chunk, reduced by `chunkSumKernel`.
 * Padding taps read index 0 and are zeroed by select.
 */
import { binding, BUILTINS, type Kernel, memoized } from "./kernel.ts";
import { type ConvTile, type GemmConv, laneSplit, rowGrid, type WeightGradConv } from "./conv.ts";

/** The weight gradient keeps TM × kh·kw·cin accumulators per invocation; beyond this, pad instead. */
export const THIN_MAX_TAPS = 32;

/** Whether `convThinKernel` / `convThinWeightGradKernel` serve this convolution. */
export function isThinConv(p: { groups: number; cin: number; kh: number; kw: number }): boolean {
  return p.groups === 1 && p.cin < 4 && p.kh * p.kw * p.cin <= THIN_MAX_TAPS;
}

/** Forward convolution, groups 1, few input channels. Bindings: X [n,ih,iw,ic], W [oc,kh,kw,ic], Y. */
function convThinKernelSource(p: GemmConv, tile: ConvTile): Kernel {
  if (p.transposed || p.groups !== 1) throw new Error("convThinKernel: forward, groups 1 only");
  const C = p.ic, K = p.kh * p.kw * C, OC = p.oc;
  const TM = tile.tm, TN = Math.min(tile.tn, OC), WG = tile.wg;
  const rows = p.n * p.oh * p.ow;
  const rowWG = Math.ceil(rows / TM / WG), colWG = Math.ceil(OC / TN);
  const yVec = OC % 4 === 0 && TN % 4 === 0;
  const L: string[] = [];
  L.push(binding(0, "X", "array<f32>", false));
  L.push(binding(1, "W", "array<f32>", false));
  L.push(binding(2, "Y", yVec ? "array<vec4<f32>>" : "array<f32>", true));
  L.push(`@compute @workgroup_size(${WG}) fn main(${BUILTINS}) {`);
  L.push(`  let c0 = wid.x * ${TN}u;`);
  L.push(`  let r0 = ((wid.y + wid.z * nwg.y) * ${WG}u + lid.x) * ${TM}u;`);
  L.push(`  if (r0 >= ${rows}u) { return; }`);
  for (let r = 0; r < TM; r++) {
    L.push(`  let m${r} = min(r0 + ${r}u, ${rows - 1}u);`);
    L.push(`  let img${r} = m${r} / ${p.oh * p.ow}u;`);
    L.push(`  let by${r} = i32((m${r} % ${p.oh * p.ow}u) / ${p.ow}u) * ${p.sh} - ${p.ph};`);
    L.push(`  let bx${r} = i32(m${r} % ${p.ow}u) * ${p.sw} - ${p.pw};`);
    L.push(`  let xb${r} = i32(img${r}) * ${p.ih};`);
  }
  for (let c = 0; c < TN; c++) L.push(`  let wr${c} = min(c0 + ${c}u, ${OC - 1}u) * ${K}u;`);
  for (let r = 0; r < TM; r++) for (let c = 0; c < TN; c++) L.push(`  var acc${r}_${c} = 0.0;`);
  L.push(`  for (var ky = 0; ky < ${p.kh}; ky++) {`);
  L.push(`    for (var kx = 0; kx < ${p.kw}; kx++) {`);
  L.push(`      let tap = u32(ky * ${p.kw} + kx) * ${C}u;`);
  for (let r = 0; r < TM; r++) {
    L.push(`      let iy${r} = by${r} + ky * ${p.dh};`);
    L.push(`      let ix${r} = bx${r} + kx * ${p.dw};`);
    L.push(`      let ok${r} = iy${r} >= 0 && iy${r} < ${p.ih} && ix${r} >= 0 && ix${r} < ${p.iw};`);
    L.push(`      let xo${r} = select(0u, u32((xb${r} + iy${r}) * ${p.iw} + ix${r}) * ${C}u, ok${r});`);
  }
  for (let ci = 0; ci < C; ci++) {
    for (let r = 0; r < TM; r++) L.push(`      let a${r}_${ci} = select(0.0, X[xo${r} + ${ci}u], ok${r});`);
    for (let c = 0; c < TN; c++) L.push(`      let b${c}_${ci} = W[wr${c} + tap + ${ci}u];`);
    for (let r = 0; r < TM; r++) {
      for (let c = 0; c < TN; c++) {
        L.push(`      acc${r}_${c} = fma(a${r}_${ci}, b${c}_${ci}, acc${r}_${c});`);
      }
    }
  }
  L.push("    }");
  L.push("  }");
  for (let r = 0; r < TM; r++) {
    L.push(`  if (r0 + ${r}u < ${rows}u) {`);
    L.push(`    let yo = (r0 + ${r}u) * ${OC}u + c0;`);
    if (yVec) {
      for (let q = 0; q < TN / 4; q++) {
        const guard = OC % TN === 0 ? "" : `if (c0 + ${4 * q}u < ${OC}u) `;
        const v = [0, 1, 2, 3].map((e) => `acc${r}_${4 * q + e}`).join(", ");
        L.push(`    ${guard}{ Y[yo / 4u + ${q}u] = vec4<f32>(${v}); }`);
      }
    } else {
      for (let c = 0; c < TN; c++) {
        const guard = OC % TN === 0 ? "" : `if (c0 + ${c}u < ${OC}u) `;
        L.push(`    ${guard}{ Y[yo + ${c}u] = acc${r}_${c}; }`);
      }
    }
    L.push("  }");
  }
  L.push("}");
  return { code: L.join("\n") + "\n", workgroups: rowGrid(colWG, rowWG) };
}

/**
 * Partial weight gradients P[chunk, co, ky, kx, ci] = Σ over the chunk's image rows of
 * gy[m, co]·x_col[m, (ky, kx, ci)], groups 1, few input channels. Bindings: X, GY, P.
 */
function convThinWeightGradKernelSource(
  p: WeightGradConv,
  tile: { tm: number; wg: number },
  rowsPerChunk: number,
): Kernel {
  if (!isThinConv(p)) throw new Error("convThinWeightGradKernel: groups 1, few input channels only");
  const C = p.cin, K = p.kh * p.kw * C, OC = p.cout;
  const TM = Math.min(tile.tm, OC);
  const gVec = OC % 4 === 0 && TM % 4 === 0;
  const coB = Math.ceil(OC / TM);
  const { lc, lr } = laneSplit(coB, tile.wg);
  const WG = lc * lr;
  const R = p.n * p.oh, chunks = Math.ceil(R / rowsPerChunk);
  const chunkWG = Math.ceil(chunks / lr), colWG = Math.ceil(coB / lc);
  const L: string[] = [];
  L.push(binding(0, "X", "array<f32>", false));
  L.push(binding(1, "G", gVec ? "array<vec4<f32>>" : "array<f32>", false));
  L.push(binding(2, "P", "array<f32>", true));
  L.push(`@compute @workgroup_size(${WG}) fn main(${BUILTINS}) {`);
  L.push(`  let co0 = (wid.x * ${lc}u + ${lr === 1 ? "lid.x" : `lid.x % ${lc}u`}) * ${TM}u;`);
  const chunkLane = lr === 1 ? "" : ` * ${lr}u + lid.x / ${lc}u`;
  L.push(`  let chunk = (wid.y + wid.z * nwg.y)${chunkLane};`);
  L.push(`  if (co0 >= ${OC}u || chunk >= ${chunks}u) { return; }`);
  if (gVec) {
    for (let q = 0; q < TM / 4; q++) L.push(`  let go${q} = min(co0 / 4u + ${q}u, ${OC / 4 - 1}u);`);
  } else {
    for (let r = 0; r < TM; r++) L.push(`  let go${r} = min(co0 + ${r}u, ${OC - 1}u);`);
  }
  for (let r = 0; r < TM; r++) for (let k = 0; k < K; k++) L.push(`  var acc${r}_${k} = 0.0;`);
  L.push(`  let rEnd = min((chunk + 1u) * ${rowsPerChunk}u, ${R}u);`);
  L.push(`  for (var rr = chunk * ${rowsPerChunk}u; rr < rEnd; rr++) {`);
  L.push(`    let img = rr / ${p.oh}u;`);
  L.push(`    let oy = i32(rr % ${p.oh}u) * ${p.sh} - ${p.ph};`);
  for (let ky = 0; ky < p.kh; ky++) {
    L.push(`    let iy${ky} = oy + ${ky * p.dh};`);
    L.push(`    let yok${ky} = iy${ky} >= 0 && iy${ky} < ${p.h};`);
    L.push(`    let xr${ky} = (i32(img) * ${p.h} + iy${ky}) * ${p.w};`);
  }
  L.push(`    for (var ox = 0u; ox < ${p.ow}u; ox++) {`);
  L.push(`      let gp = (rr * ${p.ow}u + ox) * ${gVec ? OC / 4 : OC}u;`);
  const gv: string[] = [];
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
  L.push(`      let bx = i32(ox) * ${p.sw} - ${p.pw};`);
  for (let kx = 0; kx < p.kw; kx++) {
    L.push(`      let ix${kx} = bx + ${kx * p.dw};`);
    L.push(`      let xok${kx} = ix${kx} >= 0 && ix${kx} < ${p.w};`);
  }
  for (let ky = 0; ky < p.kh; ky++) {
    for (let kx = 0; kx < p.kw; kx++) {
      const t = ky * p.kw + kx;
      L.push(`      let ok${t} = yok${ky} && xok${kx};`);
      L.push(`      let xo${t} = select(0u, u32(xr${ky} + ix${kx}) * ${C}u, ok${t});`);
      for (let ci = 0; ci < C; ci++) {
        const k = t * C + ci;
        L.push(`      let x${k} = select(0.0, X[xo${t} + ${ci}u], ok${t});`);
        for (let r = 0; r < TM; r++) L.push(`      acc${r}_${k} = fma(${gv[r]}, x${k}, acc${r}_${k});`);
      }
    }
  }
  L.push("    }");
  L.push("  }");
  L.push(`  let pb = chunk * ${OC * K}u;`);
  for (let r = 0; r < TM; r++) {
    L.push(`  if (co0 + ${r}u < ${OC}u) {`);
    L.push(`    let po = pb + (co0 + ${r}u) * ${K}u;`);
    for (let k = 0; k < K; k++) L.push(`    P[po + ${k}u] = acc${r}_${k};`);
    L.push("  }");
  }
  L.push("}");
  return { code: L.join("\n") + "\n", workgroups: rowGrid(colWG, chunkWG) };
}

export const convThinKernel = memoized(convThinKernelSource);

export const convThinWeightGradKernel = memoized(convThinWeightGradKernelSource);
