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

export function getModel(id: string): ModelEntry {
  const m = models.find((x) => x.id === id);
  if (!m) throw new Error(`unknown model "${id}"; known: ${models.map((x) => x.id).join(", ")}`);
  return m;
}

export function createModel(id: string, rng: Rng, input: InputSpec): Classifier {
  const m = getModel(id);
  if (!m.available) throw new Error(m.reason);
  return m.create(rng, input);
}
