/**
 * Versions of the code derived from the code itself (as asv versions a benchmark by its source): per
 * layer, a hash of the layer's source files. Result keys carry them (runner/version.ts), and so do caches
 * of trained networks (MTT's experts, pretrained extractors and teachers). Any change that can move a
 * number — a kernel's arithmetic, an augmentation, a loader's decoding, a method's update rule —
 * changes its layer's version, so the affected rows get new keys: `dd run` recomputes them, `--dry-run`
 * lists them and reports mark the stored ones as predating the checkout's code.
 *
 * A file's hash is over its normalised token stream (source_tokens.ts), so comments and
 * formatting (`deno fmt`) never re-key. The hashes read the files themselves, never git: a checkout and
 * an installed copy of the same code get the same versions.
 *
 * Layers (results/code_version.ts): engine (engine/ + kernels/), data, models, evaluator, runner (the
 * runner files that decide what a repeat computes, and the profiles' scaling rules), and the method:
 * its module plus every module it imports among baselines/ and methods/. Bare imports count by the
 * version deno.json pins them to.
 */
import { dirname, join, relative } from "node:path";
import { fileURLToPath } from "node:url";
import { canonicalJson, sha256Hex } from "./key.ts";
import { SHARED_LAYERS, type SharedLayer } from "./code_version.ts";
import { importSpecifiers, sourceTokens } from "./source_tokens.ts";

/** What each shared layer hashes: every .ts file under these paths (relative to the repository). */
export const LAYER_PATHS: Readonly<Record<SharedLayer, readonly string[]>> = {
  engine: ["engine/", "kernels/"],
  data: ["data/"],
  // Foundation models and the diffusion machinery (schedules, losses, samplers) they run under.
  models: ["models/", "diffusion/"],
  evaluator: ["evaluator/"],
  // The runner's files, and the rules that turn a cell into what runs (profiles, resolver, budgets).
  runner: ["runner/", "experiments/profiles.ts", "experiments/resolve.ts", "experiments/budget.ts"],
};

/**
 * Data a module's numbers depend on besides its source, hashed into the version of every set of files that
 * contains the module: the shipped checkpoints (the manifest lists each file's sha256) decide every sample
 * of the methods on the generative foundation, so a retrained DiT or VAE re-keys exactly those methods.
 */
export const DATA_INPUTS: Readonly<Record<string, readonly string[]>> = {
  "baselines/latent_foundation.ts": ["models/weights/manifest.json"],
};

/** Where a method's own modules live; its version follows its imports within these. */
export const METHOD_PATHS: readonly string[] = ["baselines/", "methods/"];

/**
 * Top-level folders whose code no number depends on, with the reason. Every other folder with sources
 * must belong to a layer or to the methods (a test checks), so a new folder cannot escape the versions.
 */
export const UNHASHED_FOLDERS: Readonly<Record<string, string>> = {
  "cli/": "parses flags and prints; the work runs in runner/",
  "results/": "stores, keys and judges numbers; computes none",
  "reports/": "renders stored numbers",
  "experiments/":
    "specs are data (their content is in each resolved cell); the profiles' rules are in runner",
  "bench/": "measures speed",
  "tests/": "tests",
};

/**
 * Files inside the layers that cannot move a number, with the reason: editing them keeps every key.
 * Only for files whose whole job is outside the arithmetic.
 */
export const NOT_NUMERIC: Readonly<Record<string, string>> = {
  "data/png.ts": "encodes images for viewing (reports, previews)",
  "data/progress.ts": "progress lines and durations",
  "engine/webgpu/device.ts":
    "opens the adapter; which one (backend, limits) is provenance, as a GPU model is",
  "runner/run.ts": "orders the work, shares evaluations, logs; the numbers come from pipeline/plan/datasets",
  "runner/progress.ts": "status lines and ETA",
  "runner/provenance.ts": "records the environment",
  "runner/version.ts": "names the method's module (the recipe itself lives in results/)",
};

/**
 * Explicit overrides, only for a change known not to move any number (e.g. a refactor shown to give
 * bit-identical results on the affected cells): `"<layer or method id>@<new version>": "<old version>"`
 * keeps the old version, and with it every stored key. Say in a comment what was checked.
 */
