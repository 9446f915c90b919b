/** DGS Table 1: ImageWoof, comparison with SOTA methods across evaluators and IPC (§3.2). */
import type { CellSpec, ClaimSpec, TableSpec } from "../schema.ts";

/** Column order as printed; "Full Dataset" is handled separately (one cell per model, ipc null). */
const methods = [
  { id: "random", label: "Random" },
  { id: "kcenter", label: "K-Center [36]" },
  { id: "herding", label: "Herding [41]" },
  { id: "diffusion", label: "DiT [31]" },
  { id: "dm", label: "DM [45]" },
  { id: "idc-1", label: "IDC-1 [16]" },
  { id: "minimax", label: "Minimax [12]" },
  { id: "dgs", label: "Ours" },
] as const;

const models = [
  { id: "convnet6", label: "ConvNet-6" },
  { id: "resnetap10", label: "ResNetAP-10" },
  { id: "resnet18", label: "ResNet-18" },
] as const;

type Printed = readonly [number, number];
/** The printed rows, mean±std in `methods` order, by IPC and then `models` order. */
const rows: ReadonlyArray<{ ipc: number; ratio: string; values: readonly (readonly Printed[])[] }> = [
  {
    ipc: 10,
    ratio: "10 (0.8%)",
    values: [
      [[24.3, 1.1], [19.4, 0.9], [26.7, 0.5], [34.2, 1.1], [26.9, 1.2], [33.3, 1.1], [34.1, 0.4], [
        35.1,
        0.5,
      ]],
      [[29.4, 0.8], [22.1, 0.1], [32.0, 0.3], [34.7, 0.5], [30.3, 1.2], [37.3, 0.4], [35.7, 0.3], [
        37.4,
        0.3,
      ]],
      [[27.7, 0.9], [21.1, 0.4], [30.2, 1.2], [34.7, 0.4], [33.4, 0.7], [36.9, 0.4], [35.3, 0.4], [
        35.9,
        0.6,
      ]],
    ],
  },
  {
    ipc: 20,
    ratio: "20 (1.6%)",
    values: [
      [[29.1, 0.7], [21.5, 0.8], [29.5, 0.3], [36.1, 0.8], [29.9, 1.0], [35.5, 0.8], [36.9, 1.2], [
        38.1,
        0.2,
      ]],
      [[32.7, 0.4], [25.1, 0.7], [34.9, 0.1], [41.1, 0.8], [35.2, 0.6], [42.0, 0.4], [43.3, 0.3], [
        45.5,
        0.4,
      ]],
      [[29.7, 0.5], [23.6, 0.3], [32.2, 0.6], [40.5, 0.5], [29.8, 1.7], [38.6, 0.2], [40.9, 0.6], [
        43.4,
        1.0,
      ]],
    ],
  },
  {
    ipc: 50,
    ratio: "50 (3.8%)",
    values: [
      [[41.3, 0.6], [36.5, 1.0], [40.3, 0.7], [46.5, 0.8], [44.4, 1.0], [43.9, 1.2], [51.4, 0.4], [
        52.0,
        0.6,
      ]],
      [[47.2, 1.3], [40.6, 0.4], [49.1, 0.7], [49.3, 0.2], [47.1, 1.1], [48.3, 1.0], [54.4, 0.6], [
        57.1,
        0.9,
      ]],
      [[47.9, 1.8], [39.6, 1.0], [48.3, 1.2], [50.1, 0.5], [46.2, 0.6], [48.3, 0.8], [53.9, 0.6], [
        54.9,
        0.1,
      ]],
    ],
  },
];

/** "Full Dataset" is printed identically in every IPC group; one cell per model. */
const fullDataset: Record<(typeof models)[number]["id"], Printed> = {
  convnet6: [86.4, 0.2],
  resnetap10: [87.5, 0.5],
  resnet18: [89.3, 1.2],
};

export const cellId = (ipc: number | null, model: string, method: string): string =>
  ipc === null ? `woof-full-${model}` : `woof-ipc${ipc}-${model}-${method}`;

