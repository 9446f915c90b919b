/** The evaluator/model zoo: ids used by table specs, each either buildable here or honestly unavailable. */
import type { Rng } from "../engine/random.ts";
import type { Classifier } from "./module.ts";
import { ConvNet } from "./convnet.ts";
import { ResNet } from "./resnet.ts";
import { AlexNet, MobileNetV2, VGG11 } from "./classic.ts";
import type { NormKind } from "./layers.ts";

export interface InputSpec {
  channels: number;
  classes: number;
  imageSize: number;
}

export interface ModelEntry {
  readonly id: string;
  readonly description: string;
  readonly available: boolean;
  readonly reason?: string;
  create(rng: Rng, input: InputSpec): Classifier;
}

const convnet = (depth: number, norm: NormKind, width = 128) => (rng: Rng, i: InputSpec) =>
  new ConvNet(rng, { ...i, width, depth, norm, act: "relu", pool: "avgpooling" });

const resnet = (
  blocks: number[],
  norm: NormKind,
  down: "stride" | "avgpool",
  opts: { idc?: boolean; kaiming?: boolean } = {},
) =>
(rng: Rng, i: InputSpec) =>
  new ResNet(rng, {
    ...i,
    blocks,
    norm,
    down,
    idcIntro: opts.idc ?? false,
    init: opts.kaiming ? "kaiming-fan-out" : "pytorch",
  });

const available: ModelEntry[] = ([
  {
    id: "convnet3",
    description: "ConvNet-3, width 128, instance norm, ReLU, avg-pool (DC)",
    create: convnet(3, "instancenorm"),
  },
  { id: "convnet4", description: "ConvNet-4 (for 64 px inputs)", create: convnet(4, "instancenorm") },
  { id: "convnet5", description: "ConvNet-5 (for 128 px inputs)", create: convnet(5, "instancenorm") },
  {
    id: "convnet6",
    description: "ConvNet-6 (for 256 px inputs; IGD's surrogate)",
    create: convnet(6, "instancenorm"),
  },
  {
    id: "convnet3-bn",
    description: "ConvNet-3 with batch norm (RDED/D³HR ConvNetW128 style)",
    create: convnet(3, "batchnorm"),
  },
  {
    id: "resnetap10",
    description: "ResNetAP-10 (IDC definition; instance norm; the Minimax/IGDS/DGS evaluator)",
    create: resnet([1, 1, 1, 1], "instancenorm", "avgpool", { idc: true, kaiming: true }),
  },
  {
    id: "resnet18",
    description: "ResNet-18 (DC definition, instance norm)",
    create: resnet([2, 2, 2, 2], "instancenorm", "stride"),
  },
  {
    id: "resnet18-bn",
    description: "ResNet-18 (DC definition, batch norm)",
    create: resnet([2, 2, 2, 2], "batchnorm", "stride"),
  },
  {
    id: "resnet18-modified",
    description:
      "torchvision ResNet-18 with a 3×3 stride-1 stem and no max-pool (SRe²L/RDED/D³HR on small images)",
    create: resnet([2, 2, 2, 2], "batchnorm", "stride", { kaiming: true }),
  },
  {
    id: "resnet18-ap",
    description: "ResNet18_AP (DC: stride-1 convs followed by 2×2 avg-pooling)",
    create: resnet([2, 2, 2, 2], "instancenorm", "avgpool"),
  },
  {
    id: "alexnet",
    description: "AlexNet (DC variant, no norm)",
    create: (r, i) => new AlexNet(r, { ...i, norm: "none" }),
  },
  {
    id: "vgg11",
    description: "VGG11 (DC variant, instance norm)",
    create: (r, i) => new VGG11(r, { ...i, norm: "instancenorm" }),
  },
  {
    id: "mobilenetv2",
    description: "MobileNet-V2 (torchvision structure, BN, ReLU6; stride-1 stem ≤ 64 px)",
    create: (r, i) => new MobileNetV2(r, { ...i, norm: "batchnorm" }),
  },
] as Omit<ModelEntry, "available">[]).map((e) => ({ ...e, available: true }));

const unavailable = (id: string, what: string): ModelEntry => ({
  id,
  description: what,
  available: false,
  reason: `${what} is not implemented in ddrepro yet`,
  create: () => {
    throw new Error(`model "${id}" is not implemented: ${what}`);
  },
});

const missing: ModelEntry[] = [
  unavailable("resnet50", "ResNet-50"),
  unavailable("resnet101", "ResNet-101"),
  unavailable("efficientnet-b0", "EfficientNet-B0"),
  unavailable("shufflenetv2", "ShuffleNet-V2"),
  unavailable("swin-t", "Swin-T"),
  unavailable("deit-tiny", "DeiT-tiny"),
  unavailable("resnet18-torchvision", "torchvision ResNet-18 at ImageNet resolution (7×7 stem + max-pool)"),
  unavailable("vgg11-torchvision", "torchvision VGG11"),
];

export const models: readonly ModelEntry[] = [...available, ...missing];

/** `<convnet id>-w<width>`: a ConvNet of the named depth and norm with `width` channels (profiles narrow). */
const NARROW_CONVNET = /^(convnet\d+(?:-bn)?)-w(\d+)$/;

/** The ConvNet id with `width` channels (the plain id at the default width of 128). */
export function convnetWithWidth(id: string, width: number): string {
  const base = NARROW_CONVNET.exec(id)?.[1] ?? id;
  return width === 128 ? base : `${base}-w${width}`;
}

/** A zoo entry, including ConvNet width variants such as `convnet3-w32`; undefined when unknown. */
export function findModel(id: string): ModelEntry | undefined {
  const exact = models.find((x) => x.id === id);
  if (exact) return exact;
  const m = NARROW_CONVNET.exec(id);
  const width = m ? Number(m[2]) : NaN;
  if (!m || !Number.isSafeInteger(width) || width < 1 || width > 4096 || String(width) !== m[2]) {
    return undefined;
  }
  const base = models.find((x) => x.id === m[1]);
  if (!base) return undefined;
  const depth = Number(/^convnet(\d+)/.exec(m[1])![1]);
  const norm: NormKind = m[1].endsWith("-bn") ? "batchnorm" : "instancenorm";
  return {
    id,
    description: `ConvNet-${depth}, width ${width}, ${norm} (a narrowed ${m[1]})`,
    available: true,
    create: convnet(depth, norm, width),
  };
}

export function getModel(id: string): ModelEntry {
  const m = findModel(id);
  if (!m) {
    throw new Error(
      `unknown model "${id}"; known: ${models.map((x) => x.id).join(", ")} (ConvNets also as <id>-w<width>)`,
    );
  }
  return m;
}

export function createModel(id: string, rng: Rng, input: InputSpec): Classifier {
  const m = getModel(id);
  if (!m.available) throw new Error(m.reason);
  return m.create(rng, input);
}
