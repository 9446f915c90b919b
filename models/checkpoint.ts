/** Saving and restoring a module's parameters and buffers as safetensors (our NHWC/OHWI layout). */
import { loadTensors, saveTensors } from "../engine/safetensors.ts";
import * as E from "../engine/expr.ts";
import { backend, type Tensor } from "../engine/tensor.ts";
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
      backend().map([E.inp(0)], [{ s: src.storage, shape: src.shape }], t.shape, { into: [t.storage] });
    }
  } finally {
    for (const t of Object.values(tensors)) t.dispose();
  }
  return metadata;
}
