/**
 * The budget vocabulary shared by profiles and methods. A profile gives knobs values
 * (experiments/profiles.ts); a method maps its config keys onto knobs and names the keys that follow
 * others (an image lr that follows the network width). No method names a profile, so a new profile is
 * one data entry and a new method one declaration; experiments/budget.ts applies the two.
 */

/** Every knob, with what it bounds (the reason a substitution gives when it changes a key). */
export const KNOBS = {
  iterations: "the iterations of the distillation loop",
  innerSteps: "the image steps per iteration",
  netSteps: "the network training per step",
  realBatch: "the real images per class and step",
  synBatch: "the synthetic images per step",
  width: "the width of its networks",
  trainEpochs: "the epochs of the networks it trains on real data",
  trainImages: "the real images those networks train on",
  trainBatch: "the mini-batch of the networks it trains",
  trainedNets: "the networks trained per iteration",
  poolSize: "the networks in its pool (experts, extractors)",
  candidates: "the candidates per class it selects from",
  refreshEvery: "the iterations between new networks",
  init: "the initialisation of the images",
  extractor: "the network it pretrains in place of a larger one",
  teacherNet: "the network it trains as its teacher",
  sampler: "the sampler of its diffusion model",
  samplingSteps: "the sampling steps of its diffusion model",
  foundation: "the generative foundation it runs (shipped weights, or untrained models)",
} as const;
export type Knob = keyof typeof KNOBS;

/**
 * A cap that grows for small sets: max(atLeast, ⌊perSet / max(IPC, fromIpc)⌋). An iteration over a small
 * set is cheap, and few iterations barely move it from its initialisation.
 */
export interface IpcBudget {
  perSet: number;
  atLeast: number;
  /** IPCs below this count as this (default 1). */
  fromIpc?: number;
}

/**
 * A cap that grows with the set: max(atLeast, perIpc · IPC), for work that needs more of its input for
 * larger sets (e.g. D4M clusters at least a few real images per prototype).
 */
export interface GrowingBudget {
  perIpc: number;
  atLeast: number;
}

/** A cap (a number, or one that follows the set's size), or a value that replaces the key's. */
export type KnobValue = number | IpcBudget | GrowingBudget | string;

/** Knob values; a knob left out keeps every key it bounds at the paper's value. */
export type Knobs = Readonly<Partial<Record<Knob, KnobValue>>>;

/** A family's own values; `null` lifts the profile's value for that family (the paper's setting stays). */
export type TunedKnobs = Readonly<Partial<Record<Knob, KnobValue | null>>>;

/** How one config key follows a knob: capped by it (default) or set to its value. */
export interface KeyRule {
  knob: Knob;
  rule?: "cap" | "set";
  /** Whose tuned values apply to this key (default the budget's family). */
  family?: string;
}

/** What a derived key is computed from: the paper's config, the budget's caps, and the run's (with pins). */
export interface Derivation<C> {
  paper: C;
  /** The paper's config with the budget's caps, before pinned values. */
  budgeted: C;
  /** The config as it will run: caps, pinned values, and the keys derived before this one. */
  run: C;
  /** The profile's value of a knob for the method's family; undefined: the paper's setting. */
  knob(knob: Knob): KnobValue | undefined;
}

export interface MethodBudget<C> {
  /**
   * Whose tuned values apply (a profile's `tuned[family]`, measured for that method's cost); default the
   * method's id. Methods sharing a loop share a family (DC and DSA: "dc").
   */
  family?: string;
  /** Config key → the knob that bounds it. */
  keys: { readonly [K in keyof C]?: Knob | KeyRule };
  /**
   * Keys that follow others when a profile scales the method, computed in this order; a pinned key
   * (`--set`, a cell's `set`) is never derived, and what derives from a pinned key follows it.
   */
  derived?: { readonly [K in keyof C]?: (v: Derivation<C>) => C[K] };
}

/**
 * What a method's `scale()` (the exceptions to its budget's rules) is given besides the config as it will
 * run: the paper's and budgeted configs, the pinned keys and the profile's knob values.
 */
export interface ScaleContext<C> {
  paper: C;
  budgeted: C;
  /** Keys the user (`--set`) or the cell (`set`) pinned; they are applied on top of scale()'s result. */
  pinned: Readonly<Partial<C>>;
  profile: string;
  /** 0 for full-dataset rows. */
  ipc: number;
  /** The profile's value of a knob for a family (default the method's); undefined: the paper's setting. */
  knob(knob: Knob, family?: string): KnobValue | undefined;
}

/** The rule of a key, written out. */
export function keyRule(r: Knob | KeyRule, family: string): Required<KeyRule> {
  return typeof r === "string"
    ? { knob: r, rule: "cap", family }
    : { knob: r.knob, rule: r.rule ?? "cap", family: r.family ?? family };
}

/**
 * Image lr for a narrower network than the config's. A matching loss sums over the network's units or
 * weights, so its image gradient shrinks with the width: for DM's embedding loss it grew 1.0 → 1.6 → 2.7
 * from width 32 → 64 → 128 (MNIST, real init, 3 random nets), ≈ width^0.75; DC's `ours` distance and
 * IDC's `mse` over conv-weight gradients scale the same way (Fashion-MNIST, IPC 1: 12.5 → 19.3 → 31.1 and
 * 22.5 → 38.3 → 64.0), IDC's `l1` faster (132.6 → 300.9 → 730.4, ≈ width^1.25). Scaling the lr by
 * (from/to)^exponent keeps the step on the images about the paper network's.
 */
export function widthCompensation(from: number, to: number, exponent = 0.75): number {
  return (from / to) ** exponent;
}

/** A derived image lr (`lrImg`) that follows the network width (`width`) by widthCompensation. */
export function lrFollowsWidth<C extends { lrImg: number; width: number }>(
  exponent: (run: C) => number = () => 0.75,
): (v: Derivation<C>) => number {
  return ({ paper, run }) => paper.lrImg * widthCompensation(paper.width, run.width, exponent(run));
}

/** Why the profiles change width and image lr of the matching methods (their substitutions' reasons). */
export const WIDTH_SCALE_NOTES: Readonly<Record<string, string>> = {
  width: "a narrower matching network fits the profile's time budget",
  lrImg: "raised with the narrower network, whose image gradient shrinks with width (widthCompensation)",
};
