/** All differentiable ops, for `import * as T from "engine/ops/mod.ts"`. */
export * from "./elementwise.ts";
export * from "./create.ts";
export * from "./shape.ts";
export * from "./linalg.ts";
export * from "./conv.ts";
export * from "./nn.ts";
