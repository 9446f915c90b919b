/**
 * A training loop that survives being killed: model, EMA and optimizer state go to one safetensors file
 * every few minutes (written atomically: temp file + rename), and a restarted run continues from the last
 * one. Everything random derives from (seed, step), so a resumed run computes exactly what an uninterrupted
 * one would have. An AbortSignal (Ctrl-C) stops between steps after saving.
 */
import { readSafetensors, type SafeTensorInput, writeSafetensors } from "../engine/safetensors.ts";
import { assignHost } from "../engine/assign.ts";
import { grad } from "../engine/autograd.ts";
import { noGrad, type Tensor, tidy } from "../engine/tensor.ts";
import { fmtShape } from "../engine/shape.ts";
import type { AdamW, Ema } from "../engine/optim.ts";
import * as T from "../engine/ops/mod.ts";
import { fmtDuration } from "../data/progress.ts";
import type { Module } from "./module.ts";

export interface LossPoint {
  /** Steps done when the window ended. */
  step: number;
  /** Mean training loss over the window. */
  loss: number;
}

export interface TrainingRun {
  /** Everything that determines the weights (recipe, data hash, seed, code version): a state file of another key is refused. */
  key: string;
  steps: number;
  /** The state file (kept after completion so a finished run is not repeated). */
  statePath: string;
  model: Module;
  opt: AdamW;
  ema?: Ema;
  /** Learning rate for a step (warm-up / decay). */
  lrAt(step: number): number;
  /** The loss of step `step` (draws its batch and noise from (seed, step)); called inside a tidy scope. */
  loss(step: number): Tensor;
  /**
   * Where the run begins when it has no state file of its own (default step 0): the end of the phase it
   * continues, whose state the caller has already restored into the model, EMA and optimizer.
   */
  start?: { step: number; lossCurve: readonly LossPoint[]; trainSeconds: number };
  /** Save every this many ms (default 5 minutes). */
  checkpointEveryMs?: number;
  /** Losses are read back (one device sync) every this many steps (default 25). */
  logEvery?: number;
  /** Images per step, for the img/s figure. */
  batch: number;
  status?: (line: string) => void;
  log?: (line: string) => void;
  signal?: AbortSignal;
  label: string;
}

export interface TrainingOutcome {
  /** Steps done (== steps unless interrupted). */
  step: number;
  done: boolean;
  lossCurve: LossPoint[];
  /** Training seconds summed over every session of this run (resumes included). */
  trainSeconds: number;
  /** Steps this process ran (0 when the state file was already complete). */
  stepsThisSession: number;
  resumedFrom: number;
}

interface SavedState {
  step: number;
  lossCurve: LossPoint[];
  trainSeconds: number;
}

const named = (run: TrainingRun): [string, Tensor][] => [
  ...run.model.namedParameters().map(([n, t]): [string, Tensor] => [`model.${n}`, t]),
  ...run.model.namedBuffers().map(([n, t]): [string, Tensor] => [`model.${n}`, t]),
  ...(run.ema?.shadow ?? []).map((t, i): [string, Tensor] => [`ema.${i}`, t]),
  ...run.opt.state.map((t, i): [string, Tensor] => [`opt.${i}`, t]),
];

async function saveState(run: TrainingRun, s: SavedState): Promise<void> {
  const out: Record<string, SafeTensorInput> = Object.create(null);
  for (const [name, t] of named(run)) out[name] = { dtype: "F32", shape: [...t.shape], data: await t.f32() };
  await writeSafetensors(run.statePath, out, {
    key: run.key,
    step: String(s.step),
    trainSeconds: String(s.trainSeconds),
    lossCurve: JSON.stringify(s.lossCurve),
  });
}

