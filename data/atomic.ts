/**
 * Atomic file writes: write a uniquely named temp file in the same folder, then rename over the target.
 * A reader therefore sees either the old file or the complete new one, never a half-written file, even when
 * the writer dies or two processes build the same cache at once. Temp files are named
 * `<target>.<pid>.<hex>.tmp`, so the next writer can tell a dead writer's leftovers from a live one's.
 */
function dirOf(path: string): string {
  const i = path.lastIndexOf("/");
  return i <= 0 ? (i === 0 ? "/" : ".") : path.slice(0, i);
}

function baseOf(path: string): string {
  return path.slice(path.lastIndexOf("/") + 1);
}

function tempPathFor(path: string): string {
  const rand = crypto.getRandomValues(new Uint32Array(2));
  return `${path}.${Deno.pid}.${rand[0].toString(16)}${rand[1].toString(16)}.tmp`;
}

export interface AtomicWriteOptions {
  /**
   * false: never replace an existing file (a content-addressed artifact: the first complete file wins, so a
   * hash recorded for it stays true). The write then returns false and leaves the existing file as it is.
   */
  replace?: boolean;
}

/**
 * Write `chunks` in order to `path` atomically, creating parent folders. Returns whether the file was
 * written (always true unless `replace: false` found one already there).
 */
export async function writeChunksAtomic(
  path: string,
  chunks: Iterable<Uint8Array>,
  opts: AtomicWriteOptions = {},
): Promise<boolean> {
  await Deno.mkdir(dirOf(path), { recursive: true });
  const tmp = tempPathFor(path);
  try {
    const f = await Deno.open(tmp, { write: true, createNew: true });
    try {
      for (const chunk of chunks) {
        let off = 0;
        while (off < chunk.length) off += await f.write(chunk.subarray(off));
      }
      await f.syncData();
    } finally {
      f.close();
    }
    if (opts.replace === false) return await publishNew(tmp, path);
    await Deno.rename(tmp, path);
    return true;
  } catch (e) {
    await Deno.remove(tmp).catch(() => {});
    throw e;
  }
}

export async function writeFileAtomic(
  path: string,
  data: Uint8Array,
  opts: AtomicWriteOptions = {},
): Promise<boolean> {
  return await writeChunksAtomic(path, [data], opts);
}

/** Text as UTF-8, atomically (reports, exports). */
export async function writeTextFileAtomic(path: string, text: string): Promise<void> {
  await writeChunksAtomic(path, [new TextEncoder().encode(text)]);
}

/**
 * Gives the complete temp file the target name unless one exists. A hard link fails when the name is taken,
 * which makes "create if absent" atomic between processes; rename cannot (it replaces).
 */
async function publishNew(tmp: string, path: string): Promise<boolean> {
  try {
    await Deno.link(tmp, path);
    return true;
  } catch (e) {
    if (e instanceof Deno.errors.AlreadyExists) return false;
    // A filesystem without hard links: the check and the rename are not atomic together, which
    // leaves only a narrow window for a concurrent writer of the same name.
    if (await exists(path)) return false;
    await Deno.rename(tmp, path);
    return true;
  } finally {
    await Deno.remove(tmp).catch(() => {});
  }
}

async function exists(path: string): Promise<boolean> {
  try {
    await Deno.lstat(path);
    return true;
  } catch {
    return false;
  }
}

/**
 * Whether a process with this id is running on this machine: Linux's /proc (a zombie counts as dead).
 * Where that is not available the answer is "alive", the safe side for callers that would delete a
 * process's files or take over its work.
 */
export function processAlive(pid: number): boolean {
  if (!Number.isInteger(pid) || pid <= 0) return false;
  if (pid === Deno.pid) return true;
  let stat: string;
  try {
    stat = Deno.readTextFileSync(`/proc/${pid}/stat`);
  } catch (e) {
    if (e instanceof Deno.errors.NotFound) return !procAvailable();
    return true;
  }
  // "pid (comm) S …": the state follows the last ")" (comm may contain spaces and parentheses).
  const state = stat.slice(stat.lastIndexOf(")") + 2, stat.lastIndexOf(")") + 3);
  return state !== "Z" && state !== "X";
}

function procAvailable(): boolean {
  try {
    return Deno.statSync("/proc/self/stat").isFile;
  } catch {
    return false;
  }
}

/**
 * Removes the temp files a writer of `path` left when it died (killed mid-write): `<path>.<pid>.<hex>.tmp`
 * (and the older `<path>.<pid>.tmp`) whose process is gone and that have not changed for `minAgeMs` (a
 * writer on another machine sharing the folder keeps its file fresh). Returns the removed paths.
 */
export async function removeStaleTemps(path: string, minAgeMs = 10_000): Promise<string[]> {
  const dir = dirOf(path), base = baseOf(path);
  const removed: string[] = [];
  let entries: Deno.DirEntry[];
  try {
    entries = [...Deno.readDirSync(dir)];
  } catch {
    return removed; // no folder yet: nothing left behind
  }
  const now = Date.now();
  for (const e of entries) {
    if (!e.isFile || !e.name.startsWith(`${base}.`)) continue;
    const m = /^\.(\d+)(?:\.[0-9a-f-]+)?\.tmp$/.exec(e.name.slice(base.length));
    if (!m || processAlive(Number(m[1]))) continue;
    const file = `${dir}/${e.name}`;
    try {
      const info = await Deno.stat(file);
      if (now - (info.mtime?.getTime() ?? now) < minAgeMs) continue;
      await Deno.remove(file);
      removed.push(file);
    } catch {
      // Gone already (another process cleaned it) or not ours to remove: leave it.
    }
  }
  return removed;
}
