/**
 * Where a result came from: git commit (and whether the tree had uncommitted changes), Deno version,
 * WebGPU adapter and host. Collected once per run; every stored repeat carries a copy.
 */
import { dirname } from "node:path";
import { fileURLToPath } from "node:url";
import type { Adapter } from "../results/types.ts";
import type { AdapterInfo } from "../engine/backend.ts";

export interface GitInfo {
  sha: string;
  dirty: boolean;
}

export interface RunEnvironment {
  git: GitInfo;
  denoVersion: string;
  hostname: string;
}

/** The repository this code lives in (provenance describes the code, not the caller's cwd). */
export const REPO_DIR: string = dirname(dirname(fileURLToPath(import.meta.url)));

/**
 * HEAD's sha and whether tracked or untracked (non-ignored) files differ from it. An untracked source
 * file can change results as much as an edit, so it counts as dirty. Without git (e.g. a tarball
 * install) the sha is "unknown" and the tree counts as dirty: nothing proves it is clean.
 */
export async function gitInfo(dir: string = REPO_DIR): Promise<GitInfo> {
  const run = async (args: string[]): Promise<string | null> => {
    try {
      const out = await new Deno.Command("git", { args, cwd: dir, stdout: "piped", stderr: "null" }).output();
      return out.success ? new TextDecoder().decode(out.stdout) : null;
    } catch {
      return null; // git not installed
    }
  };
  const sha = (await run(["rev-parse", "HEAD"]))?.trim();
  if (!sha) return { sha: "unknown", dirty: true };
  const status = await run(["status", "--porcelain"]);
  return { sha, dirty: status === null || status.trim().length > 0 };
}

export function hostname(): string {
  try {
    return Deno.hostname();
  } catch {
    return "unknown";
  }
}

export async function runEnvironment(dir?: string): Promise<RunEnvironment> {
  return { git: await gitInfo(dir), denoVersion: Deno.version.deno, hostname: hostname() };
}

/** The engine's adapter description in the store's shape. */
export function adapterFromInfo(info: AdapterInfo): Adapter {
  return {
    vendor: info.vendor || "unknown",
    architecture: info.architecture || "unknown",
    description: info.description || "unknown",
    backend: info.software ? `${info.backend} (software)` : info.backend,
    ...(info.limits ? { limits: info.limits } : {}),
  };
}
