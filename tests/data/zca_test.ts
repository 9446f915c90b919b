/**
 * The symmetric eigen-solver (hand examples, reconstruction A = UΛUᵀ and orthonormality on random
 * and degenerate matrices) and ZCA whitening (identity covariance as eps → 0, symmetric W equal to a
 * host f64 construction, applying to another split, save/load and the keyed atomic cache).
 */
import { deepStrictEqual as eq, ok } from "node:assert";
import { assertClose, gpu, randn } from "../engine/helpers.ts";
import { symmetricEigen } from "../../data/eigen.ts";
import {
  applyZca,
  fitZca,
  loadOrFitZca,
  loadZca,
  saveZca,
  zcaSplitToDevice,
  zcaToDevice,
  type ZcaTransform,
} from "../../data/zca.ts";
import { datasetInfo } from "../../data/registry.ts";
import type { Dataset } from "../../data/types.ts";
import { setBackend, tensor, tidy } from "../../engine/tensor.ts";

/** max |A − V Λ Vᵀ| and max |V Vᵀ − I| for the solver's output (rows of `vectors` are eigenvectors). */
function residuals(a: ArrayLike<number>, n: number): { rec: number; orth: number; values: Float64Array } {
  const { values, vectors: v } = symmetricEigen(a, n);
  let rec = 0, orth = 0;
  for (let i = 0; i < n; i++) {
    for (let j = 0; j < n; j++) {
      let r = 0, o = 0;
      for (let k = 0; k < n; k++) {
        r += v[k * n + i] * values[k] * v[k * n + j];
        o += v[i * n + k] * v[j * n + k];
      }
      rec = Math.max(rec, Math.abs(r - a[i * n + j]));
      orth = Math.max(orth, Math.abs(o - (i === j ? 1 : 0)));
    }
  }
  return { rec, orth, values };
}

function randomSymmetric(n: number, seed: number): Float64Array {
  const r = randn(n * n, seed);
  const a = new Float64Array(n * n);
  for (let i = 0; i < n; i++) for (let j = 0; j <= i; j++) a[i * n + j] = a[j * n + i] = r[i * n + j];
  return a;
}

Deno.test("symmetricEigen: hand examples", () => {
  const two = symmetricEigen([2, 1, 1, 2], 2);
  assertClose(two.values, [1, 3], 1e-14, "eigenvalues of [[2,1],[1,2]]");
  const s = Math.SQRT1_2;
  // Eigenvectors up to sign: (1, −1)/√2 for 1, (1, 1)/√2 for 3.
  assertClose(
    two.vectors.map((x, i) => x * Math.sign(two.vectors[i < 2 ? 0 : 2])),
    [s, -s, s, s],
    1e-14,
    "vecs",
  );
  const tri = symmetricEigen([2, -1, 0, -1, 2, -1, 0, -1, 2], 3);
  assertClose(tri.values, [2 - Math.SQRT2, 2, 2 + Math.SQRT2], 1e-14, "1-D Laplacian eigenvalues");
  const want = [[0.5, s, 0.5], [s, 0, -s], [0.5, -s, 0.5]];
  for (let k = 0; k < 3; k++) {
    const v = tri.vectors.subarray(k * 3, k * 3 + 3), sign = Math.sign(v[0]);
    assertClose(v.map((x) => x * sign), want[k], 1e-14, `eigenvector ${k}`);
  }
  eq(Array.from(symmetricEigen([5], 1).values), [5]);
});

