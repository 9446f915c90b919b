/**
 * A cell after resolution (resolve.ts): exactly what runs, with every departure from the paper's
 * setting. The results store keeps it with each repeat (results/types.ts) and keys the repeat by it.
 */
import { z } from "zod";
import { LabelRegime } from "./schema.ts";
import { Profile } from "./profiles.ts";

/** A deliberate departure from the paper's setting, always shown in reports. */
export const Substitution = z.object({
  /** Which field was changed, e.g. "dataset", "model", "ipc", "protocol.epochs". */
  field: z.string().min(1),
  /** The paper's value and the value actually used (numbers allowed for ipc/epochs). */
  from: z.union([z.string(), z.number()]),
  to: z.union([z.string(), z.number()]),
  /** Why, e.g. "ImageWoof is not available offline". */
  reason: z.string().min(1),
}).strict();
export type Substitution = z.infer<typeof Substitution>;

/**
 * A cell after the profile and substitutions have been applied: exactly what ran. `dataset`,
 * `model`, … are the effective values; the paper's originals are recoverable from `substitutions`.
 */
export const ResolvedCell = z.object({
  tableId: z.string().min(1),
  cellId: z.string().min(1),
  method: z.string().min(1),
  dataset: z.string().min(1),
  /** null for "full dataset" rows, as in CellSpec. */
  ipc: z.number().int().positive().nullable(),
  model: z.string().min(1),
  protocol: z.string().min(1),
  labels: LabelRegime,
  profile: Profile,
  methodConfig: z.record(z.string(), z.unknown()),
  protocolConfig: z.record(z.string(), z.unknown()),
  substitutions: z.array(Substitution),
}).strict();
export type ResolvedCell = z.infer<typeof ResolvedCell>;
