/**
 * IGDS Table 8: evaluation epochs by IPC (App. F). A protocol table with no accuracies, so it has no cells;
 * the epochs are exported for the `minimax` evaluator profile and recorded in the protocol details.
 */
import type { TableSpec } from "../schema.ts";

/** Training epochs of the evaluation network by IPC, as printed in Table 8. */
export const evalEpochsByIpc: Readonly<Record<number, number>> = {
  1: 2000,
  10: 2000,
  20: 1500,
  50: 1500,
  100: 1000,
};

export const table: TableSpec = {
  id: "igds/table8",
  paper: "igds",
  source: "Information-Guided Diffusion Sampling for Dataset Distillation (000_9e6ba38e66812538.txt)",
  table: "Table 8",
  caption: "Number of evaluation training epochs for different IPC settings (App. F).",
  protocol: {
    evaluator: "ConvNet-6 (IN, 128 channels), ResNetAP-10 (average-pool downsampling), ResNet-18 (IN)",
    selection: "unknown",
    repeats: null,
    details: "App. F: Adam with a fixed learning rate of 0.01 in all experiments; epochs by IPC: " +
      Object.entries(evalEpochsByIpc).map(([ipc, e]) => `${ipc}: ${e}`).join(", ") +
      "; augmentations random resize-crop, random horizontal flip, CutMix; follows Kim et al. 2022b (IDC) " +
      "and Gu et al. 2024b (Minimax).",
  },
  cells: [],
  claims: [],
  notes: [
    "No result cells: this table only fixes the evaluation schedule used by Tables 1–5 and 7.",
    "ConvNet-6 is ConvNet-3 plus three layers for 256×256 inputs; ResNet-18 uses instance norm instead of " +
    "batch norm ('IN performs better under our protocol').",
  ],
};
