/**
 * User-supplied ONNX image classifiers (e.g. ImageNet teachers exported from PyTorch) as ddrepro
 * teachers (models/teacher.ts), run by onnxruntime-web: its WASM build on CPU hosts (two threads),
 * its WebGPU build where a hardware GPU is present.
 *
 * What the model expects is declared by the user in a JSON sidecar (`<model>.onnx.json` by default):
 *
 *   { "classes": 1000,
 *     "input": { "layout": "NCHW", "height": 224, "width": 224, "channels": 3,
 *                "pixelRange": 1, "mean": [0.485, 0.456, 0.406], "std": [0.229, 0.224, 0.225] },
 *     "output": { "kind": "logits" }, "batchSize": 32 }
 *
 * and checked against the model's own input/output metadata when the session opens. Images arrive
 * as ddrepro keeps them (NHWC, normalised by the dataset's mean/std); they are mapped back to pixels,
 * resized to the declared size, normalised the model's way and laid out as declared, on the engine.
 */
import type * as Ort from "onnxruntime-web";
import { z } from "zod";
import { backend, noGrad, type Tensor, tensor, tidy } from "../engine/tensor.ts";
import * as T from "../engine/ops/mod.ts";
import { sha256Hex } from "../results/key.ts";
import type { Teacher } from "./teacher.ts";

export class OnnxModelError extends Error {
  constructor(readonly source: string, readonly problem: string) {
    super(`ONNX model ${source}: ${problem}`);
    this.name = "OnnxModelError";
  }
}

const ChannelValues = z.array(z.number().finite());

export const OnnxClassifierSpec = z.object({
  /** Number of classes (the output's last dimension). */
  classes: z.number().int().positive(),
  input: z.object({
    /** The graph input to feed (default: the model's only input). */
    name: z.string().min(1).optional(),
    layout: z.enum(["NCHW", "NHWC"]),
    height: z.number().int().positive().max(8192),
    width: z.number().int().positive().max(8192),
    channels: z.number().int().positive().max(16),
    /** Pixel scale before the model's normalisation: 1 for [0, 1] (torchvision), 255 for [0, 255]. */
    pixelRange: z.union([z.literal(1), z.literal(255)]).default(1),
    /** The model's per-channel normalisation (both or neither; none = raw pixels). */
    mean: ChannelValues.optional(),
    std: z.array(z.number().finite().positive()).optional(),
    resize: z.enum(["bilinear", "nearest"]).default("bilinear"),
  }).strict(),
  output: z.object({
    name: z.string().min(1).optional(),
    /** "probabilities" when the graph ends in a softmax: logits are recovered as log p. */
    kind: z.enum(["logits", "probabilities"]).default("logits"),
  }).strict().default({ kind: "logits" }),
  /** Images per onnxruntime call (a model with a fixed batch dimension overrides it). */
  batchSize: z.number().int().positive().max(4096).default(32),
}).strict().superRefine((s, ctx) => {
  const { mean, std, channels } = s.input;
  if ((mean === undefined) !== (std === undefined)) {
    ctx.addIssue({
      code: "custom",
      path: ["input", mean ? "std" : "mean"],
      message: "give both mean and std, or neither",
    });
  }
  for (const [k, v] of [["mean", mean], ["std", std]] as const) {
    if (v && v.length !== channels) {
      ctx.addIssue({
        code: "custom",
        path: ["input", k],
        message: `needs ${channels} values (one per channel), got ${v.length}`,
      });
    }
  }
});
export type OnnxClassifierSpec = z.infer<typeof OnnxClassifierSpec>;

/** The normalisation of the images a teacher receives (the dataset's mean/std over pixels in [0, 1]). */
export interface InputNormalisation {
  readonly mean: readonly number[];
  readonly std: readonly number[];
}

export type OnnxExecutionProvider = "wasm" | "webgpu";

