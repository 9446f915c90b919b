/** The built-in table registry: which files of experiments/ are tables, their order, and their ids. */
import { deepStrictEqual as eq, throws } from "node:assert";
import { loadTableFolders } from "../../experiments/registry.ts";
import { SpecError } from "../../experiments/user_specs.ts";

const EXAMPLE = new URL("../../experiments/igds/table4.yaml", import.meta.url);

/** A copy of IGDS Table 4 as `<dir>/<paper>/<file>`, its id and paper set to `id`. */
async function put(dir: string, paper: string, file: string, id: string): Promise<void> {
  const text = (await Deno.readTextFile(EXAMPLE)).replace("id: igds/table4", `id: ${id}`)
    .replace("paper: igds", `paper: ${id.split("/")[0]}`);
  await Deno.mkdir(`${dir}/${paper}`, { recursive: true });
  await Deno.writeTextFile(`${dir}/${paper}/${file}`, text);
}

Deno.test("registry: every paper folder's table files, in natural order; examples/ and other files are not tables", async () => {
  const dir = await Deno.makeTempDir();
  await put(dir, "zeta", "table10.yaml", "zeta/table10");
  await put(dir, "zeta", "table2.yaml", "zeta/table2");
  await put(dir, "zeta", "tablea1.yaml", "zeta/tablea1");
  await put(dir, "alpha", "table1.yaml", "alpha/table1");
  await put(dir, "examples", "demo.yaml", "examples/demo");
  await Deno.writeTextFile(`${dir}/zeta/README.md`, "not a table");
  eq(loadTableFolders(dir).map((t) => t.spec.id), [
    "alpha/table1",
    "zeta/table2",
    "zeta/table10",
    "zeta/tablea1",
  ]);
  await Deno.remove(dir, { recursive: true });
});

Deno.test("registry: a file's id and paper must be its folder and name", async () => {
  const dir = await Deno.makeTempDir();
  await put(dir, "zeta", "table3.yaml", "zeta/table2");
  throws(() => loadTableFolders(dir), (e: unknown) => {
    return e instanceof SpecError &&
      /spec .*\/zeta\/table3\.yaml: \$\.id \(line \d+\): "zeta\/table2" must be "zeta\/table3"/.test(
        e.message,
      );
  });
  await Deno.remove(`${dir}/zeta/table3.yaml`);
  await put(dir, "zeta", "table3.yaml", "other/table3");
  throws(() => loadTableFolders(dir), /\$\.paper \(line \d+\): "other" must be "zeta"/);
  await Deno.remove(dir, { recursive: true });
});
