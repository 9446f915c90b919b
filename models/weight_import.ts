/**
 * Importing PyTorch-layout weights (official checkpoints) into ddrepro modules. A source is a
 * safetensors file or a torch.save checkpoint, opened by content (not by extension). A module's
 * parameters and buffers are matched to source tensors by name (with per-model aliases, e.g. the
 * older diffusers attention names), every expected tensor must be present with the right shape,
 * every source tensor must be used (or explicitly ignored), and all problems are reported at once
 * before any weight is written. Layouts convert by the target's rank: conv weights are OIHW in
 * PyTorch and OHWI here; a rank-2 target accepts a [out, in] weight or a 1×1 conv [out, in, 1, 1].
 */
import { createHash } from "node:crypto";
import { assignHost } from "../engine/assign.ts";
import { readSafetensors } from "../engine/safetensors.ts";
import type { Tensor } from "../engine/tensor.ts";
import { sameShape } from "../engine/shape.ts";
import type { Module } from "./module.ts";
import { type TensorRef, TorchCheckpoint } from "./torch_checkpoint.ts";

export class WeightImportError extends Error {
  constructor(readonly source: string, readonly problem: string) {
    super(`weights ${source}: ${problem}`);
    this.name = "WeightImportError";
  }
}

/** Named float tensors in PyTorch layout, read one at a time. */
export interface WeightSource extends Disposable {
  readonly path: string;
  readonly format: "safetensors" | "torch";
  readonly shapes: ReadonlyMap<string, readonly number[]>;
  /** The tensor's values as f32 (integer tensors are refused: weights are floats). */
  read(name: string): Promise<Float32Array>;
}

const ZIP_MAGIC = [0x50, 0x4b, 0x03, 0x04];

/**
 * Opens a safetensors file or a torch.save checkpoint. `prefix` selects a sub-dictionary of a
 * nested checkpoint (e.g. "ema." of a training checkpoint; or a function choosing it from all the
 * names); names are given without it and tensors outside it are not part of the source.
 */
export async function openWeights(
  path: string,
  prefix: string | ((names: readonly string[]) => string) = "",
): Promise<WeightSource> {
  const head = new Uint8Array(4);
  {
    using f = await Deno.open(path, { read: true });
    let got = 0;
    while (got < 4) {
      const n = await f.read(head.subarray(got));
      if (n === null) break;
      got += n;
    }
  }
  const strip = (names: Iterable<string>) => {
    const all = [...names];
    const p = typeof prefix === "string" ? prefix : prefix(all);
    return all.filter((n) => n.startsWith(p)).map((n) => [n.slice(p.length), n] as const);
  };
  if (ZIP_MAGIC.every((b, i) => head[i] === b)) {
    const ckpt = await TorchCheckpoint.open(path);
    const refs = ckpt.tensors();
    const byName = new Map<string, [string, TensorRef]>();
    for (const [short, full] of strip(refs.keys())) byName.set(short, [full, refs.get(full)!]);
    return {
      path,
      format: "torch",
      shapes: new Map([...byName].map(([k, [, r]]) => [k, r.shape])),
      async read(name) {
        const entry = byName.get(name);
        if (!entry) throw new WeightImportError(path, `no tensor "${name}"`);
        const t = await ckpt.read(entry[1], entry[0]);
        if (t.dtype !== "f32") {
          throw new WeightImportError(path, `"${name}" is ${t.source}, not a float tensor`);
        }
        return t.data;
      },
      [Symbol.dispose]: () => ckpt.close(),
    };
  }
  const file = await readSafetensors(path);
  const names = new Map(strip(Object.keys(file.tensors)));
  return {
    path,
    format: "safetensors",
    shapes: new Map([...names].map(([short, full]) => [short, file.tensors[full].shape])),
    read(name) {
      const full = names.get(name);
      if (full === undefined) return Promise.reject(new WeightImportError(path, `no tensor "${name}"`));
      const t = file.tensors[full];
      if (t.dtype !== "F32" && t.dtype !== "F16" && t.dtype !== "BF16") {
        return Promise.reject(new WeightImportError(path, `"${name}" is ${t.dtype}, not a float tensor`));
      }
      return Promise.resolve(t.data);
    },
    [Symbol.dispose]: () => {},
  };
}

/** The first candidate prefix under which `anchor` exists ("" when none does: import then lists what is missing). */
export function prefixWith(
  anchor: string,
  candidates: readonly string[],
): (names: readonly string[]) => string {
  return (names) => {
    const set = new Set(names);
    return candidates.find((p) => set.has(p + anchor)) ?? "";
  };
}

/** The PyTorch-layout shape a ddrepro tensor of `target` shape is imported from (see the module doc). */
export function torchShapeFor(target: readonly number[], source: readonly number[]): readonly number[] {
  if (target.length === 4) {
    const [o, kh, kw, i] = target;
    return [o, i, kh, kw];
  }
  if (target.length === 2 && source.length === 4 && source[2] === 1 && source[3] === 1) {
    return [target[0], target[1], 1, 1];
  }
  return target;
}