export interface OnnxLoadOptions {
  /** The sidecar's path, or the spec itself; default `<modelPath>.json`. */
  spec?: string | OnnxClassifierSpec;
  /** How the images passed to `logits` are normalised (the dataset's mean/std). */
  normalisation: InputNormalisation;
  /** Default: `DD_ONNX_EP` (auto | wasm | webgpu), auto = WebGPU on a hardware GPU, else WASM. */
  executionProvider?: OnnxExecutionProvider | "auto";
  /** WASM threads (the WASM build only; default 2). */
  threads?: number;
}

/** Reads and validates a sidecar; errors name the file and the JSON path. */
export async function readOnnxSpec(path: string): Promise<OnnxClassifierSpec> {
  let text: string;
  try {
    text = await Deno.readTextFile(path);
  } catch (e) {
    if (e instanceof Deno.errors.NotFound) {
      throw new OnnxModelError(
        path,
        "no such sidecar: declare the model's input layout, size and normalisation there",
      );
    }
    throw e;
  }
  let json: unknown;
  try {
    json = JSON.parse(text);
  } catch (e) {
    throw new OnnxModelError(path, `not valid JSON (${e instanceof Error ? e.message : e})`);
  }
  return parseOnnxSpec(json, path);
}

export function parseOnnxSpec(json: unknown, source: string): OnnxClassifierSpec {
  const r = OnnxClassifierSpec.safeParse(json);
  if (!r.success) {
    throw new OnnxModelError(
      source,
      r.error.issues.map((i) => `${i.path.join(".") || "(root)"}: ${i.message}`).join("; "),
    );
  }
  return r.data;
}

export function chooseExecutionProvider(
  pref: string = Deno.env.get("DD_ONNX_EP") ?? "auto",
): OnnxExecutionProvider {
  if (pref === "wasm" || pref === "webgpu") return pref;
  if (pref !== "auto") throw new Error(`DD_ONNX_EP must be auto, wasm or webgpu, got "${pref}"`);
  try {
    const b = backend();
    return b.name === "webgpu" && !b.info.software ? "webgpu" : "wasm";
  } catch {
    return "wasm";
  }
}

type OrtModule = typeof Ort;
const runtimes = new Map<OnnxExecutionProvider, Promise<OrtModule>>();

/**
 * The onnxruntime build for an execution provider, loaded once per process (its WASM instance, and
 * so its thread count, is fixed by the first session). Under Deno the bare specifier resolves to
 * the Node build (WASM, threads as worker_threads); the WebGPU build's WASM fallback runs
 * single-threaded because its worker pool starts from blob: URLs, which Deno's module loader refuses.
 */
function runtime(ep: OnnxExecutionProvider, threads: number): Promise<OrtModule> {
  let r = runtimes.get(ep);
  if (!r) {
    r = (ep === "webgpu" ? import("onnxruntime-web/webgpu") : import("onnxruntime-web")).then((ort) => {
      ort.env.logLevel = "error";
      ort.env.wasm.numThreads = ep === "webgpu" ? 1 : threads;
      return ort as OrtModule;
    });
    runtimes.set(ep, r);
  }
  return r;
}

const fmt = (shape: readonly (number | string)[]) => `[${shape.join(", ")}]`;

export class OnnxClassifier implements Teacher {
  readonly numClasses: number;
  private scale: Tensor | null;
  private shift: Tensor | null;

  private constructor(
    readonly id: string,
    readonly path: string,
    readonly spec: OnnxClassifierSpec,
    readonly executionProvider: OnnxExecutionProvider,
    private readonly ort: OrtModule,
    private readonly session: Ort.InferenceSession,
    private readonly inputName: string,
    private readonly outputName: string,
    /** Set when the model's batch dimension is a fixed number. */
    private readonly fixedBatch: number | null,
    normalisation: InputNormalisation,
  ) {
    this.numClasses = spec.classes;
    // dataset-normalised x → pixels p = x·σ_d + μ_d → model input (p·range − μ_m)/σ_m, one affine map per channel.
    const c = spec.input.channels, range = spec.input.pixelRange;
    const mm = spec.input.mean ?? new Array(c).fill(0), ms = spec.input.std ?? new Array(c).fill(1);
    const a = Array.from({ length: c }, (_, i) => (normalisation.std[i] * range) / ms[i]);
    const b = Array.from({ length: c }, (_, i) => (normalisation.mean[i] * range - mm[i]) / ms[i]);
    this.scale = tensor(a, [c]).keep();
    this.shift = tensor(b, [c]).keep();
  }

