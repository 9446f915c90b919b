/**
 * The layers point one way: a module imports only from its own layer and those before it. Every source
 * file outside tests/ belongs to a layer, so a new folder must be placed before it can be imported.
 */
import { deepStrictEqual as eq, ok } from "node:assert";
import { SourceTree } from "../results/source_versions.ts";

/**
 * Bottom to top. A path is a folder (ending in "/") or one file; the longest matching path places a
 * file. results/ is split: its hashing and code versions sit at the bottom (data and models key their
 * caches by them), its store, verdicts and record schemas above the experiments whose cells they record.
 */
export const LAYERS: readonly { name: string; paths: readonly string[] }[] = [
  { name: "engine", paths: ["engine/", "kernels/"] },
  {
    name: "versions",
    paths: [
      "results/key.ts",
      "results/source_tokens.ts",
      "results/source_versions.ts",
      "results/code_version.ts",
    ],
  },
  { name: "data", paths: ["data/"] },
  { name: "diffusion", paths: ["diffusion/"] },
  { name: "models", paths: ["models/"] },
  { name: "evaluator", paths: ["evaluator/"] },
  // The foundation models' training drivers: they move data with the evaluator's helpers and judge samples
  // with a classifier it trains, so they sit above it (nothing below imports them).
  { name: "pretraining", paths: ["models/pretrain_vae.ts", "models/pretrain_dit.ts"] },
  { name: "methods", paths: ["methods/", "baselines/"] },
  { name: "experiments", paths: ["experiments/"] },
  { name: "results", paths: ["results/"] },
  { name: "reports", paths: ["reports/"] },
  { name: "runner", paths: ["runner/"] },
  { name: "cli", paths: ["cli/", "bench/", "mod.ts"] },
];

/**
 * Imports allowed against the order, each with the reason: `"<from file> -> <to file>": "why"`. Empty:
 * every dependency points down.
 */
const ALLOWED: Readonly<Record<string, string>> = {};

const REPO = new URL("../", import.meta.url);

/** The layer index of a repository path, or -1. */
function layerOf(path: string): number {
  let best = -1, bestLength = -1;
  LAYERS.forEach((l, i) => {
    for (const p of l.paths) {
      const hit = p.endsWith("/") ? path.startsWith(p) : path === p;
      if (hit && p.length > bestLength) [best, bestLength] = [i, p.length];
    }
  });
  return best;
}

function sources(tree: SourceTree): string[] {
  const top = [...Deno.readDirSync(REPO)]
    .filter((e) => !e.name.startsWith(".") && e.name !== "node_modules" && e.name !== "tests")
    .map((e) => (e.isDirectory ? `${e.name}/` : e.name));
  return top.flatMap((p) => tree.list(p)).filter((f) => f.endsWith(".ts"));
}

/** `from -> to (layer -> layer)` for every import of `files` that points up and is not allowed. */
function upwardImports(files: readonly string[], importsOf: (f: string) => (string | null)[]): string[] {
  const wrong: string[] = [];
  for (const f of files) {
    for (const to of importsOf(f)) {
      if (to === null || layerOf(to) <= layerOf(f)) continue;
      const edge = `${f} -> ${to}`;
      if (!(edge in ALLOWED)) {
        wrong.push(`${edge} (${LAYERS[layerOf(f)].name} -> ${LAYERS[layerOf(to)].name})`);
      }
    }
  }
  return wrong;
}

Deno.test("layers: every import points to the module's own layer or one before it", () => {
  const tree = new SourceTree(REPO);
  const files = sources(tree);
  ok(files.length > 150, `only ${files.length} source files found`);
  const unplaced = files.filter((f) => layerOf(f) < 0);
  eq(unplaced, [], "source files in no layer (add their folder to LAYERS)");
  const importsOf = (f: string) => tree.imports(f).map((s) => tree.resolve(f, s));
  eq(upwardImports(files, importsOf), [], "imports that point up the layers");
});

Deno.test("layers: the check flags an upward import; the allow-list holds only edges that exist", () => {
  const fake: Record<string, (string | null)[]> = {
    "data/zca.ts": ["results/key.ts", "engine/tensor.ts", null],
    "models/checkpoint.ts": ["evaluator/train.ts"],
    "results/store.ts": ["experiments/schema.ts", "runner/run.ts"],
  };
  eq(upwardImports(Object.keys(fake), (f) => fake[f]), [
    "models/checkpoint.ts -> evaluator/train.ts (models -> evaluator)",
    "results/store.ts -> runner/run.ts (results -> runner)",
  ]);
  const tree = new SourceTree(REPO);
  for (const edge of Object.keys(ALLOWED)) {
    const [from, to] = edge.split(" -> ");
    ok(
      tree.imports(from).map((s) => tree.resolve(from, s)).includes(to),
      `${edge} is no import any more`,
    );
  }
});
