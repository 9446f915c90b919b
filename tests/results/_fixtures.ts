/** Synthetic results and a small TableSpec, so these tests never depend on the built-in specs. */
import { TableSpec } from "../../experiments/schema.ts";
import { contentKey } from "../../results/key.ts";
import type { CellRepeatResult, Metrics, Profile, Substitution } from "../../results/types.ts";

export interface FakeResult {
  tableId?: string;
  cellId: string;
  /** lastTestAcc; the other metrics are derived from it unless given. */
  acc: number;
  metrics?: Partial<Metrics>;
  /** Added to the default distill metrics. */
  distillMetrics?: Record<string, number>;
  profile?: Profile;
  repeat?: number;
  seed?: number;
  method?: string;
  dataset?: string;
  /** The model that ran (default convnet3). */
  model?: string;
  ipc?: number | null;
  codeVersion?: string;
  datasetManifestHash?: string;
  methodConfig?: Record<string, unknown>;
  substitutions?: Substitution[];
  finishedAt?: string;
  gitSha?: string;
}

export function fakeResult(f: FakeResult): CellRepeatResult {
  const resolved = {
    tableId: f.tableId ?? "demo/table1",
    cellId: f.cellId,
    method: f.method ?? f.cellId.split("-")[0],
    dataset: f.dataset ?? "cifar10",
    ipc: f.ipc === undefined ? 10 : f.ipc,
    model: f.model ?? "convnet3",
    protocol: "dsa",
    labels: "hard" as const,
    profile: f.profile ?? "paper",
    methodConfig: f.methodConfig ?? {},
    protocolConfig: { epochs: 300 },
    substitutions: f.substitutions ?? [],
  };
  const repeat = f.repeat ?? 0;
  const seed = f.seed ?? 1000 + repeat;
  const codeVersion = f.codeVersion ?? "m1";
  const datasetManifestHash = f.datasetManifestHash ?? "d1";
  const finishedAt = f.finishedAt ?? "2025-01-01T00:10:00.000Z";
  return {
    key: contentKey(resolved, repeat, seed, codeVersion, datasetManifestHash),
    resolved,
    repeat,
    seed,
    codeVersion,
    datasetManifestHash,
    metrics: {
      lastTestAcc: f.acc,
      bestHoldoutAcc: Math.min(100, f.acc + 1),
      testAccAtBestHoldout: f.acc,
      bestTestAcc: Math.min(100, f.acc + 0.5),
      ...f.metrics,
    },
    distillMetrics: { finalLoss: 0.25, iterations: 1000, ...f.distillMetrics },
    artifact: null,
    provenance: {
      gitSha: f.gitSha ?? "0123456789abcdef0123456789abcdef01234567",
      gitDirty: false,
      denoVersion: "2.9.6",
      adapter: {
        vendor: "mesa",
        architecture: "llvmpipe",
        description: "llvmpipe (LLVM 19, 256 bits)",
        backend: "vulkan",
      },
      seed,
      startedAt: "2025-01-01T00:00:00.000Z",
      finishedAt,
      wallSeconds: 600,
      distillSeconds: 400,
      evalSeconds: 200,
      hostname: "testhost",
    },
  };
}

/** Repeats 0..n-1 of one cell with the given accuracies. */
export function repeats(
  cellId: string,
  accs: readonly number[],
  extra: Omit<FakeResult, "cellId" | "acc" | "repeat"> = {},
): CellRepeatResult[] {
  return accs.map((acc, repeat) => fakeResult({ ...extra, cellId, acc, repeat }));
}

/** A small table: two methods × IPC {1, 10, 50} on CIFAR-10, plus a β ablation for a trend claim. */
export function demoTable(overrides: Partial<TableSpec> = {}): TableSpec {
  return TableSpec.parse({
    id: "demo/table1",
    paper: "demo",
    source: "Demo paper (000_demo.txt)",
    table: "Table 1",
    caption: "Test accuracy (%) on CIFAR-10.",
    protocol: { evaluator: "ConvNet-3", selection: "final", repeats: 5, details: "5 evaluator trainings" },
    cells: [
      {
        id: "dm-1",
        method: "dm",
        dataset: "cifar10",
        ipc: 1,
        model: "convnet3",
        protocol: "dsa",
        labels: "hard",
        claimed: { mean: 26.0, std: 0.8 },
        row: "DM",
        column: "IPC 1",
      },
      {
        id: "dm-10",
        method: "dm",
        dataset: "cifar10",
        ipc: 10,
        model: "convnet3",
        protocol: "dsa",
        labels: "hard",
        claimed: { mean: 48.9, std: 0.6 },
        row: "DM",
        column: "IPC 10",
      },
      {
        id: "dm-50",
        method: "dm",
        dataset: "cifar10",
        ipc: 50,
        model: "convnet3",
        protocol: "dsa",
        labels: "hard",
        claimed: { mean: 63.0, std: 0.4 },
        row: "DM",
        column: "IPC 50",
      },
      {
        id: "ours-1",
        method: "ours",
        dataset: "cifar10",
        ipc: 1,
        model: "convnet3",
        protocol: "dsa",
        labels: "hard",
        claimed: { mean: 30.0, std: 0.5 },
        row: "Ours",
        column: "IPC 1",
      },
      {
        id: "ours-10",
        method: "ours",
        dataset: "cifar10",
        ipc: 10,
        model: "convnet3",
        protocol: "dsa",
        labels: "hard",
        claimed: { mean: 52.0, std: null },
        row: "Ours",
        column: "IPC 10",
      },
      {
        id: "ours-50",
        method: "ours",
        dataset: "cifar10",
        ipc: 50,
        model: "convnet3",
        protocol: "dsa",
        labels: "hard",
        claimed: null,
        claimedNote: "unavailable in source",
        row: "Ours",
        column: "IPC 50",
      },
    ],
    claims: [
      {
        kind: "compare",
        id: "ours-beats-dm",
        text: "Ours beats DM at every IPC",
        source: "§4.1",
        pairs: [{ a: "ours-1", b: "dm-1", relation: ">" }, { a: "ours-10", b: "dm-10", relation: ">" }],
      },
    ],
    ...overrides,
  });
}
