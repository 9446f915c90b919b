/**
 * The shipped generative foundation: every checkpoint matches the sha256 in models/weights/manifest.json and
 * loads; a changed byte is refused; the shipped recipes still train (a few steps of the real configurations
 * on real images); a killed training resumes to exactly the weights of an uninterrupted one.
 */
import { deepStrictEqual as eq, ok } from "node:assert";
import { cpu, gpu } from "../engine/helpers.ts";
import { setBackend, type Tensor } from "../../engine/tensor.ts";
import { AdamW } from "../../engine/optim.ts";
import { Rng } from "../../engine/random.ts";
import { loadDataset } from "../../data/registry.ts";
import type { Split } from "../../data/types.ts";
import { AutoencoderKL } from "../../models/vae.ts";
import { DiT } from "../../models/dit.ts";
import {
  checkpointName,
  ditFromBytes,
  ditRecipe,
  FOUNDATION_DATASETS,
  lrAt,
  readManifest,
  recordInManifest,
  vaeFromBytes,
  vaeRecipe,
  verifiedCheckpoint,
  WEIGHTS_DIR,
} from "../../models/foundation.ts";
import { EpochSampler, PaddedImages } from "../../models/generative_data.ts";
import { vaeLoss } from "../../models/pretrain_vae.ts";
import { ditLoss, type LatentCache, trainWithRestart } from "../../models/pretrain_dit.ts";
import { trainResumable } from "../../models/resumable_training.ts";

async function assertRejects(
  fn: () => Promise<unknown>,
  _cls: typeof Error,
  includes: string,
): Promise<void> {
  try {
    await fn();
  } catch (e) {
    if (!String(e instanceof Error ? e.message : e).includes(includes)) {
      throw new Error(`expected an error containing "${includes}", got: ${e}`);
    }
    return;
  }
  throw new Error(`expected a rejection containing "${includes}"`);
}

Deno.test("foundation: every shipped checkpoint matches its manifest hash and loads", async () => {
  setBackend(gpu);
  const manifest = await readManifest();
  for (const d of FOUNDATION_DATASETS) {
    for (const kind of ["vae", "dit"] as const) {
      const name = checkpointName(kind, d);
      ok(manifest[name] !== undefined, `${name} is missing from models/weights/manifest.json`);
      const bytes = await verifiedCheckpoint(name);
      const m = kind === "vae" ? vaeFromBytes(bytes, name) : ditFromBytes(bytes, name);
      // Shipped as f16: a few MB at most.
      ok(bytes.length < 8 * 2 ** 20, `${name} is ${bytes.length} bytes`);
      ok(m.size() > 0, `${name} has parameters`);
      m.dispose();
    }
  }
});

