/**
 * GPU augmentations against their definitions (DSA `DiffAugment`, DC `augment`, torchvision
 * RandomResizedCrop, CutMix): identities at zero strength, real mirrors, Siamese draws shared across
 * batches of different content and size, per-sample variety, seed reproducibility, gradients to the
 * input (finite differences), CutMix's λ as the kept area. Tiny 4×8×8×3 batches on WebGPU.
 */
import { deepStrictEqual as eq, ok } from "node:assert";
import { assertClose, gpu, gradCheck, maxAbsDiff, on, randn } from "../engine/helpers.ts";
import { grad } from "../../engine/autograd.ts";
import * as E from "../../engine/expr.ts";
import * as T from "../../engine/ops/mod.ts";
import { Rng } from "../../engine/random.ts";
import { setBackend, type Tensor, tensor, tidy } from "../../engine/tensor.ts";
import {
  cutmix,
  type DcAugGroup,
  dcAugment,
  dsa,
  DSA_ALL,
  DSA_DEFAULTS,
  DSA_SLOT,
  DSA_SLOTS,
  type DsaGroup,
  type DsaOptions,
  randomResizedCrop,
} from "../../data/augment.ts";

const N = 4, H = 8, W = 8, C = 3, PX = H * W * C;
const SHAPE = [N, H, W, C];

/** Distinct, asymmetric images (no accidental mirror or shift symmetry). */
const pattern = (seed: number) => randn(PX, seed);
const batch = (...imgs: Float32Array[]) => {
  const out = new Float32Array(imgs.length * PX);
  imgs.forEach((im, i) => out.set(im, i * PX));
  return out;
};
const sampleOf = (d: Float32Array, s: number) => d.subarray(s * PX, (s + 1) * PX);
const at = (i: number, j: number, c: number) => (i * W + j) * C + c;

function mirror(im: Float32Array): Float32Array {
  const out = new Float32Array(PX);
  for (let i = 0; i < H; i++) {
    for (let j = 0; j < W; j++) for (let c = 0; c < C; c++) out[at(i, j, c)] = im[at(i, W - 1 - j, c)];
  }
  return out;
}

/** out(i, j) = im(i + dy, j + dx), `fill[c]` outside. */
function shifted(im: Float32Array, dy: number, dx: number, fill: number[]): Float32Array {
  const out = new Float32Array(PX);
  for (let i = 0; i < H; i++) {
    for (let j = 0; j < W; j++) {
      for (let c = 0; c < C; c++) {
        const si = i + dy, sj = j + dx;
        out[at(i, j, c)] = si >= 0 && si < H && sj >= 0 && sj < W ? im[at(si, sj, c)] : fill[c];
      }
    }
  }
  return out;
}

const close = (a: ArrayLike<number>, b: ArrayLike<number>, tol = 1e-5) => maxAbsDiff(a, b) <= tol;

function runDsa(data: Float32Array, seed: number, opts: DsaOptions, shape = SHAPE): Promise<Float32Array> {
  return on(gpu, () => dsa(tensor(data, shape), new Rng(seed), opts));
}

const X = batch(pattern(1), pattern(2), pattern(3), pattern(4));

Deno.test("dsa: every group (and all of them in mode M) is the identity at strength 0", async () => {
  for (const g of DSA_ALL) {
    const y = await runDsa(X, 3, { strategy: [g], siamese: false, strength: 0 });
    assertClose(y, X, 1e-5, `${g} at strength 0`);
  }
  const y = await runDsa(X, 3, { siamese: false, mode: "M", strength: 0 });
  assertClose(y, X, 1e-5, "all groups at strength 0");
});

