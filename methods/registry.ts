/**
 * The method registry: every implemented method (methods/implemented.ts, one line each) and the methods
 * planned next, each with why it is not here yet, so reports say "not implemented" instead of inventing
 * numbers. An id that only the papers' tables name gets a not-implemented entry too (`notImplemented`;
 * experiments/methods.ts looks those up).
 */
import { z } from "zod";
import type { AnyMethod } from "./types.ts";
import * as implementedMethods from "./implemented.ts";

const IMPLEMENTED: readonly AnyMethod[] = Object.values(implementedMethods);

/**
 * Methods ddrepro intends to implement next, with why they are not implemented yet: the baselines the
 * seed papers compare with that are still missing, and the seed papers' own methods.
 * Never an implemented id (a test checks).
 */
export const PLANNED: Readonly<Record<string, string>> = {};

/** Why a method without an implementation has none. */
function reasonFor(id: string): string {
  const planned = PLANNED[id];
  if (planned !== undefined) return planned;
  const base = id.endsWith("+cmi") ? id.slice(0, -4) : null;
  if (base !== null && PLANNED[base] !== undefined) {
    return `planned (CMI regularizer on ${base}); not implemented yet`;
  }
  if (base !== null && IMPLEMENTED.some((m) => m.id === base)) {
    return `CMI regularizer on ${base}: ${base} does not add a regularizer term to its loss (not implemented)`;
  }
  return "paper-only row: ddrepro has no implementation of this method";
}

/** A registry entry for a method ddrepro does not implement; its distill() refuses with the reason. */
export function notImplemented(id: string): AnyMethod {
  const reason = reasonFor(id);
  return {
    id,
    description: id,
    reference: "",
    implemented: false,
    reason,
    schema: z.object({}),
    defaults: () => ({}),
    distill: () => Promise.reject(new Error(`method "${id}" is not implemented: ${reason}`)),
  };
}

const registry: ReadonlyMap<string, AnyMethod> = new Map([
  ...Object.keys(PLANNED).map((id) => [id, notImplemented(id)] as const),
  ...IMPLEMENTED.map((m) => [m.id, m] as const),
]);

/** Implemented and planned methods, by id. */
export function listMethods(): AnyMethod[] {
  return [...registry.values()].sort((a, b) => a.id.localeCompare(b.id));
}

export function findMethod(id: string): AnyMethod | undefined {
  return registry.get(id);
}

export function getMethod(id: string): AnyMethod {
  const m = registry.get(id);
  if (!m) throw new Error(`unknown method "${id}"; known: ${[...registry.keys()].sort().join(", ")}`);
  return m;
}
