/**
 * A minimal module system: named parameters and buffers, train/eval mode, deterministic
 * PyTorch-default initialisation from a seeded stream. Parameters live for the module's lifetime
 * (kept out of tidy scopes) and are freed by `dispose()`.
 */
import type { Tensor } from "../engine/tensor.ts";
import { noGrad } from "../engine/tensor.ts";
import type { Rng } from "../engine/random.ts";
import * as T from "../engine/ops/mod.ts";

export abstract class Module {
  training = true;
  private readonly ownParams = new Map<string, Tensor>();
  private readonly ownBuffers = new Map<string, Tensor>();
  private readonly children = new Map<string, Module>();

  protected param(name: string, t: Tensor): Tensor {
    this.ownParams.set(name, t.keep().requireGrad());
    return t;
  }

  protected buffer(name: string, t: Tensor): Tensor {
    this.ownBuffers.set(name, t.keep());
    return t;
  }

  protected child<M extends Module>(name: string, m: M): M {
    this.children.set(name, m);
    return m;
  }

  abstract forward(x: Tensor): Tensor;

  /** Trainable parameters with dotted names, in a stable order (the checkpoint layout). */
  namedParameters(prefix = ""): [string, Tensor][] {
    const out: [string, Tensor][] = [...this.ownParams].map(([k, v]) => [prefix + k, v]);
    for (const [k, c] of this.children) out.push(...c.namedParameters(`${prefix}${k}.`));
    return out;
  }

  namedBuffers(prefix = ""): [string, Tensor][] {
    const out: [string, Tensor][] = [...this.ownBuffers].map(([k, v]) => [prefix + k, v]);
    for (const [k, c] of this.children) out.push(...c.namedBuffers(`${prefix}${k}.`));
    return out;
  }

  /** This module and every descendant with dotted names ("" for this one), depth first. */
  namedModules(prefix = ""): [string, Module][] {
    const out: [string, Module][] = [[prefix.replace(/\.$/, ""), this]];
    for (const [k, c] of this.children) out.push(...c.namedModules(`${prefix}${k}.`));
    return out;
  }

  parameters(): Tensor[] {
    return this.namedParameters().map(([, t]) => t);
  }

  /** Sets train/eval mode recursively (batch norm statistics, dropout). */
  train(on = true): this {
    this.training = on;
    for (const c of this.children.values()) c.train(on);
    return this;
  }

  eval(): this {
    return this.train(false);
  }

  dispose(): void {
    for (const [, t] of this.namedParameters()) t.dispose();
    for (const [, t] of this.namedBuffers()) t.dispose();
  }

  /** Number of scalar parameters. */
  size(): number {
    return this.parameters().reduce((s, t) => s + t.size, 0);
  }
}

/** Feature extractor + classifier: what evaluators, DM/IDM embeddings and CMI extractors need. */
export abstract class Classifier extends Module {
  abstract readonly numClasses: number;
  abstract readonly embedDim: number;
  /** The feature vector before the classifier, [n, embedDim]. */
  abstract embed(x: Tensor): Tensor;
  abstract classify(features: Tensor): Tensor;
  forward(x: Tensor): Tensor {
    return this.classify(this.embed(x));
  }
}

/** U(-b, b) of `shape` with b = 1/√fanIn: PyTorch's default for conv and linear weights and biases. */
export function uniformInit(rng: Rng, shape: readonly number[], fanIn: number): Tensor {
  const b = 1 / Math.sqrt(fanIn);
  return noGrad(() => rng.uniform(shape, -b, b));
}

/** N(0, √(2/fanOut)): kaiming-normal (fan_out, relu) as torchvision ResNets and IDC's ResNetAP use. */
export function kaimingNormalFanOut(rng: Rng, shape: readonly number[], fanOut: number): Tensor {
  return noGrad(() => rng.normal(shape, 0, Math.sqrt(2 / fanOut)));
}

export const ones = (n: number) => T.fill([n], 1);
export const zeros = (n: number) => T.fill([n], 0);
