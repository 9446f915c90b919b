/**
 * ONNX classifiers as teachers: small models built in the test (Flatten → Gemm → Softmax, in both
 * layouts) run through onnxruntime-web and must match a plain TypeScript computation of the same
 * preprocessing (dataset normalisation undone, bilinear resize, the model's normalisation, layout)
 * and network; soft labels, difficulty and realism scores follow from the logits; a sidecar that
 * contradicts the model and malformed files are refused with clear errors.
 */
import { ok } from "node:assert";
import { gpu } from "../engine/helpers.ts";
import { setBackend, type Tensor, tensor } from "../../engine/tensor.ts";
import type { WebGpuBackend } from "../../engine/mod.ts";
import { Rng } from "../../engine/random.ts";
import * as T from "../../engine/ops/mod.ts";
import { Classifier } from "../../models/module.ts";
import { Linear } from "../../models/layers.ts";
import { OnnxClassifier, type OnnxClassifierSpec, OnnxModelError } from "../../models/onnx_classifier.ts";
import { classifierTeacher, teacherScores } from "../../models/teacher.ts";
import { initializer, onnxModel } from "./_onnx_fixtures.ts";

setBackend(gpu);

function assertClose(a: ArrayLike<number>, b: ArrayLike<number>, tol: number, what: string): void {
  ok(a.length === b.length, `${what}: length ${a.length} vs ${b.length}`);
  for (let i = 0; i < a.length; i++) {
    ok(Math.abs(a[i] - b[i]) <= tol * (1 + Math.abs(b[i])), `${what}[${i}]: ${a[i]} vs ${b[i]}`);
  }
}

const dir = await Deno.makeTempDir({ prefix: "dd-onnx-" });

/** Deterministic pseudo-random values (mulberry32) in [-scale, scale]. */
function values(n: number, seed: number, scale = 1): Float32Array {
  let a = seed >>> 0;
  return Float32Array.from({ length: n }, () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return (((t ^ (t >>> 14)) >>> 0) / 4294967296 * 2 - 1) * scale;
  });
}

const C = 3, H = 4, W = 4, K = 5, F = C * H * W;
const weights = values(K * F, 1, 0.5), bias = values(K, 2, 0.5);
const DATASET = { mean: [0.1, 0.2, 0.3], std: [0.9, 0.8, 0.7] };
const MODEL_MEAN = [0.5, 0.4, 0.3], MODEL_STD = [0.2, 0.25, 0.3];

/** Flatten → Gemm (→ Softmax) over an image input of `shape`. */
function classifierBytes(shape: (number | string)[], softmax: boolean): Uint8Array {
  return onnxModel({
    nodes: [
      { op: "Flatten", inputs: ["image"], outputs: ["flat"], attrs: [{ name: "axis", int: 1 }] },
      { op: "Gemm", inputs: ["flat", "W", "B"], outputs: ["logits"], attrs: [{ name: "transB", int: 1 }] },
      ...(softmax
        ? [{ op: "Softmax", inputs: ["logits"], outputs: ["probs"], attrs: [{ name: "axis", int: 1 }] }]
        : []),
    ],
    initializers: [initializer("W", [K, F], weights), initializer("B", [K], bias)],
    inputs: [{ name: "image", shape }],
    outputs: [{ name: softmax ? "probs" : "logits", shape: [shape[0], K] }],
  });
}

async function save(name: string, bytes: Uint8Array, spec?: unknown): Promise<string> {
  const path = `${dir}/${name}`;
  await Deno.writeFile(path, bytes);
  if (spec !== undefined) await Deno.writeTextFile(`${path}.json`, JSON.stringify(spec));
  return path;
}

// ---------------------------------------------------------------- TypeScript reference

