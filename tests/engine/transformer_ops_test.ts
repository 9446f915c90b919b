/** Transformer ops (layer norm, fused softmax, attention, tanh-GELU): values vs plain formulas, gradients vs finite differences. */
import { throws } from "node:assert";
import {
  assertBackendsAgree,
  assertClose,
  cpu,
  gpu,
  gradCheck,
  gradGradCheck,
  on,
  randn,
} from "./helpers.ts";
import * as T from "../../engine/ops/mod.ts";
import { setBackend, type Tensor, tensor } from "../../engine/tensor.ts";

/** Host reference: layer norm of rows of length d. */
function layerNormRef(
  x: Float32Array,
  d: number,
  w: Float32Array | null,
  b: Float32Array | null,
  eps: number,
) {
  const out = new Float32Array(x.length);
  for (let r = 0; r < x.length / d; r++) {
    const row = x.subarray(r * d, r * d + d);
    const m = row.reduce((s, v) => s + v, 0) / d;
    const v = row.reduce((s, u) => s + (u - m) ** 2, 0) / d;
    for (let j = 0; j < d; j++) {
      out[r * d + j] = ((row[j] - m) / Math.sqrt(v + eps)) * (w ? w[j] : 1) + (b ? b[j] : 0);
    }
  }
  return out;
}

function softmaxRef(x: Float32Array, d: number, scale: number): Float32Array {
  const out = new Float32Array(x.length);
  for (let r = 0; r < x.length / d; r++) {
    const row = Array.from(x.subarray(r * d, r * d + d), (v) => v * scale);
    const m = Math.max(...row);
    const e = row.map((v) => Math.exp(v - m));
    const s = e.reduce((a, v) => a + v, 0);
    e.forEach((v, j) => (out[r * d + j] = v / s));
  }
  return out;
}

Deno.test("transformer ops: forward values match plain formulas on both backends", async () => {
  const x = randn(3 * 5 * 8, 1, 3), w = randn(8, 2), bb = randn(8, 3);
  for (const b of [cpu, gpu]) {
    const ln = await on(b, () => T.layerNorm(tensor(x, [3, 5, 8]), null, null, 1e-6));
    assertClose(ln, layerNormRef(x, 8, null, null, 1e-6), 1e-5, `layerNorm ${b.name}`);
    const lna = await on(b, () => T.layerNorm(tensor(x, [15, 8]), tensor(w), tensor(bb), 1e-5));
    assertClose(lna, layerNormRef(x, 8, w, bb, 1e-5), 1e-5, `layerNorm affine ${b.name}`);
    const sm = await on(b, () => T.softmax(tensor(x, [15, 8]), 0.7));
    assertClose(sm, softmaxRef(x, 8, 0.7), 1e-6, `softmax ${b.name}`);
    const g = await on(b, () => T.geluTanh(tensor(x)));
    const gref = x.map((v) => 0.5 * v * (1 + Math.tanh(Math.sqrt(2 / Math.PI) * (v + 0.044715 * v ** 3))));
    assertClose(g, gref, 1e-6, `geluTanh ${b.name}`);
  }
  // Attention against softmax(QKᵀ/√d)V computed on the host.
  const [bs, lq, lk, d, dv] = [2, 3, 4, 4, 2];
  const q = randn(bs * lq * d, 4), k = randn(bs * lk * d, 5), v = randn(bs * lk * dv, 6);
  const ref = new Float32Array(bs * lq * dv);
  for (let n = 0; n < bs; n++) {
    const s = new Float32Array(lq * lk);
    for (let i = 0; i < lq; i++) {
      for (let j = 0; j < lk; j++) {
        for (let c = 0; c < d; c++) s[i * lk + j] += q[(n * lq + i) * d + c] * k[(n * lk + j) * d + c];
      }
    }
    const p = softmaxRef(s, lk, 1 / Math.sqrt(d));
    for (let i = 0; i < lq; i++) {
      for (let c = 0; c < dv; c++) {
        for (let j = 0; j < lk; j++) ref[(n * lq + i) * dv + c] += p[i * lk + j] * v[(n * lk + j) * dv + c];
      }
    }
  }
  for (const b of [cpu, gpu]) {
    const out = await on(
      b,
      () => T.attention(tensor(q, [bs, lq, d]), tensor(k, [bs, lk, d]), tensor(v, [bs, lk, dv])),
    );
    assertClose(out, ref, 1e-5, `attention ${b.name}`);
  }
  await assertBackendsAgree(
    () => T.softmax(tensor(randn(64 * 33, 7, 20), [64, 33]), 2),
    1e-6,
    "softmax large",
  );
});

