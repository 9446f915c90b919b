/** Images as the generative models see them: padding and range, seeded epoch batches, PSNR, the lr schedule. */
import { deepStrictEqual as eq, ok } from "node:assert";
import { cpu } from "../engine/helpers.ts";
import { setBackend } from "../../engine/tensor.ts";
import { EpochSampler, meanPsnr, PaddedImages } from "../../models/generative_data.ts";
import { lrAt, vaeRecipe } from "../../models/foundation.ts";

Deno.test("PaddedImages: [-1, 1] pixels centred in a black 32 px frame; crop undoes it", async () => {
  setBackend(cpu);
  const images = Uint8Array.from({ length: 2 * 28 * 28 }, (_, i) => i % 256);
  const p = new PaddedImages({ images, labels: Int32Array.of(3, 7), count: 2 }, 1, 32);
  eq([p.native, p.pad], [28, 2]);
  const x = p.batch([1]);
  eq([...x.shape], [1, 32, 32, 1]);
  const d = await x.f32();
  eq(d[0], -1, "padding is black");
  ok(Math.abs(d[2 * 32 + 2] - (images[28 * 28] / 127.5 - 1)) <= 1e-6, "first pixel of image 1");
  ok(Math.abs(d[(2 + 27) * 32 + 2 + 27] - (images[2 * 28 * 28 - 1] / 127.5 - 1)) <= 1e-6, "last pixel");
  const back = await p.crop(x).f32();
  eq(back.length, 28 * 28);
  ok(Math.abs(back[5] - (images[28 * 28 + 5] / 127.5 - 1)) <= 1e-6);
  let threw = false;
  try {
    new PaddedImages({ images: new Uint8Array(27 * 27), labels: Int32Array.of(0), count: 1 }, 1, 32);
  } catch {
    threw = true;
  }
  ok(threw, "27 px cannot pad evenly to 32");
});

Deno.test("EpochSampler: each epoch a permutation, batches by (seed, step) alone", () => {
  const s = new EpochSampler(10, 3, 42);
  eq(s.stepsPerEpoch, 3);
  const epoch0 = [0, 1, 2].flatMap((k) => [...s.indices(k)]);
  eq(new Set(epoch0).size, 9, "no repeats within an epoch");
  const fresh = new EpochSampler(10, 3, 42);
  eq([...fresh.indices(4)], [...s.indices(4)], "same step, same batch (resumes see the same data)");
  ok(String(s.indices(3)) !== String(s.indices(0)), "another epoch, another order");
});

Deno.test("meanPsnr and the warm-up + cosine learning rate", () => {
  const a = new Float32Array([0, 0, 1, 1]), b = new Float32Array([0, 0.1, 1, 1]);
  // Image 0: MSE 0.005 → 23.01 dB; image 1 exact → capped at 100.
  ok(Math.abs(meanPsnr(b, a, 2) - ((10 * Math.log10(1 / 0.005) + 100) / 2)) <= 1e-4);
  const r = { ...vaeRecipe("mnist", "quick"), steps: 100, warmup: 10, lr: 1, finalLrFraction: 0.1 };
  ok(Math.abs(lrAt(r, 0) - (0.1)) <= 1e-12);
  ok(Math.abs(lrAt(r, 9) - (1)) <= 1e-12);
  ok(Math.abs(lrAt(r, 10) - (1)) <= 1e-12);
  ok(Math.abs(lrAt(r, 55) - (0.55)) <= 1e-12);
  ok(Math.abs(lrAt(r, 100) - (0.1)) <= 1e-12);
  // A restart warms up again from step `steps` and decays by its own cosine.
  const rr = { ...r, restart: { steps: 20, lr: 0.5, warmup: 5, finalLrFraction: 0 } };
  ok(Math.abs(lrAt(rr, 99) - lrAt(r, 99)) <= 1e-12);
  ok(Math.abs(lrAt(rr, 100) - (0.1)) <= 1e-12);
  ok(Math.abs(lrAt(rr, 105) - (0.5)) <= 1e-12);
  ok(Math.abs(lrAt(rr, 112.5) - (0.25)) <= 1e-12);
  ok(Math.abs(lrAt(rr, 120)) <= 1e-12);
});
