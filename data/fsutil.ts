/**
 * Small filesystem helpers shared by the loaders: where data and caches live, existence checks that never
 * throw, and reads that turn "not found" into a DatasetError naming the file.
 */
import { DatasetError, errorText } from "./errors.ts";

function homeDir(): string | null {
  return Deno.env.get("HOME") ?? Deno.env.get("USERPROFILE") ?? null;
}

/** Data root: explicit option, then $DD_DATA, then ~/.cache/ddrepro/data (survives fresh clones). */
export function resolveDataRoot(dataRoot?: string): string {
  if (dataRoot) return dataRoot;
  const env = Deno.env.get("DD_DATA");
  if (env) return env;
  const home = homeDir();
  return home ? join(home, ".cache", "ddrepro", "data") : join(Deno.cwd(), ".cache", "ddrepro", "data");
}

/**
 * Cache dir for decoded datasets: explicit option, then $DD_CACHE, then the repo's git-ignored
 * .cache/ddrepro/datasets (next to the code, so it does not depend on the working directory).
 */
export function resolveCacheDir(cacheDir?: string): string {
  if (cacheDir) return cacheDir;
  const env = Deno.env.get("DD_CACHE");
  if (env) return env;
  const repo = new URL("..", import.meta.url);
  if (repo.protocol === "file:") {
    return join(decodeURIComponent(repo.pathname), ".cache", "ddrepro", "datasets");
  }
  // Imported from a URL (no checkout to write into): fall back to the user's cache folder.
  return join(resolveDataRoot(), "..", "datasets-cache");
}

/** Root of ddrepro's caches of computed artifacts (trained networks, experts): $DD_CACHE or <repo>/.cache/ddrepro. */
export function cacheRoot(): string {
  return Deno.env.get("DD_CACHE") ?? new URL("../.cache/ddrepro", import.meta.url).pathname;
}

/** POSIX-style join that tolerates trailing slashes. */
export function join(...parts: string[]): string {
  return parts.filter((p) => p.length > 0).join("/").replace(/\/{2,}/g, "/");
}

export function basename(path: string): string {
  const parts = path.split("/").filter((p) => p.length > 0);
  return parts[parts.length - 1] ?? path;
}

export function statOrNull(path: string): Deno.FileInfo | null {
  try {
    return Deno.statSync(path);
  } catch {
    return null;
  }
}

export function isDir(path: string): boolean {
  return statOrNull(path)?.isDirectory ?? false;
}

export function isFile(path: string): boolean {
  return statOrNull(path)?.isFile ?? false;
}

/** Entries of a folder sorted by name (byte order, like Python's sorted()), hidden entries skipped. */
export function listDir(path: string): Deno.DirEntry[] {
  let entries: Deno.DirEntry[];
  try {
    entries = [...Deno.readDirSync(path)];
  } catch (e) {
    throw new DatasetError(`cannot read folder ${path}: ${errorText(e)}`, path, { cause: e });
  }
  return entries.filter((e) => !e.name.startsWith(".")).sort((a, b) => cmp(a.name, b.name));
}

/** Code-unit comparison: deterministic across locales (ImageNet WNIDs and file names are ASCII). */
export function cmp(a: string, b: string): number {
  return a < b ? -1 : a > b ? 1 : 0;
}

export async function readBytes(path: string, what: string): Promise<Uint8Array> {
  try {
    return await Deno.readFile(path);
  } catch (e) {
    if (e instanceof Deno.errors.NotFound) {
      throw new DatasetError(`missing file ${path} (expected ${what})`, path, { cause: e });
    }
    throw new DatasetError(`cannot read ${path} (${what}): ${errorText(e)}`, path, { cause: e });
  }
}

export async function readText(path: string, what: string): Promise<string> {
  return new TextDecoder().decode(await readBytes(path, what));
}

/** First existing candidate path, or null. */
export function firstExisting(candidates: string[], test: (p: string) => boolean = isFile): string | null {
  return candidates.find((p) => test(p)) ?? null;
}
