/**
 * D³HR Table A8: the cross-architecture grid of Table 2 extended to EfficientNet-B0, ShuffleNet-V2 and
 * DeiT-Tiny, RDED vs D³HR on ImageNet-1K at IPC 10. Rows are students, columns soft-label teachers.
 */
import type { CellSpec, TableSpec } from "../schema.ts";

type Printed = readonly [mean: number, std: number];

/** Teachers (columns) and students (rows) share the same six networks, in printed order. */
const nets = [
  { id: "resnet18-torchvision", short: "r18", label: "ResNet-18" },
  { id: "efficientnet-b0", short: "effb0", label: "EfficientNet-B0" },
  { id: "mobilenetv2", short: "mbv2", label: "MobileNet-V2" },
  { id: "shufflenetv2", short: "shfv2", label: "ShuffleNet-V2" },
  { id: "vgg11-torchvision", short: "vgg11", label: "VGG-11" },
  { id: "deit-tiny", short: "deit", label: "DeiT-tiny" },
] as const;

/** Per student (in `nets` order): the RDED row, then the Ours row, each over the six teachers. */
const grid: readonly { rded: readonly Printed[]; d3hr: readonly Printed[] }[] = [
  {
    rded: [[42.3, 0.6], [31.0, 0.1], [40.4, 0.1], [43.3, 0.3], [36.6, 0.1], [25.7, 0.7]],
    d3hr: [[44.2, 0.3], [30.6, 0.2], [42.3, 0.7], [44.7, 0.1], [38.3, 0.2], [28.0, 0.4]],
  },
  {
    rded: [[42.8, 0.5], [33.3, 0.9], [43.6, 0.2], [50.5, 0.6], [35.8, 0.5], [32.9, 0.4]],
    d3hr: [[50.3, 0.2], [42.0, 0.6], [54.0, 0.1], [56.3, 0.1], [43.3, 0.1], [36.8, 0.4]],
  },
  {
    rded: [[34.4, 0.2], [24.1, 0.8], [33.8, 0.6], [48.2, 0.5], [28.7, 0.2], [24.9, 0.6]],
    d3hr: [[43.4, 0.3], [31.8, 0.8], [46.4, 0.2], [50.0, 0.2], [37.8, 0.4], [26.5, 0.8]],
  },
  {
    rded: [[37.0, 0.1], [23.7, 1.0], [35.6, 0.2], [40.5, 0.0], [29.4, 0.3], [21.8, 0.6]],
    d3hr: [[37.2, 0.0], [25.8, 0.3], [38.5, 0.4], [44.1, 0.3], [32.6, 0.6], [23.1, 0.3]],
  },
  {
    rded: [[22.7, 0.1], [16.5, 0.8], [21.6, 0.2], [25.7, 0.4], [23.5, 0.3], [17.6, 0.4]],
    d3hr: [[25.7, 0.4], [20.2, 0.2], [24.8, 0.4], [29.1, 0.4], [28.1, 0.1], [15.1, 0.2]],
  },
  {
    rded: [[13.2, 0.3], [12.6, 0.5], [13.6, 0.4], [16.1, 0.3], [11.4, 0.1], [15.4, 0.3]],
    d3hr: [[17.1, 0.3], [14.8, 0.2], [17.9, 0.7], [21.4, 0.8], [14.6, 0.5], [15.0, 0.3]],
  },
];

const methods = [{ id: "rded", label: "RDED" }, { id: "d3hr", label: "Ours" }] as const;

const cells: CellSpec[] = nets.flatMap((student, si) =>
  methods.flatMap((m) =>
    nets.map((teacher, ti): CellSpec => {
      const v = grid[si][m.id][ti];
      return {
        id: `in1k-ipc10-${student.short}-t${teacher.short}-${m.id}`,
        method: m.id,
        dataset: "imagenet-1k",
        ipc: 10,
        model: student.id,
        protocol: "d3hr",
        labels: "soft",
        claimed: { mean: v[0], std: v[1] },
        row: `${student.label} / ${m.label}`,
        column: teacher.label,
        teacher: teacher.id,
      };
    })
  )
);

export const table: TableSpec = {
  id: "d3hr/tablea8",
  paper: "d3hr",
  source: "Taming Diffusion for Dataset Distillation with High Representativeness (D³HR, ICML 2025) — seed " +
    "004_65fa85c4cad8ee68.txt",
  table: "Table A8",
  caption: "Comparison of Top-1 accuracy for cross-architecture generalization on ImageNet-1K, IPC = 10.",
  protocol: {
    evaluator: "six ImageNet students (torchvision/timm) trained on a teacher's soft labels",
    selection: "unknown",
    repeats: null,
    details:
      "Soft-label KD as in Table A1; the teacher column names the network whose soft labels supervise " +
      "the student (and, for RDED, the network that selects the patches).",
  },
  cells,
  claims: [],
  notes: [
    'No ordering claim is encoded: App. C.6 only says D³HR "exhibits exceptional performance across ' +
    'substantial different architectures", and the printed grid has cells where RDED is higher ' +
    "(ResNet-18 student / EfficientNet-B0 teacher 31.0 vs 30.6, VGG-11 / DeiT-tiny 17.6 vs 15.1, " +
    "DeiT-tiny / DeiT-tiny 15.4 vs 15.0).",
    "D³HR ResNet-18/ResNet-18 prints 44.2±0.3 here but 44.3±0.3 in Tables 1 and 2; transcribed as printed.",
    "The six columns of the RDED and Ours rows overlap Table 2 for the ResNet-18, MobileNet-V2 and VGG-11 " +
    "teachers and students.",
  ],
};
