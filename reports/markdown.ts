/** The Markdown report of one table (and an index of several), rendered from the report model. */
import { escapeMarkdown as md, safeHref } from "./escape.ts";
import { comparableWithPaper } from "../experiments/profiles.ts";
import { fmtCost, fmtSeconds, shortSha } from "./format.ts";
import { fmtClaimed, fmtPts, fmtSigned, fmtSummary } from "../results/format.ts";
import {
  asTableReport,
  cellIdsText,
  type CellReport,
  cellStatusLabel,
  type FigurePage,
  METRIC_LABELS,
  ranText,
  sharedClaimedNote,
  staleNote,
  type TableReport,
  type TableReportInput,
  whatRanText,
} from "./model.ts";

/**
 * Accepts either the raw inputs or an already built model (when HTML is rendered from it too); `figures`
 * are the figure pages written beside the report, linked after the grid.
 */
export function renderTableMarkdown(
  input: TableReportInput | TableReport,
  options: { figures?: readonly FigurePage[] } = {},
): string {
  const r = asTableReport(input);
  const { spec } = r;
  const out: string[] = [];
  out.push(`# ${md(spec.table)} — ${md(spec.paper)} (\`${spec.id}\`)`, "");
  out.push(`> ${md(spec.caption)}`, "");
  out.push(`- **Source:** ${md(spec.source)}`);
  out.push(`- **Profile:** \`${r.profile}\` — ${profileNote(r)}`);
  const ran = whatRanText(r);
  if (ran !== null) out.push(`- **What ran:** ${md(ran)}`);
  const p = spec.protocol;
  out.push(
    `- **Paper protocol:** ${md(p.evaluator)}; epoch selection \`${p.selection}\`; ` +
      `${p.repeats === null ? "repeats not stated" : `${p.repeats} repeats`}. ${md(p.details)}`,
  );
  out.push(`- **Metric compared:** \`${r.metric}\` (${METRIC_LABELS[r.metric]})`);
  const o = r.verdict.options;
  out.push(
    `- **Verdict rule:** tolerance ${fmtPts(o.tolerance)} points, α = ${o.alpha}, ` +
      `single-repeat margin ${fmtPts(o.singleRepeatMargin)} points (see results/README.md)`,
  );
  out.push(`- **Cells:** ${counts(r.cellCounts)}`);
  out.push(`- **Claims:** ${counts(r.claimCounts)}`);
  if (r.staleCells.length) {
    out.push(
      `- **Stale:** ${r.staleCells.length} cell(s) hold repeats that predate this checkout's code ` +
        `(${r.staleCells.map(md).join(", ")}); \`dd run --dry-run\` lists what a rerun recomputes`,
    );
  }
  out.push("");

  out.push("## Claimed vs reproduced", "");
  const shared = sharedClaimedNote(r);
  out.push(
    shared === null
      ? `Each entry: claimed → reproduced (mean ± std over n repeats of \`${r.metric}\`), Δ = reproduced − claimed.`
      : `Claimed numbers: ${md(shared)} (every cell). Each entry: reproduced mean ± std over n repeats of ` +
        `\`${r.metric}\`; the Cells section below gives the reasons for cells that did not run.`,
    "",
  );
  out.push(`| | ${r.grid.columns.map(md).join(" | ")} |`, `| --- |${" --- |".repeat(r.grid.columns.length)}`);
  r.grid.rows.forEach((row, i) => {
    const ran = r.grid.ran[i] === null ? "" : ` (ran ${md(r.grid.ran[i]!)})`;
    out.push(
      `| **${md(row)}**${ran} | ${
        r.grid.at[i].map((c) => (c ? gridEntry(c, shared !== null) : "")).join(" | ")
      } |`,
    );
  });
  out.push("");

  if (options.figures?.length) {
    out.push("## Figures", "");
    for (const f of options.figures) {
      out.push(`- [${md(f.title)}](${linkTarget(f.href)}) — ${md(f.description)}`);
    }
    out.push("");
  }

  out.push("## Cells", "");
  if (r.cells.some((c) => c.standsFor.length > 1)) {
    out.push("Paper cells that ran the same evaluation share one line (their ids joined by =).", "");
  }
  const holdout = r.metric === "bestTestAcc";
  out.push(
    `| cell | method | dataset | IPC | model | claimed | reproduced | ${
      holdout ? "holdout-selected | " : ""
    }Δ | verdict | distill / eval per repeat | explanation |`,
    `| --- | --- | --- | --- | --- | --- | --- | ${holdout ? "--- | " : ""}--- | --- | --- | --- |`,
  );
  for (const c of r.cells) {
    if (c.shownAs !== null) continue;
    const v = c.verdict;
    const cols = [
      md(cellIdsText(c)),
      md(c.spec.method),
      md(ranText(c.spec.dataset, c.ran?.dataset)),
      c.spec.ipc === null ? "full" : String(c.spec.ipc),
      md(ranText(c.spec.model, c.ran?.model)),
      claimedText(c),
      v.reproduced ? fmtSummary(v.reproduced) : "—",
      ...(holdout ? [c.holdout ? fmtSummary(c.holdout) : "—"] : []),
      v.delta === null ? "—" : fmtSigned(v.delta),
      statusMd(cellStatusLabel(c)),
      fmtCost(c.results),
      md([staleNote(c), v.explanation].filter((x) => x !== null).join(". ")),
    ];
    out.push(`| ${cols.join(" | ")} |`);
  }
  out.push("");

  out.push("## Claims", "");
  if (r.verdict.claims.length === 0) out.push("The table makes no claims.", "");
  for (const c of r.verdict.claims) {
    out.push(`### ${md(c.claimId)}: ${statusMd(c.status)}`, "");
    out.push(`> ${md(c.text)} — _${md(c.source)}_ (${c.kind})`, "");
    out.push(md(c.explanation), "");
    for (const part of c.parts) out.push(`- **${part.status}** — ${md(part.explanation)}`);
    if (c.parts.length) out.push("");
  }

  out.push("## Substitutions", "");
  if (r.substitutions.length === 0) out.push("None: every run used the paper's setting.", "");
  else {
    out.push("| field | paper | used | reason | cells |", "| --- | --- | --- | --- | --- |");
    for (const { substitution: s, cells } of r.substitutions) {
      out.push(
        `| ${md(s.field)} | ${md(s.from)} | ${md(s.to)} | ${md(s.reason)} | ${cells.map(md).join(", ")} |`,
      );
    }
    out.push("");
  }

  out.push("## Provenance", "", ...provenanceLines(r), "");

  if (spec.notes?.length) {
    out.push("## Notes", "", ...spec.notes.map((n) => `- ${md(n)}`), "");
  }
  return out.join("\n").trimEnd() + "\n";
}

