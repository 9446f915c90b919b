/**
 * One error type for every bad-input case, so callers can tell "your data is wrong or missing" apart from
 * bugs. Messages always name the file (or folder) and say what was expected.
 */
export class DatasetError extends Error {
  /** The file or folder the problem is in, when there is one. */
  readonly file: string | null;

  constructor(message: string, file: string | null = null, options?: ErrorOptions) {
    super(message, options);
    this.name = "DatasetError";
    this.file = file;
  }
}

/** Human-readable error text for wrapping third-party exceptions. */
export function errorText(e: unknown): string {
  return e instanceof Error ? e.message : String(e);
}
