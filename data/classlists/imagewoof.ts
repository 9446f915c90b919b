/**
 * ImageWoof: 10 ImageNet dog breeds. Source: the Minimax diffusion code release (Gu et al., CVPR 2024),
 * misc/class_woof.txt, which IGDS and the other seed papers follow; the order below is that file's order
 * and therefore the label order (label i = line i). The WNIDs are the same as fastai's Imagewoof, whose
 * folders sort differently, so labels differ from fastai's alphabetical order but the classes do not.
 */
import type { ClassInfo } from "../types.ts";

export const IMAGEWOOF_CLASSES: readonly ClassInfo[] = [
  { id: "n02096294", name: "Australian terrier" },
  { id: "n02093754", name: "Border terrier" },
  { id: "n02111889", name: "Samoyed" },
  { id: "n02088364", name: "beagle" },
  { id: "n02086240", name: "Shih-Tzu" },
  { id: "n02089973", name: "English foxhound" },
  { id: "n02087394", name: "Rhodesian ridgeback" },
  { id: "n02115641", name: "dingo" },
  { id: "n02099601", name: "golden retriever" },
  { id: "n02105641", name: "Old English sheepdog" },
];