function profileNote(r: TableReport): string {
  if (comparableWithPaper(r.profile)) {
    return "the paper's full protocol; cell numbers are comparable with the paper.";
  }
  return "a reduced budget: cell numbers are **not comparable** with the paper (profile ≠ paper); " +
    "claims (relative comparisons) are still evaluated.";
}

function counts(c: Partial<Record<string, number>>): string {
  const entries = Object.entries(c).filter(([, n]) => (n ?? 0) > 0);
  return entries.length ? entries.map(([s, n]) => `${n} ${s}`).join(", ") : "none";
}

function provenanceLines(r: TableReport): string[] {
  const p = r.provenance;
  if (p.repeats === 0) return ["No results yet."];
  const list = (xs: string[]) => xs.map((x) => `\`${md(x)}\``).join(", ");
  const lines = [
    `- **Repeats:** ${p.repeats}` +
    (r.excludedRepeats ? ` (${r.excludedRepeats} repeats of older configurations not used)` : ""),
    `- **Git:** ${p.gitShas.map((g) => `\`${md(shortSha(g.sha))}\`${g.dirty ? " (dirty)" : ""}`).join(", ")}`,
    `- **Deno:** ${list(p.denoVersions)}`,
    `- **Adapter:** ${p.adapters.map(md).join("; ")}`,
    `- **Code versions:** ${list(p.codeVersions)}; **dataset manifests:** ${
      list(p.datasetManifestHashes.map((h) => h.slice(0, 12)))
    }`,
    `- **Hosts:** ${p.hostnames.map(md).join(", ")}`,
    `- **Wall time:** ${fmtSeconds(p.wallSeconds)} (work: distill ${fmtSeconds(p.distillSeconds)}, eval ${
      fmtSeconds(p.evalSeconds)
    }), ` +
    `${md(p.firstStart ?? "?")} → ${md(p.lastFinish ?? "?")}`,
  ];
  return lines;
}

function claimedText(c: CellReport): string {
  return c.spec.claimed
    ? fmtClaimed(c.spec.claimed)
    : `claimed: ${md(c.spec.claimedNote ?? "unavailable in source")}`;
}

/** One grid entry; `bare` (no cell has a claimed number) drops the claimed part and the long reasons. */
function gridEntry(c: CellReport, bare: boolean): string {
  const rep = c.verdict.reproduced;
  if (!rep) {
    const state = c.skipped !== null
      ? (bare ? "skipped" : cellStatusLabel(c))
      : c.method.implemented
      ? "not run"
      : bare
      ? "not implemented"
      : cellStatusLabel(c);
    return bare ? `_${md(state)}_` : `${claimedText(c)} → _${md(state)}_`;
  }
  const delta = c.verdict.delta === null ? "" : ` (Δ ${fmtSigned(c.verdict.delta)})`;
  const stale = c.stale ? " _(stale)_" : "";
  return bare ? fmtSummary(rep) + stale : `${claimedText(c)} → ${fmtSummary(rep)}${delta}${stale}`;
}

function statusMd(status: string): string {
  const s = md(status);
  return status === "reproduced" ? `**${s}**` : status === "not reproduced" ? `**${s}** ✗` : s;
}

/** A link target inside `[…](…)`: encoded so that no parenthesis, space or angle bracket ends or breaks it. */
function linkTarget(href: string): string {
  return encodeURI(safeHref(href)).replace(/[()]/g, (c) => `%${c.charCodeAt(0).toString(16).toUpperCase()}`);
}

/** A Markdown index of table reports (links are relative file names). */
export function renderIndexMarkdown(entries: readonly { href: string; report: TableReport }[]): string {
  const out = [
    "# ddrepro reports",
    "",
    "| table | paper | profile | cells | claims |",
    "| --- | --- | --- | --- | --- |",
  ];
  for (const { href, report: r } of entries) {
    out.push(
      `| [${md(r.spec.id)}](${encodeURI(href)}) | ${md(r.spec.paper)} — ${
        md(r.spec.table)
      } | \`${r.profile}\` | ` +
        `${counts(r.cellCounts)} | ${counts(r.claimCounts)} |`,
    );
  }
  return out.join("\n") + "\n";
}
