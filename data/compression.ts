/**
 * gzip and zlib decompression via node:zlib: unlike DecompressionStream (which accepts a truncated zlib
 * stream without complaint), it rejects truncated or corrupt input, and it is about twice as fast.
 */
import { constants, gunzipSync, inflateSync } from "node:zlib";
import { DatasetError, errorText } from "./errors.ts";

export function isGzip(bytes: Uint8Array): boolean {
  return bytes.length >= 2 && bytes[0] === 0x1f && bytes[1] === 0x8b;
}

/** Decompress gzip data (e.g. the official *.gz IDX files); `file` names the source in errors. */
export function gunzip(bytes: Uint8Array, file: string): Uint8Array {
  try {
    const out = gunzipSync(bytes);
    return new Uint8Array(out.buffer, out.byteOffset, out.byteLength);
  } catch (e) {
    throw new DatasetError(`${file}: corrupt or truncated gzip data (${errorText(e)})`, file, { cause: e });
  }
}

/**
 * The decompressed start of a gzip stream of which only the first bytes are given (a header check that
 * does not read the whole file). Corrupt data still fails; a stream cut short does not.
 */
export function gunzipPrefix(bytes: Uint8Array, file: string): Uint8Array {
  try {
    const out = gunzipSync(bytes, { finishFlush: constants.Z_SYNC_FLUSH });
    return new Uint8Array(out.buffer, out.byteOffset, out.byteLength);
  } catch (e) {
    throw new DatasetError(`${file}: corrupt gzip data (${errorText(e)})`, file, { cause: e });
  }
}

/** Returns the data itself when it is not gzip, so plain and .gz files share one path. */
export function gunzipIfNeeded(bytes: Uint8Array, file: string): Uint8Array {
  return isGzip(bytes) ? gunzip(bytes, file) : bytes;
}

/** Inflate a zlib-wrapped deflate stream (MATLAB's miCOMPRESSED elements). */
export function inflateZlib(bytes: Uint8Array, file: string): Uint8Array {
  try {
    const out = inflateSync(bytes);
    return new Uint8Array(out.buffer, out.byteOffset, out.byteLength);
  } catch (e) {
    throw new DatasetError(`${file}: corrupt or truncated zlib data (${errorText(e)})`, file, { cause: e });
  }
}