Deno.test("dsa: flip mirrors along the width, both ways occur; noFlip (digits) never flips", async () => {
  let flipped = 0, kept = 0;
  for (let seed = 0; seed < 3; seed++) {
    const y = await runDsa(X, seed, { strategy: ["flip"], siamese: false });
    for (let s = 0; s < N; s++) {
      const o = sampleOf(y, s), x = sampleOf(X, s);
      if (close(o, mirror(x))) flipped++;
      else if (close(o, x)) kept++;
      else throw new Error(`sample ${s} is neither the image nor its mirror`);
    }
  }
  ok(flipped > 0 && kept > 0, `flipped ${flipped}, kept ${kept}`);
  for (let seed = 0; seed < 3; seed++) {
    assertClose(await runDsa(X, seed, { strategy: ["flip"], siamese: false, noFlip: true }), X, 0, "noFlip");
  }
  // Removing flip changes nothing else: same draws, same remaining transforms.
  const noFlip = await runDsa(X, 9, { siamese: false, mode: "M", noFlip: true });
  const without = await runDsa(X, 9, {
    siamese: false,
    mode: "M",
    strategy: DSA_ALL.filter((g) => g !== "flip"),
  });
  assertClose(noFlip, without, 0, "noFlip = strategy without flip");
});

Deno.test("dsa: Siamese calls share one transform across samples and across batches of other content and size", async () => {
  const P = pattern(10), Q = pattern(11), R = pattern(12);
  for (const g of DSA_ALL) {
    for (const seed of [1, 2]) {
      const opts: DsaOptions = { strategy: [g], siamese: true };
      const a = await runDsa(batch(P, Q, P, Q), seed, opts);
      const b = await runDsa(batch(R, P), seed, opts, [2, H, W, C]);
      assertClose(sampleOf(a, 2), sampleOf(a, 0), 1e-6, `${g}: one transform for the batch`);
      assertClose(sampleOf(a, 3), sampleOf(a, 1), 1e-6, `${g}: one transform for the batch`);
      assertClose(sampleOf(b, 1), sampleOf(a, 0), 1e-6, `${g}: real and synthetic batches agree`);
    }
  }
});

Deno.test("dsa: per-sample mode transforms equal images differently; seeds reproduce", async () => {
  const P = pattern(20);
  const y = await runDsa(batch(P, P, P, P), 4, { siamese: false, mode: "M" });
  for (let s = 0; s < N; s++) {
    for (let t = s + 1; t < N; t++) {
      ok(maxAbsDiff(sampleOf(y, s), sampleOf(y, t)) > 1e-2, `samples ${s} and ${t} coincide`);
    }
  }
  for (const siamese of [false, true]) {
    const a = await runDsa(X, 5, { siamese, mode: "M" });
    const b = await runDsa(X, 5, { siamese, mode: "M" });
    const c = await runDsa(X, 6, { siamese, mode: "M" });
    assertClose(b, a, 0, "same seed, same output");
    ok(maxAbsDiff(a, c) > 1e-2, "a different seed gives a different output");
  }
  // Mode S picks different groups for different seeds.
  const outs = await Promise.all([0, 1, 2, 3, 4, 5].map((s) => runDsa(X, s, { siamese: true })));
  ok(outs.some((o) => maxAbsDiff(o, outs[0]) > 1e-2));
});

Deno.test("dsa mode idc: flip, color, cutout every call plus exactly one of crop/scale/rotate (IDC's DiffAug)", async () => {
  // Each call must equal mode M over [flip, color, G, cutout] (same draws, same order) for one G.
  const one: DsaGroup[] = ["crop", "scale", "rotate"];
  for (const siamese of [true, false]) {
    const chosen = new Set<string>();
    for (let seed = 0; seed < 8; seed++) {
      const y = await runDsa(X, seed, { siamese, mode: "idc" });
      const matches: DsaGroup[] = [];
      for (const g of one) {
        const m = await runDsa(X, seed, { siamese, mode: "M", strategy: ["flip", "color", g, "cutout"] });
        if (close(y, m, 1e-5)) matches.push(g);
      }
      eq(matches.length, 1, `seed ${seed}: matches ${matches}`);
      chosen.add(matches[0]);
    }
    eq([...chosen].sort(), [...one].sort(), `siamese ${siamese}: every geometric group occurs`);
  }
  // Unlisted groups never run: color_crop_cutout (IDC's matching default) is color → crop → cutout.
  for (let seed = 0; seed < 3; seed++) {
    const y = await runDsa(X, seed, { siamese: true, mode: "idc", strategy: ["color", "crop", "cutout"] });
    const m = await runDsa(X, seed, { siamese: true, mode: "M", strategy: ["color", "crop", "cutout"] });
    assertClose(y, m, 0, `seed ${seed}: color_crop_cutout`);
  }
  // Digits: flip removed, the rest unchanged.
  const d = await runDsa(X, 4, { siamese: false, mode: "idc", noFlip: true });
  const ref = await runDsa(X, 4, {
    siamese: false,
    mode: "idc",
    strategy: DSA_ALL.filter((g) => g !== "flip"),
  });
  assertClose(d, ref, 0, "noFlip");
});

