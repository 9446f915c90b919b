/**
 * Cell resolution: how a table cell as printed in a paper becomes exactly what runs on this machine
 * under a profile (profiles.ts): dataset, model, evaluator protocol, method config and repeats. Every
 * departure from the paper's setting is recorded as a Substitution, so reports can always say what was
 * changed and why.
 *
 * See experiments/README.md for the rules in prose.
 */
import type { CellSpec, TableSpec } from "./schema.ts";
import type { ResolvedCell, Substitution } from "./resolved.ts";
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
import { cellMethod } from "./methods.ts";
import { canonicalJson } from "../results/key.ts";
import {
  DATASET_STAND_INS,
  type EpochRule,
  MODEL_STAND_INS,
  type Profile,
  type ProfileDef,
  PROFILES,
} from "./profiles.ts";
import { budgetReason, scaleConfig } from "./budget.ts";

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
  /** Injectable for tests; default experiments/methods.ts's cellMethod(). */
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
  const p: ProfileDef = PROFILES[profile];
  const avail = opts.availability ?? ((id: string) => dataAvailability(id));
  const info = opts.datasetInfo ?? dataInfo;
  const lookupMethod = opts.findMethod ?? cellMethod;
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
      const scaled = scaleConfig(method, parsed.data, profile, cell.ipc ?? 0, override);
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
          (k) => method.scaleNotes?.[k] ?? budgetReason(method, k),
          subs,
        );
        methodConfig = checked.data;
        if (cell.ipc !== null && method.imagesPerClass) {
          perClass = method.imagesPerClass(checked.data, cell.ipc);
        }
      }
    }
  }

  const skipped = skippedIpc(table, cell, p);
  if (skipped) blockers.push(skipped);

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
    if (!p.substituteModels || standIn === undefined || !getModel(standIn).available) {
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
  if (m && p.substituteModels) {
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
 * Why the profile skips this cell's IPC (`skipIpcs`): only between a smaller and a larger IPC of the same
 * row that run; null when it runs.
 */
function skippedIpc(table: TableSpec, cell: CellSpec, p: ProfileDef): string | null {
  const ipc = cell.ipc;
  if (ipc === null || !p.skipIpcs.includes(ipc)) return null;
  const others = table.cells
    .filter((c) =>
      c.method === cell.method && c.dataset === cell.dataset && c.model === cell.model &&
      c.protocol === cell.protocol && c.labels === cell.labels && c.ipc !== null &&
      !p.skipIpcs.includes(c.ipc)
    )
    .map((c) => c.ipc as number);
  const below = others.filter((i) => i < ipc), above = others.filter((i) => i > ipc);
  if (below.length === 0 || above.length === 0) return null;
  return `${p.id} profile: IPC ${ipc} is skipped between IPC ${Math.max(...below)} and ${
    Math.min(...above)
  } of the same row, which run; its time goes to longer evaluations (--profile proxy runs it)`;
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
      epochs = Math.min(
        paperEpochs,
        budgetEpochs(rule, perClass === null ? null : perClass * classes, protocol.batchSize),
      );
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

/**
 * Evaluator epochs of a budget rule for a set of `n` images (null: a full-dataset row, unknown before
 * loading) trained in batches of `batchSize`, before the paper's cap.
 */
export function budgetEpochs(
  rule: Extract<EpochRule, { kind: "budget" }>,
  n: number | null,
  batchSize: number,
): number {
  const { min, max } = rule;
  if (n === null) return min;
  const images = rule.samples * Math.pow(n / rule.at, rule.growth);
  const stepsPerEpoch = Math.ceil(n / Math.min(batchSize, n));
  const byBudget = Math.max(Math.floor(images / n), Math.ceil(rule.minSteps / stepsPerEpoch));
  return Math.max(min, Math.min(max, byBudget));
}

function budgetText(r: EpochRule): string {
  if (r.kind !== "budget") return r.kind;
  const images = r.growth === 0
    ? `${r.samples} images seen`
    : `${r.samples} images seen at ${r.at} images, × (set size / ${r.at})^${r.growth} otherwise`;
  return `${images}, at least ${r.minSteps} steps`;
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
  reasonOf: (key: string) => string,
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
        : `${profile} profile: ${reasonOf(k)}`,
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
