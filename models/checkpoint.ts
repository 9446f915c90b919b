/** Saving and restoring a module's parameters and buffers as safetensors (our NHWC/OHWI layout). */
import { loadTensors, saveTensors } from "../engine/safetensors.ts";
import * as E from "../engine/expr.ts";
import { assign } from "../engine/assign.ts";
import { backend, fromStorage, type Tensor } from "../engine/tensor.ts";
import { fmtShape, sameShape } from "../engine/shape.ts";
import type { Module } from "./module.ts";

function entries(m: Module): [string, Tensor][] {
  return [...m.namedParameters(), ...m.namedBuffers()];
}

export async function saveModel(
  m: Module,
  path: string,
  metadata: Record<string, string> = {},
): Promise<void> {
  await saveTensors(path, Object.fromEntries(entries(m)), {
    layout: "NHWC activations, OHWI conv weights",
    ...metadata,
  });
}

/** Copies a checkpoint into an existing module in place; every tensor must be present with the same shape. */
export async function loadModelInto(m: Module, path: string): Promise<Record<string, string>> {
  const { tensors, metadata } = await loadTensors(path);
  try {
    const own = entries(m);
    const names = new Set(own.map(([n]) => n));
    const extra = Object.keys(tensors).filter((k) => !names.has(k));
    if (extra.length) throw new Error(`${path}: unexpected tensors ${extra.slice(0, 5).join(", ")}`);
    for (const [name, t] of own) {
      const src = tensors[name];
      if (!src) throw new Error(`${path}: missing tensor "${name}"`);
      if (!sameShape(src.shape, t.shape)) {
        throw new Error(
          `${path}: "${name}" has shape ${fmtShape(src.shape)}, the model expects ${fmtShape(t.shape)}`,
        );
      }
      assign(t, src);
    }
  } finally {
    for (const t of Object.values(tensors)) t.dispose();
  }
  return metadata;
}

/** Device copies of a module's parameters and buffers, in `entries` order. */
export interface ModelSnapshot {
  readonly tensors: readonly Tensor[];
  dispose(): void;
}

/** Copies the module's current state on the device (e.g. the best weights seen so far). */
export function snapshotModel(m: Module): ModelSnapshot {
  const tensors = entries(m).map(([, t]) => {
    const [copy] = backend().map([E.inp(0)], [{ s: t.storage, shape: t.shape }], t.shape, { dtype: t.dtype });
    return fromStorage(copy, t.shape).keep();
  });
  return { tensors, dispose: () => tensors.forEach((t) => t.dispose()) };
}

/** Writes a snapshot of this module back into its tensors in place. */
export function restoreModel(m: Module, snap: ModelSnapshot): void {
  const own = entries(m);
  if (own.length !== snap.tensors.length) {
    throw new Error(`snapshot of ${snap.tensors.length} tensors restored into a module of ${own.length}`);
  }
  own.forEach(([name, t], i) => {
    const src = snap.tensors[i];
    if (!sameShape(src.shape, t.shape)) {
      throw new Error(`snapshot "${name}" has shape ${fmtShape(src.shape)}, the module ${fmtShape(t.shape)}`);
    }
    assign(t, src);
  });
}