/** PyTorch layout → ours: OIHW → OHWI for rank-4 targets; everything else is already in order. */
export function toEngineLayout(data: Float32Array, target: readonly number[]): Float32Array {
  if (target.length !== 4) return data;
  const [o, kh, kw, ci] = target;
  const out = new Float32Array(data.length);
  for (let a = 0; a < o; a++) {
    for (let c = 0; c < ci; c++) {
      for (let y = 0; y < kh; y++) {
        for (let x = 0; x < kw; x++) {
          out[((a * kh + y) * kw + x) * ci + c] = data[((a * ci + c) * kh + y) * kw + x];
        }
      }
    }
  }
  return out;
}

export interface ImportOptions {
  /** Names the model in errors ("DiT-XL/2", "SD VAE"). */
  readonly label: string;
  /** Source names to try for a target name, in order (default: the same name). */
  readonly aliases?: (target: string) => readonly string[];
  /** Source tensors that are allowed to stay unused. */
  readonly ignore?: (source: string) => boolean;
  /** Targets the caller fills itself (e.g. a fixed buffer checked separately). */
  readonly skip?: (target: string) => boolean;
}

export interface ImportReport {
  readonly path: string;
  /** sha256 of the whole file (what provenance records). */
  readonly sha256: string;
  readonly format: "safetensors" | "torch";
  readonly tensors: number;
  readonly elements: number;
  /** target name → source name, where they differ. */
  readonly renamed: Readonly<Record<string, string>>;
  readonly ignored: readonly string[];
  readonly seconds: number;
}

const fmt = (s: readonly number[]) => `[${s.join(", ")}]`;

/** sha256 of a file, streamed (checkpoints can be gigabytes). */
export async function fileSha256(path: string): Promise<string> {
  const hash = createHash("sha256");
  using f = await Deno.open(path, { read: true });
  const buf = new Uint8Array(16 << 20);
  for (let n = await f.read(buf); n !== null; n = await f.read(buf)) hash.update(buf.subarray(0, n));
  return hash.digest("hex");
}

function listed(title: string, items: string[], max = 12): string {
  if (!items.length) return "";
  const more = items.length > max ? `, … (${items.length - max} more)` : "";
  return `\n  ${title} (${items.length}): ${items.slice(0, max).join("; ")}${more}`;
}

/**
 * Matches every parameter and buffer of `module` to a source tensor, checks presence and shapes
 * (all problems in one error), then writes them into the module's existing tensors.
 */
export async function importWeights(
  module: Module,
  src: WeightSource,
  opts: ImportOptions,
): Promise<ImportReport> {
  const t0 = performance.now();
  const targets: [string, Tensor][] = [...module.namedParameters(), ...module.namedBuffers()]
    .filter(([n]) => !opts.skip?.(n));
  const aliases = opts.aliases ?? ((t: string) => [t]);
  const plan: { target: string; tensor: Tensor; source: string }[] = [];
  const missing: string[] = [], mismatched: string[] = [];
  const used = new Set<string>();
  for (const [target, t] of targets) {
    const source = aliases(target).find((s) => src.shapes.has(s));
    if (source === undefined) {
      missing.push(`${target} ${fmt(torchShapeFor(t.shape, []))}`);
      continue;
    }
    used.add(source);
    if (t.dtype !== "f32") {
      mismatched.push(`${target}: the model holds ${t.dtype} values, only float weights are imported`);
      continue;
    }
    const have = src.shapes.get(source)!;
    const want = torchShapeFor(t.shape, have);
    if (!sameShape(have, want)) {
      mismatched.push(`${source}: the file has ${fmt(have)}, ${opts.label} needs ${fmt(want)}`);
      continue;
    }
    plan.push({ target, tensor: t, source });
  }
  const ignored: string[] = [], unexpected: string[] = [];
  for (const [name, shape] of src.shapes) {
    if (used.has(name)) continue;
    if (opts.ignore?.(name)) ignored.push(name);
    else unexpected.push(`${name} ${fmt(shape)}`);
  }
  if (missing.length || mismatched.length || unexpected.length) {
    throw new WeightImportError(
      src.path,
      `does not fit ${opts.label}:` + listed("missing", missing) + listed("unexpected", unexpected) +
        listed("shape mismatch", mismatched),
    );
  }
  let elements = 0;
  const renamed: Record<string, string> = {};
  for (const { target, tensor: t, source } of plan) {
    const data = toEngineLayout(await src.read(source), t.shape);
    for (let i = 0; i < data.length; i++) {
      if (!Number.isFinite(data[i])) {
        throw new WeightImportError(src.path, `"${source}" holds a non-finite value (${data[i]}) at ${i}`);
      }
    }
    assignHost(t, data);
    elements += data.length;
    if (source !== target) renamed[target] = source;
  }
  return {
    path: src.path,
    sha256: await fileSha256(src.path),
    format: src.format,
    tensors: plan.length,
    elements,
    renamed,
    ignored,
    seconds: (performance.now() - t0) / 1000,
  };
}
