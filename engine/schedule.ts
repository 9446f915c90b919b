/**
 * Learning-rate schedules as pure functions t → lr, stored as data (a zod-validated discriminated
 * union) so protocols and results can record exactly which schedule ran. `t` is whatever unit the
 * reference steps its scheduler in — epochs for every evaluator in docs/protocols.md, steps
 * for SRe²L-style recovery loops — and `total`/milestones are in the same unit. t is 0-based: lrAt(c, 0)
 * is the rate of the first epoch (or step).
 */
import { z } from "zod";

const Lr = z.number().positive();
const Count = z.number().int().positive();
const Index = z.number().int().min(0);

export const ScheduleConfig = z.discriminatedUnion("kind", [
  z.object({ kind: z.literal("constant"), lr: Lr }).strict(),
  /**
   * Step decay as DC's `evaluate_synset` (protocols.md §2): epochs run 0…E and *after* the pass with
   * index `dropAfter` (DC: ⌊E/2⌋ + 1) the lr is multiplied by `gamma` (DC: 0.1), so epochs
   * t > dropAfter use lr·gamma. DC also rebuilds the optimizer there (`resetState`).
   */
  z.object({
    kind: z.literal("step"),
    lr: Lr,
    dropAfter: Index,
    gamma: z.number().positive(),
    resetState: z.boolean(),
  }).strict(),
  /**
   * torch MultiStepLR: lr·gamma^(number of milestones ≤ t). IDC: milestones ⌊2E/3⌋, ⌊5E/6⌋, γ 0.2
   * (protocols.md §6.2).
   */
  z.object({
    kind: z.literal("multistep"),
    lr: Lr,
    milestones: z.array(Index),
    gamma: z.number().positive(),
    resetState: z.boolean(),
  }).strict(),
  /**
   * Cosine annealing to `etaMin` over `total` (torch CosineAnnealingLR's closed form), after an
   * optional linear warm-up of `warmup` units that reaches lr at t = warmup − 1 (SRe²L's
   * lr_cosine_policy: lr·(t+1)/warmup). Past `total` the rate stays at etaMin.
   */
  z.object({
    kind: z.literal("cosine"),
    lr: Lr,
    total: Count,
    etaMin: z.number().min(0),
    warmup: Index,
  }).strict(),
  /**
   * RDED / D³HR LambdaLR (protocols.md §7.3, §8): lr·0.5·(1 + cos(π·t/(2·total))) — a quarter
   * period, so the rate falls from lr to lr/2 at t = total rather than to 0.
   */
  z.object({ kind: z.literal("half-cosine"), lr: Lr, total: Count }).strict(),
]);
export type ScheduleConfig = z.infer<typeof ScheduleConfig>;

/** The learning rate at 0-based epoch (or step) `t`. */
export function lrAt(c: ScheduleConfig, t: number): number {
  if (!(Number.isInteger(t) && t >= 0)) throw new Error(`lrAt: t must be a non-negative integer, got ${t}`);
  switch (c.kind) {
    case "constant":
      return c.lr;
    case "step":
      return t > c.dropAfter ? c.lr * c.gamma : c.lr;
    case "multistep": {
      let n = 0;
      for (const m of c.milestones) if (m <= t) n++;
      return c.lr * Math.pow(c.gamma, n);
    }
    case "cosine": {
      if (t < c.warmup) return (c.lr * (t + 1)) / c.warmup;
      const span = c.total - c.warmup;
      if (span <= 0 || t >= c.total) return c.etaMin;
      return c.etaMin + (c.lr - c.etaMin) * 0.5 * (1 + Math.cos((Math.PI * (t - c.warmup)) / span));
    }
    case "half-cosine":
      return c.lr * 0.5 * (1 + Math.cos((Math.PI * t) / (2 * c.total)));
  }
}

/**
 * Whether the optimizer state should be reset before epoch `t`: true at the first epoch of a new
 * rate of a schedule with `resetState` (DC rebuilds its SGD, dropping momentum, at the drop).
 */
export function resetsAt(c: ScheduleConfig, t: number): boolean {
  if (t <= 0) return false;
  if (c.kind !== "step" && c.kind !== "multistep") return false;
  return c.resetState && lrAt(c, t) !== lrAt(c, t - 1);
}

// ---------------------------------------------------------------- the protocols' schedules

/** DC evaluate_synset: E + 1 passes (t = 0…E), ×0.1 after pass ⌊E/2⌋ + 1, optimizer rebuilt there. */
export function dcSchedule(lr: number, epochs: number): ScheduleConfig {
  return { kind: "step", lr, dropAfter: Math.floor(epochs / 2) + 1, gamma: 0.1, resetState: true };
}

/** IDC evaluation: MultiStepLR at ⌊2E/3⌋ and ⌊5E/6⌋ with γ 0.2 (E epochs, t = 0…E−1). */
export function idcSchedule(lr: number, epochs: number): ScheduleConfig {
  return {
    kind: "multistep",
    lr,
    milestones: [Math.floor((2 * epochs) / 3), Math.floor((5 * epochs) / 6)],
    gamma: 0.2,
    resetState: false,
  };
}

/** Cosine annealing over `total` units with optional warm-up and floor (defaults 0). */
export function cosineSchedule(
  lr: number,
  total: number,
  opts: { etaMin?: number; warmup?: number } = {},
): ScheduleConfig {
  return { kind: "cosine", lr, total, etaMin: opts.etaMin ?? 0, warmup: opts.warmup ?? 0 };
}

/** RDED / D³HR student training: half-cosine LambdaLR over E epochs. */
export function halfCosineSchedule(lr: number, epochs: number): ScheduleConfig {
  return { kind: "half-cosine", lr, total: epochs };
}

/** Validates untrusted (stored) schedule data; throws a ZodError naming the bad field. */
export function parseSchedule(x: unknown): ScheduleConfig {
  return ScheduleConfig.parse(x);
}
