/**
 * Official-layout weights into ddrepro's models: tiny checkpoints with the official key names and
 * PyTorch layouts, and PyTorch's own outputs for fixed inputs, were written by
 * fixtures/make_official_golden.py (real torch.save / PyTorch ops); loading them must reproduce
 * those outputs. The same weights renamed to the older diffusers attention names (1×1-conv shaped)
 * and to the original latent-diffusion layout must load identically.
 */
import { ok } from "node:assert";
import { gpu } from "../engine/helpers.ts";
import { noGrad, setBackend, type Tensor, tensor } from "../../engine/tensor.ts";
import { readSafetensors, type SafeTensor, writeSafetensors } from "../../engine/safetensors.ts";
import { Rng } from "../../engine/random.ts";
import * as T from "../../engine/ops/mod.ts";
import { AutoencoderKL, type VaeConfig } from "../../models/vae.ts";
import { DiT, type DitConfig } from "../../models/dit.ts";
import {
  ditLabel,
  loadDitWeights,
  loadVaeWeights,
  officialWeightPath,
  requireWeightPath,
  vaeSourceNames,
} from "../../models/official_weights.ts";
import { WeightImportError } from "../../models/weight_import.ts";
import { readTorchCheckpoint } from "../../models/torch_checkpoint.ts";
import { type FixtureValue, ordered, tensorOf, torchSave } from "./_torch_fixtures.ts";

setBackend(gpu);

const FIXTURES = new URL("./fixtures/", import.meta.url).pathname;
const dir = await Deno.makeTempDir({ prefix: "dd-official-" });

/** NCHW host data → NHWC device tensor. */
function nhwc(t: SafeTensor): Tensor {
  const [n, c, h, w] = t.shape;
  return T.permute(tensor(t.data as Float32Array, [n, c, h, w]), [0, 2, 3, 1]);
}

/** Compares an NHWC device tensor with NCHW reference data (relative tolerance). */
async function expectNchw(got: Tensor, want: SafeTensor, tol: number, what: string): Promise<void> {
  const g = await T.permute(got, [0, 3, 1, 2]).f32();
  const w = want.data as Float32Array;
  ok(g.length === w.length, `${what}: ${g.length} values vs ${w.length}`);
  let worst = 0;
  for (let i = 0; i < g.length; i++) worst = Math.max(worst, Math.abs(g[i] - w[i]) / (1 + Math.abs(w[i])));
  ok(worst <= tol, `${what}: worst relative difference ${worst} > ${tol}`);
}

// ---------------------------------------------------------------- VAE

const TINY_VAE: VaeConfig = {
  inChannels: 3,
  outChannels: 3,
  latentChannels: 4,
  blockOutChannels: [4, 8],
  layersPerBlock: 1,
  normGroups: 2,
  scalingFactor: 0.18215,
  midBlockAttention: true,
};

async function checkVae(path: string, what: string): Promise<void> {
  const io = (await readSafetensors(`${FIXTURES}tiny_vae_io.safetensors`)).tensors;
  const vae = new AutoencoderKL(new Rng(7), TINY_VAE).eval();
  try {
    const report = await loadVaeWeights(vae, path);
    ok(report.tensors === vae.namedParameters().length, `${what}: loaded ${report.tensors} tensors`);
    const x = nhwc(io.x);
    const post = noGrad(() => vae.encode(x));
    await expectNchw(post.mean, io.mean, 1e-4, `${what}: posterior mean`);
    await expectNchw(post.logvar, io.logvar, 1e-4, `${what}: posterior logvar`);
    await expectNchw(noGrad(() => vae.decode(post.mean)), io.decoded, 1e-4, `${what}: decode(mean)`);
  } finally {
    vae.dispose();
  }
}

Deno.test("official weights: a diffusers AutoencoderKL checkpoint reproduces PyTorch's encode and decode", async () => {
  await checkVae(`${FIXTURES}tiny_vae.safetensors`, "diffusers names");
});