Deno.test("dsa: color and crop follow DiffAugment's formulas on the drawn parameters", async () => {
  const seed = 7;
  const u = new Rng(seed).hostUniform(N * DSA_SLOTS); // the block dsa draws first
  const r = (s: number, slot: number) => u[s * DSA_SLOTS + slot];
  const p = DSA_DEFAULTS;
  const color = await runDsa(X, seed, { strategy: ["color"], siamese: false });
  const crop = await runDsa(X, seed, { strategy: ["crop"], siamese: false });
  for (let s = 0; s < N; s++) {
    const x = Float64Array.from(sampleOf(X, s));
    for (let k = 0; k < PX; k++) x[k] += (r(s, DSA_SLOT.bright) - 0.5) * p.brightness;
    for (let k = 0; k < PX; k += C) {
      const m = (x[k] + x[k + 1] + x[k + 2]) / 3;
      for (let c = 0; c < C; c++) x[k + c] = (x[k + c] - m) * r(s, DSA_SLOT.sat) * p.saturation + m;
    }
    const mi = x.reduce((a, v) => a + v, 0) / PX;
    for (let k = 0; k < PX; k++) x[k] = (x[k] - mi) * (r(s, DSA_SLOT.contrast) + p.contrast) + mi;
    assertClose(sampleOf(color, s), x, 1e-4, `color sample ${s}`);
    const m = Math.floor(p.cropRatio * H + 0.5); // 1 for 8×8
    const ty = Math.floor(r(s, DSA_SLOT.cropY) * (2 * m + 1)) - m;
    const tx = Math.floor(r(s, DSA_SLOT.cropX) * (2 * m + 1)) - m;
    assertClose(sampleOf(crop, s), shifted(sampleOf(X, s), ty, tx, [0, 0, 0]), 1e-5, `crop sample ${s}`);
  }
  // Cutout: a zeroed 4×4 square (int(0.5·8 + 0.5)), truncated at the border; the rest untouched.
  const cut = await runDsa(X, seed, { strategy: ["cutout"], siamese: false });
  for (let s = 0; s < N; s++) {
    const side = 4;
    const y0 = Math.floor(r(s, DSA_SLOT.cutY) * (H + 1)) - side / 2;
    const x0 = Math.floor(r(s, DSA_SLOT.cutX) * (W + 1)) - side / 2;
    const want = Float32Array.from(sampleOf(X, s));
    for (let i = Math.max(0, y0); i < Math.min(H, y0 + side); i++) {
      for (let j = Math.max(0, x0); j < Math.min(W, x0 + side); j++) {
        for (let c = 0; c < C; c++) want[at(i, j, c)] = 0;
      }
    }
    assertClose(sampleOf(cut, s), want, 0, `cutout sample ${s}`);
  }
});

/** Σ aug(x)·w for fixed weights: its gradient w.r.t. x is the augmentation's adjoint applied to w. */
const WEIGHTS = randn(N * PX, 77);
const dot = (y: Tensor) => T.sumOf(E.mul(E.inp(0), E.inp(1)), [y, tensor(WEIGHTS, y.shape)]);

async function checkGrad(what: string, aug: (x: Tensor) => Tensor): Promise<void> {
  setBackend(gpu);
  const g = tidy(() => {
    const x = tensor(X, SHAPE).requireGrad();
    return grad(dot(aug(x)), [x])[0];
  });
  const gd = await g.f32();
  g.dispose();
  ok(gd.some((v) => Math.abs(v) > 1e-3), `${what}: zero gradient`);
  await gradCheck(gpu, ([x]) => dot(aug(x)), [{ data: X, shape: SHAPE }], { samples: 5, what });
}

