import { deepStrictEqual as eq, ok } from "node:assert";
import { writeReports } from "../../reports/write.ts";
import { demoTable, repeats } from "../results/_fixtures.ts";

Deno.test("writeReports: per-table Markdown and self-contained HTML plus index pages", async () => {
  const outDir = await Deno.makeTempDir({ prefix: "ddrepro-reports-" });
  const other = demoTable({ id: "demo/table2", table: "Table 2" });
  const written = await writeReports({
    outDir,
    tables: [
      { spec: demoTable(), results: repeats("dm-1", [25, 26], { profile: "quick" }), profile: "quick" },
      { spec: other, results: [], profile: "paper" },
    ],
    generatedAt: "2025-01-01T00:00:00Z",
  });
  eq(written.tables.map((t) => t.html.slice(outDir.length + 1)), [
    "demo_table1.html",
    "demo_table2.html",
  ]);
  const index = await Deno.readTextFile(written.index.html);
  ok(index.includes('href="demo_table1.html"') && index.includes('href="demo_table2.html"'));
  const md = await Deno.readTextFile(written.tables[0].markdown);
  ok(md.includes("25.50 ± 0.71 (n=2)"));
  const html = await Deno.readTextFile(written.tables[0].html);
  ok(html.includes("Chart.js v4") && html.includes('<a href="index.html">'));
  ok(!/\bsrc="https?:/.test(html), "no network resources");
});

Deno.test("writeReports: files are replaced whole (temp file + rename), never rewritten in place", async () => {
  const outDir = await Deno.makeTempDir({ prefix: "ddrepro-reports-" });
  const input = {
    spec: demoTable(),
    results: repeats("dm-1", [25, 26], { profile: "quick" }),
    profile: "quick" as const,
  };
  const first = await writeReports({ outDir, tables: [input], generatedAt: "2025-01-01T00:00:00Z" });
  // A hard link shares the file's inode: an in-place rewrite (what a kill mid-write leaves at 0 bytes)
  // would change what the link reads; a rename leaves the old inode alone.
  const files = [first.tables[0].html, first.tables[0].markdown, first.index.html, first.index.markdown];
  const before = await Promise.all(files.map((f) => Deno.readTextFile(f)));
  for (const [i, f] of files.entries()) await Deno.link(f, `${outDir}/keep-${i}`);
  await writeReports({
    outDir,
    tables: [{ ...input, results: repeats("dm-1", [30, 31], { profile: "quick" }) }],
    generatedAt: "2025-02-02T00:00:00Z",
  });
  for (const [i, f] of files.entries()) {
    eq(await Deno.readTextFile(`${outDir}/keep-${i}`), before[i], `${f} was rewritten in place`);
    ok((await Deno.stat(f)).ino !== (await Deno.stat(`${outDir}/keep-${i}`)).ino, `${f} is a new file`);
  }
  ok((await Deno.readTextFile(files[0])).includes("30.50"), "the new report is in place");
  eq([...Deno.readDirSync(outDir)].filter((e) => e.name.endsWith(".tmp")), [], "no temp file left");
});

Deno.test("writeReports: an output path that is a file is refused naming it", async () => {
  const dir = await Deno.makeTempDir({ prefix: "ddrepro-reports-" });
  await Deno.writeTextFile(`${dir}/f`, "x");
  let message = "";
  try {
    await writeReports({ outDir: `${dir}/f`, tables: [] });
  } catch (e) {
    message = String(e);
  }
  ok(message.includes(`report folder ${dir}/f: exists and is not a folder`), message);
});
