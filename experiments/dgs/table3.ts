/** DGS Table 3: sampling distributions, ResNetAP-10 on ImageWoof (§3.3). */
import type { CellSpec, ClaimSpec, TableSpec } from "../schema.ts";

const ipcs = [10, 20, 50] as const;

/**
 * Printed rows. `hardnessRank` orders the pre-defined shapes by their share of difficult samples: Fig. 4 and
 * §3.3 list hill, ground, slope, cliff "with increasing proportions of easy samples", so hill is the hardest.
 * "scale" (the original difficulty distribution, scaled to IPC) is not on that axis.
 */
const rows = [
  { distribution: "hill", label: "Hill", hardnessRank: 3, values: [[35.8, 0.2], [41.7, 0.3], [56.9, 0.5]] },
  {
    distribution: "ground",
    label: "Ground",
    hardnessRank: 2,
    values: [[36.7, 0.7], [42.7, 0.8], [55.0, 0.6]],
  },
  { distribution: "slope", label: "Slope", hardnessRank: 1, values: [[37.8, 0.4], [42.7, 0.7], [56.1, 0.6]] },
  { distribution: "cliff", label: "Cliff", hardnessRank: 0, values: [[37.4, 0.6], [44.3, 0.3], [56.6, 0.8]] },
  {
    distribution: "scale",
    label: "Scale",
    hardnessRank: null,
    values: [[37.4, 0.3], [45.5, 0.4], [57.1, 0.9]],
  },
] as const;

export const cellId = (ipc: number, distribution: string): string =>
  `woof-ipc${ipc}-resnetap10-dgs-${distribution}`;

const cells: CellSpec[] = rows.flatMap((r) =>
  ipcs.map((ipc, i): CellSpec => ({
    id: cellId(ipc, r.distribution),
    method: "dgs",
    dataset: "imagewoof",
    ipc,
    model: "resnetap10",
    protocol: "minimax",
    labels: "hard",
    claimed: { mean: r.values[i][0], std: r.values[i][1] },
    row: r.label,
    column: `IPC = ${ipc}`,
    config: {
      distribution: r.distribution,
      poolFactor: 5,
      ...(r.hardnessRank === null ? {} : { hardnessRank: r.hardnessRank }),
    },
    ...(r.distribution === "scale"
      ? {
        note: "Same numbers as Table 1 (ResNetAP-10, Ours) and Table 4 (5 × IPC): the default DGS setting.",
      }
      : { note: "Pre-defined shape of Fig. 4 (exact per-interval counts are only in the figure)." }),
  }))
);

const predefined = rows.filter((r) => r.hardnessRank !== null);

const claims: ClaimSpec[] = [
  {
    kind: "best",
    id: "scale-best",
    text:
      "Distilled datasets sampled using the 'scale' distribution achieve the best performance (holds as " +
      "printed at IPC 20 and 50; at IPC 10 'slope' is higher).",
    source: "§3.3, Table 3",
    groups: [20, 50].map((ipc) => ({
      best: cellId(ipc, "scale"),
      among: rows.map((r) => cellId(ipc, r.distribution)),
    })),
  },
  {
    kind: "trend",
    id: "harder-samples-for-larger-ipc",
    text: "Among pre-defined distributions, smaller sampled datasets do better with more easy samples and " +
      "larger ones with more difficult samples (encoded on the smallest and largest IPC).",
    source: "§3.3, Table 3",
    key: "hardnessRank",
    groups: [10, 50].map((ipc) => ({
      order: ipc,
      cells: predefined.map((r) => cellId(ipc, r.distribution)),
    })),
  },
];

export const table: TableSpec = {
  id: "dgs/table3",
  paper: "dgs",
  source:
    "Task-Specific Generative Dataset Distillation with Difficulty-Guided Sampling (003_6fed4dc66eb5bdec.txt)",
  table: "Table 3",
  caption:
    "Comparison of downstream validation accuracy for different sampling distributions with the best " +
    "results marked in bold. The label “scale” refers to the strategy of scaling the difficulty distribution of " +
    "the original dataset. The results are obtained with ResNetAP-10 on ImageWoof. The best results are marked " +
    "in bold.",
  protocol: {
    evaluator: "ResNetAP-10 trained on the distilled set, lr 0.01, top-1 accuracy",
    selection: "unknown",
    repeats: 3,
    details: "As Table 1 (§3.1), image pool 5×IPC (§3.4); only the sampling distribution changes.",
  },
  cells,
  claims,
  notes: [
    "§3.3 states 'scale' is best without qualification, but as printed Slope (37.8±0.4) beats Scale " +
    "(37.4±0.3) at IPC 10; the best claim is encoded for IPC 20 and 50 only.",
    "The hill→cliff trend is stated as a tendency; the IPC-20 column does not follow it (Cliff, the easiest " +
    "shape, is best there), so the trend claim uses IPC 10 (best: Slope) and IPC 50 (best: Hill).",
    "config.hardnessRank is an ordinal derived from Fig. 4's ordering (hill 3 … cliff 0), not a paper value.",
    "Whether the logarithmic transformation is applied with the pre-defined shapes is not stated.",
  ],
};
