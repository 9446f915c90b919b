/**
 * CMI regularizer (Zhong et al., ICLR 2025, the CMI seed paper; docs/protocols.md §9) as a plug-in for
 * any regularizable distillation method (methods/regularizer.ts): L = L_DD + λ·CMI(S).
 *
 * CMI(S) = (1/|S|) Σ_c Σ_{s∈S_c} KL(p_s ‖ q_c), p_s = softmax over the frozen extractor's feature
 * dimensions (or its class logits in "probability" space), q_c = mean of p_s over the class's
 * synthetic images (not detached). The extractor is drawn at random from a pool of networks ddrepro
 * pretrains itself on the real data (evaluator/pretrained.ts), once per base-method iteration.
 */
import { z } from "zod";
import { noGrad, type Tensor, tensor, tidy } from "../engine/tensor.ts";
import { mixSeed, Rng } from "../engine/random.ts";
import * as T from "../engine/ops/mod.ts";
import type { Dataset } from "../data/types.ts";
import type { Classifier } from "../models/module.ts";
import { createModel } from "../models/registry.ts";
import { pretrained, type PretrainSpec } from "../evaluator/pretrained.ts";
import { setToDevice } from "../evaluator/device_data.ts";
import type { MethodBudget, ScaleContext } from "./budget.ts";
import type { DistillContext, DistillResult, Regularizer } from "./types.ts";
import type { DistilledSet } from "../data/distilled.ts";
import type { ProgressReporter } from "../data/progress.ts";
import { type OpenRegularizer, type RegularizerPlugin, withRegularizer } from "./regularizer.ts";
import { inputSpec } from "../baselines/gradient_matching.ts";
import { dcMethod } from "../baselines/dc.ts";
import { dsaMethod } from "../baselines/dsa.ts";
import { dmMethod } from "../baselines/dm.ts";
import { idmMethod } from "../baselines/idm.ts";
import { idcMethod } from "../baselines/idc.ts";
import { mttMethod } from "../baselines/mtt.ts";

// ------------------------------------------------------------------------------------------ value

export type CmiSpace = "feature" | "probability";

/** Σ_i KL(p_i ‖ q) for one class's extractor outputs [n, M] (rows → softmax; q = mean p, not detached). */
function classKlSum(out: Tensor): Tensor {
  const logp = T.logSoftmax(out);
  const p = T.exp(logp);
  const q = T.mean(p, 0, true);
  // q ≥ p_i/n > 0 mathematically; the floor only guards an f32 underflow of every p_i (0·log 0 = NaN).
  const logq = T.log(T.maximum(q, 1e-30));
  return T.sum(T.mul(p, T.sub(logp, logq)));
}

/** Indices of each class present in `labels`, in label order. */
function classGroups(labels: Int32Array): Map<number, Int32Array> {
  const lists = new Map<number, number[]>();
  labels.forEach((c, i) => {
    const l = lists.get(c);
    if (l) l.push(i);
    else lists.set(c, [i]);
  });
  return new Map([...lists].sort((a, b) => a[0] - b[0]).map(([c, l]) => [c, Int32Array.from(l)]));
}

/** Rows `idx` of x: a slice when contiguous (class-major sets), else a gather (both differentiable). */
function rows(x: Tensor, idx: Int32Array): Tensor {
  const contiguous = idx.every((v, k) => v === idx[0] + k);
  if (contiguous) {
    return T.slice(x, [idx[0], ...x.shape.slice(1).map(() => 0)], [idx.length, ...x.shape.slice(1)]);
  }
  return T.gather(x, tensor(idx, [idx.length], "i32"));
}

/** Empirical CMI from precomputed outputs [N, M] (feature or logit rows) and their labels. */
export function cmiFromOutputs(outputs: Tensor, labels: Int32Array): Tensor {
  let total: Tensor = T.fill([], 0);
  for (const idx of classGroups(labels).values()) total = T.add(total, classKlSum(rows(outputs, idx)));
  return T.mul(total, 1 / labels.length);
}

/**
 * Empirical CMI of synthetic images (NHWC, normalised) under `extractor`, differentiable w.r.t. the
 * images. Each class goes through the network separately (the paper's disentangled Algorithm 1): the
 * value is identical and activations stay within the device's binding limit.
 */
