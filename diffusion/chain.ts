/**
 * Runs a chain of diffusion steps: each step in its own tidy scope (intermediates freed at once, so
 * memory does not grow with the number of steps), the previous state freed, progress reported, the
 * abort signal checked between steps, and (every `syncEvery` steps) the state's sum read back, which
 * waits for the device (progress and ETA then follow real work) and catches a chain gone non-finite.
 */
import { type Tensor, tidy } from "../engine/tensor.ts";
import type { ProgressReporter } from "../methods/types.ts";
import * as T from "../engine/ops/mod.ts";

export interface ChainOptions {
  progress?: ProgressReporter;
  signal?: AbortSignal;
  /** Read the state back every this many steps (default 1; 0: only the caller reads the result). */
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
  try {
    for (let k = 0; k < steps; k++) {
      opts.signal?.throwIfAborted();
      const cur = x;
      const next = tidy(() => step(cur, k));
      if (owned) cur.dispose();
      x = next;
      owned = true;
      if (sync > 0 && ((k + 1) % sync === 0 || k === steps - 1)) {
        // One float back, not the state: the sum is finite iff every value is (NaN and ±Inf propagate).
        const probe = tidy(() => T.sum(x));
        const total = await probe.item();
        probe.dispose();
        if (!Number.isFinite(total)) {
          throw new Error(`${what}: non-finite values after ${describe(k)} of ${steps}`);
        }
      }
      opts.progress?.update(k + 1, steps, what);
    }
    return owned ? x : tidy(() => x.view(x.shape));
  } catch (e) {
    if (owned) x.dispose();
    throw e;
  }
}
