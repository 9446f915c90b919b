/**
 * CMI Table 6: CMI stacked on other plug-in techniques (SeqMatch on MTT, IID on IDM, DREAM on IDC), IPC 10.
 */
import type { CellSpec, ClaimSpec, TableSpec } from "../schema.ts";

const columns = [
  { dataset: "svhn", short: "svhn", label: "SVHN" },
  { dataset: "cifar10", short: "c10", label: "CIFAR10" },
  { dataset: "cifar100", short: "c100", label: "CIFAR100" },
] as const;

interface Row {
  label: string;
  method: string;
  protocol: string;
  values: readonly (readonly [number, number])[];
  note?: string;
}

const rows: readonly Row[] = [
  {
    label: "MTT Cazenavette et al. (2022)",
    method: "mtt",
    protocol: "mtt",
    values: [[79.9, 0.1], [65.3, 0.4], [39.7, 0.4]],
  },
  {
    label: "SeqMatch Du et al. (2024)",
    method: "seqmatch",
    protocol: "mtt",
    values: [[80.2, 0.6], [66.2, 0.6], [41.9, 0.5]],
  },
  {
    label: "SeqMatch+CMI",
    method: "seqmatch+cmi",
    protocol: "mtt",
    values: [[81.2, 0.4], [67.3, 0.5], [43.1, 0.3]],
  },
  {
    label: "IDM Zhao et al. (2023)",
    method: "idm",
    protocol: "dm",
    values: [[81.0, 0.1], [58.6, 0.1], [45.1, 0.1]],
  },
  {
    label: "IID Deng et al. (2024)",
    method: "iid-idm",
    protocol: "dm",
    note: 'Printed as "IID"; the numbers equal the IID-IDM row of Table 1, so IID on IDM.',
    values: [[82.1, 0.3], [59.9, 0.2], [45.7, 0.4]],
  },
  {
    label: "IID+CMI",
    method: "iid-idm+cmi",
    protocol: "dm",
    note: "IID on IDM with CMI added.",
    values: [[85.1, 0.3], [63.0, 0.3], [47.9, 0.3]],
  },
  {
    label: "IDC Kim et al. (2022)",
    method: "idc",
    protocol: "idc",
    values: [[87.5, 0.3], [67.5, 0.5], [45.1, 0.4]],
  },
  {
    label: "DREAM Liu et al. (2023)",
    method: "dream",
    protocol: "idc",
    values: [[87.9, 0.4], [69.4, 0.4], [46.8, 0.7]],
  },
  {
    label: "DREAM+CMI",
    method: "dream+cmi",
    protocol: "idc",
    values: [[88.2, 0.1], [71.5, 0.1], [47.9, 0.3]],
  },
];

const cellId = (short: string, method: string) => `${short}-ipc10-convnet3-${method}`;

const cells: CellSpec[] = rows.flatMap((r) =>
  columns.map((c, i): CellSpec => ({
    id: cellId(c.short, r.method),
    method: r.method,
    dataset: c.dataset,
    ipc: 10,
    model: "convnet3",
    protocol: r.protocol,
    labels: "hard",
    claimed: { mean: r.values[i][0], std: r.values[i][1] },
    row: r.label,
    column: c.label,
    ...(r.note ? { note: r.note } : {}),
  }))
);

const stacks: ClaimSpec = {
  kind: "compare",
  id: "cmi-improves-plugins",
  text: "Adding CMI on top of SeqMatch, IID and DREAM improves each of them on every dataset.",
  source: 'Sec. 5.4 ("different optimization directions enable our method to be integrated with other ' +
    'techniques, leading to considerable performance improvements")',
  pairs: ["seqmatch", "iid-idm", "dream"].flatMap((b) =>
    columns.map((c) => ({ a: cellId(c.short, `${b}+cmi`), b: cellId(c.short, b), relation: ">" as const }))
  ),
};

export const table: TableSpec = {
  id: "cmi/table6",
  paper: "cmi",
  source:
    "Going Beyond Feature Similarity: Effective Dataset Distillation based on Class-Aware Conditional " +
    "Mutual Information — seed 002_e76cef5110d21682.txt",
  table: "Table 6",
  caption:
    "Performance obtained simultaneously applying previous techniques and CMI enhance loss on different " +
    "distillation methods.",
  protocol: {
    evaluator: "ConvNet-3 (width 128, instance norm, avg pooling)",
    selection: "unknown",
    repeats: 5,
    details: "Each row follows its base method's evaluation protocol (MTT, DM-style for IDM, IDC).",
  },
  cells,
  claims: [stacks],
  notes: [
    'IPC is not printed in the table; Sec. 5.4 says "on CIFAR-10 with IPC=10" although the table has SVHN, ' +
    "CIFAR10 and CIFAR100 columns. All base rows equal the IPC 10 numbers of Table 1, so IPC 10 is used " +
    "for every column.",
  ],
};
