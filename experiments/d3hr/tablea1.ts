/**
 * D³HR Table A1: the validation hyper-parameters. It holds no results, so it has no cells; the settings are
 * recorded in the protocol note so the `paper` profile can read them from one place.
 */
import type { TableSpec } from "../schema.ts";

export const table: TableSpec = {
  id: "d3hr/tablea1",
  paper: "d3hr",
  source: "Taming Diffusion for Dataset Distillation with High Representativeness (D³HR, ICML 2025) — seed " +
    "004_65fa85c4cad8ee68.txt",
  table: "Table A1",
  caption: "Hyper-parameter settings used for our validation.",
  protocol: {
    evaluator: "soft-label KD student (the d3hr protocol of Tables 1–4, A5–A11)",
    selection: "unknown",
    repeats: null,
    details: "Optimizer AdamW; Learning Rate 0.01; Weight Decay 0.01; Batch Size 128; Augmentation " +
      "RandomResizedCrop + Horizontal Flip; LR Scheduler CosineAnneal; Temperture 20; Epochs: CIFAR-10 " +
      "400, CIFAR-100 400, Tiny-ImageNet 300, ImageNet-1K 300. Configurations follow RDED (Sun et al., " +
      "2024).",
  },
  cells: [],
  claims: [],
  notes: [
    "A settings table, not a results table: encoded with no cells.",
    'Values as printed (including the spelling "Temperture"); a single value is printed for all four ' +
    "datasets except Epochs.",
    "The printed values differ from the released D³HR evaluation code (AdamW 0.001 with per-student " +
    "exceptions, half-cosine schedule, CutMix, batch 15/50/100 by IPC). The d3hr protocol follows this " +
    "table; the code's values are the soft-kd protocol.",
    "App. B: baseline numbers are mostly taken from the baselines' papers; missing ones were regenerated " +
    "with their code and validated under these settings.",
  ],
};
