/**
 * Progress of long work (dataset decoding, pretraining, distillation, sampling, evaluation): the reporter
 * every layer writes to and the runner prints (runner/progress.ts). It sits at the bottom because
 * every layer above reports through it.
 */

/** Done/total of long work, and log lines. */
export interface ProgressReporter {
  /** Work units done of total, with a short label (e.g. "iteration"). */
  update(done: number, total: number, label?: string): void;
  log(message: string): void;
}

export const silentProgress: ProgressReporter = { update() {}, log() {} };

/** "42s", "3m05s", "1h02m"; "?" for a negative or non-finite duration. */
export function fmtDuration(seconds: number): string {
  if (!Number.isFinite(seconds) || seconds < 0) return "?";
  const s = Math.round(seconds);
  if (s < 60) return `${s}s`;
  const m = Math.floor(s / 60);
  if (m < 60) return `${m}m${String(s % 60).padStart(2, "0")}s`;
  return `${Math.floor(m / 60)}h${String(m % 60).padStart(2, "0")}m`;
}
