/**
 * `deno task dd <command>`: the ddrepro command line. Each command lives in a small module under cli/;
 * this file only declares flags (commander) and turns every failure into one clear line on stderr
 * and a non-zero exit status.
 */
import { Command, CommanderError, Option } from "commander";
import { CliError, collect, DEFAULT_ARTIFACTS, DEFAULT_REPORTS, DEFAULT_STORE, errorLine } from "./common.ts";
import { datasetsCommand, methodsCommand, showCommand, tablesCommand } from "./info.ts";
import { runCommand } from "./run_cmd.ts";
import { compareCommand, exportCommand, mergeCommand, reportCommand } from "./report_cmd.ts";
import { cmiCommand, distillCommand, evalCommand } from "./eval_cmd.ts";
import { PROFILE_IDS } from "../experiments/profiles.ts";
import { addNightlyCommand } from "./nightly_cmd.ts";
import { checkBuiltinTables } from "../experiments/user_specs.ts";
import { pretrainCommand } from "./pretrain_cmd.ts";

const PROFILE_HELP = `${PROFILE_IDS.join(" | ")} (experiments/README.md)`;

function specOptions(cmd: Command): Command {
  return cmd
    .option("--spec <file>", "a user spec file (JSON/YAML); repeatable", collect)
    .option("--include <dir>", "make every spec file in <dir> addressable by its id; repeatable", collect);
}

function runOptions(cmd: Command): Command {
  return specOptions(cmd)
    .addOption(new Option("--profile <profile>", PROFILE_HELP).default("quick"))
    .option(
      "--filter <terms>",
      "cells to run: id substring or field=value[|value], comma-separated " +
        "(fields: id, method, dataset, ipc, model, protocol, labels)",
    )
    .option("--shard <k/n>", "run the k-th of n deterministic shards of the planned repeats")
    .option("--store <path>", "results store", DEFAULT_STORE)
    .option("--artifacts <dir>", "where distilled sets (safetensors + PNG) are kept", DEFAULT_ARTIFACTS)
    .option("--no-save-sets", "do not save distilled sets")
    .option("--json", "print the run summary as JSON on stdout")
    .option(
      "--set <method.key=value>",
      "override a method config value after the profile's scaling, which derives dependent values from it " +
        "(e.g. dm.iterations=300; recorded as a substitution); repeatable",
      collect,
    )
    .option("--repeats <n>", "repeats per cell instead of the profile's")
    .option(
      "--eval-epochs <n>",
      "evaluator epochs instead of the profile's budget (recorded as a substitution)",
    )
    .option("--dry-run", "list the repeats that would run (not yet in the store) and run none");
}

