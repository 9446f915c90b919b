/**
 * DiT and AutoencoderKL against PyTorch (fixtures/generative_reference.json, written by make_reference.py
 * from bench/torch_models.py): same official parameter names, same outputs for the same weights once
 * PyTorch's NCHW/OIHW layouts are converted; adaLN-Zero initialisation; gradients vs finite differences.
 */
import { deepStrictEqual as eq, ok } from "node:assert";
import { assertClose, cpu, gpu, gradCheck, on } from "../engine/helpers.ts";
import { backend, noGrad, setBackend, tensor, tidy } from "../../engine/tensor.ts";
import { Rng } from "../../engine/random.ts";
import * as E from "../../engine/expr.ts";
import * as T from "../../engine/ops/mod.ts";
import { grad } from "../../engine/autograd.ts";
import { DiT, DIT_CONFIGS, type DitConfig, sincos2d } from "../../models/dit.ts";
import { AutoencoderKL, SD_VAE_CONFIG, type VaeConfig, vaeFactor } from "../../models/vae.ts";
import type { Module } from "../../models/module.ts";

const ref = JSON.parse(
  await Deno.readTextFile(new URL("./fixtures/generative_reference.json", import.meta.url)),
);

function nameHash(name: string): number {
  let h = 0;
  for (let j = 0; j < name.length; j++) h += (j + 1) * name.charCodeAt(j);
  return h % 1000;
}

/** make_reference.py's weight formula, in PyTorch's layout for `torchShape`. */
function formula(name: string, torchShape: number[]): Float32Array {
  const n = torchShape.reduce((a, d) => a * d, 1), h = nameHash(name);
  const s = Float32Array.from({ length: n }, (_, i) => Math.sin(0.37 * i + 0.01 * h));
  if (torchShape.length === 1) return s.map((v) => (name.includes("norm") ? 1 : 0) + 0.1 * v);
  const k = 0.5 / Math.sqrt(n / torchShape[0]);
  return s.map((v) => k * v);
}

/** OIHW → OHWI for conv weights (rank 4); other tensors keep their layout. */
function toEngineLayout(data: Float32Array, oihw: number[]): Float32Array {
  if (oihw.length !== 4) return data;
  const [o, i, h, w] = oihw, out = new Float32Array(data.length);
  for (let a = 0; a < o; a++) {
    for (let b = 0; b < i; b++) {
      for (let y = 0; y < h; y++) {
        for (let x = 0; x < w; x++) out[((a * h + y) * w + x) * i + b] = data[((a * i + b) * h + y) * w + x];
      }
    }
  }
  return out;
}

/** Fills every parameter by the formula of its official name (engine shape OHWI → PyTorch shape OIHW). */
function fillByFormula(m: Module): void {
  for (const [name, t] of m.namedParameters()) {
    const torchShape = t.rank === 4 ? [t.shape[0], t.shape[3], t.shape[1], t.shape[2]] : [...t.shape];
    const src = tensor(toEngineLayout(formula(name, torchShape), torchShape), t.shape);
    noGrad(() =>
      backend().map([E.inp(0)], [{ s: src.storage, shape: t.shape }], t.shape, { into: [t.storage] })
    );
    src.dispose();
  }
}

const nchwToNhwc = (d: ArrayLike<number>, [n, c, h, w]: number[]) => {
  const out = new Float32Array(d.length);
  for (let a = 0; a < n; a++) {
    for (let ch = 0; ch < c; ch++) {
      for (let p = 0; p < h * w; p++) out[(a * h * w + p) * c + ch] = d[(a * c + ch) * h * w + p];
    }
  }
  return out;
};
const sinInput = (n: number, a: number) => Float32Array.from({ length: n }, (_, i) => Math.sin(a * i));

const ditCfg = (): DitConfig => {
  const c = ref.dit.config;
  return {
    inputSize: c.input_size,
    patchSize: c.patch_size,
    inChannels: c.in_channels,
    hiddenSize: c.hidden_size,
    depth: c.depth,
    numHeads: c.num_heads,
    mlpRatio: c.mlp_ratio,
    numClasses: c.num_classes,
    learnSigma: c.learn_sigma,
  };
};
const vaeCfg = (): VaeConfig => {
  const c = ref.vae.config;
  return {
    inChannels: c.in_channels,
    outChannels: c.out_channels,
    latentChannels: c.latent_channels,
    blockOutChannels: c.block_out_channels,
    layersPerBlock: c.layers_per_block,
    normGroups: c.groups,
    scalingFactor: 1,
    midBlockAttention: true,
  };
};

Deno.test("DiT: official parameter names, and PyTorch's output for the same weights (both backends)", async () => {
  for (const b of [cpu, gpu]) {
    setBackend(b);
    const cfg = ditCfg();
    const dit = new DiT(new Rng(0), cfg);
    const names = [...dit.namedParameters(), ...dit.namedBuffers()].map(([n]) => n).sort();
    eq(names, [...ref.dit.params].sort(), "parameter names (pos_embed a buffer)");
    fillByFormula(dit);
    const [n, s, c] = [2, cfg.inputSize, cfg.inChannels];
    const x = nchwToNhwc(sinInput(n * c * s * s, 0.11), [n, c, s, s]);
    const out = await on(
      b,
      () => dit.predict(tensor(x, [n, s, s, c]), tensor(ref.dit.t), tensor(ref.dit.y, [n], "i32")),
    );
    assertClose(out, nchwToNhwc(ref.dit.output, ref.dit.shape), 2e-4, `DiT vs PyTorch (${b.name})`);
    dit.dispose();
  }
});

