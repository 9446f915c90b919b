/**
 * The contract between the registry and each loader module: static info, a cheap availability check that
 * reads no image data, and the loader itself.
 */
import type { Availability, Dataset, DatasetInfo, ProgressFn } from "./types.ts";

export interface LoadContext {
  dataRoot: string;
  cacheDir: string;
  /** Requested output side length; undefined means the dataset's default. */
  resolution?: number;
  onProgress?: ProgressFn;
}

export interface DatasetDef {
  info: DatasetInfo;
  availability(dataRoot: string): Availability;
  load(ctx: LoadContext): Promise<Dataset>;
}