Deno.test("symmetricEigen: reconstructs random, degenerate and reducible matrices", () => {
  for (const [n, seed] of [[7, 1], [40, 2], [97, 3]]) {
    const { rec, orth, values } = residuals(randomSymmetric(n, seed), n);
    ok(rec < 1e-12 && orth < 1e-12, `n=${n}: reconstruction ${rec}, orthogonality ${orth}`);
    for (let k = 1; k < n; k++) ok(values[k - 1] <= values[k], "ascending");
  }
  // Repeated eigenvalues (identity, rank-1), a zero row/column (a reflector is skipped), zeros.
  const n = 12;
  const eye = new Float64Array(n * n).map((_, i) => (i % (n + 1) === 0 ? 1 : 0));
  const u = randn(n, 5);
  const rank1 = new Float64Array(n * n).map((_, i) => u[Math.floor(i / n)] * u[i % n]);
  const holed = randomSymmetric(n, 6);
  for (let k = 0; k < n; k++) holed[3 * n + k] = holed[k * n + 3] = 0;
  for (
    const [what, a] of [["identity", eye], ["rank 1", rank1], ["zero row", holed], [
      "zeros",
      new Float64Array(n * n),
    ]] as const
  ) {
    const { rec, orth } = residuals(a, n);
    ok(rec < 1e-12 && orth < 1e-12, `${what}: reconstruction ${rec}, orthogonality ${orth}`);
  }
});

// A small, well-conditioned "dataset": 120 images of 2×2×3 (D = 12), uniform pixels. Tiny matmul
// shapes keep WGSL compile time (the cost of each new shape on llvmpipe) low.
const SHAPE = { channels: 3, height: 2, width: 2 };
const D = 12, N = 120;
const TRAIN = randn(N * D, 21).map((v) => (v + 1) / 2);
const TEST = randn(20 * D, 22).map((v) => (v + 1) / 2);

async function whiten(z: ZcaTransform, data: Float32Array, n: number): Promise<Float32Array> {
  setBackend(gpu);
  const dev = zcaToDevice(z);
  const y = tidy(() => applyZca(dev, tensor(data, [n, 2, 2, 3])));
  const out = await y.f32();
  y.dispose();
  dev.dispose();
  return out;
}

function covarianceOf(x: ArrayLike<number>, n: number, d: number): { mean: Float64Array; cov: Float64Array } {
  const mean = new Float64Array(d), cov = new Float64Array(d * d);
  for (let i = 0; i < n; i++) for (let k = 0; k < d; k++) mean[k] += x[i * d + k] / n;
  for (let i = 0; i < n; i++) {
    for (let a = 0; a < d; a++) {
      const xa = x[i * d + a] - mean[a];
      for (let b = 0; b < d; b++) cov[a * d + b] += (xa * (x[i * d + b] - mean[b])) / (n - 1);
    }
  }
  return { mean, cov };
}

Deno.test("zca: whitened training data has identity covariance as eps → 0; W is symmetric", async () => {
  setBackend(gpu);
  const z = await fitZca({ data: TRAIN, count: N, shape: SHAPE, scale: 1 }, 1e-7);
  const w = await whiten(z, TRAIN, N);
  const { mean, cov } = covarianceOf(w, N, D);
  const eye = new Float64Array(D * D).map((_, i) => (i % (D + 1) === 0 ? 1 : 0));
  assertClose(cov, eye, 2e-3, "covariance of the whitened training set");
  assertClose(mean, new Float64Array(D), 1e-4, "mean of the whitened training set");
  let asym = 0;
  for (let i = 0; i < D; i++) {
    for (let j = 0; j < D; j++) asym = Math.max(asym, Math.abs(z.matrix[i * D + j] - z.matrix[j * D + i]));
  }
  ok(asym < 1e-5, `W asymmetry ${asym}`);
});

