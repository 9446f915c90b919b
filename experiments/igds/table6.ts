/**
 * IGDS Table 6: running time (App. D). Not an accuracy table: `claimed.mean` is wall-clock minutes to sample
 * 100 images on one NVIDIA V100. The schema has no unit field, so the unit lives in each cell's note and
 * in the protocol id "sampling-time"; the model id "none" marks that no evaluator is trained.
 */
import type { CellSpec, TableSpec } from "../schema.ts";

const datasets = [
  { id: "imagenette", label: "ImageNette" },
  { id: "imagewoof", label: "ImageWoof" },
] as const;

/** Printed rows: minutes per dataset in `datasets` order. */
const rows = [
  { method: "minimax", label: "MiniMax", minutes: [44, 46] },
  { method: "igds", label: "IGDS", minutes: [57, 53] },
] as const;

export const cellId = (dataset: string, method: string): string => `time-${dataset}-${method}`;

const cells: CellSpec[] = rows.flatMap((r) =>
  datasets.map((d, i) => ({
    id: cellId(d.id, r.method),
    method: r.method,
    dataset: d.id,
    ipc: 10,
    model: "none",
    protocol: "sampling-time",
    labels: "hard" as const,
    claimed: { mean: r.minutes[i], std: null },
    row: r.label,
    column: d.label,
    note:
      `Metric: minutes to sample 100 images on one NVIDIA V100 (printed "${r.minutes[i]} mins"); lower is ` +
      "better. ipc 10 reads '100 images' as 100 in total over 10 classes; labels field is meaningless here.",
  }))
);

export const table: TableSpec = {
  id: "igds/table6",
  paper: "igds",
  source: "Information-Guided Diffusion Sampling for Dataset Distillation (000_9e6ba38e66812538.txt)",
  table: "Table 6",
  caption: "Running time of IGDS vs. MiniMax for sampling 100 images (App. D).",
  protocol: {
    evaluator: "none (wall-clock sampling time)",
    selection: "unknown",
    repeats: null,
    details: "100 images sampled per dataset (resolution lost in extraction) on one NVIDIA V100 GPU, both " +
      "methods on the same cluster; minutes.",
  },
  cells,
  claims: [],
  notes: [
    "App. D: 'Compared to MiniMax diffusion, IGDS slightly increases the time complexity, primarily due to the " +
    "additional VE model.' Not encoded as a claim: compare/best treat higher as better, and time is lower-is-" +
    "better.",
    "'100 images' could also mean 100 per class; read as IPC 10 for these 10-class datasets. Uncertain.",
  ],
};
