/**
 * `dd pretrain vae|dit --dataset mnist|fashion-mnist`: trains the small generative foundation models on
 * embedded data, resumably (a state file every few minutes; rerun the same command after a kill), and on
 * completion writes the f16 checkpoint, a JSON record (recipe, seed, code version, loss curve, metrics,
 * wall time) and a PNG next to it, and records the checkpoint's sha256 in the folder's manifest.json.
 */
import { dirname, join } from "node:path";
import { loadDataset } from "../data/registry.ts";
import { backend } from "../engine/tensor.ts";
import {
  checkpointName,
  FOUNDATION_DATASETS,
  FOUNDATION_PROFILES,
  FOUNDATION_VERSION,
  type FoundationDataset,
  type FoundationProfile,
  recordInManifest,
  runKey,
  saveHalfCheckpoint,
  vaeFromBytes,
  verifiedCheckpoint,
  WEIGHTS_DIR,
} from "../models/foundation.ts";
import { ditFirstPhaseKey, ditRunKey, pretrainDit } from "../models/pretrain_dit.ts";
import { sha256Hex } from "../results/key.ts";
import { trainingCodeVersion } from "../results/source_versions.ts";
import { cacheRoot } from "../data/fsutil.ts";
import { pretrainVae, vaeRunRecipe } from "../models/pretrain_vae.ts";
import type { TrainingOutcome } from "../models/resumable_training.ts";
import { initWebGpu } from "../runner/engine_setup.ts";
import { runEnvironment } from "../runner/provenance.ts";
import { stderrStatus } from "../runner/progress.ts";
import { fmtDuration } from "../data/progress.ts";
import type { Module } from "../models/module.ts";
import { CliError, note, parsePositiveInt, printJson } from "./common.ts";
import { withInterrupt } from "./run_cmd.ts";

export interface PretrainFlags {
  dataset: string;
  profile: string;
  out?: string;
  state?: string;
  steps?: string;
  checkpointMinutes?: string;
  vae?: string;
  json?: boolean;
}

const KINDS = ["vae", "dit"] as const;
type Kind = typeof KINDS[number];

function oneOf<T extends string>(value: string, options: readonly T[], what: string): T {
  if (!(options as readonly string[]).includes(value)) {
    throw new CliError(`${what} "${value}" is not one of ${options.join(", ")}`);
  }
  return value as T;
}

export async function pretrainCommand(kindText: string, flags: PretrainFlags): Promise<void> {
  const kind = oneOf(kindText, KINDS, "model");
  const datasetId = oneOf(flags.dataset, FOUNDATION_DATASETS, "--dataset");
  if (flags.profile === "proxy" || flags.profile === "paper") {
    throw new CliError(
      `--profile ${flags.profile}: the ${flags.profile} profile uses the official SD VAE / DiT-XL/2 checkpoints; ` +
        `dd pretrain trains the small models (smoke | quick)`,
    );
  }
  const profile = oneOf(flags.profile, FOUNDATION_PROFILES, "--profile");
  const steps = flags.steps === undefined ? undefined : parsePositiveInt(flags.steps, "--steps");
  const everyMin = flags.checkpointMinutes === undefined ? 5 : Number(flags.checkpointMinutes);
  if (!(everyMin > 0)) {
    throw new CliError(`--checkpoint-minutes must be a positive number (got "${flags.checkpointMinutes}")`);
  }
  // The DiT's VAE is read (and hash-checked when shipped) before any device or data is touched.
  let vaeInput: Uint8Array | null = null;
  if (kind === "dit") {
    try {
      vaeInput = flags.vae
        ? await Deno.readFile(flags.vae)
        : await verifiedCheckpoint(checkpointName("vae", datasetId));
    } catch (e) {
      if (e instanceof Deno.errors.NotFound) throw new CliError(`--vae ${flags.vae}: no such file`);
      throw new CliError(
        `${e instanceof Error ? e.message : e} (train it first: dd pretrain vae --dataset ${datasetId})`,
      );
    }
  }
  const outDir = flags.out ?? (profile === "quick" ? WEIGHTS_DIR : join(cacheRoot(), "foundation-smoke"));
  await initWebGpu();
  const dataset = await loadDataset(datasetId);
  // Provenance of the code that starts the run (a run takes hours; the checkout may move meanwhile).
  const env = await runEnvironment();
  const codeVersions = trainingCodeVersion();
  const status = stderrStatus();
  const ctx = {
    dataset,
    profile,
    steps,
    checkpointEveryMs: everyMin * 60_000,
    status,
    log: note,
  };
  const started = performance.now();
  const finish = async (
    run: { key: string; recipe: unknown; model: Module; outcome: TrainingOutcome; metrics: object | null },
    config: unknown,
    grid: Uint8Array | null,
    pngSuffix: string,
    statePath: string,
    extra: Record<string, unknown>,
  ) => {
    status("");
    if (!run.metrics || !grid) return stopped(run.outcome, statePath);
    await Deno.mkdir(outDir, { recursive: true });
    const record = {
      kind,
      dataset: datasetId,
      profile,
      version: FOUNDATION_VERSION,
      key: run.key,
      recipe: run.recipe,
      config,
      ...extra,
      steps: run.outcome.step,
      trainSeconds: run.outcome.trainSeconds,
      lossCurve: run.outcome.lossCurve,
      metrics: run.metrics,
      provenance: provenance(env, codeVersions),
    };
    const written = await writeOutputs(outDir, kind, datasetId, run.model, record, grid, pngSuffix);
    const summary = {
      ...written,
      steps: run.outcome.step,
      trainSeconds: run.outcome.trainSeconds,
      ...run.metrics,
      wallSecondsThisSession: (performance.now() - started) / 1000,
    };
    if (flags.json) printJson(summary);
    else {
      note(
        `${kind} ${datasetId}: ${run.outcome.step} steps in ${
          fmtDuration(run.outcome.trainSeconds)
        } of training`,
      );
      note(`metrics: ${JSON.stringify(run.metrics)}`);
      note(
        `wrote ${written.checkpoint} (${written.bytes} bytes, sha256 ${written.sha256}), ${written.record}, ${written.png}`,
      );
    }
  };
  if (kind === "vae") {
    const key = runKey(vaeRunRecipe(ctx), dataset.manifest.hash, { dataset: datasetId });
    const statePath = flags.state ?? defaultStatePath(datasetId, kind, profile, key);
    await Deno.mkdir(dirname(statePath), { recursive: true });
    const run = await withInterrupt((signal) => pretrainVae({ ...ctx, statePath, signal }));
    try {
      await finish(run, run.model.cfg, run.grid, "recon", statePath, {});
    } finally {
      run.model.dispose();
    }
    return;
  }
  const vaeSource = flags.vae ?? join(WEIGHTS_DIR, checkpointName("vae", datasetId));
  const vaeBytes = vaeInput!;
  const vaeHash = sha256Hex(vaeBytes);
  const vae = vaeFromBytes(vaeBytes, vaeSource);
  try {
    const key = ditRunKey({ ...ctx, vaeHash });
    const statePath = flags.state ?? defaultStatePath(datasetId, kind, profile, key);
    // A recipe with a restart continues its first phase's run (under that run's own state file).
    const firstKey = ditFirstPhaseKey({ ...ctx, vaeHash });
    const firstPhaseStatePath = firstKey === null
      ? undefined
      : flags.state
      ? `${flags.state}.first`
      : defaultStatePath(datasetId, kind, profile, firstKey);
    await Deno.mkdir(dirname(statePath), { recursive: true });
    const run = await withInterrupt((signal) =>
      pretrainDit({
        ...ctx,
        vae,
        vaeHash,
        statePath,
        signal,
        ...(firstPhaseStatePath ? { firstPhaseStatePath } : {}),
      })
    );
    try {
      await finish(run, run.model.cfg, run.grid, "samples", statePath, {
        // The shipped VAE is named by its place in the repository, not by this checkout's absolute path.
        vae: { source: flags.vae ?? `models/weights/${checkpointName("vae", datasetId)}`, sha256: vaeHash },
      });
    } finally {
      run.model.dispose();
    }
  } finally {
    vae.dispose();
  }
}