/** Bilinear resize of one NHWC image, half-pixel centres (align_corners=False), edge-clamped. */
function bilinear(img: Float32Array, h: number, w: number, c: number, oh: number, ow: number): Float32Array {
  const out = new Float32Array(oh * ow * c);
  const src = (o: number, scale: number, n: number) => {
    const s = Math.max((o + 0.5) * scale - 0.5, 0);
    const i0 = Math.min(Math.floor(s), n - 1), i1 = Math.min(i0 + 1, n - 1);
    return [i0, i1, s - i0] as const;
  };
  for (let y = 0; y < oh; y++) {
    const [y0, y1, fy] = src(y, h / oh, h);
    for (let x = 0; x < ow; x++) {
      const [x0, x1, fx] = src(x, w / ow, w);
      for (let k = 0; k < c; k++) {
        const at = (yy: number, xx: number) => img[(yy * w + xx) * c + k];
        out[(y * ow + x) * c + k] = (1 - fy) * ((1 - fx) * at(y0, x0) + fx * at(y0, x1)) +
          fy * ((1 - fx) * at(y1, x0) + fx * at(y1, x1));
      }
    }
  }
  return out;
}

/** The logits the model should produce for NHWC dataset-normalised images of side `side`. */
function reference(images: Float32Array, n: number, side: number, layout: "NCHW" | "NHWC"): Float64Array {
  const out = new Float64Array(n * K);
  for (let i = 0; i < n; i++) {
    const px = images.slice(i * side * side * C, (i + 1) * side * side * C)
      .map((v, j) => v * DATASET.std[j % C] + DATASET.mean[j % C]);
    const r = side === H ? px : bilinear(px, side, side, C, H, W);
    const feat = new Float64Array(F);
    for (let y = 0; y < H; y++) {
      for (let x = 0; x < W; x++) {
        for (let k = 0; k < C; k++) {
          const v = (r[(y * W + x) * C + k] - MODEL_MEAN[k]) / MODEL_STD[k];
          feat[layout === "NCHW" ? (k * H + y) * W + x : (y * W + x) * C + k] = v;
        }
      }
    }
    for (let o = 0; o < K; o++) {
      let s = bias[o];
      for (let j = 0; j < F; j++) s += weights[o * F + j] * feat[j];
      out[i * K + o] = s;
    }
  }
  return out;
}

const logSoftmaxRows = (z: ArrayLike<number>, k: number) =>
  Float64Array.from(z, (v, i) => {
    const row = Array.from({ length: k }, (_, j) => z[Math.floor(i / k) * k + j]);
    const m = Math.max(...row);
    return v - m - Math.log(row.reduce((s, x) => s + Math.exp(x - m), 0));
  });

function spec(
  layout: "NCHW" | "NHWC",
  kind: "logits" | "probabilities",
  extra: object = {},
): OnnxClassifierSpec {
  return {
    classes: K,
    input: {
      layout,
      height: H,
      width: W,
      channels: C,
      pixelRange: 1,
      mean: MODEL_MEAN,
      std: MODEL_STD,
      resize: "bilinear",
    },
    output: { kind },
    batchSize: 3,
    ...extra,
  } as OnnxClassifierSpec;
}

// ---------------------------------------------------------------- tests

Deno.test("onnx classifier: NCHW softmax model on resized images matches the TypeScript reference", async () => {
  const path = await save(
    "nchw.onnx",
    classifierBytes(["batch", C, H, W], true),
    spec("NCHW", "probabilities"),
  );
  const teacher = await OnnxClassifier.load(path, { normalisation: DATASET, executionProvider: "wasm" });
  try {
    ok(
      teacher.executionProvider === "wasm" && /^onnx:nchw\.onnx@[0-9a-f]{12}$/.test(teacher.id),
      teacher.id,
    );
    const n = 7, side = 8; // 7 images in batches of 3; 8 px resized to 4
    const imgs = values(n * side * side * C, 3, 1.5);
    const labels = Int32Array.from({ length: n }, (_, i) => i % K);
    const x = tensor(imgs, [n, side, side, C]);
    const scores = await teacherScores(teacher, x, { labels, temperature: 2, batchSize: 4 });
    x.dispose();
    const z = reference(imgs, n, side, "NCHW");
    const logp = logSoftmaxRows(z, K);
    // The model outputs probabilities: its logits are log p (softmax is shift-invariant, so nothing is lost).
    assertClose(scores.logits, logp, 1e-4, "logits (log p)");
    const soft = logSoftmaxRows(Float64Array.from(z, (v) => v / 2), K).map(Math.exp);
    assertClose(scores.softLabels, soft, 1e-4, "soft labels at T=2");
    const py = Array.from(labels, (y, i) => logp[i * K + y]);
    assertClose(scores.realism!, py, 1e-4, "realism = log p(y|x)");
    assertClose(scores.difficulty!, py.map((v) => 1 - Math.exp(v)), 1e-4, "difficulty = 1 − p(y|x)");
  } finally {
    teacher.dispose();
  }
});

