/**
 * ImageNette: 10 easily separable ImageNet classes. Source: the Minimax diffusion code release (Gu et al.,
 * CVPR 2024), misc/class_nette.txt; label i = line i (here also alphabetical). Same WNIDs as fastai's
 * Imagenette.
 */
import type { ClassInfo } from "../types.ts";

export const IMAGENETTE_CLASSES: readonly ClassInfo[] = [
  { id: "n01440764", name: "tench" },
  { id: "n02102040", name: "English springer" },
  { id: "n02979186", name: "cassette player" },
  { id: "n03000684", name: "chain saw" },
  { id: "n03028079", name: "church" },
  { id: "n03394916", name: "French horn" },
  { id: "n03417042", name: "garbage truck" },
  { id: "n03425413", name: "gas pump" },
  { id: "n03445777", name: "golf ball" },
  { id: "n03888257", name: "parachute" },
];
