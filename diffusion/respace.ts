/**
 * Timestep respacing (improved-diffusion's `space_timesteps` / `SpacedDiffusion`): sample with a
 * subset of an original process's steps. The spaced process keeps ᾱ at the kept steps exactly, so its
 * betas are recomputed as β'_i = 1 − ᾱ_{k_i} / ᾱ_{k_{i-1}}; the model is still called with the
 * original step index k_i.
 */
import { makeSchedule, type Schedule } from "./schedule.ts";

/** Python's round(): halves go to the even neighbour (what the reference's striding uses). */
function roundHalfEven(x: number): number {
  const f = Math.floor(x), d = x - f;
  if (d > 0.5) return f + 1;
  if (d < 0.5) return f;
  return f % 2 === 0 ? f : f + 1;
}

/**
 * The kept steps of a `length`-step process, ascending. `spec`:
 * - `"ddimN"`: the DDIM paper's fixed integer stride, 0, s, 2s, … with exactly N steps;
 * - `"N"` or `"a,b,c"` (or an array of counts): the process is cut into equal sections (the first
 *   `length % sections` one step longer) and each section strided to its count, ends included;
 * - `""`: every step.
 */
export function spaceTimesteps(length: number, spec: string | readonly number[]): number[] {
  if (!Number.isInteger(length) || length < 1) {
    throw new Error(`spaceTimesteps: the process length must be a positive integer, got ${length}`);
  }
  let counts: number[];
  if (typeof spec === "string") {
    const s = spec.trim();
    if (s === "") return Array.from({ length }, (_, i) => i);
    if (s.startsWith("ddim")) {
      const want = Number(s.slice(4));
      if (!Number.isInteger(want) || want < 1) {
        throw new Error(`respacing "${spec}": expected "ddimN" with N a positive integer`);
      }
      for (let stride = 1; stride < length; stride++) {
        if (Math.ceil(length / stride) === want) {
          return Array.from({ length: want }, (_, i) => i * stride);
        }
      }
      throw new Error(
        `respacing "${spec}": ${length} steps cannot be cut into exactly ${want} with an integer stride`,
      );
    }
    counts = s.split(",").map((x) => {
      const v = Number(x.trim());
      if (x.trim() === "" || !Number.isInteger(v) || v < 0) {
        throw new Error(
          `respacing "${spec}": expected "ddimN", a step count, or comma-separated step counts per section`,
        );
      }
      return v;
    });
  } else {
    counts = [...spec];
  }
  if (counts.length === 0) throw new Error("respacing: no section counts given");
  const sizePer = Math.floor(length / counts.length), extra = length % counts.length;
  let start = 0;
  const steps: number[] = [];
  counts.forEach((count, i) => {
    if (!Number.isInteger(count) || count < 0) {
      throw new Error(`respacing: section count ${count} is not a non-negative integer`);
    }
    const size = sizePer + (i < extra ? 1 : 0);
    if (size < count) throw new Error(`respacing: cannot divide a section of ${size} steps into ${count}`);
    const stride = count <= 1 ? 1 : (size - 1) / (count - 1);
    // Accumulated by repeated addition, as the reference does: the rounding of the sum is part of
    // which steps are kept.
    let cur = 0;
    for (let k = 0; k < count; k++) {
      steps.push(start + roundHalfEven(cur));
      cur += stride;
    }
    start += size;
  });
  return [...new Set(steps)].sort((a, b) => a - b);
}

/** The process restricted to the kept original steps (ᾱ preserved at each), called with their indices. */
export function respace(base: Schedule, keep: readonly number[]): Schedule {
  if (base.timesteps.some((t, i) => t !== i)) {
    throw new Error("respace: the base schedule is already respaced; respace the original process instead");
  }
  const kept = [...new Set(keep)].sort((a, b) => a - b);
  if (kept.length === 0) throw new Error("respace: no steps kept");
  for (const k of kept) {
    if (!Number.isInteger(k) || k < 0 || k >= base.length) {
      throw new Error(`respace: step ${k} is outside the original process [0, ${base.length})`);
    }
  }
  const betas: number[] = [];
  let last = 1;
  for (const k of kept) {
    const ac = base.alphasCumprod[k];
    betas.push(1 - ac / last);
    last = ac;
  }
  return makeSchedule(betas, kept, base.length);
}

/** A respaced schedule from a spec string ("ddim50", "250", "" = all), over `base`. */
export function spacedSchedule(base: Schedule, spec: string | readonly number[]): Schedule {
  const keep = spaceTimesteps(base.length, spec);
  return keep.length === base.length ? base : respace(base, keep);
}
