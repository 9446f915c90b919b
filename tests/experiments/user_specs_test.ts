/** User spec files: validation messages with file + JSON path, registry cross-checks, folders, end to end. */
import { deepStrictEqual as eq, ok, rejects, throws } from "node:assert";
import {
  loadSpecDir,
  loadSpecFile,
  parseSpec,
  SpecError,
  TableCatalog,
} from "../../experiments/user_specs.ts";
import { runTable } from "../../runner/run.ts";
import { writeTableReports } from "../../cli/report_cmd.ts";
import { openStore } from "../../results/store.ts";
import { tempDir, testRunOptions, tinyLoad } from "../runner/_fixtures.ts";

const EXAMPLE = new URL("../../experiments/examples/mnist-coresets.yaml", import.meta.url).pathname;

function specError(fn: () => unknown, ...patterns: RegExp[]): void {
  throws(fn, (e: unknown) => {
    ok(e instanceof SpecError, String(e));
    for (const p of patterns) ok(p.test(e.message), `${e.message}\n  should match ${p}`);
    return true;
  });
}

Deno.test("user specs: the committed example validates", async () => {
  const spec = await loadSpecFile(EXAMPLE);
  eq(spec.id, "examples/mnist-coresets");
  eq(spec.cells.length, 24);
  ok(spec.cells.every((c) => c.claimed === null && c.dataset === "mnist" && c.model === "convnet3"));
  eq([...new Set(spec.cells.map((c) => c.ipc))], [1, 10, 50]);
});

Deno.test("user specs: schema errors name the file, the JSON path (and YAML line) and what was expected", async () => {
  const text = await Deno.readTextFile(EXAMPLE);
  specError(
    () => parseSpec("bad.yaml", text.replace("labels: hard", "labels: medium")),
    /^spec bad\.yaml: /,
    /\$\.cells\[0\]\.labels \(line \d+\): .*expected one of "hard"\|"soft"/,
  );
  specError(
    () => parseSpec("bad.json", JSON.stringify({ id: "a/b" })),
    /bad\.json/,
    /\$\.paper: missing \(expected string\)/,
  );
  specError(() => parseSpec("bad.yaml", "id: [unclosed\n"), /bad\.yaml: not valid YAML/);
  specError(() => parseSpec("bad.json", "{"), /bad\.json: not valid JSON/);
  specError(() => parseSpec("bad.ts", "export default {}"), /unsupported extension/);
});