Deno.test("foundation: a changed byte or an unlisted file is refused before use", async () => {
  const dir = await Deno.makeTempDir();
  try {
    const file = `${dir}/mnist-vae.safetensors`;
    const bytes = new TextEncoder().encode("not really a checkpoint, but hashed all the same");
    await Deno.writeFile(file, bytes);
    await recordInManifest(file, `${dir}/manifest.json`);
    eq((await verifiedCheckpoint("mnist-vae.safetensors", `${dir}/`)).length, bytes.length);
    bytes[3] ^= 1;
    await Deno.writeFile(file, bytes);
    await assertRejects(
      () => verifiedCheckpoint("mnist-vae.safetensors", `${dir}/`),
      Error,
      "does not match",
    );
    await assertRejects(
      () => verifiedCheckpoint("mnist-dit.safetensors", `${dir}/`),
      Error,
      "no such shipped",
    );
    await Deno.writeTextFile(
      `${dir}/manifest.json`,
      '{"mnist-vae.safetensors": {"sha256": "xyz", "bytes": 1}}',
    );
    await assertRejects(() => readManifest(`${dir}/manifest.json`), Error, "invalid checkpoint manifest");
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

/** Random 28 px grayscale images with labels 0..9. */
function randomSplit(count: number, seed: number): Split {
  const r = new Rng(seed).hostUniform(count * 28 * 28);
  return {
    images: Uint8Array.from(r, (v) => Math.floor(v * 256)),
    labels: Int32Array.from({ length: count }, (_, i) => i % 10),
    count,
  };
}

Deno.test("foundation: a killed training resumes to exactly the weights of an uninterrupted run", async () => {
  setBackend(cpu);
  const dir = await Deno.makeTempDir();
  try {
    const recipe = { ...vaeRecipe("mnist", "smoke"), steps: 4, batch: 2 };
    const cfg = { ...recipe.model, blockOutChannels: [4, 4], normGroups: 2 };
    const images = new PaddedImages(randomSplit(8, 1), 1, 32);
    // `phases`: train the first 2 steps under their own key and state, then continue to 4 (a restart).
    const run = async (statePath: string, stopAfter?: number, phases = false) => {
      const model = new AutoencoderKL(new Rng(0), cfg);
      const opt = new AdamW(model.parameters(), { lr: 1e-3 });
      const ctl = new AbortController();
      const loss = vaeLoss(model, recipe, images, new EpochSampler(8, 2, 5), new Rng(6));
      const first = phases
        ? await trainResumable({
          key: "first",
          steps: 2,
          statePath: `${statePath}.first`,
          model,
          opt,
          lrAt: (s) => lrAt(recipe, s),
          batch: 2,
          label: "t",
          loss,
        })
        : null;
      const out = await trainResumable({
        key: "test",
        steps: recipe.steps,
        ...(first ? { start: first } : {}),
        statePath,
        model,
        opt,
        lrAt: (s) => lrAt(recipe, s),
        batch: 2,
        logEvery: 1,
        signal: ctl.signal,
        label: "t",
        // Interrupt after `stopAfter` steps (the loop checks the signal between steps).
        loss: (s) => {
          if (stopAfter !== undefined && s === stopAfter - 1) ctl.abort();
          return loss(s);
        },
      });
      const weights = await Promise.all(model.parameters().map((p) => p.f32()));
      model.dispose();
      opt.dispose();
      return { out, weights };
    };
    const straight = await run(`${dir}/a.state`);
    eq(straight.out.done, true);
    const first = await run(`${dir}/b.state`, 2);
    eq([first.out.done, first.out.step], [false, 2]);
    const resumed = await run(`${dir}/b.state`);
    eq([resumed.out.done, resumed.out.resumedFrom, resumed.out.stepsThisSession], [true, 2, 2]);
    straight.weights.forEach((w, i) => eq(resumed.weights[i], w, `parameter ${i} after resume`));
    eq(resumed.out.lossCurve.map((p) => p.step), [1, 2, 3, 4]);
    // A second phase that continues a finished first one computes what one run would have.
    const continued = await run(`${dir}/c.state`, undefined, true);
    eq([continued.out.done, continued.out.resumedFrom, continued.out.stepsThisSession], [true, 2, 2]);
    straight.weights.forEach((w, i) => eq(continued.weights[i], w, `parameter ${i} after the restart`));
    eq(continued.out.lossCurve.map((p) => p.step), [2, 3, 4]);
    // A finished state is not trained again; another key's state is refused.
    eq((await run(`${dir}/b.state`)).out.stepsThisSession, 0);
    const other = new AutoencoderKL(new Rng(0), cfg);
    const opt = new AdamW(other.parameters(), { lr: 1e-3 });
    await assertRejects(
      () =>
        trainResumable({
          key: "another",
          steps: 4,
          statePath: `${dir}/b.state`,
          model: other,
          opt,
          lrAt: () => 1e-3,
          batch: 2,
          label: "t",
          loss: () => {
            throw new Error("unreachable");
          },
        }),
      Error,
      "another recipe",
    );
    other.dispose();
    opt.dispose();
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("foundation: a restart killed mid-way resumes from its own state, even with the first phase's state gone", async () => {
  setBackend(cpu);
  const dir = await Deno.makeTempDir();
  try {
    const recipe = { ...vaeRecipe("mnist", "smoke"), steps: 4, batch: 2 };
    const cfg = { ...recipe.model, blockOutChannels: [4, 4], normGroups: 2 };
    const images = new PaddedImages(randomSplit(8, 1), 1, 32);
    const run = async (name: string, stopAfter?: number) => {
      const model = new AutoencoderKL(new Rng(0), cfg);
      const opt = new AdamW(model.parameters(), { lr: 1e-3 });
      const ctl = new AbortController();
      const loss = vaeLoss(model, recipe, images, new EpochSampler(8, 2, 5), new Rng(6));
      const phases: string[] = [];
      const out = await trainWithRestart((key, steps, statePath, start) => {
        phases.push(start ? `${key} from ${start.step}` : key);
        return trainResumable({
          key,
          steps,
          statePath,
          model,
          opt,
          ...(start ? { start } : {}),
          lrAt: (s) => lrAt(recipe, s),
          batch: 2,
          signal: ctl.signal,
          label: "t",
          loss: (s) => {
            if (stopAfter !== undefined && s === stopAfter - 1) ctl.abort();
            return loss(s);
          },
        });
      }, {
        first: { key: "first", steps: 2, statePath: `${dir}/${name}.first` },
        restart: { key: "restart", steps: 4, statePath: `${dir}/${name}.restart` },
      });
      const weights = await Promise.all(model.parameters().map((p) => p.f32()));
      model.dispose();
      opt.dispose();
      return { out, weights, phases };
    };
    const straight = await run("a");
    eq([straight.out.done, straight.phases], [true, ["first", "restart from 2"]]);
    // Killed in the first phase: the restart does not begin.
    const early = await run("b", 1);
    eq([early.out.done, early.out.step, early.phases], [false, 1, ["first"]]);
    // Killed in the restart, then the first phase's state is deleted: the restart resumes from its own.
    const late = await run("b", 3);
    eq([late.out.done, late.out.step, late.phases], [false, 3, ["first", "restart from 2"]]);
    await Deno.remove(`${dir}/b.first`);
    const resumed = await run("b");
    eq([resumed.out.done, resumed.out.resumedFrom, resumed.phases], [true, 3, ["restart"]]);
    straight.weights.forEach((w, i) => eq(resumed.weights[i], w, `parameter ${i} after the resumed restart`));
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("foundation: the shipped recipes still train (two steps of the real VAE and DiT on real images)", async () => {
  // The reference backend: no kernels to compile for the models' many shapes (minutes on llvmpipe).
  setBackend(cpu);
  const mnist = await loadDataset("mnist");
  const vr = { ...vaeRecipe("mnist", "quick"), batch: 2 };
  const vae = new AutoencoderKL(new Rng(0), vr.model);
  const images = new PaddedImages(mnist.train, 1, 32);
  const step = async (model: AutoencoderKL | DiT, loss: (s: number) => Tensor) => {
    const opt = new AdamW(model.parameters(), { lr: 1e-3 });
    const dir = await Deno.makeTempDir();
    try {
      const out = await trainResumable({
        key: "recipe",
        steps: 2,
        statePath: `${dir}/s`,
        model,
        opt,
        lrAt: () => 1e-3,
        batch: 2,
        logEvery: 1,
        label: "recipe",
        loss,
      });
      ok(
        out.lossCurve.length === 2 && out.lossCurve.every((p) => Number.isFinite(p.loss)),
        "finite losses",
      );
    } finally {
      opt.dispose();
      await Deno.remove(dir, { recursive: true });
    }
  };
  await step(vae, vaeLoss(vae, vr, images, new EpochSampler(images.count, 2, 1), new Rng(2)));
  const dr = { ...ditRecipe("mnist", "quick"), batch: 2 };
  const dit = new DiT(new Rng(0), dr.model);
  const per = 8 * 8 * 4;
  const latents: LatentCache = {
    mean: new Rng(3).hostUniform(4 * per),
    logvar: new Float32Array(4 * per).fill(-6),
    shape: [8, 8, 4],
  };
  await step(
    dit,
    ditLoss(dit, dr, latents, mnist.train.labels.subarray(0, 4), 1, new EpochSampler(4, 2, 4), new Rng(5)),
  );
  // The shipped checkpoints were trained with these configurations.
  const manifest = await readManifest();
  for (const [kind, cfg] of [["vae", vr.model], ["dit", dr.model]] as const) {
    const name = checkpointName(kind, "mnist");
    if (!manifest[name]) continue; // the first test reports a missing checkpoint
    const meta = JSON.parse(
      await Deno.readTextFile(`${WEIGHTS_DIR}${name.replace(".safetensors", ".json")}`),
    );
    eq({ ...meta.config, scalingFactor: 0 }, { ...cfg, scalingFactor: 0 }, `${name} configuration`);
  }
  vae.dispose();
  dit.dispose();
});
