/**
 * The official pretrained weights the `paper` profile uses, loaded from files the user downloads:
 *
 * - DiT: facebookresearch/DiT's `DiT-XL-2-256x256.pt` (a torch.save state dict; a training
 *   checkpoint's "ema" weights are used when present, as DiT's own `find_model` does).
 * - The Stable Diffusion VAE: `diffusion_pytorch_model.safetensors` of stabilityai/sd-vae-ft-ema or
 *   sd-vae-ft-mse (current or older diffusers attention names), or the original latent-diffusion
 *   layout (`vae-ft-*-ema-pruned`, or a full SD checkpoint's `first_stage_model.`).
 * - An ImageNet teacher: an ONNX classifier with its JSON sidecar (models/onnx_classifier.ts).
 *
 * Paths come from a command-line flag or the environment (DD_DIT_CKPT, DD_VAE_CKPT,
 * DD_ONNX_TEACHER); nothing is downloaded.
 */
import { Rng } from "../engine/random.ts";
import { type InputNormalisation, OnnxClassifier } from "./onnx_classifier.ts";
import { DiT, DIT_CONFIGS, type DitConfig } from "./dit.ts";
import { AutoencoderKL, SD_VAE_CONFIG } from "./vae.ts";
import { type ImportReport, importWeights, openWeights, prefixWith } from "./weight_import.ts";

export const WEIGHT_ENV = {
  dit: "DD_DIT_CKPT",
  vae: "DD_VAE_CKPT",
  teacher: "DD_ONNX_TEACHER",
} as const;
export type OfficialWeightKind = keyof typeof WEIGHT_ENV;

const WHAT: Record<OfficialWeightKind, string> = {
  dit: "the official DiT checkpoint (DiT-XL-2-256x256.pt from the facebookresearch/DiT release)",
  vae: "the Stable Diffusion VAE (diffusion_pytorch_model.safetensors of stabilityai/sd-vae-ft-ema or -mse)",
  teacher: "an ONNX ImageNet classifier with its JSON sidecar (<model>.onnx.json)",
};

/** Where a kind of official weights is: the flag's value, else its environment variable, else null. */
export function officialWeightPath(kind: OfficialWeightKind, flag?: string): string | null {
  const v = flag ?? Deno.env.get(WEIGHT_ENV[kind]);
  return v ? v : null;
}

/** The path, or an error that says what is missing and how to supply it. */
export function requireWeightPath(kind: OfficialWeightKind, flag?: string): string {
  const p = officialWeightPath(kind, flag);
  if (!p) {
    throw new Error(
      `the paper profile needs ${WHAT[kind]}: download it and pass its path with the flag or set ${
        WEIGHT_ENV[kind]
      }`,
    );
  }
  return p;
}

// ---------------------------------------------------------------- SD VAE names

const OLD_ATTENTION: Record<string, string> = {
  to_q: "query",
  to_k: "key",
  to_v: "value",
  "to_out.0": "proj_attn",
};
const LDM_ATTENTION: Record<string, string> = {
  group_norm: "norm",
  to_q: "q",
  to_k: "k",
  to_v: "v",
  "to_out.0": "proj_out",
};

/**
 * Source names for a diffusers AutoencoderKL parameter: itself, the older diffusers attention names,
 * and the original latent-diffusion name (`levels` = number of resolution levels, since
 * latent-diffusion numbers the decoder's levels from the highest resolution).
 */
export function vaeSourceNames(target: string, levels: number): string[] {
  const out = [target];
  const attn = /^(.*\.mid_block\.attentions\.0)\.(to_q|to_k|to_v|to_out\.0)\.(weight|bias)$/.exec(target);
  if (attn) out.push(`${attn[1]}.${OLD_ATTENTION[attn[2]]}.${attn[3]}`);
  const ldm = ldmName(target, levels);
  if (ldm) out.push(ldm);
  return out;
}

