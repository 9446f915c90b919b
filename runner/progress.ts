/** Progress lines for long runs: cells done / total and an ETA from the mean time per finished repeat. */
import { fmtDuration, type ProgressReporter } from "../data/progress.ts";
import { escapeTerminal } from "../reports/escape.ts";

/**
 * Repeats done / total with an ETA. `work` is how many of the repeats will really compute (table rows
 * whose substituted configs coincide reuse one distillation and evaluation), so the ETA does not
 * count reused repeats as work still to do.
 */
export class Eta {
  private spent = 0;
  private finished = 0;
  private worked = 0;
  readonly work: number;
  constructor(readonly total: number, work = total) {
    this.work = Math.min(work, total);
  }

  /** A repeat finished after `seconds` of work (reused work counts as done but not as time). */
  done(seconds: number, counted = true): void {
    this.finished++;
    if (counted) {
      this.spent += seconds;
      this.worked++;
    }
  }

  get count(): number {
    return this.finished;
  }

  /** Seconds left, or NaN before any timed repeat. */
  remaining(): number {
    if (this.worked === 0 || this.spent <= 0) return NaN;
    return (this.spent / this.worked) * Math.max(0, this.work - this.worked);
  }

  label(): string {
    return `${this.finished}/${this.total}` +
      (this.finished < this.total ? ` ETA ${fmtDuration(this.remaining())}` : "");
  }
}

/** A reporter that forwards method/evaluator updates as one transient status line. */
export function statusReporter(
  prefix: string,
  status: ((line: string) => void) | undefined,
): ProgressReporter {
  if (!status) return { update() {}, log() {} };
  return {
    update(done, total, label) {
      status(`${prefix} ${label ?? "step"} ${done}/${total}`);
    },
    log(message) {
      status(`${prefix} ${message}`);
    },
  };
}

/**
 * A stderr status writer: on a terminal it overwrites one line; in a log (nightly runs, `nohup`) it prints
 * the current status as a plain line once a minute, so a repeat that distils for an hour still shows where it is.
 */
export function stderrStatus(): (line: string) => void {
  const enc = new TextEncoder();
  // Status lines carry cell ids and labels from spec files: their control characters are shown escaped.
  const clean = (line: string) => escapeTerminal(line, { lineBreaks: false });
  if (!Deno.stderr.isTerminal()) {
    return throttledLines((line) => Deno.stderr.writeSync(enc.encode(`${clean(line)}\n`)), 60_000);
  }
  return (line) => {
    const width = Deno.consoleSize?.().columns ?? 100;
    Deno.stderr.writeSync(enc.encode(`\r\x1b[K${clean(line).slice(0, Math.max(20, width - 1))}`));
  };
}

/**
 * Passes on at most one non-empty status line per `everyMs`, the first only after `everyMs` (short runs
 * print none); empty lines (a terminal's "clear") are dropped.
 */
export function throttledLines(
  write: (line: string) => void,
  everyMs: number,
  now: () => number = Date.now,
): (line: string) => void {
  let last = now();
  return (line) => {
    if (!line) return;
    const t = now();
    if (t - last < everyMs) return;
    last = t;
    write(line);
  };
}
