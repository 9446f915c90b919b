/**
 * Atomic file writes: write a uniquely named temp file in the same folder, then rename over the target.
 * A reader therefore sees either the old file or the complete new one, never a half-written file, even when
 * the writer dies or two processes build the same cache at once.
 */
function dirOf(path: string): string {
  const i = path.lastIndexOf("/");
  return i <= 0 ? (i === 0 ? "/" : ".") : path.slice(0, i);
}

function tempPathFor(path: string): string {
  const rand = crypto.getRandomValues(new Uint32Array(2));
  return `${path}.${Deno.pid}.${rand[0].toString(16)}${rand[1].toString(16)}.tmp`;
}

/** Write `chunks` in order to `path` atomically, creating parent folders. */
export async function writeChunksAtomic(path: string, chunks: Iterable<Uint8Array>): Promise<void> {
  await Deno.mkdir(dirOf(path), { recursive: true });
  const tmp = tempPathFor(path);
  try {
    const f = await Deno.open(tmp, { write: true, create: true, truncate: true });
    try {
      for (const chunk of chunks) {
        let off = 0;
        while (off < chunk.length) off += await f.write(chunk.subarray(off));
      }
      await f.syncData();
    } finally {
      f.close();
    }
    await Deno.rename(tmp, path);
  } catch (e) {
    await Deno.remove(tmp).catch(() => {});
    throw e;
  }
}

export async function writeFileAtomic(path: string, data: Uint8Array): Promise<void> {
  await writeChunksAtomic(path, [data]);
}
