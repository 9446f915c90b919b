/**
 * A method's config under a profile: the profile's knob values (experiments/profiles.ts) applied to the
 * keys the method maps onto them (methods/budget.ts), then the pinned keys, then what derives from them,
 * then the method's own exceptions (`scale`), and the pinned keys once more on top.
 */
import {
  type GrowingBudget,
  type IpcBudget,
  keyRule,
  type Knob,
  KNOBS,
  type KnobValue,
} from "../methods/budget.ts";
import type { MethodDef } from "../methods/types.ts";
import { type Profile, type ProfileDef, PROFILES } from "./profiles.ts";

/** A family's tuned value of a knob under a profile, else the profile's; undefined: the paper's setting. */
export function knobValue(p: ProfileDef, knob: Knob, family: string): KnobValue | undefined {
  const tuned = p.tuned[family];
  if (tuned !== undefined && knob in tuned) return tuned[knob] ?? undefined;
  return p.budget[knob];
}

/** The cap an IPC budget sets for a set of `ipc` images per class (0: full-dataset rows). */
export function ipcCap(b: IpcBudget | GrowingBudget, ipc: number): number {
  if ("perIpc" in b) return Math.max(b.atLeast, b.perIpc * ipc);
  return Math.max(b.atLeast, Math.floor(b.perSet / Math.max(ipc, b.fromIpc ?? 1)));
}

function capped(method: string, key: string, paper: unknown, v: KnobValue, ipc: number): number {
  if (typeof v === "string") throw new Error(`${method}.${key}: knob value "${v}" is not a cap`);
  const limit = typeof v === "number" ? v : ipcCap(v, ipc);
  // null: "all" (e.g. every training image), which any cap lowers.
  if (paper === null) return limit;
  if (typeof paper !== "number") throw new Error(`${method}.${key}: a cap needs a number, got ${paper}`);
  return Math.min(paper, limit);
}

/** Whether the profile scales methods at all (the paper profile runs their paper configs). */
function scales(p: ProfileDef): boolean {
  return Object.keys(p.budget).length > 0 || Object.keys(p.tuned).length > 0;
}

/**
 * `paper` (the method's defaults with the cell's config) under `profile` (an id, or a profile's data).
 * `pinned`: the user's `--set` and the cell's `set`, which the result carries whatever the budget says,
 * and which derived keys follow.
 */
export function scaleConfig<C>(
  method: MethodDef<C>,
  paper: C,
  profile: Profile | ProfileDef,
  ipc: number,
  pinned: Readonly<Partial<C>> = {} as Partial<C>,
): C {
  const p: ProfileDef = typeof profile === "string" ? PROFILES[profile] : profile;
  const b = method.budget;
  const family = b?.family ?? method.id;
  const budgeted = { ...paper } as Record<string, unknown>;
  for (const [key, r] of Object.entries(b?.keys ?? {}) as [string, Parameters<typeof keyRule>[0]][]) {
    const rule = keyRule(r, family);
    const v = knobValue(p, rule.knob, rule.family);
    if (v === undefined) continue;
    budgeted[key] = rule.rule === "set" ? v : capped(method.id, key, budgeted[key], v, ipc);
  }
  let run = { ...budgeted, ...pinned } as C;
  if (b?.derived && scales(p)) {
    for (const [key, derive] of Object.entries(b.derived) as [string, (v: unknown) => unknown][]) {
      if (key in pinned) continue;
      const knob = (k: Knob) => knobValue(p, k, family);
      run = { ...run, [key]: derive({ paper, budgeted: budgeted as C, run, knob }) };
    }
  }
  if (method.scale) {
    run = method.scale(run, {
      paper,
      budgeted: budgeted as C,
      pinned,
      profile: p.id,
      ipc,
      knob: (knob, f = family) => knobValue(p, knob, f),
    });
  }
  return { ...run, ...pinned };
}

/** Why a profile changes a method's config key (the substitution's reason unless the method notes one). */
export function budgetReason<C>(method: MethodDef<C>, key: string): string {
  const b = method.budget;
  const r = (b?.keys as Record<string, Parameters<typeof keyRule>[0]> | undefined)?.[key];
  if (r !== undefined) {
    const { knob, rule } = keyRule(r, b?.family ?? method.id);
    return `its budget ${rule === "set" ? "sets" : "caps"} ${KNOBS[knob]}`;
  }
  if (b?.derived && key in b.derived) return "follows the settings its budget changed";
  return "the method's scale() changes its paper setting";
}
