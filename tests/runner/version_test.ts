/**
 * Code versions come from the sources: a change that can move a number re-keys the affected results,
 * comments and formatting do not, and a copy of the sources without git gets the same versions.
 */
import { deepStrictEqual as eq, ok } from "node:assert";
import { importSpecifiers, sourceTokens } from "../../results/source_tokens.ts";
import { codeVersionFor, codeVersionParts, methodModule } from "../../runner/version.ts";
import {
  checkoutSources,
  DATA_INPUTS,
  LAYER_PATHS,
  layerVersions,
  METHOD_PATHS,
  NOT_NUMERIC,
  overridden,
  SourceTree,
  trainingCodeVersion,
  UNHASHED_FOLDERS,
} from "../../results/source_versions.ts";
import { pretrainKey } from "../../evaluator/pretrained.ts";
import { tinyDataset } from "./_fixtures.ts";
import { changedLayers, formatCodeVersion, parseCodeVersion } from "../../results/code_version.ts";
import { contentKey } from "../../results/key.ts";
import { dcMethod } from "../../baselines/dc.ts";
import { dsaMethod } from "../../baselines/dsa.ts";
import { randomMethod } from "../../baselines/random.ts";
import { diffusionMethod } from "../../baselines/diffusion_sampling.ts";
import { mttCmiMethod } from "../../methods/cmi.ts";
import { fakeResult } from "../results/_fixtures.ts";

const REPO = new URL("../../", import.meta.url);
/** Every path a code version reads (folders end in "/"). */
const COPIED = [...Object.values(LAYER_PATHS).flat(), ...METHOD_PATHS];

/** The layers' sources (no .git, no tests) copied to a temporary folder, as an installed copy has them. */
async function copyOfSources(): Promise<string> {
  const dir = await Deno.makeTempDir({ prefix: "ddrepro-version-" });
  const copy = async (from: URL, to: string) => {
    const st = await Deno.stat(from).catch(() => null);
    if (st === null) return; // a layer path this checkout does not have
    if (st.isFile) return await Deno.copyFile(from, to);
    await Deno.mkdir(to, { recursive: true });
    for await (const e of Deno.readDir(from)) {
      if (e.isDirectory || e.name.endsWith(".ts")) {
        await copy(new URL(e.name + (e.isDirectory ? "/" : ""), from), `${to}/${e.name}`);
      }
    }
  };
  for (const p of COPIED) {
    await Deno.mkdir(`${dir}/${p}`.replace(/\/[^/]*$/, ""), { recursive: true });
    await copy(new URL(p, REPO), `${dir}/${p.replace(/\/$/, "")}`);
  }
  await copy(new URL("deno.json", REPO), `${dir}/deno.json`);
  for (const d of new Set(Object.values(DATA_INPUTS).flat())) await copy(new URL(d, REPO), `${dir}/${d}`);
  return dir;
}

async function edit(path: string, f: (src: string) => string): Promise<void> {
  const before = await Deno.readTextFile(path);
  const after = f(before);
  ok(after !== before, `the edit of ${path} changed nothing (did the code it targets move?)`);
  await Deno.writeTextFile(path, after);
}

Deno.test("source tokens: comments, whitespace, quotes and trailing commas are not code", () => {
  const a = sourceTokens(`
    // a comment
    const x = f(1, "a\\tb", /* inline */ [2, 3,],);   /** doc */
    const re = /\\/\\/not a comment[/]/g, d = x / 2 / y;
    const t = \`k\${ {a: 1}.a }\\\`s\`;
  `);
  const b = sourceTokens(
    "const x=f(1,'a\\u0009b',[2,3]);const re=/\\/\\/not a comment[/]/g,d=x/2/y;" +
      "const t=`k${{a:1}.a}\\`s`;",
  );
  eq(a, b);
  ok(a.includes("/\\/\\/not a comment[/]/g"), "the regular expression is one token");
  ok(a.includes("`k${") && a.includes("}\\`s`"), "template text is kept verbatim");
  // Code, numbers and strings are: each of these differs.
  for (
    const other of ["const x=f(2,'a\\tb',[2,3]);", "const x=f(1,'a b',[2,3]);", "const y=f(1,'a\\tb',[2,3]);"]
  ) {
    ok(
      sourceTokens(other).join(" ") !== sourceTokens("const x=f(1,'a\\tb',[2,3]);").join(" "),
      other,
    );
  }
  // Template text is code too (WGSL lives there), whitespace included.
  ok(sourceTokens("const k = `a  b`;").join() !== sourceTokens("const k = `a b`;").join());
});