export function cmiLoss(extractor: Classifier, images: Tensor, labels: Int32Array, space: CmiSpace): Tensor {
  if (images.shape[0] !== labels.length) {
    throw new Error(`cmiLoss: ${images.shape[0]} images vs ${labels.length} labels`);
  }
  let total: Tensor = T.fill([], 0);
  for (const idx of classGroups(labels).values()) {
    const x = rows(images, idx);
    const out = space === "feature" ? extractor.embed(x) : extractor.forward(x);
    total = T.add(total, classKlSum(out));
  }
  return T.mul(total, 1 / labels.length);
}

/** The CMI value of a set of device images (reports: start/end values, Tables 10–11). */
export async function cmiValue(
  extractor: Classifier,
  images: Tensor,
  labels: Int32Array,
  space: CmiSpace = "feature",
): Promise<number> {
  const t = noGrad(() => tidy(() => cmiLoss(extractor, images, labels, space)));
  try {
    return await t.item();
  } finally {
    t.dispose();
  }
}

// ------------------------------------------------------------------------------------------ config

/** CMI's own switches (the ablations of Tables 7, 10, 11), merged into the base method's config. */
export const CmiFields = {
  /** λ in L_DD + λ·CMI. */
  cmiLambda: z.number().min(0),
  cmiSpace: z.enum(["feature", "probability"]),
  /** false: randomly initialised extractors (Table 7 "PT -"). */
  cmiPretrained: z.boolean(),
  /** Model registry id of the extractor (paper: resnet18, DC definition, instance norm). */
  cmiExtractor: z.string().min(1),
  cmiPoolSize: z.number().int().min(1),
  cmiPoolEpochs: z.number().int().min(1),
  /** Pretrain each member on this many real images (seeded subset); null: the whole train split. */
  cmiPoolTrainLimit: z.number().int().positive().nullable(),
  cmiPoolLr: z.number().positive(),
  cmiPoolWeightDecay: z.number().min(0),
  /** The pool is shared by all distillation seeds (as the reference's pretrained directory). */
  cmiPoolSeed: z.number().int().min(0),
  /** Descriptive facts of the paper's extractor (Table 10 cells); featureDim is compared at run time. */
  extractorDepth: z.number().int().positive().optional(),
  featureDim: z.number().int().positive().optional(),
};
export const CmiConfig = z.object(CmiFields).strict();
export type CmiConfig = z.infer<typeof CmiConfig>;
const CMI_KEYS = Object.keys(CmiFields) as (keyof CmiConfig)[];

/**
 * λ by base method, dataset and IPC (protocols.md §9, from the CMIDD scripts). Missing entries:
 * - a dataset not listed uses the method's CIFAR-100 value for many-class/large-image sets
 *   (Tiny/ImageNet-style), else its CIFAR-10 value (e.g. MNIST and Fashion-MNIST use CIFAR-10's);
 * - DC lists CIFAR-10 only, so every dataset uses it;
 * - IDM has no published λ; it uses DM's (both match embedding means; the paper reports IDM is
 *   insensitive between 500 and 5000, §5.5);
 * - MTT has no published λ [UNVERIFIED]: 100, chosen so λ·CMI of a ResNet-18 extractor (start values
 *   ≈ 0.002, Table 10) is ~0.2, a fraction of the normalised trajectory loss (≤ 1);
 * - IPC not listed uses the nearest listed IPC (IPC 1 has CMI 0 anyway).
 */
const LAMBDA: Record<string, Record<string, Record<number, number>>> = {
  dc: { cifar10: { 10: 50_000, 50: 10_000 } },
  dsa: {
    cifar10: { 10: 50_000, 50: 10_000 },
    cifar100: { 10: 80_000, 50: 20_000 },
    svhn: { 10: 80_000, 50: 10_000 },
  },
  dm: {
    cifar10: { 10: 8_000, 50: 2_000 },
    cifar100: { 10: 2_000, 50: 500 },
    svhn: { 10: 18_000, 50: 500 },
  },
  idc: { cifar10: { 10: 100, 50: 50 }, svhn: { 10: 50, 50: 50 } },
  mtt: { cifar10: { 10: 100, 50: 100 } },
};
LAMBDA.idm = LAMBDA.dm;

