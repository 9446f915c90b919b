/**
 * Fast stand-ins for the runner tests: a tiny synthetic dataset (10 classes × 40 train images of 8×8
 * pixels) under a real dataset id, a deterministic fake evaluator, and a small user-style table. The
 * runner, the store, the method registry (random) and the profiles are all real.
 */
import type { Dataset } from "../../data/types.ts";
import { datasetInfo } from "../../data/registry.ts";
import type { DatasetLoad } from "../../experiments/resolve.ts";
import type { TableSpec } from "../../experiments/schema.ts";
import type { EvalRequest, EvalResult } from "../../evaluator/types.ts";
import type { Adapter } from "../../results/types.ts";
import type { RunOptions } from "../../runner/run.ts";
import type { RunEnvironment } from "../../runner/provenance.ts";
import { sha256Hex } from "../../results/key.ts";

const SIDE = 8;

/** Deterministic pixels: class c has a bright row c, plus per-image noise from a hash. */
export function tinyDataset(id = "mnist", perClass = 40, testPerClass = 5): Dataset {
  const info = { ...datasetInfo(id), shape: { channels: 1, height: SIDE, width: SIDE } };
  const split = (n: number, salt: number) => {
    const count = n * info.numClasses;
    const images = new Uint8Array(count * SIDE * SIDE);
    const labels = new Int32Array(count);
    for (let i = 0; i < count; i++) {
      const c = i % info.numClasses;
      labels[i] = c;
      for (let p = 0; p < SIDE * SIDE; p++) {
        const noise = (Math.imul(i * 131 + p * 7 + salt, 2654435761) >>> 24) & 63;
        images[i * SIDE * SIDE + p] = (Math.floor(p / SIDE) === c % SIDE ? 180 : 0) + noise;
      }
    }
    return { images, labels, count };
  };
  return {
    info,
    train: split(perClass, 1),
    test: split(testPerClass, 2),
    manifest: { files: [], hash: `tiny-${id}-${perClass}` },
  };
}

export function tinyLoad(calls?: DatasetLoad[], perClass = 40): (load: DatasetLoad) => Promise<Dataset> {
  return (load) => {
    calls?.push(load);
    return Promise.resolve(tinyDataset(load.id, perClass));
  };
}

/** Accuracy from a hash of the set, model, epochs and seed: stable across runs, different across cells. */
export function fakeEvaluate(calls?: EvalRequest[]): (req: EvalRequest) => Promise<EvalResult> {
  return (req) => {
    calls?.push(req);
    req.signal?.throwIfAborted();
    const h = sha256Hex(
      JSON.stringify([
        Array.from(req.set.labels),
        Array.from(req.set.images.slice(0, 64)),
        req.model,
        req.seed,
      ]) +
        JSON.stringify(req.protocol.epochs),
    );
    const acc = (parseInt(h.slice(0, 6), 16) % 9000) / 100;
    return Promise.resolve({
      metrics: {
        lastTestAcc: acc,
        bestHoldoutAcc: acc,
        testAccAtBestHoldout: acc,
        bestTestAcc: Math.min(100, acc + 1),
      },
      curve: [{ epoch: 1, trainLoss: 1, holdoutAcc: acc, testAcc: acc }],
      seconds: 0.01,
      epochs: 1,
    });
  };
}

export const FAKE_ADAPTER: Adapter = {
  vendor: "test",
  architecture: "none",
  description: "fake",
  backend: "none",
};
export const FAKE_ENV: RunEnvironment = {
  git: { sha: "0123456789abcdef0123456789abcdef01234567", dirty: false },
  denoVersion: Deno.version.deno,
  hostname: "test-host",
};

/** Options that keep a run offline and fast: tiny data, fake evaluator, no GPU, no git subprocess. */
export function testRunOptions(dir: string, extra: Partial<RunOptions> = {}): RunOptions {
  return {
    profile: "smoke",
    storePath: `${dir}/results.db`,
    artifactsDir: `${dir}/artifacts`,
    evaluate: fakeEvaluate(),
    load: tinyLoad(),
    initBackend: () => Promise.resolve(FAKE_ADAPTER),
    environment: FAKE_ENV,
    log: () => {},
    ...extra,
  };
}

/** MNIST cells: random at IPC 1/2 on two models, a full-dataset row, an unimplemented method. */
export function tinyTable(): TableSpec {
  const cell = (id: string, method: string, ipc: number | null, model = "convnet3") => ({
    id,
    method,
    dataset: "mnist",
    ipc,
    model,
    protocol: "dc",
    labels: "hard" as const,
    claimed: null,
  });
  return {
    id: "test/tiny",
    paper: "test",
    source: "tests/runner/_fixtures.ts",
    table: "Tiny",
    caption: "runner test table",
    protocol: { evaluator: "ConvNet-3", selection: "final", repeats: 3, details: "" },
    cells: [
      cell("r1", "random", 1),
      cell("r1-resnet", "random", 1, "resnet18"),
      cell("r2", "random", 2),
      cell("full", "full-dataset", null),
      cell("dgs1", "dgs", 1),
    ],
    claims: [
      {
        kind: "compare",
        id: "more",
        text: "IPC 2 beats IPC 1",
        source: "test",
        pairs: [{ a: "r2", b: "r1", relation: ">" }],
      },
    ],
  };
}

export async function tempDir(prefix = "dd-runner-"): Promise<string> {
  return await Deno.makeTempDir({ prefix });
}