Deno.test("source tokens: import specifiers, including type-only, re-exports, dynamic imports and workers", () => {
  const t = sourceTokens(`
    import { a } from "./a.ts";
    import type { B } from '../b.ts';
    import * as C from "./c.ts";
    import "./side.ts";
    export { d } from "./d.ts";
    export * from "./e.ts";
    export const notAnImport = 1;
    const m = await import("./f.ts");
    new Worker(new URL("./w.ts", import.meta.url).href);
    new URL("../.cache/x", import.meta.url);
    import { z } from "zod";
  `);
  eq(importSpecifiers(t), [
    "./a.ts",
    "../b.ts",
    "./c.ts",
    "./side.ts",
    "./d.ts",
    "./e.ts",
    "./f.ts",
    "./w.ts",
    "zod",
  ]);
});

Deno.test("source tokens: every source file of the repository tokenises", async () => {
  const tree = new SourceTree(REPO);
  let files = 0;
  for (const d of [...COPIED, ...Object.keys(UNHASHED_FOLDERS)]) {
    for (const f of tree.list(d)) {
      sourceTokens(await Deno.readTextFile(new URL(f, REPO)), f);
      files++;
    }
  }
  ok(files > 200, `${files} files`);
});

Deno.test("code version: one hash per layer, the method's from its own module and what it imports", () => {
  const v = codeVersionFor(dcMethod);
  const p = parseCodeVersion(v)!;
  eq([...p.layers.keys()], ["engine", "data", "models", "evaluator", "runner"]);
  ok([p.methodVersion, ...p.layers.values()].every((x) => /^[0-9a-f]{12}$/.test(x)), v);
  eq(methodModule(dcMethod), "baselines/dc.ts");
  eq(methodModule(mttCmiMethod), "methods/cmi.ts");
  const tree = new SourceTree(REPO);
  // MTT+CMI's modules include MTT's and the regularizer plumbing; MTT's do not include CMI's; Random's
  // are only its own, the real-image draw and the method interface.
  const cmi = tree.methodModules("methods/cmi.ts");
  ok(["baselines/mtt.ts", "methods/regularizer.ts"].every((m) => cmi.includes(m)), `${cmi}`);
  ok(!tree.methodModules("baselines/mtt.ts").includes("methods/cmi.ts"), "mtt does not import cmi");
  eq(tree.methodModules("baselines/random.ts"), [
    "baselines/random.ts",
    "baselines/real_images.ts",
    "methods/budget.ts",
    "methods/types.ts",
  ]);
  // A method without a known module (e.g. a test's fake) carries its own version, or none.
  ok(codeVersionFor({ id: "fake" }).startsWith("fake@unversioned engine@"), "fake");
  const own = { id: "mine", version: 3 } as { id: string };
  ok(codeVersionFor(own).startsWith("mine@3 engine@"), "own version");
});