const MANY_CLASS = new Set(["cifar100", "tiny-imagenet", "imagenet-1k", "imagenet-100"]);

export function defaultLambda(baseId: string, datasetId: string, ipc: number): number {
  const table = LAMBDA[baseId] ?? LAMBDA.dsa;
  const byDataset = table[datasetId] ??
    (MANY_CLASS.has(datasetId) ? table.cifar100 : undefined) ?? table.cifar10 ??
    Object.values(table)[0];
  const ipcs = Object.keys(byDataset).map(Number);
  const nearest = ipcs.reduce((a, b) => Math.abs(b - ipc) < Math.abs(a - ipc) ? b : a);
  return byDataset[nearest];
}

/** Paper-profile CMI settings: a pool of pretrained DC ResNet-18s (40 epochs, SGD 0.01 m 0.9 wd 1e-3). */
export function cmiDefaults(baseId: string, datasetId: string, ipc: number): CmiConfig {
  return {
    cmiLambda: defaultLambda(baseId, datasetId, ipc),
    cmiSpace: "feature",
    cmiPretrained: true,
    cmiExtractor: "resnet18",
    // "up to 1000 models" in the reference; ~200 is its cheaper option.
    cmiPoolSize: 1000,
    cmiPoolEpochs: 40,
    cmiPoolTrainLimit: null,
    cmiPoolLr: 0.01,
    cmiPoolWeightDecay: 1e-3,
    cmiPoolSeed: 0,
  };
}

/**
 * How large CMI comes out under each extractor: the start value of one synthetic set (CIFAR-10, IPC 10,
 * DM's real-image initialisation) in the feature space of each pretrained proxy, Table 10 (App. A.6).
 * The same set measures 65× higher under ConvNet-3 than under ResNet-18.
 */
const CMI_SCALE: Record<string, number> = {
  convnet3: 0.1045,
  alexnet: 1.9338,
  vgg11: 0.0021,
  resnet18: 0.0016,
};

/** How profiles bound CMI's own keys (family "cmi"; the values are in experiments/profiles.ts). */
const CMI_KEYS_BUDGET: MethodBudget<CmiConfig>["keys"] = {
  cmiPoolSize: { knob: "poolSize", family: "cmi" },
  cmiPoolEpochs: { knob: "trainEpochs", family: "cmi" },
  cmiPoolTrainLimit: { knob: "trainImages", family: "cmi" },
};

/**
 * CMI's exceptions to its budget. A profile with an `extractor` knob replaces non-ConvNet extractors by it
 * (ResNet-18 pretraining does not fit a CPU budget). λ was chosen for the paper's extractor: "the value of
 * λ must be adjusted according to L_DD" (§5.5), and L_DD does not change with the extractor while CMI
 * does, so a swapped extractor rescales λ by the two extractors' CMI scale (Table 10) and λ·CMI keeps the
 * paper's weight. Unscaled (DM, MNIST IPC 10, quick) λ·CMI started at 5× the matching loss, and over 200
 * iterations the matching loss rose instead of falling (reports/evidence/README.md). featureDim and
 * extractorDepth describe the paper's extractor and are dropped with it. A pinned extractor is kept.
 *
 * λ is then divided by how much the profile raised the base's image lr (DM, IDM, DC, DSA and IDC
 * compensate narrower nets, see widthCompensation; MTT its shorter unroll), so the step λ·CMI takes on the
 * images stays the paper's, as IDM does for its CE weight: at quick's width 32 an unscaled λ made CMI ~2.8×
 * stronger relative to the matching loss than in the paper.
 */
export function cmiScale<C extends CmiConfig>(run: C, ctx: ScaleContext<C>): C {
  const out: C = { ...run };
  const swap = ctx.knob("extractor", "cmi");
  if (typeof swap === "string" && !("cmiExtractor" in ctx.pinned) && !/^convnet\d$/.test(run.cmiExtractor)) {
    out.cmiExtractor = swap;
    const from = CMI_SCALE[run.cmiExtractor], to = CMI_SCALE[swap];
    // Table 10 measures pretrained proxies' feature spaces; class probabilities need no rescaling.
    if (from !== undefined && to !== undefined && run.cmiSpace === "feature" && run.cmiPretrained) {
      out.cmiLambda = run.cmiLambda * from / to;
    }
    delete out.featureDim;
    delete out.extractorDepth;
  }
  out.cmiLambda = out.cmiLambda / imageLrFactor(ctx.paper, run);
  return out;
}

