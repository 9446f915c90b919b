/** Messages between image_dataset.ts and decode_worker.ts. */

/** Decode `paths` and resize each to size×size; `id` echoes back with the reply. */
export interface DecodeJob {
  id: number;
  paths: string[];
  size: number;
}

export type DecodeReply =
  | { id: number; ok: true; pixels: ArrayBuffer }
  | { id: number; ok: false; message: string; file: string | null };
