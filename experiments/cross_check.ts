/**
 * Cross-checks of an expanded table against the registries: method, dataset, model and protocol ids
 * exist, IPC fits in a class, and a cell's `config`/`set` is one its method's schema accepts. Built-in
 * and user tables go through the same checks (experiments/user_specs.ts runs them at load).
 */
import { type CellSpec, MEASUREMENT_PROTOCOLS, type TableSpec } from "./schema.ts";
import { issueText, type Problem } from "./spec_file.ts";
import { datasetInfo } from "../data/registry.ts";
import { findModel, models } from "../models/registry.ts";
import { PROTOCOLS } from "../evaluator/protocols.ts";
import { cellMethod } from "./methods.ts";
import type { MethodDef } from "../methods/types.ts";

/**
 * Smallest number of training images in any class of the official train split, where fixed by the
 * dataset (ImageFolder datasets depend on the user's copy). A cell's IPC cannot exceed it.
 */
export const MIN_CLASS_SIZE: Readonly<Record<string, number>> = {
  mnist: 5421,
  "fashion-mnist": 6000,
  cifar10: 5000,
  cifar100: 500,
  svhn: 4659,
  "tiny-imagenet": 500,
  "imagenet-1k": 732,
};

/**
 * Ids must exist in the registries; IPC must fit in a class; config/set must suit the method. A cell that
 * measures a cost or an information value (`MEASUREMENT_PROTOCOLS`) may name no evaluator (model "none"),
 * and its config describes the measurement (metric, hardware), so the method's schema does not apply.
 */
export function crossCheck(spec: TableSpec): Problem[] {
  const problems: Problem[] = [];
  spec.cells.forEach((c, i) => {
    const measurement = MEASUREMENT_PROTOCOLS.includes(c.protocol);
    const p = (field: string, message: string) => problems.push({ path: ["cells", i, field], message });
    const method = cellMethod(c.method);
    if (!method) p("method", `unknown method "${c.method}" (see \`dd methods\`)`);
    let datasetKnown = true;
    try {
      datasetInfo(c.dataset);
    } catch {
      datasetKnown = false;
      p("dataset", `unknown dataset "${c.dataset}" (see \`dd datasets\`)`);
    }
    if (c.model === "none") {
      if (!measurement) {
        p(
          "model",
          `model "none" is only for cells that measure no evaluator (protocol ` +
            `${MEASUREMENT_PROTOCOLS.join(", ")})`,
        );
      }
    } else if (!findModel(c.model)) {
      p(
        "model",
        `unknown model "${c.model}"; expected one of ${models.map((m) => m.id).join(", ")} ` +
          `(ConvNets also as <id>-w<width>)`,
      );
    }
    if (c.teacher !== undefined && !findModel(c.teacher)) {
      p("teacher", `unknown model "${c.teacher}"; expected one of ${models.map((m) => m.id).join(", ")}`);
    }
    if (PROTOCOLS[c.protocol] === undefined && !measurement) {
      p(
        "protocol",
        `unknown evaluator protocol "${c.protocol}"; expected one of ${Object.keys(PROTOCOLS).join(", ")} ` +
          `(or a measurement: ${MEASUREMENT_PROTOCOLS.join(", ")})`,
      );
    }
    if (c.ipc === null && c.method !== "full-dataset") {
      p("ipc", `expected a positive integer (null only for method "full-dataset")`);
    }
    const max = MIN_CLASS_SIZE[c.dataset];
    if (datasetKnown && c.ipc !== null && max !== undefined && c.ipc > max) {
      p("ipc", `IPC ${c.ipc} is larger than the smallest ${c.dataset} class (${max} training images)`);
    }
    if (method?.implemented && datasetKnown && !measurement) {
      for (const q of configProblems(method, c)) {
        problems.push({ path: ["cells", i, ...q.path], message: q.message });
      }
    }
  });
  return problems;
}

/**
 * A cell's `config` and `set` checked with its method's schema, on the method's defaults for the cell's
 * dataset and IPC (as resolution will apply them), so a misspelt key or a wrong type fails when the spec
 * loads instead of making the cell silently "not runnable". Paths point into `set` or `config`.
 */
function configProblems(method: MethodDef<Record<string, unknown>>, c: CellSpec): Problem[] {
  const config = c.config ?? {}, set = c.set ?? {};
  if (Object.keys(config).length === 0 && Object.keys(set).length === 0) return [];
  const defaults = method.defaults(c.dataset, c.ipc ?? 0);
  const parsed = method.schema.safeParse({ ...defaults, ...config, ...set });
  if (parsed.success) return [];
  const where = (key: PropertyKey): string => (Object.hasOwn(set, key) ? "set" : "config");
  const valid = Object.keys(defaults).join(", ") || "none";
  return parsed.error.issues.flatMap((i): Problem[] => {
    if (i.code === "unrecognized_keys") {
      return i.keys.map((k) => ({
        path: [where(k), k],
        message: `unknown ${method.id} config key "${k}" (valid keys: ${valid})`,
      }));
    }
    const [key, ...rest] = i.path;
    if (key === undefined) return [{ path: ["set"], message: `invalid ${method.id} config: ${i.message}` }];
    return [{
      path: [where(key), String(key), ...rest.map((k) => (typeof k === "number" ? k : String(k)))],
      message: `invalid value for ${method.id}: ${issueText(i.message)}`,
    }];
  });
}