const POOL_NOTE = "a smaller pretrained pool fits the profile's budget";
const EXTRACTOR_NOTE = "dropped with the paper's extractor";
const CMI_SCALE_NOTES: Readonly<Record<string, string>> = {
  cmiExtractor: "its pretraining does not fit the profile's budget: a ConvNet-3 pool replaces it",
  cmiLambda: "rescaled by the extractors' CMI scale (Table 10) and the base's image-lr raise, so λ·CMI " +
    "keeps the paper's weight against L_DD (cmiScale)",
  cmiPoolSize: POOL_NOTE,
  cmiPoolEpochs: POOL_NOTE,
  cmiPoolTrainLimit: POOL_NOTE,
  featureDim: EXTRACTOR_NOTE,
  extractorDepth: EXTRACTOR_NOTE,
};

// ------------------------------------------------------------------------------------------ pool

/** Resident pools above this many parameter bytes are loaded one member per iteration instead. */
const RESIDENT_BYTES = 1 << 30;

/**
 * The extractor pool of one distillation run: members are pretrained (or loaded from the keyed cache)
 * up front; member `draw(it)` serves iteration `it`. Small pools stay on the device; large ones
 * (paper: 1000 ResNet-18s) load the iteration's member in `prepare`, which the base loop awaits.
 */
export class CmiPool {
  private readonly resident: Classifier[] = [];
  private current: { index: number; model: Classifier } | null = null;
  private constructor(
    private readonly dataset: Dataset,
    private readonly cfg: CmiConfig,
    private readonly drawSeed: number,
    /** Member 0: the fixed extractor that measures cmiStart/cmiEnd. */
    readonly reference: Classifier,
    private readonly isResident: boolean,
  ) {}

  static spec(dataset: Dataset, cfg: CmiConfig, k: number): PretrainSpec {
    return {
      model: cfg.cmiExtractor,
      dataset,
      epochs: cfg.cmiPoolEpochs,
      seed: mixSeed(cfg.cmiPoolSeed, k),
      trainLimit: cfg.cmiPoolTrainLimit ?? undefined,
      lr: cfg.cmiPoolLr,
      weightDecay: cfg.cmiPoolWeightDecay,
      // The reference pretrains without augmentation (pretrained.ts trains without it).
    };
  }

  /** Pool member `k`: pretrained (cached) or, for the untrained ablation, freshly initialised; frozen. */
  static async member(
    dataset: Dataset,
    cfg: CmiConfig,
    k: number,
    progress?: ProgressReporter,
    signal?: AbortSignal,
  ): Promise<Classifier> {
    const m = cfg.cmiPretrained
      ? await pretrained(CmiPool.spec(dataset, cfg, k), progress, signal)
      : createModel(cfg.cmiExtractor, new Rng(mixSeed(cfg.cmiPoolSeed, k)), inputSpec(dataset)).eval();
    // Frozen: no graph through the weights, only through the images.
    for (const p of m.parameters()) p.requireGrad(false);
    return m;
  }

  /** Pretrains/loads every member (cached across runs); `seed` varies the per-iteration draws. */
  static async open(
    dataset: Dataset,
    cfg: CmiConfig,
    seed: number,
    progress?: ProgressReporter,
    signal?: AbortSignal,
  ): Promise<CmiPool> {
    const first = await CmiPool.member(dataset, cfg, 0, progress, signal);
    const isResident = first.size() * 4 * cfg.cmiPoolSize <= RESIDENT_BYTES;
    const pool = new CmiPool(dataset, cfg, mixSeed(seed, 0xc31), first, isResident);
    try {
      if (isResident) pool.resident.push(first);
      for (let k = 1; k < cfg.cmiPoolSize; k++) {
        progress?.log(`CMI extractor pool: member ${k + 1}/${cfg.cmiPoolSize}`);
        const m = await CmiPool.member(dataset, cfg, k, progress, signal);
        if (isResident) pool.resident.push(m);
        else m.dispose();
      }
    } catch (e) {
      pool.dispose();
      throw e;
    }
    return pool;
  }

