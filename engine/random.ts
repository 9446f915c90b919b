/**
 * Seeded random streams. A `Rng` is (seed, position): every draw advances the position by its size,
 * so a run is reproducible from its seed, and `fork(k)` derives independent streams (per model, per
 * repeat, per augmentation) without sharing a counter. Draws happen on the device via the
 * backend's counter-based Philox, identical on WebGPU and the CPU reference.
 */
import * as E from "./expr.ts";
import { inp } from "./expr.ts";
import { type Shape, sizeOf } from "./shape.ts";
import { backend, fromStorage, type Tensor } from "./tensor.ts";
import { map } from "./ops/elementwise.ts";
import { random as hostRandom } from "./cpu/extended.ts";
import { f32 } from "./cpu/storage.ts";

/** A 32-bit mix of two integers (splitmix-style), used to derive stream seeds. */
export function mixSeed(a: number, b: number): number {
  let h = (Math.imul(a ^ 0x9e3779b9, 0x85ebca6b) ^ Math.imul(b + 0x7f4a7c15, 0xc2b2ae35)) >>> 0;
  h = Math.imul(h ^ (h >>> 16), 0x7feb352d) >>> 0;
  h = Math.imul(h ^ (h >>> 15), 0x846ca68b) >>> 0;
  return (h ^ (h >>> 16)) >>> 0;
}

export class Rng {
  private position = 0;
  constructor(readonly seed: number) {
    if (!Number.isInteger(seed) || seed < 0) {
      throw new Error(`seed must be a non-negative integer, got ${seed}`);
    }
  }

  /** An independent stream for sub-task `k`. */
  fork(k: number): Rng {
    return new Rng(mixSeed(this.seed, k));
  }

  private draw(kind: "uniform" | "normal", shape: Shape): Tensor {
    const n = sizeOf(shape);
    // Element i depends only on (seed, position + i) (backend contract), so draws never overlap.
    const s = backend().random(kind, n, this.seed, this.position);
    this.position += n;
    return fromStorage(s, shape);
  }

  uniform(shape: Shape, lo = 0, hi = 1): Tensor {
    const u = this.draw("uniform", shape);
    if (lo === 0 && hi === 1) return u;
    const r = map(E.add(E.mul(inp(0), E.cst(hi - lo)), E.cst(lo)), [u]);
    u.dispose();
    return r;
  }

  normal(shape: Shape, mean = 0, std = 1): Tensor {
    const z = this.draw("normal", shape);
    if (mean === 0 && std === 1) return z;
    const r = map(E.add(E.mul(inp(0), E.cst(std)), E.cst(mean)), [z]);
    z.dispose();
    return r;
  }

  /**
   * Host-side uniforms from the same stream, computed by the reference Philox on the CPU: no device
   * round trip, so augmentation parameters and shuffles never stall the GPU queue.
   */
  hostUniform(n: number): Float32Array {
    const d = f32(hostRandom("uniform", n, this.seed, this.position));
    this.position += n;
    return d;
  }

  /** A uniformly random permutation of 0..n-1 (argsort of a uniform draw; ties broken by index). */
  permutation(n: number): Int32Array {
    const u = this.hostUniform(n);
    const idx = Array.from({ length: n }, (_, i) => i).sort((a, b) => u[a] - u[b] || a - b);
    return Int32Array.from(idx);
  }
}
