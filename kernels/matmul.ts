/**
 * Batched matmul C[b] = op(A[b]) · op(B[b]) for any transposes and sizes. Each invocation owns a
 * TM×TN register tile; lanes of a workgroup share rows (A loads are uniform across lanes) and take
 * consecutive column blocks. Loads are vec4 along whichever dimension is contiguous when sizes and
 * batch strides are multiples of 4, scalar otherwise; out-of-range rows/columns read clamped indices
 * and are never stored, so no size needs padding.
 */
import type { MatmulParams } from "../engine/backend.ts";
import { binding, type Kernel, memoized } from "./kernel.ts";

export interface MatmulTile {
  readonly tm: number;
  readonly tn: number;
  readonly wg: number;
}

function matmulKernelSource(p: MatmulParams, tile: MatmulTile): Kernel {
  const { m: M, n: N, k: K } = p;
  const { tm: TM, tn: TN, wg: WG } = tile;
  const K4 = K - (K % 4);
  // Which operand reads can be vec4.
  const aVecK = !p.transA && K % 4 === 0 && p.strideA % 4 === 0;
  const aVecM = p.transA && M % 4 === 0 && TM % 4 === 0 && p.strideA % 4 === 0;
  const bVecK = p.transB && K % 4 === 0 && p.strideB % 4 === 0;
  const bVecN = !p.transB && N % 4 === 0 && TN % 4 === 0 && p.strideB % 4 === 0;
  const aVec = aVecK || aVecM, bVec = bVecK || bVecN;
  const L: string[] = [];
  L.push(binding(0, "A", aVec ? "array<vec4<f32>>" : "array<f32>", false));
  L.push(binding(1, "B", bVec ? "array<vec4<f32>>" : "array<f32>", false));
  L.push(binding(2, "C", "array<f32>", true));
  L.push(
    `@compute @workgroup_size(${WG}) fn main(@builtin(workgroup_id) wid: vec3u, @builtin(local_invocation_id) lid: vec3u) {`,
  );
  L.push(`  let c0 = (wid.x * ${WG}u + lid.x) * ${TN}u;`);
  L.push(`  if (c0 >= ${N}u) { return; }`);
  L.push(`  let r0 = wid.y * ${TM}u;`);
  L.push(`  let aoff = wid.z * ${p.strideA}u;`);
  L.push(`  let boff = wid.z * ${p.strideB}u;`);
  for (let r = 0; r < TM; r++) L.push(`  let row${r} = min(r0 + ${r}u, ${M - 1}u);`);
  for (let c = 0; c < TN; c++) L.push(`  let col${c} = min(c0 + ${c}u, ${N - 1}u);`);
  for (let r = 0; r < TM; r++) for (let c = 0; c < TN; c++) L.push(`  var acc${r}_${c} = 0.0;`);

  const body = (kk: number | null): string[] => {
    // kk === null: a 4-wide step at k; else a scalar tail step at k (kk unused).
    const S: string[] = [];
    const steps = kk === null ? [0, 1, 2, 3] : [0];
    const aName = (r: number, s: number) => `a${r}_${s}`;
    const bName = (c: number, s: number) => `b${c}_${s}`;
    // A
    if (kk === null && aVecK) {
      for (let r = 0; r < TM; r++) S.push(`let av${r} = A[(aoff + row${r} * ${K}u) / 4u + k / 4u];`);
      for (let r = 0; r < TM; r++) for (const s of steps) S.push(`let ${aName(r, s)} = av${r}[${s}];`);
    } else if (kk === null && aVecM) {
      for (const s of steps) {
        for (let q = 0; q < TM / 4; q++) {
          S.push(
            `let at${s}_${q} = A[(aoff + (k + ${s}u) * ${M}u) / 4u + min(r0 + ${4 * q}u, ${M - 4}u) / 4u];`,
          );
          for (let e = 0; e < 4; e++) S.push(`let ${aName(4 * q + e, s)} = at${s}_${q}[${e}];`);
        }
      }
    } else {
      const rd = (i: string) => (aVec ? `A[(${i}) / 4u][(${i}) % 4u]` : `A[${i}]`);
      for (let r = 0; r < TM; r++) {
        for (const s of steps) {
          const idx = p.transA
            ? `aoff + (k + ${s}u) * ${M}u + row${r}`
            : `aoff + row${r} * ${K}u + k + ${s}u`;
          S.push(`let ${aName(r, s)} = ${rd(idx)};`);
        }
      }
    }
    // B
    if (kk === null && bVecK) {
      for (let c = 0; c < TN; c++) S.push(`let bv${c} = B[(boff + col${c} * ${K}u) / 4u + k / 4u];`);
      for (let c = 0; c < TN; c++) for (const s of steps) S.push(`let ${bName(c, s)} = bv${c}[${s}];`);
    } else if (kk === null && bVecN) {
      for (const s of steps) {
        for (let q = 0; q < TN / 4; q++) {
          S.push(
            `let bt${s}_${q} = B[(boff + (k + ${s}u) * ${N}u) / 4u + min(c0 + ${4 * q}u, ${N - 4}u) / 4u];`,
          );
          for (let e = 0; e < 4; e++) S.push(`let ${bName(4 * q + e, s)} = bt${s}_${q}[${e}];`);
        }
      }
    } else {
      const rd = (i: string) => (bVec ? `B[(${i}) / 4u][(${i}) % 4u]` : `B[${i}]`);
      for (let c = 0; c < TN; c++) {
        for (const s of steps) {
          const idx = p.transB
            ? `boff + col${c} * ${K}u + k + ${s}u`
            : `boff + (k + ${s}u) * ${N}u + col${c}`;
          S.push(`let ${bName(c, s)} = ${rd(idx)};`);
        }
      }
    }
    for (const s of steps) {
      for (let r = 0; r < TM; r++) {
        for (let c = 0; c < TN; c++) {
          S.push(`acc${r}_${c} = fma(${aName(r, s)}, ${bName(c, s)}, acc${r}_${c});`);
        }
      }
    }
    return S;
  };
  if (K4 > 0) {
    L.push(`  for (var k = 0u; k < ${K4}u; k += 4u) {`);
    for (const s of body(null)) L.push(`    ${s}`);
    L.push("  }");
  }
  if (K4 < K) {
    L.push(`  for (var k = ${K4}u; k < ${K}u; k++) {`);
    for (const s of body(0)) L.push(`    ${s}`);
    L.push("  }");
  }
  L.push(`  let coff = wid.z * ${M * N}u;`);
  for (let r = 0; r < TM; r++) {
    L.push(`  if (r0 + ${r}u < ${M}u) {`);
    for (let c = 0; c < TN; c++) {
      const guard = N % TN === 0 ? "" : `if (c0 + ${c}u < ${N}u) `;
      L.push(`    ${guard}{ C[coff + (r0 + ${r}u) * ${N}u + c0 + ${c}u] = acc${r}_${c}; }`);
    }
    L.push("  }");
  }
  L.push("}");
  return {
    code: L.join("\n") + "\n",
    workgroups: [Math.ceil(N / TN / WG), Math.ceil(M / TM), p.batch],
  };
}