/** Restores the state file into the run's tensors; null when there is none. */
async function loadState(run: TrainingRun): Promise<SavedState | null> {
  let file;
  try {
    file = await readSafetensors(run.statePath);
  } catch (e) {
    if (e instanceof Deno.errors.NotFound) return null;
    throw e;
  }
  const m = file.metadata;
  if (m.key !== run.key) {
    throw new Error(
      `${run.statePath} belongs to another recipe or code version (key ${m.key?.slice(0, 12)}…, this run ` +
        `${run.key.slice(0, 12)}…); delete it or pass another state path`,
    );
  }
  const step = Number(m.step), trainSeconds = Number(m.trainSeconds);
  const lossCurve = JSON.parse(m.lossCurve ?? "[]") as LossPoint[];
  if (
    !Number.isInteger(step) || step < 0 || step > run.steps || !(trainSeconds >= 0) ||
    !Array.isArray(lossCurve)
  ) {
    throw new Error(`${run.statePath}: malformed training state (step ${m.step}, seconds ${m.trainSeconds})`);
  }
  for (const [name, t] of named(run)) {
    const src = file.tensors[name];
    if (!src || src.dtype !== "F32" || src.data.length !== t.size) {
      throw new Error(`${run.statePath}: tensor ${name} missing or not ${fmtShape(t.shape)} f32`);
    }
    assignHost(t, src.data);
  }
  run.opt.restoreSteps(step);
  return { step, lossCurve, trainSeconds };
}

/** Runs (or resumes, or finds finished) the training; saves on completion, interruption and every few minutes. */
export async function trainResumable(run: TrainingRun): Promise<TrainingOutcome> {
  const every = run.checkpointEveryMs ?? 5 * 60_000;
  const logEvery = run.logEvery ?? 25;
  const saved = await loadState(run);
  const state: SavedState = saved ??
    (run.start
      ? { step: run.start.step, lossCurve: [...run.start.lossCurve], trainSeconds: run.start.trainSeconds }
      : { step: 0, lossCurve: [], trainSeconds: 0 });
  const resumedFrom = state.step;
  if (saved && saved.step > 0 && saved.step < run.steps) {
    run.log?.(`${run.label}: resuming at step ${saved.step}/${run.steps} from ${run.statePath}`);
  }
  const params = run.model.parameters();
  // Device-side running sum of the window's losses: one readback per window, not per step.
  let lossSum: Tensor | null = null, windowSteps = 0;
  const t0 = performance.now();
  let lastSave = t0, accounted = t0, stepsThisSession = 0;
  const flushWindow = async () => {
    if (!lossSum || windowSteps === 0) return;
    const mean = (await lossSum.item()) / windowSteps;
    lossSum.dispose();
    lossSum = null;
    windowSteps = 0;
    if (!Number.isFinite(mean)) {
      throw new Error(
        `${run.label}: the training loss became ${mean} by step ${state.step}; the last checkpoint is kept`,
      );
    }
    state.lossCurve.push({ step: state.step, loss: mean });
  };
  const checkpoint = async () => {
    await flushWindow();
    const now = performance.now();
    state.trainSeconds += (now - accounted) / 1000;
    accounted = now;
    await saveState(run, state);
    lastSave = performance.now();
  };
  while (state.step < run.steps && !run.signal?.aborted) {
    const s = state.step;
    run.opt.setLr(run.lrAt(s));
    const loss = tidy(() => {
      const l = run.loss(s);
      run.opt.step(grad(l, params));
      run.ema?.update();
      return l.detach();
    });
    const prev: Tensor | null = lossSum;
    lossSum = prev ? noGrad(() => T.add(prev, loss)) : loss;
    if (prev) {
      prev.dispose();
      loss.dispose();
    }
    windowSteps++;
    state.step++;
    stepsThisSession++;
    if (state.step % logEvery === 0 || state.step === run.steps) {
      await flushWindow();
      const secs = (performance.now() - t0) / 1000;
      const perStep = secs / stepsThisSession;
      const last = state.lossCurve[state.lossCurve.length - 1];
      run.status?.(
        `${run.label} step ${state.step}/${run.steps} loss ${last?.loss.toPrecision(4) ?? "…"} ` +
          `${(run.batch / perStep).toFixed(1)} img/s ETA ${fmtDuration(perStep * (run.steps - state.step))}`,
      );
    }
    if (performance.now() - lastSave >= every && state.step < run.steps) await checkpoint();
    // Let signal handlers (Ctrl-C) run between steps: the loop awaits nothing else for a whole window.
    await new Promise((r) => setTimeout(r, 0));
  }
  if (stepsThisSession > 0 || !saved) await checkpoint();
  return {
    step: state.step,
    done: state.step >= run.steps,
    lossCurve: state.lossCurve,
    trainSeconds: state.trainSeconds,
    stepsThisSession,
    resumedFrom,
  };
}