  /** Opens `modelPath` with its sidecar, validating the declaration against the model's metadata. */
  static async load(modelPath: string, opts: OnnxLoadOptions): Promise<OnnxClassifier> {
    const spec = typeof opts.spec === "object"
      ? parseOnnxSpec(opts.spec, `${modelPath} (spec)`)
      : await readOnnxSpec(opts.spec ?? `${modelPath}.json`);
    const c = spec.input.channels;
    const norm = opts.normalisation;
    if (norm.mean.length !== c || norm.std.length !== c) {
      throw new OnnxModelError(
        modelPath,
        `the model takes ${c} channels but the images have ${norm.mean.length} (dataset mean/std)`,
      );
    }
    let bytes: Uint8Array;
    try {
      bytes = await Deno.readFile(modelPath);
    } catch (e) {
      if (e instanceof Deno.errors.NotFound) throw new OnnxModelError(modelPath, "no such file");
      throw e;
    }
    if (bytes.length === 0) throw new OnnxModelError(modelPath, "the file is empty");
    const ep = chooseExecutionProvider(opts.executionProvider);
    const ort = await runtime(ep, opts.threads ?? 2);
    let session: Ort.InferenceSession;
    try {
      session = await ort.InferenceSession.create(bytes, {
        // No silent fallback: the provider that ran is the one recorded (DD_ONNX_EP=wasm overrides auto).
        executionProviders: [ep],
        graphOptimizationLevel: "all",
      });
    } catch (e) {
      throw new OnnxModelError(
        modelPath,
        `onnxruntime cannot load it with the ${ep} execution provider (${
          e instanceof Error ? e.message : e
        }); ` +
          (ep === "webgpu" ? "DD_ONNX_EP=wasm runs it on the CPU" : "is it a valid ONNX model?"),
      );
    }
    try {
      const io = checkSignature(session, spec, modelPath);
      const id = `onnx:${modelPath.split("/").pop()}@${sha256Hex(bytes).slice(0, 12)}`;
      return new OnnxClassifier(
        id,
        modelPath,
        spec,
        ep,
        ort,
        session,
        io.input,
        io.output,
        io.fixedBatch,
        norm,
      );
    } catch (e) {
      await session.release();
      throw e;
    }
  }

  /** Logits [n, classes] for NHWC images in the dataset's normalised space (see Teacher). */
  async logits(x: Tensor): Promise<Tensor> {
    const { height: H, width: W, channels: C, layout, resize } = this.spec.input;
    if (x.rank !== 4 || x.shape[3] !== C) {
      throw new OnnxModelError(this.path, `expects NHWC images with ${C} channels, got [${x.shape}]`);
    }
    const n = x.shape[0];
    const scale = this.scale!, shift = this.shift!;
    const prepared = noGrad(() =>
      tidy(() => {
        let y = x.shape[1] === H && x.shape[2] === W ? x : T.resize(x, H, W, resize, false);
        y = T.add(T.mul(y, scale), shift);
        return layout === "NCHW" ? T.permute(y, [0, 3, 1, 2]) : y;
      })
    );
    let host: Float32Array;
    try {
      host = await prepared.f32();
    } finally {
      if (prepared !== x) prepared.dispose();
    }
    const per = H * W * C, k = this.numClasses;
    const dims = layout === "NCHW" ? [C, H, W] : [H, W, C];
    const bs = this.fixedBatch ?? this.spec.batchSize;
    const out = new Float32Array(n * k);
    for (let b = 0; b < n; b += bs) {
      const m = Math.min(bs, n - b);
      const rows = this.fixedBatch ?? m;
      const chunk = new Float32Array(rows * per);
      chunk.set(host.subarray(b * per, (b + m) * per));
      const feed = { [this.inputName]: new this.ort.Tensor("float32", chunk, [rows, ...dims]) };
      let result: Ort.InferenceSession.ReturnType;
      try {
        result = await this.session.run(feed, [this.outputName]);
      } catch (e) {
        throw new OnnxModelError(this.path, `inference failed (${e instanceof Error ? e.message : e})`);
      }
      const y = result[this.outputName];
      try {
        const shape = y.dims;
        if (y.type !== "float32" || shape.length !== 2 || shape[0] !== rows || shape[1] !== k) {
          throw new OnnxModelError(
            this.path,
            `output "${this.outputName}" is ${y.type} ${fmt(shape)}, expected float32 [${rows}, ${k}]`,
          );
        }
        const data = y.data as Float32Array;
        for (let i = 0; i < m * k; i++) {
          const v = data[i];
          if (!Number.isFinite(v)) {
            throw new OnnxModelError(this.path, `output ${v} for image ${b + Math.floor(i / k)}: not finite`);
          }
          out[b * k + i] = this.spec.output.kind === "probabilities" ? Math.log(Math.max(v, 1e-30)) : v;
        }
      } finally {
        y.dispose();
      }
    }
    return tensor(out, [n, k]);
  }