  /** The member drawn for iteration `it` (uniform over the pool, deterministic given the run seed). */
  draw(it: number): number {
    const u = new Rng(this.drawSeed).fork(it).hostUniform(1)[0];
    return Math.min(this.cfg.cmiPoolSize - 1, Math.floor(u * this.cfg.cmiPoolSize));
  }

  async prepare(it: number): Promise<void> {
    if (this.isResident) return;
    const k = this.draw(it);
    if (this.current?.index === k) return;
    this.current?.model.dispose();
    this.current = null;
    const model = k === 0 ? null : await CmiPool.member(this.dataset, this.cfg, k);
    this.current = { index: k, model: model ?? this.reference };
  }

  extractorFor(it: number): Classifier {
    const k = this.draw(it);
    if (this.isResident) return this.resident[k];
    if (this.current?.index !== k) {
      throw new Error(
        `CMI: extractor for iteration ${it} not loaded; the base loop must await the regularizer's prepare(it)`,
      );
    }
    return this.current.model;
  }

  dispose(): void {
    for (const m of this.resident) m.dispose();
    if (this.current && this.current.model !== this.reference) this.current.model.dispose();
    if (!this.isResident) this.reference.dispose();
    this.resident.length = 0;
    this.current = null;
  }
}

/** CMI of a distilled set under pool member 0 of `cfg` (e.g. "End value w.o. CMI" of a base method). */
export async function measureCmi(
  dataset: Dataset,
  set: DistilledSet,
  cfg: CmiConfig,
  progress?: ProgressReporter,
): Promise<number> {
  const m = await CmiPool.member(dataset, cfg, 0, progress);
  const x = setToDevice(set);
  try {
    return await cmiValue(m, x, set.labels, cfg.cmiSpace);
  } finally {
    x.dispose();
    m.dispose();
  }
}

// ------------------------------------------------------------------------------------------ plug-in

/** A `<base>+cmi` config split into the base method's fields and CMI's own. */
export function splitConfig<C>(c: C & CmiConfig): { base: C; cmi: CmiConfig } {
  const base = { ...c } as Record<string, unknown>;
  const cmi: Record<string, unknown> = {};
  for (const k of CMI_KEYS) {
    if (k in base) cmi[k] = base[k];
    delete base[k];
  }
  return { base: base as C, cmi: cmi as CmiConfig };
}

/** How much the run's image lr is above the paper's (1 for a base without one). */
function imageLrFactor(paper: unknown, scaled: unknown): number {
  const lr = (c: unknown) => (c as { lrImg?: unknown }).lrImg;
  const a = lr(paper), b = lr(scaled);
  return typeof a === "number" && typeof b === "number" && a > 0 ? b / a : 1;
}

/**
 * One run's CMI: the extractor pool, the term λ·CMI(S) under the iteration's extractor, and the start
 * and end values under the fixed member 0 (metrics cmiStart/cmiEnd).
 */
