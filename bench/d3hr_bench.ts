/**
 * The bench's D³HR figures: group sampling (m candidate subsets of IPC latents drawn, scored and the best
 * kept, for one class) in seconds against m and the IPC, on the small DiT's 8×8×4 latents — the
 * measurement of D³HR's Tables A2–A4 (A100 / A6000, DiT-XL/2's 32×32×4 latents) on this machine.
 */
import { Rng } from "../engine/random.ts";
import { groupSample, PAPER_WEIGHTS } from "../methods/d3hr/group_sampling.ts";

/** (m, IPC) pairs: the IPC sweep of Tables A2–A4 at two m, and m up to 1e5 at IPC 10. */
export const D3HR_BENCH_CASES: readonly (readonly [number, number])[] = [
  [1_000, 1],
  [1_000, 10],
  [1_000, 50],
  [10_000, 1],
  [10_000, 10],
  [10_000, 50],
  [100_000, 10],
];
/** The latent dimension of the small DiT (models/foundation.ts: 8×8×4). */
export const D3HR_BENCH_D = 256;

/** Seconds per class, best of `rounds`, keyed "m=<m>,ipc=<ipc>". */
export async function d3hrBench(
  rounds = 2,
): Promise<{ d3hr_group_sampling_s: Record<string, number>; d3hr_latent_dim: number }> {
  const s2 = new Float32Array(D3HR_BENCH_D).fill(1);
  const out: Record<string, number> = {};
  await groupSample(s2, new Rng(0), { n: 10, m: 100, weights: PAPER_WEIGHTS }); // compiles the kernels
  for (const [m, ipc] of D3HR_BENCH_CASES) {
    let best = Infinity;
    for (let r = 0; r < rounds; r++) {
      const t0 = performance.now();
      await groupSample(s2, new Rng(r + 1), { n: ipc, m, weights: PAPER_WEIGHTS });
      best = Math.min(best, (performance.now() - t0) / 1000);
    }
    out[`m=${m},ipc=${ipc}`] = best;
  }
  return { d3hr_group_sampling_s: out, d3hr_latent_dim: D3HR_BENCH_D };
}
