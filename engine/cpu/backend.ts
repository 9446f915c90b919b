/** The TypeScript reference backend: slow, obvious, and the oracle every WGSL kernel is tested against. */
import type { AdapterInfo, Backend, MapGroup, Storage } from "../backend.ts";
import type { Expr } from "../expr.ts";
import { cpu, CpuStorage } from "./storage.ts";
import * as ew from "./elementwise.ts";
import * as ext from "./extended.ts";

export class CpuBackend implements Backend {
  readonly name = "cpu" as const;
  readonly maxTensorElements = 2 ** 31 - 1;
  // No binding limit here; Mesa's Vulkan adapter's 32, so both backends fuse the same ops in tests.
  readonly maxKernelBuffers = 32;
  readonly info: AdapterInfo = {
    backend: "cpu-reference",
    vendor: "ddrepro",
    architecture: "typescript",
    description: "TypeScript reference backend",
    software: true,
  };
  upload(data: Float32Array | Int32Array): Storage {
    return new CpuStorage(data.slice());
  }
  read(s: Storage): Promise<Float32Array | Int32Array> {
    return Promise.resolve(cpu(s).slice());
  }
  free(_s: Storage): void {}
  flush(): void {}
  map = ew.map;
  mapGroups(exprs: readonly Expr[], groups: readonly MapGroup[], params: readonly number[] = []): void {
    for (const g of groups) {
      ew.map(exprs, g.operands.map((s) => ({ s, shape: [g.size] })), [g.size], { params, into: g.into });
    }
  }
  reduce = ew.reduce;
  argmax = ew.argmax;
  matmul = ew.matmul;
  slicePad = ew.slicePad;
  permute = ew.permute;
  gatherRows = ew.gatherRows;
  scatterAddRows = ew.scatterAddRows;
  conv2d = ext.conv2d;
  conv2dInputGrad = ext.conv2dInputGrad;
  conv2dWeightGrad = ext.conv2dWeightGrad;
  avgPool2d = ext.avgPool2d;
  avgPool2dGrad = ext.avgPool2dGrad;
  maxPool2d = ext.maxPool2d;
  maxPool2dGrad = ext.maxPool2dGrad;
  maxPool2dGather = ext.maxPool2dGather;
  resize = ext.resize;
  resizeGrad = ext.resizeGrad;
  gridSample = ext.gridSample;
  gridSampleGrad = ext.gridSampleGrad;
  random = ext.random;
}
