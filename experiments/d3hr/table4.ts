/**
 * D³HR Table 4: comparison with D3S on ImageNet-1K under D3S's setup of five teacher models, whose soft
 * labels are averaged to supervise the student.
 */
import type { CellSpec, ClaimSpec, TableSpec } from "../schema.ts";

const students = [
  { id: "resnet18-torchvision", short: "r18", label: "ResNet-18" },
  { id: "resnet101", short: "r101", label: "ResNet-101" },
] as const;

/** Per IPC, printed order: D3S, Ours under ResNet-18, then D3S, Ours under ResNet-101. */
const rows = [
  { ipc: 10, values: [[39.1, 0.3], [44.8, 0.1], [42.1, 3.8], [52.8, 0.6]] },
  { ipc: 50, values: [[60.2, 0.1], [60.2, 0.0], [65.3, 0.5], [66.8, 0.1]] },
] as const;

const methods = [{ id: "d3s", label: "D3S" }, { id: "d3hr", label: "Ours" }] as const;

const cellId = (ipc: number, student: string, method: string) => `in1k-ipc${ipc}-${student}-${method}-5t`;

const cells: CellSpec[] = rows.flatMap((r) =>
  r.values.map((v, i): CellSpec => {
    const s = students[Math.floor(i / 2)];
    const m = methods[i % 2];
    return {
      id: cellId(r.ipc, s.short, m.id),
      method: m.id,
      dataset: "imagenet-1k",
      ipc: r.ipc,
      model: s.id,
      protocol: "d3hr",
      labels: "soft",
      claimed: { mean: v[0], std: v[1] },
      row: `ImageNet-1K IPC ${r.ipc}`,
      column: `${s.label} / ${m.label}`,
      teachers: 5,
      ...(m.id === "d3s" ? { note: "Paper-only method (D3S, Loo et al.)." } : {}),
    };
  })
);

const beatsD3s: ClaimSpec = {
  kind: "compare",
  id: "d3hr-beats-d3s",
  text: "With five teachers' soft labels, D³HR matches or beats D3S at every IPC and student.",
  source: 'Sec. 6.5 ("ours consistently outperforms D3S")',
  pairs: rows.flatMap((r) =>
    students.map((s) => ({
      a: cellId(r.ipc, s.short, "d3hr"),
      b: cellId(r.ipc, s.short, "d3s"),
      // ResNet-18 at IPC 50 is a printed tie (60.2 vs 60.2): only "not worse" is supported there.
      relation: r.ipc === 50 && s.short === "r18" ? ">=" as const : ">" as const,
    }))
  ),
};

export const table: TableSpec = {
  id: "d3hr/table4",
  paper: "d3hr",
  source: "Taming Diffusion for Dataset Distillation with High Representativeness (D³HR, ICML 2025) — seed " +
    "004_65fa85c4cad8ee68.txt",
  table: "Table 4",
  caption: "Comparison with D3S (Loo et al.) on ImageNet-1K. Following the default setup of D3S with 5 " +
    "pre-trained teacher models, our D³HR apply soft labels from these 5 teacher models.",
  protocol: {
    evaluator:
      "ResNet-18 (torchvision) / ResNet-101 students trained on the averaged soft labels of 5 teachers",
    selection: "unknown",
    repeats: null,
    details: "D3S default setup: soft labels of five pre-trained teachers averaged (Sec. 6.5); the teacher " +
      "architectures are not listed in the D³HR paper, so ddrepro averages five ResNet-18 teachers trained " +
      "with different seeds (`teachers: 5`). Otherwise soft-label KD as in Table A1.",
  },
  cells,
  claims: [beatsD3s],
  notes: [
    "Sec. 6.5 also states that 5 soft labels improve slightly over 1 (Table 1) and that D³HR with one soft " +
    "label beats D3S with five at IPC 10; these cross-table comparisons are not encoded because claims can " +
    "only reference cells of one table. Printed: Table 1 D³HR ResNet-18 44.3 / 59.4 and ResNet-101 52.1 / " +
    "66.1 at IPC 10 / 50.",
    'At IPC 50 on ResNet-18 the printed numbers tie (60.2±0.1 vs 60.2±0.0), so that pair uses ">=".',
  ],
};
