/**
 * D³HR Table A2: wall-clock runtime of group sampling (m candidate subsets) per IPC on an A100 40G with
 * m = 1e6. Costs, not accuracies: no evaluator is trained (model "none", protocol "sampling-time").
 */
import type { CellSpec, TableSpec } from "../schema.ts";

const SETTING = { m: 1e6, gpu: "A100 40G" } as const;

const values = [
  { ipc: 1, claimed: [0.3901, 0.0057] },
  { ipc: 5, claimed: [1.0288, 0.0092] },
  { ipc: 10, claimed: [1.8352, 0.0012] },
  { ipc: 20, claimed: [3.506, 0.0046] },
  { ipc: 50, claimed: [8.5252, 0.0055] },
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
  id: "d3hr/tablea2",
  paper: "d3hr",
  source: "Taming Diffusion for Dataset Distillation with High Representativeness (D³HR, ICML 2025) — seed " +
    "004_65fa85c4cad8ee68.txt",
  table: "Table A2",
  caption: "Runtime on A100 40G with m = 1e6.",
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