export function buildProgram(): Command {
  const program = new Command("dd")
    .description("ddrepro: reproduce dataset-distillation tables (deno task dd <command> --help)")
    .showHelpAfterError("(run with --help for usage)")
    .configureOutput({ outputError: (s, write) => write(s) });

  specOptions(program.command("tables").description("list tables (built-in and user specs)"))
    .option("--json", "[{ id, paper, caption, cells, claimed, claims }]")
    .action((o) => tablesCommand(o));

  specOptions(
    program.command("show").argument("<table>", "table id or spec file").description("show a table spec"),
  )
    .option("--json", "the spec: cells { method, dataset, ipc, model, claimed, … } and claims")
    .action((id, o) => showCommand(id, o));

  program.command("methods").description("list methods and whether they are implemented")
    .option("--json", "[{ id, implemented, tables }]")
    .action((o) => methodsCommand(o));

  program.command("datasets").description("list datasets and whether they are on this machine")
    .option("--json", "[{ id, classes, shape, available, source, reason }]")
    .action((o) => datasetsCommand(o));

  runOptions(
    program.command("run").argument("<table>", "table id or spec file").description(
      "run a table's cells into the results store (resumable; Ctrl-C stops cleanly)",
    ),
  )
    .option("--report [dir]", `write the table's report afterwards (default dir ${DEFAULT_REPORTS})`)
    .action((id, o) => runCommand(id, o));

  runOptions(
    program.command("table1").description(
      `run igds/table1 at the quick profile on embedded data, then write its report to ${DEFAULT_REPORTS}/`,
    ),
  )
    .option("--report <dir>", "report folder", DEFAULT_REPORTS)
    .action((o) => runCommand("igds/table1", o));

  specOptions(program.command("report").argument("[table]", "table id (default: every table in the store)"))
    .description("write Markdown + HTML reports from the results store")
    .option("--store <path>", "results store", DEFAULT_STORE)
    .option("--out <dir>", "output folder", DEFAULT_REPORTS)
    .addOption(new Option("--profile <profile>", `${PROFILE_HELP}; default: the most faithful one stored`))
    .option("--json", "print the written files and verdict counts as JSON")
    .action((id, o) => reportCommand(id, o));

  program.command("compare").argument("<a>", "base store file, or git sha (with --store)")
    .argument("<b>", "head store file, or git sha")
    .description("compare two stores (or two commits in one store): regressions beyond repeat noise")
    .option("--store <path>", "the store holding both commits' results", DEFAULT_STORE)
    .option(
      "--metric <name>",
      "lastTestAcc | bestHoldoutAcc | testAccAtBestHoldout | bestTestAcc (needs testCurve)",
    )
    .option("--fail-on-regression", "exit 1 when any cell regressed")
    .option("--json", "the comparison as JSON")
    .action((a, b, o) => compareCommand(a, b, o));

  program.command("merge").argument("<stores...>", "store files to merge in")
    .description("merge stores (e.g. shards) into --store; idempotent")
    .option("--store <path>", "the store to merge into", DEFAULT_STORE)
    .option("--json", "counts as JSON")
    .action((from, o) => mergeCommand(from, o));

  program.command("export").description("export every stored result as JSON")
    .option("--json", "JSON output (the only format; accepted for symmetry)")
    .option("--store <path>", "results store", DEFAULT_STORE)
    .option("--table <id>", "only this table's results")
    .option("--out <file>", "write to a file instead of stdout")
    .action((o) => exportCommand(o));

  program.command("eval").description("evaluate a distilled set (or a random subset) under a protocol")
    .requiredOption("--dataset <id>", "dataset id")
    .requiredOption("--set <file|random>", "a distilled-set .safetensors file, or `random`")
    .option("--ipc <n>", "images per class (for --set random)")
    .option("--model <id>", "evaluator model", "convnet3")
    .option("--protocol <id>", "evaluator protocol", "dc")
    .option("--repeats <n>", "evaluations with seeds 0..n-1", "3")
    .addOption(new Option("--profile <profile>", PROFILE_HELP).default("quick"))
    .option("--seed <n>", "seed of the random subset", "0")
    .option("--eval-epochs <n>", "evaluator epochs instead of the profile's budget")
    .option(
      "--resize",
      "resample a set of another image size to the dataset's (bilinear; recorded as a substitution)",
    )
    .option("--json", "per-repeat metrics and mean ± std as JSON")
    .action((o) => evalCommand(o));

  program.command("distill").description("distil one set with a method and save it (+ PNG grid)")
    .requiredOption("--method <id>", "method id")
    .requiredOption("--dataset <id>", "dataset id")
    .requiredOption("--ipc <n>", "images per class")
    .addOption(new Option("--profile <profile>", PROFILE_HELP).default("quick"))
    .option("--seed <n>", "seed", "0")
    .option("--set <key=value>", "override a method config value (validated); repeatable", collect)
    .requiredOption("--out <file>", "output .safetensors file")
    .option("--json", "metrics as JSON")
    .action((o) => distillCommand(o));

  program.command("cmi").description(
    "CMI value of distilled sets under the reference extractor of <base>+cmi",
  )
    .requiredOption("--dataset <id>", "dataset id")
    .requiredOption("--set <file>", "a distilled-set .safetensors file; repeatable", collect)
    .option("--base <method>", "the +cmi method whose extractor settings (at --profile) measure", "dm")
    .addOption(new Option("--profile <profile>", PROFILE_HELP).default("quick"))
    .option("--json", "{ dataset, profile, extractor, rows: [{ set, cmi }] }")
    .action((o) => cmiCommand(o));

  addNightlyCommand(program);

  program.command("pretrain").argument("<model>", "vae | dit")
    .description(
      "train a small generative foundation model on embedded data (resumable; Ctrl-C stops cleanly)",
    )
    .requiredOption("--dataset <id>", "mnist | fashion-mnist")
    .option("--profile <profile>", "smoke (seconds) | quick (the shipped recipe)", "quick")
    .option("--out <dir>", "where the checkpoint, its JSON record and PNG go (quick: models/weights)")
    .option("--state <file>", "the resumable training state (default: under the cache)")
    .option("--steps <n>", "train this many steps instead of the recipe's (a different run)")
    .option("--checkpoint-minutes <m>", "minutes between saved training states", "5")
    .option("--vae <file>", "dit: the VAE checkpoint (default: the shipped one, hash-verified)")
    .option("--json", "the checkpoint, its hash and the metrics as JSON")
    .action((model, o) => pretrainCommand(model, o));

  return program;
}

export async function main(args: string[]): Promise<number> {
  const program = buildProgram();
  program.exitOverride();
  for (const c of program.commands) c.exitOverride();
  try {
    // A built-in table file that does not load or cross-check is reported first, by file and line.
    checkBuiltinTables();
    await program.parseAsync(args, { from: "user" });
    return 0;
  } catch (e) {
    if (e instanceof CommanderError) {
      // Commander already printed its message (or the help, exit code 0).
      return e.exitCode;
    }
    if (e instanceof CliError) {
      console.error(errorLine(e.message));
      return e.code;
    }
    // Anything else (a malformed store, a spec error, a loader error) is still one message, not a trace,
    // unless DD_DEBUG asks for the trace.
    if (Deno.env.get("DD_DEBUG")) console.error(e);
    else console.error(errorLine(e instanceof Error ? e.message : String(e)));
    return 1;
  }
}

if (import.meta.main) {
  Deno.exit(await main(Deno.args));
}