Deno.test("zca: eps 0.1 (MTT) matches a host f64 construction; other splits get the train fit", async () => {
  setBackend(gpu);
  const z = await fitZca({ data: TRAIN, count: N, shape: SHAPE, scale: 1 }, 0.1);
  const { mean, cov } = covarianceOf(TRAIN, N, D);
  const { values, vectors } = symmetricEigen(cov, D);
  const ref = new Float64Array(D * D);
  for (let k = 0; k < D; k++) {
    const f = 1 / Math.sqrt(values[k] + 0.1);
    for (let i = 0; i < D; i++) {
      for (let j = 0; j < D; j++) ref[i * D + j] += vectors[k * D + i] * f * vectors[k * D + j];
    }
  }
  assertClose(z.mean, mean, 1e-6, "μ");
  assertClose(z.eigenvalues, values, 1e-4, "eigenvalues of the covariance");
  assertClose(z.matrix, ref, 1e-4, "W = U diag(1/√(λ+eps)) Uᵀ");
  // Whitened covariance is U diag(λ/(λ+eps)) Uᵀ: its eigenvalues shrink below 1.
  const wc = covarianceOf(await whiten(z, TRAIN, N), N, D).cov;
  assertClose(symmetricEigen(wc, D).values, values.map((l) => l / (l + 0.1)), 2e-3, "shrunk spectrum");
  // A test split is centred with the training mean and multiplied by the same W.
  const got = await whiten(z, TEST, 20);
  const want = new Float64Array(20 * D);
  for (let i = 0; i < 20; i++) {
    for (let j = 0; j < D; j++) {
      let t = 0;
      for (let k = 0; k < D; k++) t += (TEST[i * D + k] - mean[k]) * ref[k * D + j];
      want[i * D + j] = t;
    }
  }
  assertClose(got, want, 1e-4, "test split");
});

Deno.test("zca: save/load round trip; keyed cache is fitted once, then hit", async () => {
  setBackend(gpu);
  const dir = await Deno.makeTempDir({ prefix: "zca_test_" });
  try {
    const z = await fitZca({ data: TRAIN, count: N, shape: SHAPE, scale: 1 }, 0.1);
    await saveZca(`${dir}/a/z.safetensors`, z, "k1");
    const back = await loadZca(`${dir}/a/z.safetensors`, "k1");
    ok(back);
    eq({
      ...back,
      matrix: [...back.matrix],
      mean: [...back.mean],
      eigenvalues: [...back.eigenvalues],
    }, {
      ...z,
      matrix: [...z.matrix],
      mean: [...z.mean],
      eigenvalues: [...z.eigenvalues],
    });
    eq(await loadZca(`${dir}/a/z.safetensors`, "other"), null, "another key is a miss");
    await Deno.writeTextFile(`${dir}/bad.safetensors`, "not a safetensors file");
    eq(await loadZca(`${dir}/bad.safetensors`), null, "garbage is a miss");
    eq(await loadZca(`${dir}/missing.safetensors`), null);

    // uint8 dataset: pixels are scaled to [0, 1] (ToTensor) before fitting.
    const px = Uint8Array.from(TRAIN, (v) => Math.round(v * 255));
    const ds: Dataset = {
      info: { ...datasetInfo("cifar10"), shape: SHAPE },
      train: { images: px, labels: new Int32Array(N), count: N },
      test: { images: px.slice(0, 5 * D), labels: Int32Array.from([0, 1, 2, 3, 4]), count: 5 },
      manifest: { files: [], hash: "zca-test" },
    };
    const first = await loadOrFitZca(ds, { cacheDir: dir });
    ok(!first.hit && first.path.startsWith(`${dir}/zca/cifar10-2px-eps0.1-`), first.path);
    const again = await loadOrFitZca(ds, { cacheDir: dir });
    ok(again.hit);
    assertClose(again.transform.matrix, first.transform.matrix, 0, "cached W");
    const other = await loadOrFitZca(ds, { cacheDir: dir, eps: 0.01 });
    ok(!other.hit && other.path !== first.path, "eps is part of the key");
    eq(
      (await Array.fromAsync(Deno.readDir(`${dir}/zca`))).filter((e) => e.name.endsWith(".tmp")),
      [],
    );
    // The test split through zcaSplitToDevice equals applyZca on its [0, 1] pixels.
    const dev = zcaToDevice(first.transform);
    const { x, y } = await zcaSplitToDevice(dev, ds.test);
    eq([...y], [0, 1, 2, 3, 4]);
    const direct = await whiten(first.transform, Float32Array.from(ds.test.images, (v) => v / 255), 5);
    assertClose(await x.f32(), direct, 1e-6, "zcaSplitToDevice");
    x.dispose();
    dev.dispose();
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});