/**
 * The "NT" product A[m,k]·B[n,k]ᵀ with K a multiple of 4 (the layout llvmpipe runs fastest, see
 * webgpu-on-cpu.md): per k-step one vec4 of every tile row of A and of every tile column of B, and
 * four dot products into a vec4 accumulator per 4 columns, so the inner loop has no component
 * extraction and the stores are vec4 when N allows.
 */
function matmulNTKernelSource(p: MatmulParams, tile: MatmulTile): Kernel {
  const { m: M, n: N, k: K } = p;
  const { tm: TM, tn: TN, wg: WG } = tile;
  if (p.transA || !p.transB || K % 4 !== 0 || p.strideA % 4 !== 0 || p.strideB % 4 !== 0 || TN % 4 !== 0) {
    throw new Error("matmulNTKernel: needs A[m,k], B[n,k], K and batch strides multiples of 4");
  }
  const CV = TN / 4;
  const vecStore = N % 4 === 0;
  const L: string[] = [];
  L.push(binding(0, "A", "array<vec4<f32>>", false));
  L.push(binding(1, "B", "array<vec4<f32>>", false));
  L.push(binding(2, "C", vecStore ? "array<vec4<f32>>" : "array<f32>", true));
  L.push(
    `@compute @workgroup_size(${WG}) fn main(@builtin(workgroup_id) wid: vec3u, @builtin(local_invocation_id) lid: vec3u) {`,
  );
  L.push(`  let c0 = (wid.x * ${WG}u + lid.x) * ${TN}u;`);
  L.push(`  if (c0 >= ${N}u) { return; }`);
  // Rows from workgroup_id only: uniform across lanes, so llvmpipe loads A once per workgroup row.
  L.push(`  let r0 = wid.y * ${TM}u;`);
  L.push(`  let aoff = wid.z * ${p.strideA / 4}u;`);
  L.push(`  let boff = wid.z * ${p.strideB / 4}u;`);
  for (let r = 0; r < TM; r++) L.push(`  let ar${r} = aoff + min(r0 + ${r}u, ${M - 1}u) * ${K / 4}u;`);
  for (let c = 0; c < TN; c++) L.push(`  let br${c} = boff + min(c0 + ${c}u, ${N - 1}u) * ${K / 4}u;`);
  for (let r = 0; r < TM; r++) for (let v = 0; v < CV; v++) L.push(`  var acc${r}_${v} = vec4<f32>(0.0);`);
  L.push(`  for (var k = 0u; k < ${K / 4}u; k++) {`);
  for (let c = 0; c < TN; c++) L.push(`    let b${c} = B[br${c} + k];`);
  for (let r = 0; r < TM; r++) {
    L.push(`    { let a = A[ar${r} + k];`);
    for (let v = 0; v < CV; v++) {
      const d = [0, 1, 2, 3].map((e) => `dot(a, b${4 * v + e})`).join(", ");
      L.push(`      acc${r}_${v} += vec4<f32>(${d});`);
    }
    L.push("    }");
  }
  L.push("  }");
  L.push(`  let coff = wid.z * ${M * N}u;`);
  for (let r = 0; r < TM; r++) {
    L.push(`  if (r0 + ${r}u < ${M}u) {`);
    L.push(`    let o = coff + (r0 + ${r}u) * ${N}u + c0;`);
    for (let v = 0; v < CV; v++) {
      if (vecStore) {
        L.push(`    if (c0 + ${4 * v}u < ${N}u) { C[o / 4u + ${v}u] = acc${r}_${v}; }`);
      } else {
        for (let e = 0; e < 4; e++) {
          L.push(`    if (c0 + ${4 * v + e}u < ${N}u) { C[o + ${4 * v + e}u] = acc${r}_${v}[${e}]; }`);
        }
      }
    }
    L.push("  }");
  }
  L.push("}");
  return {
    code: L.join("\n") + "\n",
    workgroups: [Math.ceil(N / TN / WG), Math.ceil(M / TM), p.batch],
  };
}

export const matmulKernel = memoized(matmulKernelSource);

export const matmulNTKernel = memoized(matmulNTKernelSource);