  dispose(): void {
    this.scale?.dispose();
    this.shift?.dispose();
    this.scale = this.shift = null;
    void this.session.release();
  }
}

/** Checks the sidecar against the graph's inputs and outputs; returns the names to use. */
function checkSignature(
  session: Ort.InferenceSession,
  spec: OnnxClassifierSpec,
  path: string,
): { input: string; output: string; fixedBatch: number | null } {
  const fail = (problem: string): never => {
    throw new OnnxModelError(path, problem);
  };
  const pick = (names: readonly string[], wanted: string | undefined, what: string): string => {
    if (wanted !== undefined) {
      if (!names.includes(wanted)) fail(`has no ${what} "${wanted}" (its ${what}s: ${names.join(", ")})`);
      return wanted;
    }
    if (names.length !== 1) {
      fail(`has ${names.length} ${what}s (${names.join(", ")}): name the one to use in the sidecar`);
    }
    return names[0];
  };
  const input = pick(session.inputNames, spec.input.name, "input");
  const output = pick(session.outputNames, spec.output.name, "output");
  const inMeta = session.inputMetadata.find((m) => m.name === input);
  let fixedBatch: number | null = null;
  if (inMeta) {
    if (!inMeta.isTensor) fail(`input "${input}" is not a tensor`);
    const m = inMeta as Ort.InferenceSession.TensorValueMetadata;
    if (m.type !== "float32") fail(`input "${input}" is ${m.type}, only float32 inputs are supported`);
    if (m.shape.length) {
      const { layout, height, width, channels } = spec.input;
      const want = layout === "NCHW" ? ["N", channels, height, width] : ["N", height, width, channels];
      if (m.shape.length !== 4) {
        fail(`input "${input}" has shape ${fmt(m.shape)}, not a 4-d ${layout} image batch`);
      }
      for (let i = 1; i < 4; i++) {
        const d = m.shape[i];
        if (typeof d === "number" && d !== want[i]) {
          fail(
            `input "${input}" has shape ${fmt(m.shape)}, but the sidecar declares ${layout} ${fmt(want)}` +
              " (check layout, height, width and channels)",
          );
        }
      }
      const n = m.shape[0];
      if (typeof n === "number" && n > 0) fixedBatch = n;
    }
  }
  const outMeta = session.outputMetadata.find((m) => m.name === output);
  if (outMeta?.isTensor && outMeta.shape.length) {
    const s = outMeta.shape;
    if (s.length !== 2 || (typeof s[1] === "number" && s[1] !== spec.classes)) {
      fail(`output "${output}" has shape ${fmt(s)}, but the sidecar declares ${spec.classes} classes`);
    }
  }
  return { input, output, fixedBatch };
}