Deno.test("code version: a numeric change re-keys its layer; comments and formatting do not; no git needed", async () => {
  const dir = await copyOfSources();
  try {
    const tree = () => new SourceTree(dir);
    const here = codeVersionParts(dcMethod);
    // The copy (no .git) has the checkout's versions.
    const base = layerVersions(tree());
    eq(base, here.layers);
    const methods = (t: SourceTree) =>
      Object.fromEntries(
        [dcMethod, dsaMethod, randomMethod].map((m) => [m.id, t.methodVersion(methodModule(m)!)]),
      );
    const baseMethods = methods(tree());
    eq(baseMethods.dc, here.methodVersion);

    // Formatting only: every engine and data file reformatted (line width, indent, quotes) and commented.
    // (A narrower width would make `deno fmt` add braces around wrapped bodies: braces are code.)
    const fmt = new Deno.Command(Deno.execPath(), {
      args: [
        "fmt",
        "--quiet",
        "--line-width=160",
        "--indent-width=4",
        "--single-quote",
        "engine",
        "kernels",
        "data",
      ],
      cwd: dir,
      stderr: "piped",
    }).outputSync();
    ok(fmt.success, new TextDecoder().decode(fmt.stderr));
    await edit(
      `${dir}/engine/ops/nn.ts`,
      (s) => `// a comment\n/* another */\n${s.replaceAll(";\n", "; // why\n")}`,
    );
    const reformatted = await Deno.readTextFile(`${dir}/engine/ops/nn.ts`);
    ok(reformatted.includes("'") && reformatted.includes("    "), "the copy was reformatted");
    eq(layerVersions(tree()), base);

    // A numeric change to an engine file: the engine layer (only) changes, and with it the content key.
    await edit(`${dir}/engine/ops/nn.ts`, (s) => s.replace(/E\.cst\(1 \/ a\.size\)/, "E.cst(2 / a.size)"));
    const engine = layerVersions(tree());
    ok(engine.engine !== base.engine, "engine version unchanged by a numeric change");
    eq({ ...engine, engine: base.engine }, base);
    const r = fakeResult({ cellId: "dc-10", acc: 50 });
    const key = (layers: typeof base) =>
      contentKey(
        r.resolved,
        0,
        0,
        formatCodeVersion({ method: "dc", methodVersion: baseMethods.dc, layers }),
        "d1",
      );
    ok(key(engine) !== key(base), "the content key did not change");
    eq(
      changedLayers(
        formatCodeVersion({ method: "dc", methodVersion: "x", layers: base }),
        formatCodeVersion({ method: "dc", methodVersion: "x", layers: engine }),
      ),
      ["engine"],
    );

    // data/ has a version too.
    await edit(`${dir}/data/augment.ts`, (s) => s + "\nexport const PROBE = 0.5;\n");
    ok(layerVersions(tree()).data !== base.data, "data version unchanged");

    // A method's own module re-keys that method; an imported one re-keys its importers only.
    await edit(`${dir}/baselines/gradient_matching.ts`, (s) => s + "\nexport const PROBE = 1;\n");
    const after = methods(tree());
    ok(after.dc !== baseMethods.dc && after.dsa !== baseMethods.dsa, "dc/dsa import gradient matching");
    eq(after.random, baseMethods.random);

    // A shipped checkpoint is data of the methods that load it: a new hash in the manifest re-keys the
    // foundation's methods only; reformatting the manifest re-keys nothing.
    const manifest = `${dir}/models/weights/manifest.json`;
    const foundation = (t: SourceTree) =>
      [diffusionMethod, randomMethod].map((m) => t.methodVersion(methodModule(m)!));
    const [diffusion0, random0] = foundation(tree());
    await edit(manifest, (s) => JSON.stringify(JSON.parse(s), null, 4) + "\n");
    eq(foundation(tree()), [diffusion0, random0]);
    await edit(manifest, (s) => s.replace(/"sha256": "[0-9a-f]/, '"sha256": "x'));
    const [diffusion1, random1] = foundation(tree());
    ok(diffusion1 !== diffusion0, "a new checkpoint hash did not re-key the DiT sampler");
    eq(random1, random0);

    // Files listed as not numeric (status lines, provenance) keep every key.
    const notNumeric = Object.keys(NOT_NUMERIC).find((f) => f.startsWith("runner/"))!;
    const runner = layerVersions(tree()).runner;
    await edit(`${dir}/${notNumeric}`, (s) => s + "\nexport const PROBE = 2;\n");
    eq(layerVersions(tree()).runner, runner);
    await edit(`${dir}/runner/pipeline.ts`, (s) => s + "\nexport const PROBE = 2;\n");
    ok(layerVersions(tree()).runner !== runner, "runner/pipeline.ts is numeric");
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("code version: an explicit override maps a version to the one it computes the same numbers as", () => {
  const table = { "engine@bbb": "aaa", "engine@ccc": "bbb" };
  eq(overridden("engine", "ccc", table), "aaa");
  eq(overridden("engine", "ddd", table), "ddd");
  eq(overridden("data", "bbb", table), "bbb");
});

Deno.test("code version: stored strings of hand-numbered versions count as predating every layer", () => {
  const now = codeVersionFor(dcMethod);
  eq(changedLayers("dc@1 engine@1 evaluator@1 runner@1", now), [
    "method",
    "engine",
    "data",
    "models",
    "evaluator",
    "runner",
  ]);
  eq(changedLayers(now, now), []);
  eq(changedLayers("m1", now).length, 6);
});

Deno.test("code version: caches of trained weights are keyed by the code that trains them", () => {
  const { layers } = checkoutSources();
  const experts = trainingCodeVersion("baselines/mtt_experts.ts");
  eq(Object.keys(experts), [...Object.keys(layers), "baselines/mtt_experts.ts"]);
  eq(trainingCodeVersion(), layers);
  // Deterministic for the checkout (the layer versions are computed once per process).
  const spec = { model: "convnet3-w32", dataset: tinyDataset("mnist", 8, 2), epochs: 1, seed: 0 };
  eq(pretrainKey(spec), pretrainKey({ ...spec }));
});

Deno.test("code version: every folder with sources is in a layer, the methods, or named as unhashed", () => {
  const covered = new Set([
    ...Object.values(LAYER_PATHS).flat(),
    ...METHOD_PATHS,
    ...Object.keys(UNHASHED_FOLDERS),
  ]);
  const tree = new SourceTree(REPO);
  const folders = [...Deno.readDirSync(REPO)]
    .filter((e) => e.isDirectory && !e.name.startsWith(".") && e.name !== "node_modules")
    .map((e) => `${e.name}/`)
    .filter((f) => tree.list(f).length > 0);
  const loose = folders.filter((f) => !covered.has(f));
  eq(loose, [], "folders with sources that no code version covers (add them to a layer)");
  ok(folders.includes("engine/") && folders.includes("baselines/"), folders.join());
});
