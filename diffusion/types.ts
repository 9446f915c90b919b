/**
 * The contract between the diffusion module and the networks it drives. The diffusion code never
 * looks inside a model: anything implementing `NoisePredictor` (the DiT, a test's analytic
 * predictor, a small MLP) can be trained with `diffusionLoss` and sampled, inverted and guided.
 */
import type { Tensor } from "../engine/tensor.ts";

/** A class-conditional noise predictor (the DiT). */
export interface NoisePredictor {
  /** Classes 0..numClasses-1; label `numClasses` is the null (unconditional) class used by classifier-free guidance. */
  readonly numClasses: number;
  /** The output carries DiT's learned-variance block after ε: [n,h,w,2c] (ε = channels 0..c-1, then v ∈ [-1,1] interpolating log β̃_t…log β_t). */
  readonly learnSigma: boolean;
  /** x_t f32 [n,h,w,c] (NHWC latents); t f32 [n] timestep values in [0, T) of the *original* 1000-step schedule; y i32 [n]. Returns [n,h,w,c] or [n,h,w,2c]. Differentiable w.r.t. x_t and the model's parameters. */
  predict(xt: Tensor, t: Tensor, y: Tensor): Tensor;
}