export const SAME_NUMBERS: Readonly<Record<string, string>> = {
  // IGDS's estimator network (models/variational_estimator.ts) joined models/: a new file that no earlier
  // module imports; every existing models/ source is byte-identical.
  "models@b6af082e22ed": "7aa4cb7f71c4",
  // experiments/profiles.ts: only smoke's tuned entries for the IGDS estimator's width changed.
  "runner@dc0cfe8a3b3a": "99a8128ff0c7",
  // RDED draws max(candidatesPerClass, ipc·factor²) candidates: the configured count wherever it sufficed
  // (every stored run; larger sets failed before), plus a candidatesPerClass metric.
  "rded@45fe923766be": "cb5a2b579fce",
  // Minimax's scale notes became one shared constant (text only; the Minimax-based methods spread it).
  "minimax@5f21c836910c": "e500d72f642b",
  "igds@414047c1d044": "e5744f4297ee",
  // experiments/profiles.ts: only the "igds-guidance" tuned entries were added, a family only IGDS's
  // guidedSteps key reads (igds/table1 at quick: --dry-run lists the IGDS rows alone).
  "runner@697bef2725a6": "99a8128ff0c7",
  // IGDS keeps a VE's centroids for the process instead of re-encoding its real images every repeat: the
  // same deterministic computation, so the same values (igds/table1 at quick, IPC 1, seeds 0 and 1: the
  // sets bit-identical, seed 1 from the kept centroids; the same Î, Ĥ and accuracies).
  "igds@50f35318219c": "1ea4e02b6d91",
  // The shipped checkpoints' manifest became data of baselines/latent_foundation.ts (DATA_INPUTS): the
  // same checkpoints, so the same numbers for every method on the foundation.
  "d3hr@286e2a80f8f0": "730c433f725a",
  "d4m@209c92a66df4": "1b89ea19601d",
  "diffusion@2afa68cf4627": "2dda4bcfd279",
  "igd@ca77095da8f3": "05e2cd54d4c2",
  "igds@e7fcb1e8a54d": "50f35318219c",
  "minimax@9d28755be958": "5f21c836910c",
  "minimax+igd@ca77095da8f3": "05e2cd54d4c2",
  "minimax+igds@e7fcb1e8a54d": "50f35318219c",
  // dd pretrain's DiT recipes may restart their schedule (models/foundation.ts, pretrain_dit.ts,
  // resumable_training.ts): the pretraining drivers only; no recipe has a restart, lrAt is unchanged without one.
  "models@6e883cdd88eb": "b6af082e22ed",
  // experiments/profiles.ts: only the quick profile's description (its time) changed.
  "runner@c97c1e562b3a": "697bef2725a6",
  // experiments/profiles.ts: the quick profile's description again (its measured time).
  "runner@fe752e271326": "c97c1e562b3a",
  // DGS caches its image pool (methods/dgs_pool.ts): the fine-tune and samples are a deterministic function of
  // the pool's key, and a cached pool is the float32 bytes computed; the pool histograms of the cells sharing
  // one (Table 3's shapes at a seed) equal those of a fresh pool (reports/evidence/dgs-tables3-4-quick).
  "dgs@47bffa0a64f3": "d43f91b7e37d",
  // The manifest as data of the foundation (above), on the pool-caching DGS.
  "dgs@6ec8d804f6b5": "47bffa0a64f3",
  // The quick DiT recipe's warm restart (models/foundation.ts), and a restart resuming from its own state
  // without its first phase's (models/pretrain_dit.ts): pretraining only. The checkpoints the recipe produced
  // reach the methods through DATA_INPUTS, which re-keys the methods on the foundation.
  "models@a0ae31c9601c": "6e883cdd88eb",
  // engine/assign.ts: the in-place copy that Ema, model checkpoints, weight import, the foundation's loader,
  // resumable training and the tuned priors each wrote out is one helper issuing the same map into the
  // destination's storage (tests/engine/assign_test.ts; the optimizer, checkpoint and Minimax tests pass).
  "engine@bdef487d6bd1": "8e80e1f69c58",
  "models@bc5a99a830d2": "a0ae31c9601c",
  "dgs@7bea8a09c060": "947784346a14",
  "igd@dce06a72dbc4": "717522314e63",
  "igds@bc793c0447ff": "0f439a4b82c8",
  "minimax@82321c3e6a87": "48d4bbd49903",
  "minimax+igd@dce06a72dbc4": "717522314e63",
  "minimax+igds@bc793c0447ff": "0f439a4b82c8",
  // baselines/sre2l.ts: the recover loop takes DWA's variations (start images, variance weight, teacher
  // adjustment, batch layout); without them it runs the same ops in the same order (an SRe²L set and its soft
  // labels on the test fixture are byte-identical before and after).
  "sre2l@5248ef3b84e7": "07d47b540793",
  // D³HR's DDIM inversion also keeps the states of the earlier steps on its path and caches their statistics:
  // the requested step's latents and statistics are computed as before (tests/methods/d3hr_test.ts: a step
  // cached on another inversion's path equals inverting to it).
  "d3hr@5f54a2008bb5": "ce2f4b22129c",
};

