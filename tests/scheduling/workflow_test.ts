/**
 * The scheduler files are checked against the code they drive: .github/workflows/nightly.yml (parsed
 * with `yaml`: triggers, the shard matrix coming from `dd nightly plan` for the same shard count, the
 * artifacts passed between jobs, what it installs) and the Slurm templates. Every `dd` invocation in
 * them must name an existing command with options it has and the arguments it needs, and every such
 * command is one tests/cli/nightly_test.ts runs.
 */
import { deepStrictEqual as eq, ok } from "node:assert";
import { join } from "node:path";
import { parseDocument } from "yaml";
import type { Command } from "commander";
import { buildProgram } from "../../cli/main.ts";
import { Profile } from "../../results/types.ts";
import { dd } from "../cli/_dd.ts";

const ROOT = new URL("../../", import.meta.url).pathname;
const WORKFLOW = join(ROOT, ".github/workflows/nightly.yml");
const NIGHTLY_TEST = join(ROOT, "tests/cli/nightly_test.ts");

type Json = Record<string, unknown>;

function loadWorkflow(): Json {
  const doc = parseDocument(Deno.readTextFileSync(WORKFLOW), { uniqueKeys: true });
  eq(doc.errors.map((e) => e.message), [], "YAML errors");
  eq(doc.warnings.map((e) => e.message), [], "YAML warnings");
  return doc.toJS() as Json;
}

/** Shell words of one command line (quotes removed), up to a redirection, pipe or `;`/`&&`. */
export function shellWords(line: string): string[] {
  const words: string[] = [];
  let cur = "", quote: string | null = null, any = false;
  for (let i = 0; i < line.length; i++) {
    const ch = line[i];
    if (quote) {
      if (ch === quote) quote = null;
      else cur += ch;
    } else if (ch === '"' || ch === "'") {
      quote = ch;
      any = true;
    } else if (/\s/.test(ch)) {
      if (cur || any) words.push(cur);
      cur = "";
      any = false;
    } else if (ch === ">" || ch === "|" || ch === ";" || (ch === "&" && line[i + 1] === "&")) {
      break;
    } else cur += ch;
  }
  if (cur || any) words.push(cur);
  return words;
}

/**
 * The `dd` invocations of a script: the words after `launcher` (e.g. `$DD`), with `"${name[@]}"`
 * replaced by what the script assigns to the array `name` (every assignment, so optional flags count)
 * and `"$@"` (flags a user passes through) left out.
 */
function ddInvocations(script: string, launcher: string): string[][] {
  const text = script.replace(/\\\n\s*/g, " ");
  const arrays = new Map<string, string[]>();
  for (const m of text.matchAll(/(\w+)\+?=\(([^)]*)\)/g)) {
    arrays.set(m[1], [...(arrays.get(m[1]) ?? []), ...shellWords(m[2])]);
  }
  const out: string[][] = [];
  for (const line of text.split("\n")) {
    const at = line.indexOf(launcher);
    if (at < 0 || /^\s*#/.test(line)) continue;
    const words = shellWords(line.slice(at + launcher.length)).flatMap((w) => {
      if (w === "$@") return []; // the user's own flags, passed through
      const arr = /^\$\{(\w+)\[@\]\}$/.exec(w);
      return arr ? arrays.get(arr[1]) ?? [] : [w];
    });
    out.push(words);
  }
  return out;
}

/** Checks one invocation against the CLI; returns its command path, e.g. "nightly finish". */
function checkInvocation(words: readonly string[], where: string): string {
  let cmd: Command = buildProgram();
  const path: string[] = [];
  let i = 0;
  while (i < words.length) {
    const sub = cmd.commands.find((c) => c.name() === words[i]);
    if (!sub) break;
    cmd = sub;
    path.push(words[i++]);
  }
  const name = path.join(" ");
  ok(path.length > 0 && cmd.commands.length === 0, `${where}: "dd ${words.join(" ")}" names no command`);
  const positional: string[] = [];
  const given = new Set<string>();
  for (; i < words.length; i++) {
    const w = words[i];
    if (!w.startsWith("--")) {
      positional.push(w);
      continue;
    }
    const flag = w.split("=")[0];
    const opt = cmd.options.find((o) => o.long === flag || o.long === flag.replace(/^--no-/, "--"));
    ok(opt, `${where}: dd ${name} has no option ${flag}`);
    given.add(opt.long!);
    if (opt.required && !w.includes("=")) {
      ok(i + 1 < words.length, `${where}: dd ${name} ${flag} needs a value`);
      i++;
    }
  }
  for (const o of cmd.options.filter((o) => o.mandatory)) {
    ok(given.has(o.long!), `${where}: dd ${name} needs ${o.long}`);
  }
  const args = cmd.registeredArguments;
  const required = args.filter((a) => a.required).length;
  ok(positional.length >= required, `${where}: dd ${name} needs ${required} argument(s), got ${positional}`);
  ok(
    args.some((a) => a.variadic) || positional.length <= args.length,
    `${where}: too many arguments to dd ${name}`,
  );
  return name;
}