Deno.test("official weights: older diffusers attention names (1×1-conv shaped) and the latent-diffusion layout", async () => {
  const golden = (await readSafetensors(`${FIXTURES}tiny_vae.safetensors`)).tensors;
  const old: Record<string, { dtype: "F32"; shape: number[]; data: Float32Array }> = {};
  const ldm = [] as [string, ReturnType<typeof tensorOf>][];
  for (const [name, t] of Object.entries(golden)) {
    const data = t.data as Float32Array;
    const oldName = vaeSourceNames(name, TINY_VAE.blockOutChannels.length)[1] ?? name;
    const attention = /attentions\.0\.(to_q|to_k|to_v|to_out\.0)\.weight$/.test(name);
    old[name.includes(".attentions.0.") ? oldName : name] = {
      dtype: "F32",
      shape: attention ? [...t.shape, 1, 1] : [...t.shape],
      data,
    };
    const ldmName = vaeSourceNames(name, TINY_VAE.blockOutChannels.length).at(-1)!;
    ldm.push([
      `first_stage_model.${ldmName}`,
      tensorOf("float32", attention ? [...t.shape, 1, 1] : [...t.shape], data),
    ]);
  }
  ok(Object.keys(old).some((k) => k.endsWith(".proj_attn.weight")), "old names were produced");
  await writeSafetensors(`${dir}/old.safetensors`, old);
  await checkVae(`${dir}/old.safetensors`, "older diffusers names");
  ldm.push(["loss.logvar", tensorOf("float32", [], [0])]);
  await Deno.writeFile(
    `${dir}/ldm.ckpt`,
    await torchSave({ kind: "dict", items: [["state_dict", ordered(ldm)], ["global_step", 5]] }),
  );
  await checkVae(`${dir}/ldm.ckpt`, "latent-diffusion layout");
});

Deno.test("official weights: latent-diffusion names of the SD VAE (spot checks against the conversion table)", () => {
  const cases: [string, string][] = [
    ["decoder.up_blocks.0.resnets.2.conv1.weight", "decoder.up.3.block.2.conv1.weight"],
    ["decoder.up_blocks.3.resnets.0.conv_shortcut.weight", "decoder.up.0.block.0.nin_shortcut.weight"],
    ["decoder.up_blocks.2.upsamplers.0.conv.weight", "decoder.up.1.upsample.conv.weight"],
    ["encoder.down_blocks.1.downsamplers.0.conv.bias", "encoder.down.1.downsample.conv.bias"],
    ["encoder.down_blocks.2.resnets.0.conv_shortcut.bias", "encoder.down.2.block.0.nin_shortcut.bias"],
    ["encoder.mid_block.attentions.0.to_out.0.weight", "encoder.mid.attn_1.proj_out.weight"],
    ["encoder.mid_block.attentions.0.group_norm.bias", "encoder.mid.attn_1.norm.bias"],
    ["decoder.mid_block.resnets.1.norm2.weight", "decoder.mid.block_2.norm2.weight"],
    ["decoder.conv_norm_out.bias", "decoder.norm_out.bias"],
    ["encoder.conv_in.weight", "encoder.conv_in.weight"],
    ["post_quant_conv.weight", "post_quant_conv.weight"],
  ];
  for (const [diffusers, ldm] of cases) {
    const names = vaeSourceNames(diffusers, 4);
    ok(
      names[0] === diffusers && names.at(-1) === ldm,
      `${diffusers}: ${names.join(" | ")} (want ${ldm})`,
    );
  }
  ok(
    vaeSourceNames("decoder.mid_block.attentions.0.to_k.bias", 4)[1] ===
      "decoder.mid_block.attentions.0.key.bias",
    "older diffusers attention name",
  );
});