/** The repository (or installed copy) this module belongs to. */
export const REPO_ROOT = new URL("../", import.meta.url);

/** Source files and their hashes under one root; cached per root. */
export class SourceTree {
  readonly #dir: string;
  readonly #digests = new Map<string, string>();
  readonly #imports = new Map<string, string[]>();
  #pins: Record<string, string> | null = null;

  constructor(root: URL | string) {
    const url = typeof root === "string" ? new URL(`file://${root.endsWith("/") ? root : root + "/"}`) : root;
    if (url.protocol !== "file:") {
      throw new Error(`code versions need the sources on disk; ${url.href} is not a file URL`);
    }
    this.#dir = fileURLToPath(url);
  }

  /** Every .ts file under `path` (a folder ending in "/" or one file), relative, sorted. */
  list(path: string): string[] {
    const abs = join(this.#dir, path);
    if (!path.endsWith("/")) return exists(abs) ? [path] : [];
    const out: string[] = [];
    const walk = (dir: string) => {
      let entries: Deno.DirEntry[];
      try {
        entries = [...Deno.readDirSync(dir)];
      } catch (e) {
        if (e instanceof Deno.errors.NotFound) return;
        throw e;
      }
      for (const e of entries) {
        const p = join(dir, e.name);
        if (e.isDirectory) walk(p);
        else if (e.isFile && e.name.endsWith(".ts")) out.push(relative(this.#dir, p).split("\\").join("/"));
      }
    };
    walk(abs);
    return out.sort();
  }

  #read(rel: string): void {
    const src = Deno.readTextFileSync(join(this.#dir, rel));
    const tokens = sourceTokens(src, rel);
    this.#digests.set(rel, sha256Hex(tokens.join("\u0000")));
    this.#imports.set(rel, importSpecifiers(tokens));
  }

  /** sha256 of the file's normalised token stream. */
  digest(rel: string): string {
    if (!this.#digests.has(rel)) this.#read(rel);
    return this.#digests.get(rel)!;
  }

  /** sha256 of a JSON data input as canonical JSON (formatting never re-keys); "absent" without the file. */
  dataDigest(rel: string): string {
    let text: string;
    try {
      text = Deno.readTextFileSync(join(this.#dir, rel));
    } catch (e) {
      if (e instanceof Deno.errors.NotFound) return "absent";
      throw e;
    }
    try {
      return sha256Hex(canonicalJson(JSON.parse(text)));
    } catch (e) {
      throw new Error(`code version: ${rel} is not valid JSON (${e instanceof Error ? e.message : e})`);
    }
  }

  /** The file's import specifiers. */
  imports(rel: string): string[] {
    if (!this.#imports.has(rel)) this.#read(rel);
    return this.#imports.get(rel)!;
  }

  /** Relative import → repository-relative path; null for bare (`zod`, `node:…`) or escaping specifiers. */
  resolve(from: string, spec: string): string | null {
    if (!spec.startsWith("./") && !spec.startsWith("../")) return null;
    const rel = join(dirname(from), spec).split("\\").join("/");
    return rel.startsWith("..") ? null : rel;
  }

  /** deno.json's import map (bare name → pinned specifier); empty without one. */
  pins(): Record<string, string> {
    if (this.#pins === null) {
      try {
        const j = JSON.parse(Deno.readTextFileSync(join(this.#dir, "deno.json")));
        this.#pins = j && typeof j.imports === "object" && j.imports !== null ? j.imports : {};
      } catch {
        this.#pins = {};
      }
    }
    return this.#pins!;
  }

  /** Version of a set of files: their digests and the pinned versions of their bare imports. */
  versionOf(files: readonly string[]): string {
    const lines = new Set<string>();
    for (const f of files) {
      lines.add(`${f} ${this.digest(f)}`);
      for (const d of DATA_INPUTS[f] ?? []) lines.add(`data ${d} ${this.dataDigest(d)}`);
      for (const s of this.imports(f)) {
        if (s.startsWith(".") || s.startsWith("/") || s.startsWith("node:")) continue;
        lines.add(`import ${s} ${this.pins()[s] ?? s}`);
      }
    }
    return sha256Hex([...lines].sort().join("\n")).slice(0, 12);
  }

  /** The version of a shared layer (before SAME_NUMBERS). */
  layerVersion(layer: SharedLayer): string {
    const files = LAYER_PATHS[layer].flatMap((p) => this.list(p)).filter((f) => !(f in NOT_NUMERIC));
    if (files.length === 0) throw new Error(`code version: no sources for layer ${layer} under ${this.#dir}`);
    return this.versionOf(files);
  }

  /** `module` and the modules it imports, transitively, among METHOD_PATHS. */
  methodModules(module: string): string[] {
    const seen = new Set<string>();
    const visit = (f: string) => {
      if (seen.has(f) || !METHOD_PATHS.some((p) => f.startsWith(p)) || !exists(join(this.#dir, f))) return;
      seen.add(f);
      for (const s of this.imports(f)) {
        const r = this.resolve(f, s);
        if (r !== null) visit(r);
      }
    };
    visit(module);
    return [...seen].sort();
  }

  /** The version of a method whose definition lives in `module` (before SAME_NUMBERS). */
  methodVersion(module: string): string {
    const files = this.methodModules(module);
    if (files.length === 0) throw new Error(`code version: no method module ${module} under ${this.#dir}`);
    return this.versionOf(files);
  }
}

function exists(path: string): boolean {
  try {
    return Deno.statSync(path).isFile;
  } catch {
    return false;
  }
}

/** `version`, or the older version SAME_NUMBERS says computes the same numbers. */
export function overridden(
  name: string,
  version: string,
  table: Readonly<Record<string, string>> = SAME_NUMBERS,
): string {
  let v = version;
  for (let hops = 0; hops < 16 && table[`${name}@${v}`] !== undefined; hops++) v = table[`${name}@${v}`];
  return v;
}

/** Every shared layer's version for the sources under `tree`. */
export function layerVersions(tree: SourceTree): Record<SharedLayer, string> {
  return Object.fromEntries(
    SHARED_LAYERS.map((l) => [l, overridden(l, tree.layerVersion(l))]),
  ) as Record<SharedLayer, string>;
}

let checkout: { tree: SourceTree; layers: Record<SharedLayer, string> } | null = null;

/** The sources of this checkout (or installed copy), and its shared layers' versions; computed once. */
export function checkoutSources(): { tree: SourceTree; layers: Record<SharedLayer, string> } {
  if (checkout === null) {
    const tree = new SourceTree(REPO_ROOT);
    checkout = { tree, layers: layerVersions(tree) };
  }
  return checkout;
}

/**
 * What a cache of trained weights depends on: the shared layers' versions, and those of the given
 * modules among the methods' files (with what they import there), e.g. MTT's expert training.
 */
export function trainingCodeVersion(...modules: string[]): Record<string, string> {
  const { tree, layers } = checkoutSources();
  return { ...layers, ...Object.fromEntries(modules.map((m) => [m, tree.methodVersion(m)])) };
}