Deno.test("transformer ops: bad shapes and scales are refused", () => {
  setBackend(cpu);
  throws(() => T.softmax(tensor([1, 2]), 0), (e) => e instanceof Error && e.message.includes("scale"));
  throws(
    () => T.layerNorm(tensor([1, 2, 3, 4], [2, 2]), tensor([1, 2, 3]), null),
    (e) => e instanceof Error && e.message.includes("affine"),
  );
  throws(() =>
    T.attention(
      tensor(randn(8, 1), [1, 2, 4]),
      tensor(randn(6, 1), [1, 2, 3]),
      tensor(randn(4, 1), [1, 2, 2]),
    ), (e) => e instanceof Error && e.message.includes("do not fit"));
});

for (const [name, b] of [["cpu", cpu], ["webgpu", gpu]] as const) {
  Deno.test(`transformer ops ${name}: layer norm gradients (1st and 2nd order, with and without affine)`, async () => {
    const x = { data: randn(4 * 6, 31, 2), shape: [4, 6] };
    const w = { data: randn(6, 32, 1), shape: [6] }, bb = { data: randn(6, 33), shape: [6] };
    const plain = ([xx]: Tensor[]) => T.sum(T.mul(T.layerNorm(xx, null, null, 1e-6), T.sin(xx)));
    await gradCheck(b, plain, [x], { what: "layerNorm" });
    await gradGradCheck(b, plain, [x], { what: "layerNorm", tol: 4e-2 });
    const aff = ([xx, ww, bi]: Tensor[]) => T.sum(T.mul(T.layerNorm(xx, ww, bi), T.cos(xx)));
    await gradCheck(b, aff, [x, w, bb], { what: "layerNorm affine" });
    await gradGradCheck(b, aff, [x, w, bb], { what: "layerNorm affine", tol: 4e-2 });
    // Only the weight trainable (the input a constant): the weight's gradient alone.
    const onlyW = ([ww]: Tensor[]) =>
      T.sum(T.mul(T.layerNorm(tensor(x.data, x.shape), ww, null), tensor(randn(24, 34), [4, 6])));
    await gradCheck(b, onlyW, [w], { what: "layerNorm weight only" });
  });

  Deno.test(`transformer ops ${name}: softmax, attention and tanh-GELU gradients (1st and 2nd order)`, async () => {
    const sm = ([xx]: Tensor[]) => T.sum(T.mul(T.softmax(xx, 0.5), T.tanh(xx)));
    const x = { data: randn(12, 41, 2), shape: [3, 4] };
    await gradCheck(b, sm, [x], { what: "softmax" });
    await gradGradCheck(b, sm, [x], { what: "softmax", tol: 4e-2 });
    const att = ([q, k, v]: Tensor[]) => T.sum(T.mul(T.attention(q, k, v), tensor(randn(12, 45), [2, 3, 2])));
    const ins = [
      { data: randn(2 * 3 * 4, 42), shape: [2, 3, 4] },
      { data: randn(2 * 5 * 4, 43), shape: [2, 5, 4] },
      { data: randn(2 * 5 * 2, 44), shape: [2, 5, 2] },
    ];
    await gradCheck(b, att, ins, { what: "attention" });
    await gradGradCheck(b, att, ins, { what: "attention", tol: 4e-2 });
    const gl = ([xx]: Tensor[]) => T.sum(T.mul(T.geluTanh(xx), T.cos(xx)));
    const gx = { data: randn(10, 46, 2.5), shape: [10] };
    await gradCheck(b, gl, [gx], { what: "geluTanh" });
    await gradGradCheck(b, gl, [gx], { what: "geluTanh", tol: 4e-2 });
  });
}