async function openCmi(ctx: DistillContext<CmiConfig>, id: string): Promise<OpenRegularizer> {
  const { cmi } = splitConfig(ctx.config);
  const t0 = performance.now();
  const pool = await CmiPool.open(ctx.dataset, cmi, ctx.seed, ctx.progress, ctx.signal);
  const poolSeconds = (performance.now() - t0) / 1000;
  // The start value: CMI of the initial set under the fixed member 0. Per-class loops (IDC) pass one
  // class per call, so it sums each class's first call (before that class's first update) until a
  // class repeats; whole-set loops (DM, DSA, MTT) complete it in their first call.
  let start: Tensor | null = null;
  let startCount = 0;
  let startDone = false;
  const startClasses = new Set<number>();
  const recordStart = (images: Tensor, labels: Int32Array) => {
    if (startDone || labels.some((l) => startClasses.has(l))) {
      startDone = true;
      return;
    }
    for (const l of labels) startClasses.add(l);
    const v = noGrad(() =>
      T.mul(cmiLoss(pool.reference, images.detach(), labels, cmi.cmiSpace), labels.length)
    );
    const sum: Tensor = start ? noGrad(() => T.add(start!, v)) : v;
    sum.keep();
    if (start !== sum) start?.dispose();
    start = sum;
    startCount += labels.length;
  };
  const dim = cmi.cmiSpace === "feature" ? pool.reference.embedDim : pool.reference.numClasses;
  if (cmi.featureDim !== undefined && cmi.featureDim !== dim) {
    ctx.progress.log(
      `${id}: extractor ${cmi.cmiExtractor} has ${dim} output dims, the paper's ${cmi.featureDim}`,
    );
  }
  const regularizer: Regularizer = {
    name: "cmi",
    prepare: (it) => pool.prepare(it),
    loss: (images, labels, it) => {
      recordStart(images, labels);
      if (cmi.cmiLambda === 0) return T.fill([], 0);
      return T.mul(cmiLoss(pool.extractorFor(it), images, labels, cmi.cmiSpace), cmi.cmiLambda);
    },
  };
  const finish = async (result: DistillResult): Promise<DistillResult> => {
    const x = setToDevice(result.set);
    let end: number;
    try {
      end = await cmiValue(pool.reference, x, result.set.labels, cmi.cmiSpace);
    } finally {
      x.dispose();
    }
    const cmiStart = start ? await (start as Tensor).item() / startCount : NaN;
    result.set.meta.extra = {
      ...result.set.meta.extra,
      cmiExtractor: cmi.cmiExtractor,
      cmiPool: `${cmi.cmiPoolSize} × ${cmi.cmiPretrained ? `${cmi.cmiPoolEpochs} epochs` : "untrained"}` +
        (cmi.cmiPoolTrainLimit ? ` on ${cmi.cmiPoolTrainLimit} images` : ""),
      cmiStart: String(cmiStart),
      cmiEnd: String(end),
    };
    return {
      set: result.set,
      metrics: {
        ...result.metrics,
        cmiStart,
        cmiEnd: end,
        cmiLambda: cmi.cmiLambda,
        cmiFeatureDim: dim,
        cmiPoolSeconds: poolSeconds,
        seconds: (performance.now() - t0) / 1000,
      },
    };
  };
  const dispose = () => {
    (start as Tensor | null)?.dispose();
    pool.dispose();
  };
  return { regularizer, finish, dispose };
}

/** CMI as a regularizer plug-in: `<base>+cmi` adds λ·CMI to the base's loss; metrics add cmiStart/cmiEnd. */
export const CMI: RegularizerPlugin<CmiConfig> = {
  name: "cmi",
  description: "+ CMI regularizer (λ·CMI in a pretrained extractor's feature space)",
  reference: "CMI: Zhong et al., ICLR 2025 (ndhg1213/CMIDD)",
  fields: CmiFields,
  defaults: cmiDefaults,
  budgetKeys: CMI_KEYS_BUDGET,
  scaleNotes: CMI_SCALE_NOTES,
  scale: cmiScale,
  open: openCmi,
};

// ------------------------------------------------------------------------------------------ methods

export const dcCmiMethod = withRegularizer(dcMethod, CMI);
export const dsaCmiMethod = withRegularizer(dsaMethod, CMI);
export const dmCmiMethod = withRegularizer(dmMethod, CMI);
export const idmCmiMethod = withRegularizer(idmMethod, CMI);
export const idcCmiMethod = withRegularizer(idcMethod, CMI);

const mttWithCmi = withRegularizer(mttMethod, CMI);
/**
 * MTT + CMI runs without ZCA, recorded as a substitution wherever MTT's commands whiten: CMI's
 * extractor pool is trained on the dataset's normalised images, so whitened images would leave its
 * input space.
 */
export const mttCmiMethod: typeof mttWithCmi = {
  ...mttWithCmi,
  scaleNotes: {
    ...mttWithCmi.scaleNotes,
    zca: "MTT + CMI runs without ZCA: CMI's extractor pool is trained on normalised, not whitened, images",
  },
  scale: (run, ctx) => ({ ...mttWithCmi.scale!(run, ctx), zca: ctx.pinned.zca ?? false }),
};