Deno.test("onnx classifier: NHWC logits model with a fixed batch dimension (the last batch is padded)", async () => {
  const path = await save("nhwc.onnx", classifierBytes([2, H, W, C], false), spec("NHWC", "logits"));
  const teacher = await OnnxClassifier.load(path, { normalisation: DATASET, executionProvider: "wasm" });
  try {
    const n = 5;
    const imgs = values(n * H * W * C, 4);
    const x = tensor(imgs, [n, H, W, C]);
    const z = await teacher.logits(x);
    x.dispose();
    ok(z.shape.join() === `${n},${K}`, `shape [${z.shape}]`);
    assertClose(await z.f32(), reference(imgs, n, H, "NHWC"), 1e-4, "logits");
    z.dispose();
  } finally {
    teacher.dispose();
  }
});

Deno.test("onnx classifier: the WebGPU build gives the same logits as WASM", async () => {
  const path = await save("gpu.onnx", classifierBytes(["batch", C, H, W], false), spec("NCHW", "logits"));
  const teacher = await OnnxClassifier.load(path, { normalisation: DATASET, executionProvider: "webgpu" });
  try {
    const n = 4;
    const imgs = values(n * H * W * C, 5);
    const x = tensor(imgs, [n, H, W, C]);
    const z = await teacher.logits(x);
    x.dispose();
    assertClose(await z.f32(), reference(imgs, n, H, "NCHW"), 1e-4, "webgpu logits");
    z.dispose();
  } finally {
    teacher.dispose();
  }
});

async function expectError(p: Promise<unknown>, pattern: RegExp, what: string): Promise<void> {
  try {
    const v = await p;
    if (v instanceof OnnxClassifier) v.dispose();
  } catch (e) {
    ok(e instanceof OnnxModelError, `${what}: expected OnnxModelError, got ${e}`);
    ok(pattern.test(e.message), `${what}: "${e.message}" does not match ${pattern}`);
    return;
  }
  throw new Error(`${what}: no error`);
}

