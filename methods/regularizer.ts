/**
 * A regularizer plug-in on a learned-image method: `<base>+<name>` is the base method with the plug-in's
 * term added to its loss (L = L_DD + term). The base runs unchanged; the term reaches it through the
 * distill context (`ctx.regularizer`), which every `regularizable` method adds at its image steps. The
 * combined method's config is the base's plus the plug-in's keys, its budget both mappings.
 */
import { z } from "zod";
import type { MethodBudget, ScaleContext } from "./budget.ts";
import type { DistillContext, DistillResult, MethodDef, Regularizer } from "./types.ts";

/** What one run of the plug-in provides: the term, and what it adds to the base's result. */
export interface OpenRegularizer {
  regularizer: Regularizer;
  /** The base's result with the plug-in's metrics and set metadata. */
  finish(result: DistillResult): Promise<DistillResult>;
  dispose(): void;
}

export interface RegularizerPlugin<R> {
  /** Joins the base's id: "<base>+<name>". */
  name: string;
  /** Appended to the base's description and reference. */
  description: string;
  reference: string;
  /** Its config keys (a zod object shape), merged into the base's schema. */
  fields: z.ZodRawShape;
  /** Its paper settings for a base method, dataset and IPC. */
  defaults(baseId: string, datasetId: string, ipc: number): R;
  /** How profiles bound its keys (with their own budget family). */
  budgetKeys?: MethodBudget<R>["keys"];
  scaleNotes?: Readonly<Record<string, string>>;
  /** Its exceptions to the budget's rules, after the base's. */
  scale?<C extends R>(run: C, ctx: ScaleContext<C>): C;
  /** Prepares one run (e.g. pretrains its extractors); `ctx.config` holds the base's keys and its own. */
  open(ctx: DistillContext<R>, id: string): Promise<OpenRegularizer>;
}

/** `<base>+<plugin>`: the base method with the plug-in's term in its loss. */
export function withRegularizer<C, R>(base: MethodDef<C>, plugin: RegularizerPlugin<R>): MethodDef<C & R> {
  const id = `${base.id}+${plugin.name}`;
  if (!base.regularizable) throw new Error(`${id}: ${base.id} does not add a regularizer to its loss`);
  if (!(base.schema instanceof z.ZodObject)) throw new Error(`${id}: ${base.id}'s schema is not an object`);
  const schema = (base.schema as z.ZodObject).extend(plugin.fields) as unknown as z.ZodType<C & R>;
  type CR = C & R;
  return {
    id,
    description: `${base.description}, ${plugin.description}`,
    reference: `${base.reference}; ${plugin.reference}`,
    implemented: true,
    schema,
    defaults: (datasetId, ipc, requested) => ({
      ...base.defaults(datasetId, ipc, requested),
      ...plugin.defaults(base.id, datasetId, ipc),
    }),
    scaleNotes: { ...base.scaleNotes, ...plugin.scaleNotes },
    budget: {
      family: base.budget?.family ?? base.id,
      keys: { ...base.budget?.keys, ...plugin.budgetKeys } as MethodBudget<CR>["keys"],
      derived: base.budget?.derived as MethodBudget<CR>["derived"],
    },
    scale: (run, ctx) => {
      const r = base.scale ? base.scale(run, ctx as unknown as ScaleContext<C>) as CR : run;
      return plugin.scale ? plugin.scale(r, ctx) : r;
    },
    async distill(ctx) {
      const open = await plugin.open(ctx, id);
      try {
        return await open.finish(await base.distill({ ...ctx, regularizer: open.regularizer }));
      } finally {
        open.dispose();
      }
    },
    ...(base.imagesPerClass ? { imagesPerClass: (c: CR, ipc: number) => base.imagesPerClass!(c, ipc) } : {}),
  };
}
