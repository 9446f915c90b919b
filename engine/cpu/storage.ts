import type { DType, Storage } from "../backend.ts";

/** Host memory for the reference backend. */
export class CpuStorage implements Storage {
  constructor(readonly data: Float32Array | Int32Array) {}
  get size(): number {
    return this.data.length;
  }
  get dtype(): DType {
    return this.data instanceof Float32Array ? "f32" : "i32";
  }
}

export function cpu(s: Storage): Float32Array | Int32Array {
  if (!(s instanceof CpuStorage)) throw new Error("storage does not belong to the cpu backend");
  return s.data;
}

export function f32(s: Storage): Float32Array {
  const d = cpu(s);
  if (!(d instanceof Float32Array)) throw new Error("expected f32 storage");
  return d;
}

export function i32(s: Storage): Int32Array {
  const d = cpu(s);
  if (!(d instanceof Int32Array)) throw new Error("expected i32 storage");
  return d;
}