Deno.test("dsa: gradients reach the input and match finite differences, per group", async () => {
  for (const g of DSA_ALL as readonly DsaGroup[]) {
    await checkGrad(`dsa ${g}`, (x) => dsa(x, new Rng(11), { strategy: [g], siamese: false }));
  }
});

Deno.test("cutmix: λ is the kept area, the box comes from the partner, labels mix by area", async () => {
  // Image k is the constant k + 1, so every pixel tells where it came from.
  const consts = new Float32Array(N * PX).map((_, i) => Math.floor(i / PX) + 1);
  const labels = [0, 1, 2, 3];
  let checked = 0;
  for (let seed = 0; seed < 6; seed++) {
    setBackend(gpu);
    const m = cutmix(tensor(consts, SHAPE), new Rng(seed));
    ok(m !== null, "prob 1 always mixes");
    const y = await m.images.f32();
    m.images.dispose();
    eq([...m.perm].sort(), [0, 1, 2, 3]);
    for (let s = 0; s < N; s++) {
      const o = sampleOf(y, s);
      const own = o.filter((v) => v === s + 1).length / PX;
      const fromPartner = o.filter((v) => v === m.perm[s] + 1).length / PX;
      if (m.perm[s] === s) {
        eq(own, 1);
        continue;
      }
      eq(own + fromPartner, 1, "pixels come from the image or its partner only");
      ok(Math.abs(own - m.lambda) < 1e-6, `seed ${seed}: kept ${own} vs λ ${m.lambda}`);
      // Soft target λ·e_y + (1 − λ)·e_y' equals the label mass of the pixels.
      const target = new Array(N).fill(0);
      target[labels[s]] += m.lambda;
      target[labels[m.perm[s]]] += 1 - m.lambda;
      const mass = new Array(N).fill(0);
      for (const v of o) mass[labels[v - 1]] += 1 / PX;
      assertClose(mass, target, 1e-6, "label mass");
      checked++;
    }
  }
  ok(checked > 4, `only ${checked} mixed samples checked`);
  setBackend(gpu);
  eq(cutmix(tensor(consts, SHAPE), new Rng(0), 1, 0), null, "prob 0 never mixes");
  await checkGrad("cutmix", (x) => cutmix(x, new Rng(3))!.images);
});

Deno.test("randomResizedCrop: shape, identity at scale 1, mirrors, values, window size", async () => {
  const y = await on(gpu, () => randomResizedCrop(tensor(X, SHAPE), new Rng(1), [1, 1], false));
  assertClose(y, X, 1e-5, "scale [1, 1] without flip is the identity (fallback: whole image)");
  let flipped = 0;
  for (let seed = 0; seed < 3; seed++) {
    const f = await on(gpu, () => randomResizedCrop(tensor(X, SHAPE), new Rng(seed), [1, 1], true));
    for (let s = 0; s < N; s++) {
      if (close(sampleOf(f, s), mirror(sampleOf(X, s)))) flipped++;
      else assertClose(sampleOf(f, s), sampleOf(X, s), 1e-5, "unflipped sample");
    }
  }
  ok(flipped > 0);
  // Ramps: channel 0 = column index, channel 1 = row index, channel 2 = 1. Bilinear sampling keeps
  // ramps linear inside the window, so interior slopes are the window's size over the image's.
  const ramp = new Float32Array(N * PX);
  for (let s = 0; s < N; s++) {
    for (let i = 0; i < H; i++) {
      for (let j = 0; j < W; j++) ramp.set([j, i, 1], s * PX + at(i, j, 0));
    }
  }
  for (let seed = 0; seed < 3; seed++) {
    const o = await on(gpu, () => randomResizedCrop(tensor(ramp, SHAPE), new Rng(seed), [0.25, 0.5], false));
    ok(o.every((v) => v >= 0 && v <= W - 1 + 1e-5), "values stay within the image's range");
    for (let s = 0; s < N; s++) {
      const im = sampleOf(o, s);
      const cw = (im[at(4, 4, 0)] - im[at(4, 3, 0)]) * W, ch = (im[at(4, 4, 1)] - im[at(3, 4, 1)]) * H;
      const area = (cw * ch) / (H * W);
      ok(area > 0.25 * 0.6 && area < 0.5 * 1.4, `window ${ch}×${cw}: area fraction ${area}`);
      ok(cw / ch > 0.75 / 1.5 && cw / ch < (4 / 3) * 1.5, `aspect ${cw / ch}`);
      ok(Number.isInteger(Math.round(cw * 1e4) / 1e4), `width ${cw} is whole pixels`);
    }
  }
});