function defaultStatePath(
  dataset: FoundationDataset,
  kind: Kind,
  profile: FoundationProfile,
  key: string,
): string {
  return join(cacheRoot(), "pretrain", `${dataset}-${kind}-${profile}-${key.slice(0, 12)}.state.safetensors`);
}

function stopped(outcome: TrainingOutcome, statePath: string): never {
  throw new CliError(
    `stopped at step ${outcome.step}; the training state is saved in ${statePath}: rerun the same command to resume`,
    130,
  );
}

function provenance(env: Awaited<ReturnType<typeof runEnvironment>>, codeVersions: Record<string, string>) {
  const info = backend().info;
  return {
    gitSha: env.git.sha,
    gitDirty: env.git.dirty,
    deno: env.denoVersion,
    host: env.hostname,
    adapter: `${info.description} (${info.backend}${info.software ? ", software" : ""})`,
    // Source hashes of the code (the resume key uses FOUNDATION_VERSION instead, so a long run survives
    // unrelated edits).
    codeVersions,
  };
}

async function writeOutputs(
  outDir: string,
  kind: Kind,
  dataset: FoundationDataset,
  model: Module,
  record: Record<string, unknown>,
  png: Uint8Array,
  pngSuffix: string,
): Promise<{ checkpoint: string; record: string; png: string; sha256: string; bytes: number }> {
  const name = checkpointName(kind, dataset);
  const checkpoint = join(outDir, name);
  const meta: Record<string, string> = {
    kind,
    dataset,
    version: FOUNDATION_VERSION,
    key: String(record.key),
    config: JSON.stringify(record.config),
    steps: String(record.steps),
    trainSeconds: String(record.trainSeconds),
    metrics: JSON.stringify(record.metrics),
    gitSha: (record.provenance as { gitSha: string }).gitSha,
    codeVersions: JSON.stringify((record.provenance as { codeVersions: unknown }).codeVersions),
  };
  await saveHalfCheckpoint(checkpoint, model, meta);
  const entry = await recordInManifest(checkpoint, join(outDir, "manifest.json"));
  const recordPath = checkpoint.replace(/\.safetensors$/, ".json");
  const pngPath = checkpoint.replace(/\.safetensors$/, `-${pngSuffix}.png`);
  await atomicWrite(
    recordPath,
    new TextEncoder().encode(JSON.stringify({ ...record, checkpoint: { name, ...entry } }, null, 2) + "\n"),
  );
  await atomicWrite(pngPath, png);
  return { checkpoint, record: recordPath, png: pngPath, ...entry };
}

async function atomicWrite(path: string, bytes: Uint8Array): Promise<void> {
  const tmp = `${path}.${Deno.pid}.tmp`;
  await Deno.writeFile(tmp, bytes);
  await Deno.rename(tmp, path);
}