Deno.test("user specs: ids are cross-checked against the registries; IPC must fit in a class", async () => {
  const spec = (await loadSpecFile(EXAMPLE)) as unknown as Record<string, unknown> & {
    cells: Record<string, unknown>[];
  };
  const cells = spec.cells.slice(0, 5).map((c) => ({ ...c }));
  cells[0].method = "no-such-method";
  cells[1].dataset = "imagenet-22k";
  cells[2].model = "vit-h";
  cells[3].protocol = "magic";
  cells[4].ipc = 6000;
  specError(
    () => parseSpec("x.json", JSON.stringify({ ...spec, cells, claims: [] })),
    /5 problems/,
    /\$\.cells\[0\]\.method: unknown method "no-such-method"/,
    /\$\.cells\[1\]\.dataset: unknown dataset "imagenet-22k"/,
    /\$\.cells\[2\]\.model: unknown model "vit-h"; expected one of convnet3/,
    /\$\.cells\[3\]\.protocol: unknown evaluator protocol "magic"/,
    /\$\.cells\[4\]\.ipc: IPC 6000 is larger than the smallest mnist class \(5421/,
  );
  specError(
    () => parseSpec("x.json", JSON.stringify({ ...spec, cells: [{ ...cells[0], ipc: 0 }], claims: [] })),
    /\$\.cells\[0\]\.ipc/,
  );
  // A soft-label teacher is a model id too.
  const taught = { ...spec.cells[0], teacher: "vit-h" };
  specError(
    () => parseSpec("x.json", JSON.stringify({ ...spec, cells: [taught], claims: [] })),
    /\$\.cells\[0\]\.teacher: unknown model "vit-h"/,
  );
});

Deno.test("user specs: --include makes every file addressable; ids may not collide", async () => {
  const dir = await tempDir();
  await Deno.copyFile(EXAMPLE, `${dir}/a.yaml`);
  const json = JSON.parse(JSON.stringify(await loadSpecFile(EXAMPLE)));
  await Deno.writeTextFile(`${dir}/b.json`, JSON.stringify({ ...json, id: "examples/other" }));
  await Deno.writeTextFile(`${dir}/notes.txt`, "ignored");
  const cat = new TableCatalog();
  await cat.addDir(dir);
  ok(cat.find("examples/other") && cat.find("examples/mnist-coresets") && cat.find("igds/table1"));
  await Deno.writeTextFile(`${dir}/c.json`, JSON.stringify(json));
  await rejects(loadSpecDir(dir), /already defined by .*a\.yaml/);
  throws(() => new TableCatalog().add({ ...json, id: "igds/table1" }, "x.json"), /built-in table id/);
});

Deno.test("user specs: the example runs end to end at smoke into a store and a report", async () => {
  const dir = await tempDir();
  // The fake evaluator keeps this test off the GPU, so only `random` (host-only) is run; DGS stands in
  // for a method that is not implemented, which the report must say.
  const file = `${dir}/example.yaml`;
  await Deno.writeTextFile(
    file,
    (await Deno.readTextFile(EXAMPLE)).replaceAll("method: herding\n", "method: dgs\n"),
  );
  const spec = await loadSpecFile(file);
  // 70 images per class: IPC 50 must fit after the smoke holdout.
  const opts = testRunOptions(dir, { load: tinyLoad(undefined, 70), filter: "method=random|dgs" });
  const s = await runTable(spec, opts);
  eq(s.completed, 3, "random at IPC 1/10/50");
  eq(s.skipped.length, 3, "dgs at IPC 1/10/50 is skipped as not implemented");
  eq(s.failed, []);
  const store = openStore(opts.storePath);
  eq(store.count({ tableId: spec.id, profile: "smoke" }), 3);
  store.close();
  const written = await writeTableReports({
    tables: [spec],
    storePath: opts.storePath,
    outDir: `${dir}/reports`,
  });
  const md = await Deno.readTextFile(written.tables[0].markdown);
  ok(md.includes("examples/mnist-coresets") || md.includes("MNIST coresets"));
  ok(/not implemented/.test(md), "unimplemented methods are reported as such");
  ok(/not run/.test(md), "implemented methods without results are reported as not run");
  const html = await Deno.readTextFile(written.tables[0].html);
  ok(html.includes("data:image/png;base64,"), "the report embeds the distilled sets' image grids");
});

Deno.test("user specs: a cell's config and set are checked with its method's schema at load", async () => {
  const spec = (await loadSpecFile(EXAMPLE)) as unknown as Record<string, unknown> & {
    cells: Record<string, unknown>[];
  };
  const dm = spec.cells.find((c) => c.method === "dm")!;
  const cells = [
    { ...dm, id: "a", set: { nosuch: 3 } },
    { ...dm, id: "b", set: { iterations: -5 } },
    { ...dm, id: "c", config: { lrImg: "fast" } },
    { ...dm, id: "d", set: { iterations: 300 }, config: { lrImg: 2 } },
  ];
  specError(
    () => parseSpec("x.json", JSON.stringify({ ...spec, cells, claims: [] })),
    /x\.json: 3 problems/,
    /\$\.cells\[0\]\.set\.nosuch: unknown dm config key "nosuch" \(valid keys: iterations, /,
    /\$\.cells\[1\]\.set\.iterations: invalid value for dm: /,
    /\$\.cells\[2\]\.config\.lrImg: invalid value for dm: .*expected number/,
  );
  // YAML points at the line of the offending key.
  const text = await Deno.readTextFile(EXAMPLE);
  const at = text.indexOf("method: dm\n");
  const yaml = text.slice(0, at) + "method: dm\n    set:\n      iterationz: 3\n" +
    text.slice(at + "method: dm\n".length);
  const line = yaml.slice(0, yaml.indexOf("iterationz")).split("\n").length;
  specError(
    () => parseSpec("y.yaml", yaml),
    new RegExp(`\\.set\\.iterationz \\(line ${line}\\): unknown dm`),
  );
});
