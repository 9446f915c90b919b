/** Model-agnostic Gaussian diffusion: schedule, respacing, training loss (samplers follow). */
export type { NoisePredictor } from "./types.ts";
export {
  fixedLogVariance,
  type FixedVariance,
  linearBetas,
  makeSchedule,
  type Schedule,
} from "./schedule.ts";
export { respace, spacedSchedule, spaceTimesteps } from "./respace.ts";
export { diffusionLoss, type LossTerms, qSample, trainingLosses } from "./loss.ts";
