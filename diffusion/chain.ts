/**
 * Runs a chain of diffusion steps: each step in its own tidy scope (intermediates freed at once, so
 * memory does not grow with the number of steps), the previous state freed, the abort signal checked
 * between steps, and progress reported. Every `syncEvery` steps the sum of the state is read back: that
 * waits for the device, so progress and ETA follow real work, and catches a chain gone non-finite. The
 * read of step k is awaited only after step k + 1 is queued, so the device never idles while the host
 * waits (progress lags the queue by one step).
 */
import { type Tensor, tidy } from "../engine/tensor.ts";
import type { ProgressReporter } from "../data/progress.ts";
import * as T from "../engine/ops/mod.ts";

export interface ChainOptions {
  progress?: ProgressReporter;
  signal?: AbortSignal;
  /** Read the state's sum back every this many steps (default 1; 0: only the caller reads the result). */
  syncEvery?: number;
}

export async function runChain(
  what: string,
  start: Tensor,
  /** Whether `start` belongs to the chain (freed when replaced) or to the caller. */
  ownsStart: boolean,
  steps: number,
  step: (x: Tensor, k: number) => Tensor,
  opts: ChainOptions,
  describe: (k: number) => string = (k) => `step ${k + 1}`,
): Promise<Tensor> {
  const sync = opts.syncEvery ?? 1;
  if (!Number.isInteger(sync) || sync < 0) {
    throw new Error(`syncEvery must be a non-negative integer, got ${sync}`);
  }
  let x = start, owned = ownsStart;
  // The one outstanding read: the sum of the state after step k (finite iff every value is).
  let pending: { probe: Tensor; k: number } | null = null;
  const settle = async () => {
    if (!pending) return;
    const { probe, k } = pending;
    pending = null;
    const total = await probe.item();
    probe.dispose();
    if (!Number.isFinite(total)) {
      throw new Error(`${what}: non-finite values after ${describe(k)} of ${steps}`);
    }
    opts.progress?.update(k + 1, steps, what);
  };
  try {
    for (let k = 0; k < steps; k++) {
      opts.signal?.throwIfAborted();
      const cur = x;
      const next = tidy(() => step(cur, k));
      if (owned) cur.dispose();
      x = next;
      owned = true;
      await settle();
      if (sync > 0 && ((k + 1) % sync === 0 || k === steps - 1)) {
        const state = x;
        pending = { probe: tidy(() => T.sum(state)), k };
      } else opts.progress?.update(k + 1, steps, what);
    }
    await settle();
    return owned ? x : tidy(() => x.view(x.shape));
  } catch (e) {
    // pending is reset by settle before it can throw; one left here was never awaited.
    (pending as { probe: Tensor } | null)?.probe.dispose();
    if (owned) x.dispose();
    throw e;
  }
}
