/**
 * The command line against hostile or mistaken input: sets that cannot belong to the dataset, filters that
 * match nothing, bad output paths, control characters in spec strings, YAML alias bombs, damaged dataset
 * copies. Every case fails before any GPU work, with one `error:` line naming the file or flag.
 */
import { deepStrictEqual as eq, ok } from "node:assert";
import { saveDistilledSet } from "../../runner/distilled_set.ts";
import { runTable } from "../../runner/run.ts";
import type { DistilledSet } from "../../data/distilled.ts";
import { tempDir, testRunOptions, tinyTable } from "../runner/_fixtures.ts";
import { dd, ddEnv, fails, json } from "./_dd.ts";
import { idxSet, writeIdxSet } from "../data/_fixtures.ts";

const EXAMPLE = new URL("../../experiments/examples/mnist-coresets.yaml", import.meta.url).pathname;

function mnistSet(
  o: { side?: number; channels?: number; label?: number; pixel?: number } = {},
): DistilledSet {
  const side = o.side ?? 28, c = o.channels ?? 1, n = 10;
  const images = new Float32Array(n * c * side * side).map((_, i) => Math.sin(i));
  if (o.pixel !== undefined) images[5 * c * side * side + 7] = o.pixel;
  const labels = Int32Array.from({ length: n }, (_, i) => i);
  if (o.label !== undefined) labels[3] = o.label;
  return {
    images,
    shape: [n, c, side, side],
    labels,
    meta: {
      method: "test",
      dataset: "mnist",
      ipc: 1,
      seed: 0,
      configHash: "",
      profile: "none",
      mean: Array(c).fill(0.1307),
      std: Array(c).fill(0.3081),
      createdAt: "",
      extra: {},
    },
  };
}

async function exists(path: string): Promise<boolean> {
  try {
    await Deno.lstat(path);
    return true;
  } catch {
    return false;
  }
}