Deno.test("onnx classifier: sidecars that contradict the model and malformed files are refused", async () => {
  const model = classifierBytes(["batch", C, H, W], false);
  const opts = { normalisation: DATASET, executionProvider: "wasm" as const };
  const cases: [string, Uint8Array, unknown, RegExp][] = [
    ["layout contradicts the input shape", model, spec("NHWC", "logits"), /declares NHWC \[N, 4, 4, 3\]/],
    ["wrong size", model, {
      ...spec("NCHW", "logits"),
      input: { ...spec("NCHW", "logits").input, height: 8 },
    }, /check layout/],
    ["wrong class count", model, { ...spec("NCHW", "logits"), classes: 7 }, /declares 7 classes/],
    ["no such input", model, {
      ...spec("NCHW", "logits"),
      input: { ...spec("NCHW", "logits").input, name: "x" },
    }, /no input "x"/],
    ["mean without std", model, {
      ...spec("NCHW", "logits"),
      input: { ...spec("NCHW", "logits").input, std: undefined },
    }, /input\.std: give both/],
    ["mean of the wrong length", model, {
      ...spec("NCHW", "logits"),
      input: { ...spec("NCHW", "logits").input, mean: [0.5] },
    }, /input\.mean: needs 3 values/],
    ["unknown field", model, { ...spec("NCHW", "logits"), colour: "blue" }, /colour/],
    [
      "random bytes",
      Uint8Array.from(values(64, 9), (v) => (v + 1) * 127),
      spec("NCHW", "logits"),
      /onnxruntime cannot load it/,
    ],
    [
      "truncated model",
      model.subarray(0, model.length >> 1),
      spec("NCHW", "logits"),
      /onnxruntime cannot load it/,
    ],
    ["empty file", new Uint8Array(0), spec("NCHW", "logits"), /empty/],
  ];
  for (const [what, bytes, sidecar, pattern] of cases) {
    const path = await save(`bad-${what.replaceAll(" ", "-")}.onnx`, bytes, sidecar);
    await expectError(OnnxClassifier.load(path, opts), pattern, what);
  }
  const noSidecar = await save("lonely.onnx", model);
  await expectError(OnnxClassifier.load(noSidecar, opts), /no such sidecar/, "missing sidecar");
  await Deno.writeTextFile(`${noSidecar}.json`, "{ not json");
  await expectError(OnnxClassifier.load(noSidecar, opts), /not valid JSON/, "bad JSON");
  const grey = await save("grey.onnx", model, spec("NCHW", "logits"));
  await expectError(
    OnnxClassifier.load(grey, { ...opts, normalisation: { mean: [0.1], std: [0.3] } }),
    /takes 3 channels but the images have 1/,
    "channel mismatch",
  );
});

/** A linear classifier over flattened 2×2×3 images: the smallest engine Classifier. */
class TinyNet extends Classifier {
  readonly numClasses = 4;
  readonly embedDim = 12;
  private readonly fc = this.child("fc", new Linear(new Rng(3), 12, 4));
  embed(x: Tensor): Tensor {
    return T.reshape(x, [x.shape[0], 12]);
  }
  classify(f: Tensor): Tensor {
    return this.fc.forward(f);
  }
}

Deno.test("teacher: an engine classifier gives the same scores as its own softmax", async () => {
  const teacher = classifierTeacher(new TinyNet(), "tiny");
  try {
    const n = 5;
    const x = tensor(values(n * 12, 6), [n, 2, 2, 3]);
    const labels = Int32Array.from([0, 3, 2, 1, 3]);
    const s = await teacherScores(teacher, x, { labels, batchSize: 2 });
    const zt = await teacher.logits(x);
    const z = await zt.f32();
    zt.dispose();
    x.dispose();
    assertClose(s.logits, z, 1e-6, "logits");
    const logp = logSoftmaxRows(z, 4);
    assertClose(s.softLabels, logp.map(Math.exp), 1e-5, "soft labels");
    assertClose(s.realism!, Array.from(labels, (y, i) => logp[i * 4 + y]), 1e-5, "realism");
    assertClose(
      s.difficulty!,
      Array.from(labels, (y, i) => 1 - Math.exp(logp[i * 4 + y])),
      1e-5,
      "difficulty",
    );
  } finally {
    teacher.dispose();
  }
});

Deno.test("teacher: scoring in batches leaves no device tensor behind (only the host arrays it returns)", async () => {
  const teacher = classifierTeacher(new TinyNet(), "tiny");
  const x = tensor(values(8 * 12, 7), [8, 2, 2, 3]);
  try {
    const live = () => (gpu as WebGpuBackend).rt.stats.liveBytes;
    await teacherScores(teacher, x, { labels: new Int32Array(8), batchSize: 3 });
    const before = live();
    for (let i = 0; i < 3; i++) await teacherScores(teacher, x, { labels: new Int32Array(8), batchSize: 3 });
    ok(live() === before, `${live() - before} bytes of activations leaked over 3 scorings`);
  } finally {
    x.dispose();
    teacher.dispose();
  }
});

Deno.test("onnx classifier: cleanup", async () => {
  await Deno.remove(dir, { recursive: true });
});
