/**
 * Fine-tuned priors kept for the process, by content. A prior fine-tuned from the same weights on the same
 * images with the same fine-tuning settings and seed is the same prior: it depends on neither the IPC nor
 * the method that samples from it (minimax, the guided methods' Minimax variants, DGS's pool), so a table
 * fine-tunes it once per seed instead of once per set. The key hashes what the fine-tuning reads — every
 * weight and buffer of the DiT and the VAE, the real images and labels — so a retrained model, another
 * dataset or a test's own toy never meets a stale entry.
 */
import { createHash } from "node:crypto";
import type { Tensor } from "../engine/tensor.ts";
import { assignHost } from "../engine/assign.ts";
import type { Module } from "../models/module.ts";
import type { Split } from "../data/types.ts";

/** Entries kept: one per seed of a table's repeats, beside a second dataset or configuration. */
const KEPT = 4;

interface Entry<L> {
  /** The fine-tuned parameters by name (what the fine-tuning changed). */
  params: Map<string, { data: Float32Array; shape: readonly number[] }>;
  log: L;
}

const entries = new Map<string, Entry<unknown>>();

/** The content key of a fine-tuning run: its settings, the modules' tensors and the real data. */
export async function priorKey(settings: unknown, modules: readonly Module[], data: Split): Promise<string> {
  const h = createHash("sha256");
  h.update(JSON.stringify(settings));
  for (const m of modules) {
    for (const [name, t] of [...m.namedParameters(), ...m.namedBuffers()]) {
      h.update(`${name}:${t.shape.join("x")}:`);
      h.update(new Uint8Array((await t.f32()).buffer));
    }
  }
  h.update(`images:${data.count}:${data.images.length}:`);
  h.update(data.images);
  h.update(new Uint8Array(data.labels.buffer, data.labels.byteOffset, data.labels.byteLength));
  return h.digest("hex");
}

/**
 * The log of the prior kept under `key`, after loading its parameters into the model's `target()` (by name;
 * called only on a hit, so a model is prepared for the fine-tuned weights only when they exist); null when
 * nothing is kept under `key`.
 */
export function restorePrior<L>(key: string, target: () => readonly [string, Tensor][]): L | null {
  const e = entries.get(key) as Entry<L> | undefined;
  if (!e) return null;
  const params = target();
  if (
    e.params.size !== params.length || params.some(([n, p]) => !sameShape(e.params.get(n)?.shape, p.shape))
  ) {
    throw new Error(`tuned priors: the kept prior's parameters do not match the model's (${params.length})`);
  }
  for (const [name, p] of params) assignHost(p, e.params.get(name)!.data);
  entries.delete(key);
  entries.set(key, e);
  return e.log;
}

/** Keeps the fine-tuned `params` under `key` (the least recently used entry beyond KEPT goes). */
export async function keepPrior<L>(key: string, params: readonly [string, Tensor][], log: L): Promise<void> {
  const kept = new Map<string, { data: Float32Array; shape: readonly number[] }>();
  for (const [name, p] of params) kept.set(name, { data: await p.f32(), shape: [...p.shape] });
  entries.set(key, { params: kept, log });
  while (entries.size > KEPT) entries.delete(entries.keys().next().value!);
}

/** Forgets every kept prior (tests). */
export function clearPriors(): void {
  entries.clear();
}

function sameShape(a: readonly number[] | undefined, b: readonly number[]): boolean {
  return a !== undefined && a.length === b.length && a.every((d, i) => d === b[i]);
}
