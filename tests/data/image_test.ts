/**
 * Decoding and the Resize(size) + CenterCrop(size) protocol. The reference bytes below were produced once
 * with Pillow 9.4 (Image.resize(BILINEAR) then torchvision's CenterCrop arithmetic) on the synthetic image
 * `pattern()`, so they pin exact agreement with the PIL pipeline the papers use.
 */
import { deepStrictEqual as eq, ok } from "node:assert";
import { encode as encodePng } from "fast-png";
import { decodeImage, pyRound, resizeShorterCenterCrop } from "../../data/image.ts";
import { assertDatasetError, close, jpeg, meanColour, seedColour } from "./_fixtures.ts";

function pattern(w: number, h: number): Uint8Array {
  const d = new Uint8Array(w * h * 3);
  for (let y = 0; y < h; y++) {
    for (let x = 0; x < w; x++) {
      const o = (y * w + x) * 3;
      d[o] = (x * 37 + y * 11) % 256;
      d[o + 1] = (x * x + 3 * y) % 256;
      d[o + 2] = (x * y * 5 + 17) % 256;
    }
  }
  return d;
}

const fromHex = (s: string) => Uint8Array.from(s.match(/../g)!.map((b) => parseInt(b, 16)));

const PIL_23x17_TO_8 = fromHex(
  "760c1cb21f25453c2e756437b697404aaf49733552ba6e5b8a1238b92557534275896a92a29d9146b595873b65a9747aa21857972b8f" +
    "4e48a9a1707d9ca3584cbb7a9e41828f7a81b11f776332a2634f51b377686baa9d63c28eb4487657817db325944e387d7b5566b87d7f" +
    "53b0667bc591bd4d7c59877aa22c95413f5d925c91a2845b44b78b928b79aa3f83488e898d328f584571aa628b6c8a8756bd74aa7f8a" +
    "7640795694916438806b4b8fbe68836e909669c386b085785a466b689a77",
);

Deno.test("resize: matches Pillow's antialiased bilinear + torchvision centre crop byte for byte", () => {
  const out = new Uint8Array(8 * 8 * 3);
  resizeShorterCenterCrop({ width: 23, height: 17, data: pattern(23, 17) }, 8, out, 0);
  eq(Array.from(out), Array.from(PIL_23x17_TO_8));
});

Deno.test("resize: identity at the native size, constant images stay constant, writes at the offset", () => {
  const src = pattern(6, 6);
  const out = new Uint8Array(2 * 6 * 6 * 3);
  resizeShorterCenterCrop({ width: 6, height: 6, data: src }, 6, out, 108);
  eq(Array.from(out.subarray(108)), Array.from(src));
  ok(out.subarray(0, 108).every((v) => v === 0), "nothing written before the offset");
  const flat = new Uint8Array(50 * 30 * 3).fill(77);
  const small = new Uint8Array(10 * 10 * 3);
  resizeShorterCenterCrop({ width: 50, height: 30, data: flat }, 10, small, 0);
  ok(small.every((v) => v === 77), "constant image resizes to the same constant");
  const big = new Uint8Array(64 * 64 * 3);
  resizeShorterCenterCrop({ width: 50, height: 30, data: flat }, 64, big, 0);
  ok(big.every((v) => v === 77), "upscaling too");
});

Deno.test("pyRound: Python's round-half-to-even, as torchvision's CenterCrop uses", () => {
  eq([0.5, 1.5, 2.5, -0.5, 2.4, 2.6, 3].map(pyRound), [0, 2, 2, 0, 2, 3, 3]);
});

Deno.test("decode: jpeg-js JPEGs, PNG hidden under a .JPEG name, greyscale PNG → RGB", () => {
  const j = decodeImage(jpeg(12, 9, 4), "a.JPEG");
  eq([j.width, j.height, j.data.length], [12, 9, 12 * 9 * 3]);
  ok(close(meanColour(j.data, 0, 12 * 9), seedColour(4), 3), "JPEG colour survives");
  const grey = encodePng({
    width: 3,
    height: 2,
    data: Uint8Array.of(0, 50, 100, 150, 200, 250),
    channels: 1,
    depth: 8,
  });
  const g = decodeImage(grey, "n02105855_2933.JPEG");
  eq(Array.from(g.data.subarray(0, 6)), [0, 0, 0, 50, 50, 50]);
  const rgba = encodePng({ width: 1, height: 1, data: Uint8Array.of(9, 8, 7, 128), channels: 4, depth: 8 });
  eq(Array.from(decodeImage(rgba, "x.JPEG").data), [9, 8, 7]);
});

Deno.test("decode: undecodable or non-JPEG files are DatasetErrors naming the file", async () => {
  await assertDatasetError(
    () => decodeImage(new TextEncoder().encode("hello"), "/d/bad.JPEG"),
    "/d/bad.JPEG",
    "SOI",
  );
  const whole = jpeg(16, 16, 1);
  for (const cut of [40, Math.floor(whole.length * 0.9)]) {
    await assertDatasetError(
      () => decodeImage(whole.slice(0, cut), "/d/cut.JPEG"),
      "/d/cut.JPEG",
      "undecodable JPEG",
    );
  }
  await assertDatasetError(() => decodeImage(new Uint8Array(0), "/d/empty.JPEG"), "/d/empty.JPEG");
});
