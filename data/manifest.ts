/**
 * Dataset manifests: every input file's relative path, size and sha256, plus one hash over the sorted list.
 * The hash goes into every result's provenance and keys the decode caches, so it must be deterministic.
 *
 * Hashing a large JPEG tree on every load would cost as much as decoding it, so digests are memoised per
 * file by (size, mtime) in a small JSON file next to the caches — the same trick git's index uses. A memo
 * that fails validation is ignored, never trusted.
 */
import { z } from "zod";
import { cmp, join } from "./fsutil.ts";
import { DatasetError, errorText } from "./errors.ts";
import { writeFileAtomic } from "./atomic.ts";
import type { Manifest, ManifestFile } from "./types.ts";

export interface ManifestInput {
  /** Absolute (or cwd-relative) path to read. */
  abs: string;
  /** Path recorded in the manifest: relative to the dataset root, "/"-separated. */
  rel: string;
}

export function hex(bytes: ArrayBuffer | Uint8Array): string {
  const b = bytes instanceof Uint8Array ? bytes : new Uint8Array(bytes);
  let s = "";
  for (let i = 0; i < b.length; i++) s += b[i].toString(16).padStart(2, "0");
  return s;
}

export async function sha256Hex(data: Uint8Array | string): Promise<string> {
  const bytes = typeof data === "string" ? new TextEncoder().encode(data) : data;
  return hex(await crypto.subtle.digest("SHA-256", bytes as Uint8Array<ArrayBuffer>));
}

/** The manifest hash: sha256 over "sha256 bytes path\n" lines in path order. */
export async function manifestHash(files: ManifestFile[]): Promise<string> {
  return await sha256Hex(files.map((f) => `${f.sha256} ${f.bytes} ${f.path}\n`).join(""));
}

const MemoEntry = z.object({
  bytes: z.number().int().nonnegative(),
  mtimeMs: z.number(),
  sha256: z.string(),
});
const Memo = z.object({ version: z.literal(1), entries: z.record(z.string(), MemoEntry) }).strict();
type Memo = z.infer<typeof Memo>;

function readMemo(path: string): Memo {
  try {
    const parsed = Memo.safeParse(JSON.parse(Deno.readTextFileSync(path)));
    if (parsed.success) return parsed.data;
  } catch {
    // Missing or unreadable memo: start afresh (it only saves time, it never decides correctness).
  }
  return { version: 1, entries: {} };
}

export interface BuildManifestOptions {
  /** JSON file memoising digests by (path, size, mtime); omit to always hash. */
  memoPath?: string;
  /** Files hashed concurrently (bounded so huge trees do not open thousands of files at once). */
  concurrency?: number;
}

export async function buildManifest(
  inputs: ManifestInput[],
  opts: BuildManifestOptions = {},
): Promise<Manifest> {
  const sorted = [...inputs].sort((a, b) => cmp(a.rel, b.rel));
  for (let i = 1; i < sorted.length; i++) {
    if (sorted[i].rel === sorted[i - 1].rel) {
      throw new DatasetError(`manifest lists ${sorted[i].rel} twice`, sorted[i].abs);
    }
  }
  const memo = opts.memoPath ? readMemo(opts.memoPath) : { version: 1 as const, entries: {} };
  const next: Memo = { version: 1, entries: {} };
  let changed = false;
  const files: ManifestFile[] = new Array(sorted.length);
  const concurrency = opts.concurrency ?? 16;
  let cursor = 0;
  const worker = async () => {
    while (cursor < sorted.length) {
      const i = cursor++;
      const { abs, rel } = sorted[i];
      let st: Deno.FileInfo;
      try {
        st = await Deno.stat(abs);
      } catch (e) {
        throw new DatasetError(`missing file ${abs} (listed in the dataset): ${errorText(e)}`, abs, {
          cause: e,
        });
      }
      const mtimeMs = st.mtime?.getTime() ?? 0;
      const hit = memo.entries[abs];
      let sha: string;
      if (hit && hit.bytes === st.size && hit.mtimeMs === mtimeMs) {
        sha = hit.sha256;
      } else {
        sha = await sha256Hex(await Deno.readFile(abs));
        changed = true;
      }
      next.entries[abs] = { bytes: st.size, mtimeMs, sha256: sha };
      files[i] = { path: rel, bytes: st.size, sha256: sha };
    }
  };
  await Promise.all(Array.from({ length: Math.min(concurrency, sorted.length) }, worker));
  if (opts.memoPath && (changed || Object.keys(memo.entries).length !== sorted.length)) {
    try {
      await writeFileAtomic(opts.memoPath, new TextEncoder().encode(JSON.stringify(next)));
    } catch {
      // A read-only cache dir only costs speed next time.
    }
  }
  return { files, hash: await manifestHash(files) };
}

/** Where the digest memo for one dataset root lives inside the cache dir. */
export async function memoPathFor(cacheDir: string, datasetId: string, root: string): Promise<string> {
  const key = (await sha256Hex(root)).slice(0, 16);
  return join(cacheDir, "manifests", `${datasetId}-${key}.json`);
}