Deno.test("AutoencoderKL: diffusers parameter names, and PyTorch's posterior and decoding (both backends)", async () => {
  for (const b of [cpu, gpu]) {
    setBackend(b);
    const vae = new AutoencoderKL(new Rng(0), vaeCfg());
    eq(vae.namedParameters().map(([n]) => n).sort(), [...ref.vae.params].sort(), "parameter names");
    fillByFormula(vae);
    const x = nchwToNhwc(sinInput(2 * 8 * 8, 0.13), [2, 1, 8, 8]);
    const mean = await on(b, () => vae.encode(tensor(x, [2, 8, 8, 1])).mean);
    const logvar = await on(b, () => vae.encode(tensor(x, [2, 8, 8, 1])).logvar);
    const dec = await on(b, () => vae.forward(tensor(x, [2, 8, 8, 1])));
    assertClose(mean, nchwToNhwc(ref.vae.mean, ref.vae.latentShape), 2e-4, `VAE mean (${b.name})`);
    assertClose(logvar, nchwToNhwc(ref.vae.logvar, ref.vae.latentShape), 2e-4, `VAE logvar (${b.name})`);
    assertClose(dec, nchwToNhwc(ref.vae.decoded, ref.vae.decodedShape), 2e-4, `VAE decoding (${b.name})`);
    vae.dispose();
  }
});

Deno.test("DiT: adaLN-Zero starts at a zero output; position embedding is the reference's sin-cos", async () => {
  setBackend(cpu);
  const dit = new DiT(new Rng(3), { ...ditCfg(), depth: 1 });
  const x = tensor(sinInput(2 * 4 * 4 * 2, 0.3), [2, 4, 4, 2]);
  const out = await on(cpu, () => dit.predict(x, tensor([3, 999]), tensor([0, 3], [2], "i32")));
  ok(out.every((v) => v === 0), "a fresh DiT predicts exactly 0");
  // Only the final layer receives a gradient at initialisation (everything else feeds a zeroed layer).
  const params = dit.namedParameters();
  const gs = tidy(() => {
    const out = dit.predict(x, tensor([3, 999]), tensor([0, 3], [2], "i32"));
    return grad(T.sum(T.square(T.sub(out, 1))), params.map(([, p]) => p));
  });
  for (let i = 0; i < params.length; i++) {
    const nonzero = (await gs[i].f32()).some((v) => v !== 0);
    const name = params[i][0];
    const expected = name === "final_layer.linear.weight" || name === "final_layer.linear.bias";
    eq(nonzero, expected, `gradient of ${name} is ${nonzero ? "non-zero" : "zero"}`);
    gs[i].dispose();
  }
  // Token (i, j) embeds the column j in its first half and the row i in its second.
  const pe = sincos2d(8, 2);
  assertClose(
    pe.subarray(8, 16),
    [Math.sin(1), Math.sin(0.01), Math.cos(1), Math.cos(0.01), 0, 0, 1, 1],
    1e-6,
    "pos (0,1)",
  );
  x.dispose();
  dit.dispose();
});

Deno.test("DiT and VAE: gradients w.r.t. their inputs match finite differences (CPU)", async () => {
  setBackend(cpu);
  const dit = new DiT(new Rng(0), { ...ditCfg(), depth: 1 });
  fillByFormula(dit);
  const w = sinInput(2 * 4 * 4 * 4, 0.7);
  await gradCheck(
    cpu,
    ([x]) =>
      T.sum(T.mul(dit.predict(x, tensor([10, 500]), tensor([1, 3], [2], "i32")), tensor(w, [2, 4, 4, 4]))),
    [{ data: sinInput(2 * 4 * 4 * 2, 0.21), shape: [2, 4, 4, 2] }],
    { what: "DiT d/dx_t", eps: 1e-2, tol: 3e-2 },
  );
  const vae = new AutoencoderKL(new Rng(0), vaeCfg());
  fillByFormula(vae);
  const wv = sinInput(2 * 8 * 8, 0.5);
  await gradCheck(
    cpu,
    ([x]) => T.sum(T.mul(vae.forward(x), tensor(wv, [2, 8, 8, 1]))),
    [{ data: sinInput(2 * 8 * 8, 0.17), shape: [2, 8, 8, 1] }],
    { what: "VAE d/dx", eps: 1e-2, tol: 3e-2 },
  );
  dit.dispose();
  vae.dispose();
});

Deno.test("configurations: DiT-XL/2 and the SD VAE have the published sizes (counted, not allocated)", () => {
  const xl = DIT_CONFIGS["DiT-XL/2"];
  const d = xl.hiddenSize, p = xl.patchSize, c = xl.inChannels;
  const perBlock = (3 * d * d + 3 * d) + (d * d + d) + 2 * (4 * d * d) + 4 * d + d + (6 * d * d + 6 * d);
  const total = (c * p * p * d + d) + (256 * d + d) + (d * d + d) + 1001 * d + xl.depth * perBlock +
    (d * p * p * 2 * c + p * p * 2 * c) + (2 * d * d + 2 * d);
  // DiT-XL/2 has 675M parameters (Peebles & Xie, Table 1).
  ok(Math.abs(total / 1e6 - 675) < 1, `DiT-XL/2 ${total} parameters`);
  eq(vaeFactor(SD_VAE_CONFIG), 8);
});
