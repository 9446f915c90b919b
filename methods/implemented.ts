/**
 * Every implemented method, one line each: the module that defines it and the MethodDef it exports.
 * methods/registry.ts serves them by id; runner/version.ts versions each by the module named here.
 */
export { randomMethod } from "../baselines/random.ts";
export { fullDatasetMethod } from "../baselines/full_dataset.ts";
export { herdingMethod } from "../baselines/herding.ts";
export { kcenterMethod } from "../baselines/kcenter.ts";
export { forgettingMethod } from "../baselines/forgetting.ts";
export { dcMethod } from "../baselines/dc.ts";
export { dsaMethod } from "../baselines/dsa.ts";
export { dmMethod } from "../baselines/dm.ts";
export { idmMethod } from "../baselines/idm.ts";
export { mttMethod } from "../baselines/mtt.ts";
export { idc1Method, idcMethod } from "../baselines/idc.ts";
export { sre2lMethod } from "../baselines/sre2l.ts";
export { dwaMethod } from "../baselines/dwa.ts";
export { rdedMethod } from "../baselines/rded.ts";
export { diffusionMethod } from "../baselines/diffusion_sampling.ts";
export { d4mMethod } from "../baselines/d4m.ts";
export { minimaxMethod } from "../baselines/minimax.ts";
export { igdMethod, minimaxIgdMethod } from "../baselines/igd.ts";
export { d3hrMethod } from "./d3hr/method.ts";
export { dcCmiMethod, dmCmiMethod, dsaCmiMethod, idcCmiMethod, idmCmiMethod, mttCmiMethod } from "./cmi.ts";
export { igdsMethod, minimaxIgdsMethod } from "./igds.ts";
export { dgsMethod } from "./dgs.ts";
