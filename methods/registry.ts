/**
 * The method registry: every method id a table names is either implemented here or listed with the
 * reason it is not, so reports say "not implemented" instead of inventing numbers.
 */
import { z } from "zod";
import type { MethodDef } from "./types.ts";
import { randomMethod } from "../baselines/random.ts";
import { fullDatasetMethod } from "../baselines/full_dataset.ts";
import { dcMethod } from "../baselines/dc.ts";
import { dsaMethod } from "../baselines/dsa.ts";
import { dmCmiMethod, dmMethod } from "../baselines/dm.ts";
import { idmCmiMethod, idmMethod } from "../baselines/idm.ts";
import { mttCmiMethod, mttMethod } from "../baselines/mtt.ts";
import { idc1Method, idcCmiMethod, idcMethod } from "../baselines/idc.ts";
import { dcCmiMethod, dsaCmiMethod } from "../baselines/cmi.ts";
import { herdingMethod } from "../baselines/herding.ts";
import { kcenterMethod } from "../baselines/kcenter.ts";
import { forgettingMethod } from "../baselines/forgetting.ts";
import { diffusionMethod } from "../baselines/diffusion_sampling.ts";
import { d4mMethod } from "../baselines/d4m.ts";
import { minimaxMethod } from "../baselines/minimax.ts";
import { sre2lMethod } from "../baselines/sre2l.ts";
import { rdedMethod } from "../baselines/rded.ts";
import { d3hrMethod } from "./d3hr/method.ts";
import { builtinTables } from "../experiments/registry.ts";

// deno-lint-ignore no-explicit-any -- the registry is heterogeneous in config types by design
type AnyMethod = MethodDef<any>;

const implemented: AnyMethod[] = [
  randomMethod,
  fullDatasetMethod,
  herdingMethod,
  kcenterMethod,
  forgettingMethod,
  dcMethod,
  dsaMethod,
  dmMethod,
  idmMethod,
  mttMethod,
  idcMethod,
  idc1Method,
  dcCmiMethod,
  dsaCmiMethod,
  dmCmiMethod,
  idmCmiMethod,
  mttCmiMethod,
  idcCmiMethod,
  diffusionMethod,
  d4mMethod,
  minimaxMethod,
  sre2lMethod,
  rdedMethod,
  d3hrMethod,
];

/** Methods ddrepro intends to implement: the baselines the seed papers compare with, and their own methods. */
const PLANNED = [
  "herding",
  "kcenter",
  "forgetting",
  "dc",
  "dsa",
  "dm",
  "idm",
  "idc",
  "idc-1",
  "mtt",
  "sre2l",
  "rded",
  "diffusion",
  "minimax",
  "d4m",
  "igd",
  "igds",
  "dgs",
  "d3hr",
];

function notImplemented(id: string, reason: string): AnyMethod {
  return {
    id,
    description: id,
    reference: "",
    implemented: false,
    reason,
    schema: z.object({}),
    defaults: () => ({}),
    scale: (c) => c,
    distill: () => Promise.reject(new Error(`method "${id}" is not implemented: ${reason}`)),
  };
}

function reasonFor(id: string): string {
  const base = id.endsWith("+cmi") ? id.slice(0, -4) : id;
  if (PLANNED.includes(id)) return "planned; not implemented in ddrepro yet";
  if (id.endsWith("+cmi") && PLANNED.includes(base)) {
    return `planned (CMI regularizer on ${base}); not implemented yet`;
  }
  return "paper-only row: ddrepro has no implementation of this method";
}

function build(): Map<string, AnyMethod> {
  const m = new Map<string, AnyMethod>();
  for (const x of implemented) m.set(x.id, x);
  const ids = new Set<string>([...PLANNED, ...builtinTables.flatMap((t) => t.cells.map((c) => c.method))]);
  for (const id of ids) if (!m.has(id)) m.set(id, notImplemented(id, reasonFor(id)));
  return m;
}

const registry = build();

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

/** Ids of built-in tables whose cells use the method. */
export function tablesUsing(id: string): string[] {
  return builtinTables.filter((t) => t.cells.some((c) => c.method === id)).map((t) => t.id);
}