Deno.test("official weights: a VAE file that does not fit names the file and every problem", async () => {
  const golden = (await readSafetensors(`${FIXTURES}tiny_vae.safetensors`)).tensors;
  const broken: Record<string, { dtype: "F32"; shape: number[]; data: Float32Array }> = {};
  for (const [name, t] of Object.entries(golden)) {
    if (name === "decoder.conv_out.bias") continue;
    broken[name] = { dtype: "F32", shape: [...t.shape], data: t.data as Float32Array };
  }
  broken["encoder.conv_in.weight"] = { dtype: "F32", shape: [4, 3, 1, 1], data: new Float32Array(12) };
  const path = `${dir}/broken.safetensors`;
  await writeSafetensors(path, broken);
  const vae = new AutoencoderKL(new Rng(7), TINY_VAE);
  try {
    await loadVaeWeights(vae, path);
    throw new Error("no error");
  } catch (e) {
    ok(e instanceof WeightImportError, `expected WeightImportError, got ${e}`);
    for (
      const part of [
        path,
        "missing (1): decoder.conv_out.bias [3]",
        "encoder.conv_in.weight: the file has [4, 3, 1, 1]",
      ]
    ) {
      ok(e.message.includes(part), `message lacks "${part}": ${e.message}`);
    }
  } finally {
    vae.dispose();
  }
});

// ---------------------------------------------------------------- DiT

const TINY_DIT: DitConfig = {
  inputSize: 8,
  patchSize: 2,
  inChannels: 4,
  hiddenSize: 16,
  depth: 2,
  numHeads: 2,
  mlpRatio: 4,
  numClasses: 5,
  learnSigma: true,
};

async function checkDit(path: string, what: string): Promise<void> {
  const io = (await readSafetensors(`${FIXTURES}tiny_dit_io.safetensors`)).tensors;
  const dit = new DiT(new Rng(3), TINY_DIT).eval();
  try {
    const report = await loadDitWeights(dit, path);
    ok(
      report.tensors === dit.namedParameters().length + dit.namedBuffers().length,
      `${what}: ${report.tensors}`,
    );
    const t = tensor(io.t.data as Float32Array, [3]);
    const y = tensor(Int32Array.from(io.y.data as Float32Array), [3], "i32");
    const out = noGrad(() => dit.predict(nhwc(io.x), t, y));
    await expectNchw(out, io.out, 2e-4, `${what}: DiT output`);
  } finally {
    dit.dispose();
  }
}

Deno.test("official weights: a DiT state dict written by torch.save reproduces PyTorch's forward", async () => {
  await checkDit(`${FIXTURES}tiny_dit.pt`, "official state dict");
  ok(ditLabel(TINY_DIT).startsWith("DiT (depth 2"), ditLabel(TINY_DIT));
});

Deno.test("official weights: a DiT training checkpoint loads its ema weights", async () => {
  const golden = await readTorchCheckpoint(`${FIXTURES}tiny_dit.pt`);
  const sd = (scale: number): FixtureValue =>
    ordered(
      [...golden].map(([name, t]) => [
        name,
        tensorOf(
          "float32",
          [...t.shape],
          Array.from(t.data, (v) => v * scale),
        ),
      ]),
    );
  const path = `${dir}/train.pt`;
  await Deno.writeFile(
    path,
    await torchSave({ kind: "dict", items: [["model", sd(0.5)], ["ema", sd(1)], ["steps", 9]] }),
  );
  await checkDit(path, "training checkpoint (ema)");
});

Deno.test("official weights: paths come from the flag, else the environment, else a clear error", () => {
  const saved = Deno.env.get("DD_VAE_CKPT");
  try {
    Deno.env.delete("DD_VAE_CKPT");
    ok(officialWeightPath("vae") === null, "unset → null");
    let msg = "";
    try {
      requireWeightPath("vae");
    } catch (e) {
      msg = String(e);
    }
    ok(/DD_VAE_CKPT/.test(msg) && /sd-vae-ft-ema/.test(msg), `error: ${msg}`);
    Deno.env.set("DD_VAE_CKPT", "/env/vae.safetensors");
    ok(requireWeightPath("vae") === "/env/vae.safetensors", "environment");
    ok(requireWeightPath("vae", "/flag/vae.safetensors") === "/flag/vae.safetensors", "the flag wins");
  } finally {
    if (saved === undefined) Deno.env.delete("DD_VAE_CKPT");
    else Deno.env.set("DD_VAE_CKPT", saved);
  }
});

Deno.test("official weights: cleanup", async () => {
  await Deno.remove(dir, { recursive: true });
});
