/**
 * Content keys for results (asv-style): a repeat is identified by everything that determines its
 * numbers. Change the config, the code version, the dataset or the seed and the key changes, so the
 * store never mixes stale results with fresh ones and reruns skip exactly what is already done.
 */
import { createHash } from "node:crypto";

/**
 * JSON with object keys sorted at every level, so equal values always serialise to equal bytes.
 * `undefined` object members are dropped (an absent optional equals an undefined one); values JSON
 * cannot represent faithfully (NaN, ±Infinity, bigint, functions, undefined in arrays) throw rather
 * than silently collapse to `null` and collide with a real null.
 */
export function canonicalJson(value: unknown): string {
  return serialise(value, "$");
}

function serialise(value: unknown, path: string): string {
  if (value === null) return "null";
  switch (typeof value) {
    case "boolean":
      return value ? "true" : "false";
    case "string":
      return JSON.stringify(value);
    case "number":
      if (!Number.isFinite(value)) throw new TypeError(`canonicalJson: non-finite number at ${path}`);
      // -0 and 0 must hash alike (JSON.stringify(-0) is "0" already; keep it explicit).
      return JSON.stringify(Object.is(value, -0) ? 0 : value);
    case "object": {
      if (Array.isArray(value)) {
        return "[" + value.map((v, i) => {
          if (v === undefined) throw new TypeError(`canonicalJson: undefined array element at ${path}[${i}]`);
          return serialise(v, `${path}[${i}]`);
        }).join(",") + "]";
      }
      const proto = Object.getPrototypeOf(value);
      if (proto !== Object.prototype && proto !== null) {
        throw new TypeError(`canonicalJson: non-plain object at ${path}`);
      }
      const entries = Object.entries(value as Record<string, unknown>)
        .filter(([, v]) => v !== undefined)
        .sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0));
      return "{" + entries.map(([k, v]) => JSON.stringify(k) + ":" + serialise(v, `${path}.${k}`)).join(",") +
        "}";
    }
    default:
      throw new TypeError(`canonicalJson: unsupported ${typeof value} at ${path}`);
  }
}

export function sha256Hex(data: string | Uint8Array): string {
  return createHash("sha256").update(data).digest("hex");
}

/**
 * The part of a resolved cell that determines its numbers: everything except the substitutions'
 * prose `reason`, so rewording an explanation does not orphan stored results.
 */
export function keyedCell<C extends KeyableCell>(resolved: C): KeyedCell<C> {
  return {
    ...resolved,
    substitutions: resolved.substitutions.map(({ field, from, to }) => ({ field, from, to })),
  };
}

/**
 * What the key recipe needs of a resolved cell (experiments/resolved.ts `ResolvedCell`): its fields and
 * substitutions. Structural, so this bottom layer does not import the experiments that define it.
 */
export interface KeyableCell {
  substitutions: readonly (KeyedSubstitution & { reason: string })[];
}

interface KeyedSubstitution {
  field: string;
  from: string | number;
  to: string | number;
}

export type KeyedCell<C extends KeyableCell = KeyableCell> = Omit<C, "substitutions"> & {
  substitutions: KeyedSubstitution[];
};

/** The store key of one repeat: sha256 of the canonical JSON of everything that determines it. */
export function contentKey<C extends KeyableCell>(
  resolved: C,
  repeat: number,
  seed: number,
  codeVersion: string,
  datasetManifestHash: string,
): string {
  // A versioned envelope: if the key recipe ever changes, old and new keys cannot collide.
  return sha256Hex(
    canonicalJson({ v: 2, resolved: keyedCell(resolved), repeat, seed, codeVersion, datasetManifestHash }),
  );
}

/**
 * Key recipe 1 (stores of schema version 1): it hashed the substitutions' reasons too. Kept only so
 * the store migration can check each old row's key against its content before rekeying it.
 */
export function contentKeyV1<C extends KeyableCell>(
  resolved: C,
  repeat: number,
  seed: number,
  codeVersion: string,
  datasetManifestHash: string,
): string {
  return sha256Hex(canonicalJson({ v: 1, resolved, repeat, seed, codeVersion, datasetManifestHash }));
}