/** `${{ inputs.x || 'fallback' }}` → the fallback (what a scheduled run gets). */
function scheduledValue(expr: unknown): string {
  const m = /^\$\{\{\s*inputs\.\w+\s*\|\|\s*(?:'([^']*)'|(\d+))\s*\}\}$/.exec(String(expr));
  ok(m, `expected \${{ inputs.<x> || <default> }}, got ${expr}`);
  return m[1] ?? m[2];
}

function steps(job: Json): Json[] {
  return job.steps as Json[];
}

Deno.test("workflow: triggers, the shard matrix from dd nightly plan, artifacts between jobs, installs", async () => {
  const wf = loadWorkflow();
  const on = wf.on as Json;
  const cron = ((on.schedule as Json[])[0].cron as string).split(" ");
  eq(cron.length, 5, "cron has five fields");
  ok(cron.every((f) => /^(\*|\d+(-\d+)?)(\/\d+)?(,\d+)*$/.test(f)), `cron ${cron}`);
  const inputs = (on.workflow_dispatch as Json).inputs as Record<string, Json>;
  eq(Object.keys(inputs).sort(), ["filter", "profile", "shards", "tables"]);
  eq(inputs.profile.options, Profile.options, "every profile, in order");

  // A scheduled run gets the env fallbacks; a manual one the inputs' defaults: they must agree.
  const env = wf.env as Record<string, string>;
  eq(scheduledValue(env.DD_PROFILE), inputs.profile.default);
  eq(Number(scheduledValue(env.SHARDS)), inputs.shards.default);
  eq(scheduledValue(env.DD_FILTER), inputs.filter.default);
  // Deno as .ci/run runs it.
  const ci = Deno.readTextFileSync(join(ROOT, ".ci/run"));
  const denoVersion = /npx -y deno@([\d.]+)/.exec(ci)![1];
  eq(env.DD, `npx -y deno@${denoVersion} task dd`);

  const jobs = wf.jobs as Record<string, Json>;
  eq(Object.keys(jobs), ["plan", "shard", "finish", "pages"]);
  // The matrix is exactly the plan's: one job per shard k of $SHARDS.
  const planStep = steps(jobs.plan).find((s) => s.id === "plan")!;
  eq((jobs.plan.outputs as Json).matrix, "${{ steps.plan.outputs.matrix }}");
  ok(/\$DD nightly plan --shards "\$SHARDS" .*--json > plan\.json/.test(planStep.run as string));
  ok((planStep.run as string).includes(`echo "matrix=$(jq -c .matrix plan.json)" >> "$GITHUB_OUTPUT"`));
  eq(jobs.shard.needs, "plan");
  const strategy = jobs.shard.strategy as Json;
  eq((strategy.matrix as Json).shard, "${{ fromJSON(needs.plan.outputs.matrix) }}");
  eq(strategy["fail-fast"], false, "one failed shard must not cancel the others");
  const shardRun = steps(jobs.shard).find((s) => String(s.run).includes("nightly shard"))!.run as string;
  ok(
    shardRun.includes(
      `nightly shard "\${{ matrix.shard }}/$SHARDS" --store "stores/shard-\${{ matrix.shard }}.db"`,
    ),
  );
  // What the plan step computes for a scheduled night.
  const plan = await dd(
    "nightly",
    "plan",
    "--shards",
    scheduledValue(env.SHARDS),
    "--profile",
    scheduledValue(env.DD_PROFILE),
    "--tables",
    scheduledValue(env.DD_TABLES),
    "--filter",
    scheduledValue(env.DD_FILTER),
    "--json",
  );
  eq(plan.code, 0, plan.stderr);
  const planned = JSON.parse(plan.stdout);
  const n = Number(scheduledValue(env.SHARDS));
  eq(planned.matrix, Array.from({ length: n }, (_, i) => i + 1));
  ok(
    planned.perShard.every((x: number) => x > 0),
    `every shard of a scheduled night has work: ${planned.perShard}`,
  );

  // Shards upload their stores; finish downloads them all, and the baseline/history it looks up by name.
  const upload = steps(jobs.shard).find((s) => String(s.uses).startsWith("actions/upload-artifact"))!;
  eq((upload.with as Json).name, "nightly-shard-${{ matrix.shard }}");
  eq(upload.if, "${{ always() }}");
  eq(jobs.finish.needs, ["plan", "shard"]);
  ok(String(jobs.finish.if).includes("!cancelled()"), "finish also runs after a failed shard (and exits 4)");
  const download = steps(jobs.finish).find((s) => String(s.uses).startsWith("actions/download-artifact"))!;
  eq(download.with, { pattern: "nightly-shard-*", path: "stores", "merge-multiple": true });
  const lookup = steps(jobs.finish).find((s) => String(s.run).includes("gh run download"))!.run as string;
  const finishRun = steps(jobs.finish).find((s) => String(s.run).includes("nightly finish"))!.run as string;
  ok(finishRun.includes("stores/shard-*.db --store stores/night.db"));
  const uploaded = steps(jobs.finish).filter((s) => String(s.uses).startsWith("actions/upload-artifact"))
    .map((s) => (s.with as Json).name as string);
  for (const kind of ["night", "history"]) {
    ok(uploaded.includes(`nightly-${kind}-\${{ env.DD_PROFILE }}`), `finish uploads nightly-${kind}`);
    ok(lookup.includes(`--name "nightly-${kind}-$DD_PROFILE"`), `finish downloads nightly-${kind}`);
  }
  ok(
    /gh run list --workflow nightly\.yml --status success/.test(lookup),
    "the baseline is the last successful night",
  );
  ok(finishRun.includes("--fail-on-regression") && finishRun.includes('exit "$code"'));
  ok(String((jobs.finish.env as Json).GH_TOKEN).includes("github.token"));
  eq((wf.permissions as Json).actions, "read");
  eq(jobs.pages.permissions as Json, { pages: "write", "id-token": "write" });

  // Every action pinned to a major version; every job installs Deno via npx on Node.
  for (const [id, job] of Object.entries(jobs)) {
    for (const s of steps(job)) {
      if (s.uses) {
        ok(/^actions\/[\w-]+@v\d+$/.test(String(s.uses)), `${id}: ${s.uses} not pinned to a major version`);
      }
    }
    if (id !== "pages") ok(steps(job).some((s) => s.uses === "actions/setup-node@v4"), `${id} sets up Node`);
  }
  // Every job running dd installs the same packages (the datasets present decide how cells resolve):
  // what .ci/run installs for WebGPU on the CPU and the datasets, and nothing CI does not.
  const packages = (script: string) =>
    /apt-get install -y -qq \\\s*\n\s*([^>]*)>/.exec(script)![1].split(/\s+/).filter(Boolean);
  const ciPackages = new Set(packages(ci));
  const installs = ["plan", "shard", "finish"].map((id) =>
    packages(steps(jobs[id]).find((s) => String(s.run).includes("apt-get install"))!.run as string)
  );
  eq(installs[1], installs[0]);
  eq(installs[2], installs[0]);
  ok(installs[0].includes("mesa-vulkan-drivers"));
  for (const p of installs[0]) ok(ciPackages.has(p), `${p} is not installed by .ci/run`);
});

Deno.test("workflow and Slurm templates: every dd invocation is an existing, tested command with valid flags", () => {
  const wf = loadWorkflow();
  const used = new Set<string>();
  for (const [id, job] of Object.entries(wf.jobs as Record<string, Json>)) {
    for (const [i, s] of steps(job).entries()) {
      if (typeof s.run !== "string") continue;
      for (const words of ddInvocations(s.run, "$DD ")) {
        used.add(checkInvocation(words, `${id} step ${i + 1}`));
      }
    }
  }
  eq([...used].sort(), ["nightly finish", "nightly plan", "nightly shard"]);
  for (const file of ["shard.sbatch", "finish.sbatch"]) {
    const text = Deno.readTextFileSync(join(ROOT, "scheduling/slurm", file));
    const calls = ddInvocations(text, `"\${dd[@]}" `);
    eq(calls.length, 1, `${file} runs dd once`);
    used.add(checkInvocation(calls[0], file));
  }
  // Array task i runs shard i + 1: Slurm counts from 0, dd's k/n from 1.
  ok(
    Deno.readTextFileSync(join(ROOT, "scheduling/slurm/shard.sbatch")).includes(
      "k=$((SLURM_ARRAY_TASK_ID + 1))",
    ),
  );
  const tested = Deno.readTextFileSync(NIGHTLY_TEST);
  for (const name of used) {
    const [a, b] = name.split(" ");
    ok(
      tested.includes(`"${a}",\n    "${b}"`) || tested.includes(`"${a}", "${b}"`),
      `${name} is not run by ${NIGHTLY_TEST}`,
    );
  }

  // The checker itself rejects what it should.
  const bad = (words: string[]) => {
    try {
      checkInvocation(words, "t");
    } catch {
      return true;
    }
    return false;
  };
  ok(bad(["nightly", "plan", "--profile", "smoke"]), "a missing required option");
  ok(bad(["nightly", "plan", "--shards", "2", "--bogus"]), "an unknown option");
  ok(bad(["nightly", "frobnicate"]), "an unknown command");
  ok(bad(["nightly", "shard", "--store", "x.db"]), "a missing argument");
  ok(!bad(["nightly", "shard", "1/2", "--store", "x.db", "--filter", ""]));
  eq(shellWords(`nightly shard "\${{ matrix.shard }}/$SHARDS" --filter "" > out.json`), [
    "nightly",
    "shard",
    "${{ matrix.shard }}/$SHARDS",
    "--filter",
    "",
  ]);
});
