/**
 * The bench's DiT figures: training img/s (hybrid loss, AdamW) and DDIM-50 sampling img/s with classifier-free
 * guidance for the small DiT that `dd pretrain dit` trains, and the same workloads in PyTorch
 * (bench/torch_dit.py) in the same run, with ratios.
 */
import { Rng } from "../engine/random.ts";
import { tensor, tidy } from "../engine/tensor.ts";
import { grad } from "../engine/autograd.ts";
import { AdamW } from "../engine/optim.ts";
import type { WebGpuBackend } from "../engine/webgpu/backend.ts";
import { diffusionLoss, linearBetas, makeSchedule, sample, spacedSchedule } from "../diffusion/mod.ts";
import { DiT } from "../models/dit.ts";
import { ditRecipe } from "../models/foundation.ts";

export const DIT_TRAIN_BATCH = 64;
export const DIT_SAMPLE_BATCH = 16;

export interface DitBench {
  dit_config: string;
  dit_train_img_per_s: number;
  dit_ddim50_cfg_img_per_s: number;
  dit_train_kernels: number;
}

export async function ditBench(
  b: WebGpuBackend,
  timeIt: (fn: () => void, reps: number, rounds?: number) => Promise<number>,
): Promise<DitBench> {
  const cfg = ditRecipe("fashion-mnist", "quick").model;
  const rng = new Rng(7);
  const model = new DiT(rng.fork(1), cfg);
  const opt = new AdamW(model.parameters(), { lr: 1e-4, weightDecay: 0 });
  const s = makeSchedule(linearBetas(1000));
  const x0 = rng.normal([DIT_TRAIN_BATCH, cfg.inputSize, cfg.inputSize, cfg.inChannels]).keep();
  const y = tensor(
    Array.from({ length: DIT_TRAIN_BATCH }, (_, i) => i % (cfg.numClasses + 1)),
    [DIT_TRAIN_BATCH],
    "i32",
  ).keep();
  let k = 0;
  const params = model.parameters();
  const step = () =>
    tidy(() => {
      const l = diffusionLoss(model, s, x0, y, rng.fork(k++));
      opt.step(grad(l.loss, params));
    });
  const d0 = b.rt.stats.dispatches;
  step();
  const kernels = b.rt.stats.dispatches - d0;
  const tTrain = await timeIt(step, 2, 2);
  const schedule = spacedSchedule(s, "ddim50");
  const labels = Array.from({ length: DIT_SAMPLE_BATCH }, (_, i) => i % cfg.numClasses);
  const sampleOnce = async () => {
    const t0 = performance.now();
    const out = await sample(model, {
      method: "ddim",
      schedule,
      labels,
      sampleShape: [cfg.inputSize, cfg.inputSize, cfg.inChannels],
      seed: 1,
      cfg: { scale: 4 },
      syncEvery: 0,
    });
    await b.rt.sync();
    out.dispose();
    return (performance.now() - t0) / 1000;
  };
  await sampleOnce(); // compiles the pipelines
  const tSample = Math.min(await sampleOnce(), await sampleOnce());
  [x0, y].forEach((t) => t.dispose());
  opt.dispose();
  model.dispose();
  return {
    dit_config: `DiT d${cfg.hiddenSize} depth ${cfg.depth} heads ${cfg.numHeads} patch ${cfg.patchSize} on ` +
      `${cfg.inputSize}×${cfg.inputSize}×${cfg.inChannels} latents; train batch ${DIT_TRAIN_BATCH}, sample batch ${DIT_SAMPLE_BATCH}`,
    dit_train_img_per_s: DIT_TRAIN_BATCH / tTrain,
    dit_ddim50_cfg_img_per_s: DIT_SAMPLE_BATCH / tSample,
    dit_train_kernels: kernels,
  };
}

/** bench/torch_dit.py on the same configuration, with the first Python that imports torch. */
export async function torchDit(): Promise<Record<string, number> | { torch_dit_unavailable: string }> {
  const script = new URL("./torch_dit.py", import.meta.url).pathname;
  const cfg = JSON.stringify(ditRecipe("fashion-mnist", "quick").model);
  for (const py of ["/usr/bin/python3", "python3"]) {
    try {
      const out = await new Deno.Command(py, {
        args: [script, "2", cfg, String(DIT_TRAIN_BATCH), String(DIT_SAMPLE_BATCH)],
        stdout: "piped",
        stderr: "piped",
      }).output();
      if (out.success) return JSON.parse(new TextDecoder().decode(out.stdout));
    } catch { /* not installed: try the next */ }
  }
  return { torch_dit_unavailable: "no python3 with torch (Debian: apt-get install python3-torch)" };
}