function ldmName(target: string, levels: number): string | null {
  const [part, ...rest] = target.split(".");
  if (part === "quant_conv" || part === "post_quant_conv") return target;
  if (part !== "encoder" && part !== "decoder") return null;
  let name = rest.join(".");
  const resnet = (s: string) => s.replace(/^(.*)conv_shortcut\./, "$1nin_shortcut.");
  let m: RegExpExecArray | null;
  if ((m = /^mid_block\.resnets\.([01])\.(.*)$/.exec(name))) {
    name = `mid.block_${Number(m[1]) + 1}.${resnet(m[2])}`;
  } else if ((m = /^mid_block\.attentions\.0\.(group_norm|to_q|to_k|to_v|to_out\.0)\.(.*)$/.exec(name))) {
    name = `mid.attn_1.${LDM_ATTENTION[m[1]]}.${m[2]}`;
  } else if ((m = /^down_blocks\.(\d+)\.resnets\.(\d+)\.(.*)$/.exec(name))) {
    name = `down.${m[1]}.block.${m[2]}.${resnet(m[3])}`;
  } else if ((m = /^down_blocks\.(\d+)\.downsamplers\.0\.conv\.(.*)$/.exec(name))) {
    name = `down.${m[1]}.downsample.conv.${m[2]}`;
  } else if ((m = /^up_blocks\.(\d+)\.resnets\.(\d+)\.(.*)$/.exec(name))) {
    name = `up.${levels - 1 - Number(m[1])}.block.${m[2]}.${resnet(m[3])}`;
  } else if ((m = /^up_blocks\.(\d+)\.upsamplers\.0\.conv\.(.*)$/.exec(name))) {
    name = `up.${levels - 1 - Number(m[1])}.upsample.conv.${m[2]}`;
  } else if ((m = /^conv_norm_out\.(.*)$/.exec(name))) name = `norm_out.${m[1]}`;
  else if (!/^conv_(in|out)\./.test(name)) return null;
  return `${part}.${name}`;
}

// ---------------------------------------------------------------- loaders

/** Loads SD-VAE weights (any of the layouts above) into an AutoencoderKL of the same configuration. */
export async function loadVaeWeights(vae: AutoencoderKL, path: string): Promise<ImportReport> {
  using src = await openWeights(
    path,
    prefixWith("encoder.conv_in.weight", [
      "",
      "first_stage_model.",
      "state_dict.first_stage_model.",
      "state_dict.",
    ]),
  );
  return await importWeights(vae, src, {
    label: "the SD VAE (AutoencoderKL)",
    aliases: (t) => vaeSourceNames(t, vae.cfg.blockOutChannels.length),
    // latent-diffusion checkpoints may carry the training loss (LPIPS, discriminator) and EMA counters
    ignore: (n) => /^(loss|model_ema)\./.test(n),
  });
}

/** The full-size SD VAE with the official weights (`paper` profile), in eval mode. */
export async function loadOfficialVae(
  flag?: string,
): Promise<{ model: AutoencoderKL; report: ImportReport }> {
  const path = requireWeightPath("vae", flag);
  const model = new AutoencoderKL(new Rng(0), SD_VAE_CONFIG);
  try {
    const report = await loadVaeWeights(model, path);
    return { model: model.eval(), report };
  } catch (e) {
    model.dispose();
    throw e;
  }
}

// ---------------------------------------------------------------- DiT

/** "DiT-XL/2" for an official configuration, else its dimensions. */
export function ditLabel(cfg: DitConfig): string {
  const named = Object.entries(DIT_CONFIGS).find(([, c]) => JSON.stringify(c) === JSON.stringify(cfg));
  return named
    ? named[0]
    : `DiT (depth ${cfg.depth}, hidden ${cfg.hiddenSize}, patch ${cfg.patchSize}, ${cfg.numClasses} classes)`;
}

/**
 * Loads DiT weights (official names) into a DiT of the same configuration: a plain state dict, or
 * the "ema" weights of a nested training checkpoint when present (as DiT's own find_model).
 */
export async function loadDitWeights(dit: DiT, path: string): Promise<ImportReport> {
  using src = await openWeights(
    path,
    prefixWith("x_embedder.proj.weight", ["ema.", "", "model.", "module."]),
  );
  return await importWeights(dit, src, { label: ditLabel(dit.cfg) });
}

/** DiT-XL/2 (256 px, 1000 classes) with the official weights (`paper` profile), in eval mode. */
export async function loadOfficialDit(flag?: string): Promise<{ model: DiT; report: ImportReport }> {
  const path = requireWeightPath("dit", flag);
  const model = new DiT(new Rng(0), DIT_CONFIGS["DiT-XL/2"]);
  try {
    const report = await loadDitWeights(model, path);
    return { model: model.eval(), report };
  } catch (e) {
    model.dispose();
    throw e;
  }
}

// ---------------------------------------------------------------- teacher

/** The user's ONNX teacher (`paper` profile) for images normalised by `normalisation` (the dataset's). */
export async function loadOfficialTeacher(
  normalisation: InputNormalisation,
  flag?: string,
): Promise<OnnxClassifier> {
  return await OnnxClassifier.load(requireWeightPath("teacher", flag), { normalisation });
}
