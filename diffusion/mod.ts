/**
 * Model-agnostic Gaussian diffusion (DDPM/DDIM) for any `NoisePredictor`: schedule and respacing,
 * the training loss, samplers with classifier-free guidance and a per-step guidance hook, and
 * deterministic DDIM inversion. See diffusion/README.md.
 */
export type { NoisePredictor } from "./types.ts";
export {
  fixedLogVariance,
  type FixedVariance,
  linearBetas,
  makeSchedule,
  type Schedule,
} from "./schedule.ts";
export { respace, spacedSchedule, spaceTimesteps } from "./respace.ts";
export {
  diffusionLoss,
  dropLabels,
  type LossTerms,
  perSample,
  predictX0At,
  qSample,
  splitOutput,
  trainingLosses,
  vbTerm,
} from "./loss.ts";
export {
  type CfgOptions,
  disposeLabels,
  type Labels,
  makeLabels,
  predictEps,
  type Prediction,
} from "./predict.ts";
export { ddimSigma, epsFromX0, predictX0, type VarianceChoice } from "./steps.ts";
export {
  applyGuidance,
  type GuidanceContext,
  type GuidanceHook,
  type GuidanceUpdate,
  modelGuidance,
  type StepInfo,
  x0Guidance,
} from "./guidance.ts";
export {
  type DenoiseOptions,
  predictStep,
  sample,
  type SampleOptions,
  type StepPrediction,
} from "./sample.ts";
export { ddimInvert, type InversionResult, type InvertOptions } from "./invert.ts";
export type { ChainOptions } from "./chain.ts";