const methodCells: CellSpec[] = rows.flatMap((r) =>
  models.flatMap((model, mi) =>
    methods.map((m, i): CellSpec => ({
      id: cellId(r.ipc, model.id, m.id),
      method: m.id,
      dataset: "imagewoof",
      ipc: r.ipc,
      model: model.id,
      protocol: "minimax",
      labels: "hard",
      claimed: { mean: r.values[mi][i][0], std: r.values[mi][i][1] },
      row: `${r.ratio} / ${model.label}`,
      column: m.label,
      ...(m.id === "dgs"
        ? {
          config: { poolFactor: 5, distribution: "scale" },
          note: "Sampled from a 5×IPC Minimax image pool with the 'scale' distribution (§3.3, §3.4).",
        }
        : {}),
    }))
  )
);

const fullCells: CellSpec[] = models.map((model) => ({
  id: cellId(null, model.id, "full-dataset"),
  method: "full-dataset",
  dataset: "imagewoof",
  ipc: null,
  model: model.id,
  protocol: "full",
  labels: "hard",
  claimed: { mean: fullDataset[model.id][0], std: fullDataset[model.id][1] },
  row: model.label,
  column: "Full Dataset",
  note: "Printed identically in each IPC group (10, 20, 50); recorded once.",
}));

const cells: CellSpec[] = [...methodCells, ...fullCells];

const ipcModelGroups = rows.flatMap((r) => models.map((model) => ({ ipc: r.ipc, model: model.id })));

/** The one group where the printed table contradicts "superior across all experiments" (see notes). */
const isPrintedException = (g: { ipc: number; model: string }) => g.ipc === 10 && g.model === "resnet18";

const claims: ClaimSpec[] = [
  {
    kind: "best",
    id: "dgs-best-every-row",
    text:
      "Our method demonstrates superior accuracy across all experiments, especially in high IPC settings.",
    source: "§3.2, Table 1",
    // The paper's own numbers put IDC-1 ahead at IPC 10 / ResNet-18 (36.9 vs 35.9): that group is left out.
    groups: ipcModelGroups.filter((g) => !isPrintedException(g)).map((g) => ({
      best: cellId(g.ipc, g.model, "dgs"),
      among: methods.map((m) => cellId(g.ipc, g.model, m.id)),
    })),
  },
  {
    kind: "compare",
    id: "dgs-geq-minimax",
    text: "DGS, which samples from a Minimax image pool, is at least as accurate as Minimax in every cell " +
      "(implied by 'superior accuracy across all experiments').",
    source: "§3.2, Table 1",
    pairs: ipcModelGroups.map((g) => ({
      a: cellId(g.ipc, g.model, "dgs"),
      b: cellId(g.ipc, g.model, "minimax"),
      relation: ">=" as const,
    })),
  },
];

export const table: TableSpec = {
  id: "dgs/table1",
  paper: "dgs",
  source:
    "Task-Specific Generative Dataset Distillation with Difficulty-Guided Sampling (003_6fed4dc66eb5bdec.txt)",
  table: "Table 1",
  caption:
    "Comparison of downstream validation accuracy with other SOTA methods on ImageWoof. The results are " +
    "obtained with ResNetAP-10. The best results are marked in bold.",
  protocol: {
    evaluator: "ConvNet-6, ResNetAP-10, ResNet-18 trained on the distilled set, lr 0.01, top-1 accuracy",
    selection: "unknown",
    repeats: 3,
    details: "§3.1: image pool from the Minimax pipeline with its default settings (DiT + DiffFit, VAE, " +
      "256×256, 50 denoising steps, 8 epochs, batch 8, AdamW 1e-3); difficulty = 1 − P(y_true|x) from an " +
      "ImageNet-trained ResNet-50; pool 5×IPC; each experiment repeated 3 times, mean ± std. Otherwise the " +
      "Minimax evaluation protocol is implied (optimizer, epochs and augmentation are not stated).",
  },
  cells,
  claims,
  notes: [
    "The caption says 'obtained with ResNetAP-10' but the table has a Test Model column with ConvNet-6, " +
    "ResNetAP-10 and ResNet-18; each cell records its printed test model.",
    "As printed, the 'superior across all experiments' claim fails at IPC 10 / ResNet-18: IDC-1 36.9±0.4 > " +
    "Ours 35.9±0.6, so that group is left out of dgs-best-every-row (also IPC 10 / ResNetAP-10 is 37.4 vs " +
    "IDC-1 37.3, within noise).",
    "ResNet-18 is encoded as resnet18 (instance norm, as in the Minimax/IDC protocol); the paper does not " +
    "state the normalisation.",
    "Where the baseline numbers come from (re-run or copied from Minimax) is not stated.",
  ],
};