Deno.test("dd eval --set: labels, image size, channels and values must fit the dataset", async () => {
  const dir = await tempDir();
  const cases: [string, DistilledSet, RegExp][] = [
    ["label99", mnistSet({ label: 99 }), /'labels'\[3\] = 99 is not a mnist class \(expected 0\.\.9\)/],
    ["nan", mnistSet({ pixel: NaN }), /'images' value NaN at image 5 .*expected finite/],
    ["inf", mnistSet({ pixel: -Infinity }), /'images' value -Infinity at image 5/],
    ["big", mnistSet({ side: 32 }), /images are 32×32; mnist is evaluated at 28×28 \(pass --resize/],
    ["rgb", mnistSet({ channels: 3 }), /images have 3 channel\(s\); mnist has 1/],
  ];
  for (const [name, set, pattern] of cases) {
    const file = `${dir}/${name}.safetensors`;
    await saveDistilledSet(file, set);
    const r = await fails(pattern, "eval", "--dataset", "mnist", "--set", file, "--profile", "smoke");
    ok(r.stderr.includes(`distilled set ${file}:`), `names the file: ${r.stderr}`);
  }
  // --resize lets a set of another size through (resampled, recorded), never one of other channels.
  await fails(/3 channel/, "eval", "--dataset", "mnist", "--set", `${dir}/rgb.safetensors`, "--resize");
});

Deno.test("dd run --filter: a filter that matches nothing is an error naming it; no store is created", async () => {
  const dir = await tempDir();
  const store = `${dir}/s.db`;
  const run = (...args: string[]) => ["run", "igds/table1", "--profile", "smoke", "--store", store, ...args];
  await fails(
    /filter "garbage" matches no cell of igds\/table1: no cell id contains "garbage"/,
    ...run("--filter", "garbage"),
  );
  await fails(/filter term "ipc=abc": "abc" is not an IPC/, ...run("--filter", "ipc=abc"));
  await fails(/filter term "method=": empty value/, ...run("--filter", "method="));
  await fails(/no cell has method=dn; close: dm/, ...run("--filter", "method=dn"));
  await fails(
    /no cell has dataset=mnist; dataset values in this table: /,
    ...run("--filter", "dataset=mnist"),
  );
  await fails(
    /each of its terms matches some cell, but no cell matches all/,
    ...run("--filter", "ipc=1,ipc=10"),
  );
  ok(!(await exists(store)), "failed commands create no store");
  const dry = await dd(...run("--dry-run", "--filter", "method=random,ipc=1"));
  eq(dry.code, 0, dry.stderr);
  ok(/dry run, \d+ repeat\(s\) would run/.test(dry.stderr), dry.stderr);
  ok(!(await exists(store)), "a dry run creates no store");
});

Deno.test("dd export --table: a table without results is an error; --out is checked and written whole", async () => {
  const dir = await tempDir();
  const store = `${dir}/s.db`;
  await runTable(tinyTable(), testRunOptions(dir, { storePath: store }));
  await fails(
    /--table nosuch\/table: no results of that table in .*s\.db; it holds test\/tiny/,
    "export",
    "--store",
    store,
    "--table",
    "nosuch/table",
  );
  await fails(/close: test\/tiny/, "export", "--store", store, "--table", "test/tinny");
  await fails(/--out .*: is a folder; expected a file path/, "export", "--store", store, "--out", dir);
  // A missing folder is created; the file appears whole (temp file + rename: a hard link to the old
  // file keeps the old content, which an in-place rewrite would have changed).
  const out = `${dir}/new/folder/rows.json`;
  const first = await dd("export", "--store", store, "--out", out);
  eq(first.code, 0, first.stderr);
  await Deno.link(out, `${dir}/old.json`);
  const before = await Deno.readTextFile(`${dir}/old.json`);
  const again = await dd("export", "--store", store, "--table", "test/tiny", "--out", out);
  eq(again.code, 0, again.stderr);
  eq(await Deno.readTextFile(`${dir}/old.json`), before, "the old file was not rewritten in place");
  eq((JSON.parse(await Deno.readTextFile(out)) as unknown[]).length, 4);
});

Deno.test("dd report/run --report: an output folder that is a file is refused before anything runs", async () => {
  const dir = await tempDir();
  const store = `${dir}/s.db`;
  await runTable(tinyTable(), testRunOptions(dir, { storePath: store }));
  await Deno.writeTextFile(`${dir}/taken`, "a file");
  await fails(
    /--out .*taken: is a file; expected a folder/,
    "report",
    "igds/table1",
    "--store",
    store,
    "--out",
    `${dir}/taken`,
  );
  await fails(
    /--out .*taken\/sub: .*taken is a file, not a folder/,
    "report",
    "igds/table1",
    "--store",
    store,
    "--out",
    `${dir}/taken/sub`,
  );
  await fails(
    /--report .*taken: is a file/,
    "run",
    "igds/table1",
    "--profile",
    "smoke",
    "--store",
    `${dir}/r.db`,
    "--report",
    `${dir}/taken`,
  );
  ok(!(await exists(`${dir}/r.db`)));
});

Deno.test("dd distill --out: a folder is refused before distilling, and nothing is written next to it", async () => {
  const dir = await tempDir();
  await Deno.mkdir(`${dir}/x.safetensors`);
  const args = ["distill", "--method", "random", "--dataset", "mnist", "--ipc", "1", "--profile", "smoke"];
  await fails(
    /--out .*x\.safetensors: is a folder; expected a file path/,
    ...args,
    "--out",
    `${dir}/x.safetensors`,
  );
  await Deno.mkdir(`${dir}/y.png`);
  await fails(/--out \(its PNG grid\) .*y\.png: is a folder/, ...args, "--out", `${dir}/y.safetensors`);
  eq([...Deno.readDirSync(dir)].map((e) => e.name).sort(), ["x.safetensors", "y.png"]);
});

Deno.test("spec files: a cell's `set` is checked with its method's schema when the spec loads", async () => {
  const dir = await tempDir();
  const text = await Deno.readTextFile(EXAMPLE);
  const at = text.indexOf("method: dm\n");
  ok(at > 0);
  await Deno.writeTextFile(
    `${dir}/bad.yaml`,
    text.slice(0, at) + "method: dm\n    set:\n      nosuch: 3\n      iterations: many\n" +
      text.slice(at + "method: dm\n".length),
  );
  const r = await fails(/spec .*bad\.yaml: 2 problems/, "show", `${dir}/bad.yaml`);
  ok(
    /\$\.cells\[\d+\]\.set\.nosuch \(line \d+\): unknown dm config key "nosuch" \(valid keys: iterations/
      .test(r.stderr),
    r.stderr,
  );
  ok(
    /\$\.cells\[\d+\]\.set\.iterations \(line \d+\): invalid value for dm: .*expected number/.test(r.stderr),
    r.stderr,
  );
});

Deno.test("terminal output: control characters from spec strings are shown escaped", async () => {
  const dir = await tempDir();
  const spec = JSON.parse(JSON.stringify((await json("show", EXAMPLE, "--json")) as Record<string, unknown>));
  spec.id = "examples/evil";
  spec.caption = "title\x1b]0;pwned\x07 and \x1b[2J cleared \u202eesrever";
  spec.cells = (spec.cells as Record<string, unknown>[]).slice(0, 2).map((c, i) => ({
    ...c,
    id: `evil\x1b[31m-${i}\r`,
    method: i === 0 ? "random" : "d4m",
  }));
  spec.claims = [];
  await Deno.writeTextFile(`${dir}/evil.json`, JSON.stringify(spec));
  const show = await dd("show", `${dir}/evil.json`);
  eq(show.code, 0, show.stderr);
  ok(show.stdout.includes("title\\x1b]0;pwned\\x07 and \\x1b[2J cleared \\u202eesrever"), show.stdout);
  ok(show.stdout.includes("evil\\x1b[31m-0\\x0d"), show.stdout);
  // deno-lint-ignore no-control-regex -- looking for raw control characters is the point
  const raw = /[\x00-\x08\x0b-\x1f\x7f\u202e]/;
  ok(!raw.test(show.stdout), "no raw control character on stdout");
  const dry = await dd(
    "run",
    `${dir}/evil.json`,
    "--profile",
    "smoke",
    "--store",
    `${dir}/s.db`,
    "--dry-run",
  );
  eq(dry.code, 0, dry.stderr);
  ok(dry.stderr.includes("would run evil\\x1b[31m-0\\x0d#0"), dry.stderr);
  ok(!raw.test(dry.stderr), `no raw control character in progress output:\n${JSON.stringify(dry.stderr)}`);
  const run = await dd(
    "run",
    `${dir}/evil.json`,
    "--profile",
    "smoke",
    "--store",
    `${dir}/s.db`,
    "--filter",
    "method=d4m",
  );
  eq(run.code, 0, run.stderr);
  ok(!raw.test(run.stderr), JSON.stringify(run.stderr));
  const err = await dd("show", `${dir}/nope\x1b[2J.yaml`);
  ok(err.stderr.includes("nope\\x1b[2J.yaml") && !raw.test(err.stderr), JSON.stringify(err.stderr));
});

Deno.test("spec files: an alias bomb and a folder given as --spec name the file", async () => {
  const dir = await tempDir();
  const levels = ["a: &a [lol, lol, lol, lol, lol, lol, lol, lol, lol]"];
  for (let i = 1; i < 8; i++) {
    const p = String.fromCharCode(96 + i), q = String.fromCharCode(97 + i);
    levels.push(`${q}: &${q} [${Array(9).fill(`*${p}`).join(", ")}]`);
  }
  await Deno.writeTextFile(`${dir}/bomb.yaml`, levels.join("\n") + "\n");
  await fails(/spec .*bomb\.yaml: YAML aliases expand too much/, "show", `${dir}/bomb.yaml`);
  await fails(
    /spec .*: is a folder; name a \.json\/\.yaml file, or pass the folder with --include/,
    "tables",
    "--spec",
    dir,
  );
  await fails(/spec .*bomb\.yaml: is a file, not a folder/, "tables", "--include", `${dir}/bomb.yaml`);
});

Deno.test("dd datasets: a damaged MNIST copy in the data root is not available, and says why", async () => {
  const dir = await tempDir();
  const set = idxSet(20, 10);
  // Right names, wrong content: the training images claim 30 images but hold 20.
  const bad = set.trainImages.slice();
  new DataView(bad.buffer).setUint32(4, 30, false);
  writeIdxSet(`${dir}/mnist`, { ...set, trainImages: bad });
  // Fashion-MNIST: a gzipped copy cut short.
  writeIdxSet(`${dir}/fashion-mnist`, set, true);
  const gz = await Deno.readFile(`${dir}/fashion-mnist/t10k-images-idx3-ubyte.gz`);
  await Deno.writeFile(`${dir}/fashion-mnist/t10k-images-idx3-ubyte.gz`, gz.subarray(0, gz.length - 40));
  const r = await ddEnv({ DD_DATA: dir }, "datasets", "--json");
  eq(r.code, 0, r.stderr);
  const rows = JSON.parse(r.stdout) as { id: string; available: boolean; reason: string }[];
  const mnist = rows.find((x) => x.id === "mnist")!, fashion = rows.find((x) => x.id === "fashion-mnist")!;
  eq([mnist.available, fashion.available], [false, false], JSON.stringify([mnist, fashion]));
  ok(
    /train-images-idx3-ubyte: \d+ bytes, but its IDX header \(30×28×28\) needs exactly/.test(mnist.reason),
    mnist.reason,
  );
  ok(
    /t10k-images-idx3-ubyte\.gz: the gzip trailer records .* needs \d+ \(truncated or corrupt/.test(
      fashion.reason,
    ),
    fashion.reason,
  );
  // An intact copy in the data root is available from there.
  writeIdxSet(`${dir}/mnist`, set);
  const good = JSON.parse((await ddEnv({ DD_DATA: dir }, "datasets", "--json")).stdout) as typeof rows;
  ok(good.find((x) => x.id === "mnist")!.available);
});
