/**
 * D³HR Table A4: wall-clock runtime of group sampling (m candidate subsets) per IPC on an RTX A6000 with
 * m = 1e5. Costs, not accuracies: no evaluator is trained (model "none", protocol "sampling-time").
 */
import type { CellSpec, TableSpec } from "../schema.ts";

const SETTING = { m: 1e5, gpu: "RTX A6000" } as const;

const values = [
  { ipc: 1, claimed: [0.0902, 0.0088] },
  { ipc: 5, claimed: [0.1670, 0.0142] },
  { ipc: 10, claimed: [0.2783, 0.0018] },
  { ipc: 20, claimed: [0.5227, 0.0073] },
  { ipc: 50, claimed: [1.2873, 0.0023] },
] as const;

const cells: CellSpec[] = values.map((v): CellSpec => ({
  id: `ipc${v.ipc}-group-sampling-time`,
  method: "d3hr",
  dataset: "imagenet-1k",
  ipc: v.ipc,
  model: "none",
  protocol: "sampling-time",
  labels: "soft",
  claimed: { mean: v.claimed[0], std: v.claimed[1] },
  row: "Time (s)",
  column: `IPC ${v.ipc}`,
  config: { metric: "seconds", stage: "group-sampling", ...SETTING },
  note: "Group-sampling runtime in seconds, not an accuracy.",
}));

export const table: TableSpec = {
  id: "d3hr/tablea4",
  paper: "d3hr",
  source: "Taming Diffusion for Dataset Distillation with High Representativeness (D³HR, ICML 2025) — seed " +
    "004_65fa85c4cad8ee68.txt",
  table: "Table A4",
  caption: "Runtime on A6000 with m = 1e5.",
  protocol: {
    evaluator: "none (sampling wall-clock time)",
    selection: "unknown",
    repeats: null,
    details:
      "Runtime of drawing m candidate subsets of IPC latents in parallel on the GPU and scoring them " +
      "(App. C.2).",
  },
  cells,
  claims: [],
  notes: [
    "Seconds, not accuracies. The dataset is not stated; ImageNet-1K is assumed (Sec. 4.5 quotes 2.6 s " +
    "per class on an RTX A6000 with m = 1e6 for ImageNet-1K, IPC 10). The cost depends on m, IPC and " +
    "the latent size, and is presumably per class.",
    "Wall-clock numbers depend on hardware and are not expected to reproduce on other devices.",
  ],
};
