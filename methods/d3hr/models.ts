/**
 * The generative models a D³HR run uses: the foundation of the dataset (baselines/latent_foundation.ts:
 * the shipped, hash-verified VAE + DiT of an embedded dataset, or the untrained smoke-recipe models at
 * `smoke`), with what D³HR adds: the bytes a regeneration needs and a content hash of the weights, which
 * keys the cached statistics.
 */
import type { Dataset } from "../../data/types.ts";
import type { Module } from "../../models/module.ts";
import { sha256Hex } from "../../results/key.ts";
import {
  disposeFoundation,
  type Foundation,
  type FoundationChoice,
  loadFoundation,
} from "../../baselines/latent_foundation.ts";
import type { DiT } from "../../models/dit.ts";
import type { D3hrModels } from "./pipeline.ts";

/** Parameters of a module, as shipped (f16: 2 bytes each). */
const halfBytes = (m: Module): number => 2 * m.size();

/** sha256 over every parameter's name, shape and values. */
async function weightsHash(m: Module): Promise<string> {
  const parts: string[] = [];
  for (const [name, t] of m.namedParameters()) {
    const v = await t.f32();
    parts.push(
      `${name} ${t.shape.join("x")} ${sha256Hex(new Uint8Array(v.buffer, v.byteOffset, v.byteLength))}`,
    );
  }
  return sha256Hex(parts.join("\n"));
}

/** D³HR's view of a foundation (the caller keeps ownership of its models). */
export async function fromFoundation(f: Foundation<DiT>): Promise<D3hrModels> {
  return {
    vae: f.vae,
    dit: f.dit,
    images: f.images,
    weightsBytes: halfBytes(f.vae) + halfBytes(f.dit),
    tag: `vae:${await weightsHash(f.vae)} dit:${await weightsHash(f.dit)}`,
    source: f.source,
  };
}

/** Loads the dataset's foundation (shipped or untrained), runs `body` on it, and frees it. */
export async function withFoundation<T>(
  dataset: Dataset,
  which: FoundationChoice,
  body: (m: D3hrModels) => Promise<T>,
): Promise<T> {
  const f = await loadFoundation(dataset, which);
  try {
    return await body(await fromFoundation(f));
  } finally {
    disposeFoundation(f);
  }
}
