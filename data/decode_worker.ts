/**
 * Web Worker that decodes and resizes batches of image files, so large JPEG datasets use every core.
 * Protocol (decode_protocol.ts): receives a DecodeJob, replies with the pixels (transferred, not copied)
 * or with the error message and the file it concerns.
 */
/// <reference lib="deno.worker" />
import { decodeImage, resizeShorterCenterCrop } from "./image.ts";
import { DatasetError, errorText } from "./errors.ts";

import type { DecodeJob, DecodeReply } from "./decode_protocol.ts";

self.onmessage = async (ev: MessageEvent<DecodeJob>) => {
  const { id, paths, size } = ev.data;
  const px = size * size * 3;
  const out = new Uint8Array(paths.length * px);
  try {
    for (let i = 0; i < paths.length; i++) {
      let bytes: Uint8Array;
      try {
        bytes = await Deno.readFile(paths[i]);
      } catch (e) {
        throw new DatasetError(`cannot read image ${paths[i]}: ${errorText(e)}`, paths[i]);
      }
      resizeShorterCenterCrop(decodeImage(bytes, paths[i]), size, out, i * px);
    }
    const reply: DecodeReply = { id, ok: true, pixels: out.buffer };
    self.postMessage(reply, [out.buffer]);
  } catch (e) {
    const reply: DecodeReply = {
      id,
      ok: false,
      message: errorText(e),
      file: e instanceof DatasetError ? e.file : null,
    };
    self.postMessage(reply);
  }
};