function runDc(data: Float32Array, seed: number, strategy?: DcAugGroup[]): Promise<Float32Array> {
  return on(gpu, () => dcAugment(tensor(data, SHAPE), new Rng(seed), strategy ? { strategy } : {}));
}

/** DC's scalefun on the host: nearest resize to hh×ww on a centred zero canvas, centre crop. */
function dcScaled(im: Float32Array, hh: number, ww: number): Float32Array {
  const m = Math.max(hh, ww, H, W), out = new Float32Array(PX);
  for (let i = 0; i < H; i++) {
    for (let j = 0; j < W; j++) {
      const p = i + Math.floor((m - H) / 2) - Math.floor((m - hh) / 2);
      const q = j + Math.floor((m - W) / 2) - Math.floor((m - ww) / 2);
      if (p < 0 || p >= hh || q < 0 || q >= ww) continue;
      const si = Math.min(Math.floor((p * H) / hh), H - 1), sj = Math.min(Math.floor((q * W) / ww), W - 1);
      for (let c = 0; c < C; c++) out[at(i, j, c)] = im[at(si, sj, c)];
    }
  }
  return out;
}

Deno.test("dcAugment: crop pads with the channel mean, scale is DC's nearest resize, rotate fills with the mean", async () => {
  const mean = [0, 1, 2].map((c) => {
    let t = 0;
    for (let k = c; k < X.length; k += C) t += X[k];
    return t / (X.length / C);
  });
  const shifts = new Set<string>();
  for (const seed of [0, 1]) {
    const y = await runDc(X, seed, ["crop"]);
    for (let s = 0; s < N; s++) {
      let hit = "";
      for (let dy = -4; dy < 4 && !hit; dy++) {
        for (let dx = -4; dx < 4 && !hit; dx++) {
          if (close(sampleOf(y, s), shifted(sampleOf(X, s), dy, dx, mean), 1e-5)) hit = `${dy},${dx}`;
        }
      }
      ok(hit, `crop sample ${s} is no mean-padded shift in [-4, 3]²`);
      shifts.add(hit);
    }
  }
  ok(shifts.size > 1);
  for (const seed of [0, 1]) {
    const y = await runDc(X, seed, ["scale"]);
    for (let s = 0; s < N; s++) {
      let hit = false;
      // int(U(0.8, 1.2)·8) ∈ {6, …, 9}
      for (let hh = 6; hh <= 9 && !hit; hh++) {
        for (let ww = 6; ww <= 9 && !hit; ww++) {
          hit = close(sampleOf(y, s), dcScaled(sampleOf(X, s), hh, ww), 1e-6);
        }
      }
      ok(hit, `scale sample ${s} is no nearest rescale`);
    }
  }
  // A constant image is unchanged by rotation (fill = its mean) and by crop/scale-free strategies.
  const flat = new Float32Array(N * PX).fill(0.7);
  assertClose(await runDc(flat, 2, ["rotate"]), flat, 1e-5, "rotate of a constant image");
  const rot = await runDc(X, 2, ["rotate"]);
  ok(maxAbsDiff(rot, X) > 1e-2, "rotation moved pixels");
  // Noise: +0.001·N(0, 1), only when listed.
  const nz = await runDc(X, 3, ["noise"]);
  const d = nz.map((v, i) => v - X[i]);
  const sd = Math.sqrt(d.reduce((a, v) => a + v * v, 0) / d.length);
  ok(sd > 0.0008 && sd < 0.0012, `noise std ${sd}`);
  // Seeds reproduce; gradients flow through the gather and the rotation.
  assertClose(await runDc(X, 4), await runDc(X, 4), 0, "same seed");
  await checkGrad("dcAugment", (x) => dcAugment(x, new Rng(5)));
});
