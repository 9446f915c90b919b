/** Class names of the small built-in-format datasets, in label order (label i = entry i). */
import type { ClassInfo } from "../types.ts";

const named = (names: readonly string[]): ClassInfo[] => names.map((name, i) => ({ id: String(i), name }));

export const DIGIT_CLASSES: readonly ClassInfo[] = named(["0", "1", "2", "3", "4", "5", "6", "7", "8", "9"]);

/** Fashion-MNIST README (zalandoresearch/fashion-mnist), labels 0..9. */
export const FASHION_MNIST_CLASSES: readonly ClassInfo[] = named([
  "T-shirt/top",
  "Trouser",
  "Pullover",
  "Dress",
  "Coat",
  "Sandal",
  "Shirt",
  "Sneaker",
  "Bag",
  "Ankle boot",
]);

/** CIFAR-10 batches.meta.txt order; used when the file is absent. */
export const CIFAR10_CLASSES: readonly ClassInfo[] = named([
  "airplane",
  "automobile",
  "bird",
  "cat",
  "deer",
  "dog",
  "frog",
  "horse",
  "ship",
  "truck",
]);

/** CIFAR-100 fine_label_names.txt order (alphabetical); used when the file is absent. */
export const CIFAR100_CLASSES: readonly ClassInfo[] = named(
  (
    "apple aquarium_fish baby bear beaver bed bee beetle bicycle bottle bowl boy bridge bus butterfly camel " +
    "can castle caterpillar cattle chair chimpanzee clock cloud cockroach couch crab crocodile cup dinosaur " +
    "dolphin elephant flatfish forest fox girl hamster house kangaroo keyboard lamp lawn_mower leopard lion " +
    "lizard lobster man maple_tree motorcycle mountain mouse mushroom oak_tree orange orchid otter palm_tree " +
    "pear pickup_truck pine_tree plain plate poppy porcupine possum rabbit raccoon ray road rocket rose sea " +
    "seal shark shrew skunk skyscraper snail snake spider squirrel streetcar sunflower sweet_pepper table " +
    "tank telephone television tiger tractor train trout tulip turtle wardrobe whale willow_tree wolf woman " +
    "worm"
  ).split(" "),
);
