/**
 * Fashion-MNIST from the official gzipped IDX files: a user copy in <dataRoot>/fashion-mnist (gz or plain)
 * first, then Debian's dataset-fashion-mnist package (/usr/share/datasets/fashion-mnist), which CI installs.
 */
import { idxDataset } from "./idx_dataset.ts";
import { join } from "./fsutil.ts";
import { FASHION_MNIST_CLASSES } from "./classlists/small.ts";

export const DEBIAN_FASHION_MNIST_DIR = "/usr/share/datasets/fashion-mnist";

export const fashionMnist = idxDataset({
  info: {
    id: "fashion-mnist",
    name: "Fashion-MNIST",
    classes: [...FASHION_MNIST_CLASSES],
    numClasses: 10,
    shape: { channels: 1, height: 28, width: 28 },
    mean: [0.2861],
    std: [0.3530],
    digits: false,
    source: "embedded",
    resizable: false,
  },
  candidates: (dataRoot: string) => [
    { dir: join(dataRoot, "fashion-mnist"), label: "data root" },
    { dir: DEBIAN_FASHION_MNIST_DIR, label: "Debian package dataset-fashion-mnist" },
  ],
  howToGet: (dataRoot: string) =>
    `Fix: \`sudo apt-get install dataset-fashion-mnist\` (installs the official gzipped IDX files in ` +
    `${DEBIAN_FASHION_MNIST_DIR}), or copy train-images-idx3-ubyte.gz, train-labels-idx1-ubyte.gz, ` +
    `t10k-images-idx3-ubyte.gz and t10k-labels-idx1-ubyte.gz into ${join(dataRoot, "fashion-mnist")}.`,
});
