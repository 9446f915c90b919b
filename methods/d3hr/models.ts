/**
 * The generative models a D³HR run uses: the shipped, hash-verified VAE and DiT of an embedded dataset
 * (models/weights/). The paper fine-tunes DiT-XL/2 per dataset at 256 px; ddrepro has no such models for
 * the other datasets, so a cell on them runs only through a stand-in.
 */
import type { Dataset } from "../../data/types.ts";
import {
  checkpointName,
  FOUNDATION_DATASETS,
  type FoundationDataset,
  IMAGE_SIZE,
  loadDit,
  loadVae,
  readManifest,
} from "../../models/foundation.ts";
import { PaddedImages } from "../../models/generative_data.ts";
import type { D3hrModels } from "./pipeline.ts";

export function isFoundationDataset(id: string): id is FoundationDataset {
  return (FOUNDATION_DATASETS as readonly string[]).includes(id);
}

/** Padded [-1, 1] images as the small VAE sees them (28 px → 32 px), with the crop back. */
export const paddedImages = (channels: number) => (split: Dataset["train"]): PaddedImages =>
  new PaddedImages(split, channels, IMAGE_SIZE);

/** Whether the shipped weights D³HR needs for a dataset are in models/weights/ (its manifest). */
export async function foundationShipped(id: string): Promise<boolean> {
  if (!isFoundationDataset(id)) return false;
  const manifest = await readManifest();
  return checkpointName("vae", id) in manifest && checkpointName("dit", id) in manifest;
}

/** The shipped VAE + DiT of the dataset; the caller disposes them (`disposeModels`). */
export async function foundationModels(dataset: Dataset): Promise<D3hrModels> {
  const id = dataset.info.id;
  if (!isFoundationDataset(id)) {
    throw new Error(
      `d3hr: no generative models for "${id}": ddrepro ships a VAE and DiT for ${
        FOUNDATION_DATASETS.join(", ")
      } ` +
        `(the paper fine-tunes DiT-XL/2 per dataset); run the cell at a profile that substitutes one of them`,
    );
  }
  const manifest = await readManifest();
  const entry = (kind: "vae" | "dit") => {
    const e = manifest[checkpointName(kind, id)];
    if (!e) {
      throw new Error(
        `d3hr: models/weights/${checkpointName(kind, id)} is not shipped yet; train it with ` +
          `\`deno task dd pretrain ${kind} --dataset ${id}\``,
      );
    }
    return e;
  };
  const vaeEntry = entry("vae"), ditEntry = entry("dit");
  const vae = await loadVae(id);
  try {
    const dit = await loadDit(id);
    return {
      vae,
      dit,
      images: paddedImages(dataset.info.shape.channels),
      weightsBytes: vaeEntry.bytes + ditEntry.bytes,
      tag: `vae:${vaeEntry.sha256} dit:${ditEntry.sha256}`,
    };
  } catch (e) {
    vae.dispose();
    throw e;
  }
}

export function disposeModels(m: D3hrModels): void {
  m.vae.dispose();
  (m.dit as { dispose?: () => void }).dispose?.();
}
