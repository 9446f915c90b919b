/**
 * A minimal MATLAB Level 5 MAT-file reader (the format of SVHN's *_32x32.mat files): 128-byte header,
 * then data elements, each a tag (type, byte count; or the packed "small element" form) followed by data
 * padded to 8 bytes. Variables are miMATRIX elements, optionally wrapped in zlib-compressed miCOMPRESSED
 * elements (MATLAB's default since v7). Numeric arrays of any storage type are read; cell, struct, char and
 * sparse arrays are listed but not decoded. Data stays in MATLAB's column-major order.
 *
 * Reference: MathWorks, "MAT-File Format" (matfile_format.pdf), Level 5 chapter.
 */
import { DatasetError } from "./errors.ts";
import { inflateZlib } from "./compression.ts";

export const MI = {
  INT8: 1,
  UINT8: 2,
  INT16: 3,
  UINT16: 4,
  INT32: 5,
  UINT32: 6,
  SINGLE: 7,
  DOUBLE: 9,
  INT64: 12,
  UINT64: 13,
  MATRIX: 14,
  COMPRESSED: 15,
  UTF8: 16,
} as const;

/** MATLAB array classes (mxCLASS). */
export const MX = {
  CELL: 1,
  STRUCT: 2,
  OBJECT: 3,
  CHAR: 4,
  SPARSE: 5,
  DOUBLE: 6,
  SINGLE: 7,
  INT8: 8,
  UINT8: 9,
  INT16: 10,
  UINT16: 11,
  INT32: 12,
  UINT32: 13,
  INT64: 14,
  UINT64: 15,
} as const;

const CLASS_NAMES: Record<number, string> = {
  1: "cell",
  2: "struct",
  3: "object",
  4: "char",
  5: "sparse",
  6: "double",
  7: "single",
  8: "int8",
  9: "uint8",
  10: "int16",
  11: "uint16",
  12: "int32",
  13: "uint32",
  14: "int64",
  15: "uint64",
};

const ELEMENT_SIZE: Record<number, number> = { 1: 1, 2: 1, 3: 2, 4: 2, 5: 4, 6: 4, 7: 4, 9: 8, 12: 8, 13: 8 };

export interface MatVariable {
  name: string;
  /** "double", "uint8", … (see CLASS_NAMES). */
  className: string;
  /** MATLAB dimensions (at least 2), column-major. */
  dims: number[];
  /** uint8 arrays as bytes (zero-copy when stored as miUINT8); other numeric classes as doubles. */
  data: Uint8Array | Float64Array | null;
}

interface Element {
  type: number;
  data: Uint8Array;
  next: number;
}

class Reader {
  constructor(readonly file: string, readonly littleEndian: boolean) {}

  fail(msg: string): never {
    throw new DatasetError(`${this.file}: ${msg}`, this.file);
  }

  view(b: Uint8Array): DataView {
    return new DataView(b.buffer, b.byteOffset, b.byteLength);
  }

  /** Read the element at `offset` within `buf` (which ends at buf.length). */
  element(buf: Uint8Array, offset: number, where: string): Element {
    if (offset + 8 > buf.length) {
      this.fail(`truncated MAT file: data element tag at byte ${offset} of ${where} runs past the end`);
    }
    const v = this.view(buf);
    const first = v.getUint32(offset, this.littleEndian);
    if (first >>> 16 !== 0) {
      // Small data element: 2 bytes count, 2 bytes type, up to 4 data bytes in the tag itself.
      const nbytes = first >>> 16;
      const type = first & 0xffff;
      if (nbytes > 4) {
        this.fail(`small data element at byte ${offset} of ${where} claims ${nbytes} bytes (max 4)`);
      }
      return { type, data: buf.subarray(offset + 4, offset + 4 + nbytes), next: offset + 8 };
    }
    const type = first;
    const nbytes = v.getUint32(offset + 4, this.littleEndian);
    const start = offset + 8;
    if (start + nbytes > buf.length) {
      this.fail(
        `truncated MAT file: element of type ${type} at byte ${offset} of ${where} needs ${nbytes} bytes, ` +
          `only ${buf.length - start} remain`,
      );
    }
    // Compressed elements are not padded; everything else is padded to a multiple of 8 bytes.
    const padded = type === MI.COMPRESSED ? nbytes : Math.ceil(nbytes / 8) * 8;
    return { type, data: buf.subarray(start, start + nbytes), next: Math.min(start + padded, buf.length) };
  }

  numbers(el: Element, what: string): Float64Array {
    const size = ELEMENT_SIZE[el.type];
    if (!size) this.fail(`${what}: unsupported numeric storage type ${el.type}`);
    if (el.data.length % size !== 0) {
      this.fail(`${what}: ${el.data.length} bytes is not a multiple of ${size}`);
    }
    const n = el.data.length / size;
    const out = new Float64Array(n);
    const v = this.view(el.data);
    const le = this.littleEndian;
    for (let i = 0; i < n; i++) {
      const o = i * size;
      switch (el.type) {
        case MI.INT8:
          out[i] = v.getInt8(o);
          break;
        case MI.UINT8:
          out[i] = v.getUint8(o);
          break;
        case MI.INT16:
          out[i] = v.getInt16(o, le);
          break;
        case MI.UINT16:
          out[i] = v.getUint16(o, le);
          break;
        case MI.INT32:
          out[i] = v.getInt32(o, le);
          break;
        case MI.UINT32:
          out[i] = v.getUint32(o, le);
          break;
        case MI.SINGLE:
          out[i] = v.getFloat32(o, le);
          break;
        case MI.DOUBLE:
          out[i] = v.getFloat64(o, le);
          break;
        case MI.INT64:
          out[i] = Number(v.getBigInt64(o, le));
          break;
        case MI.UINT64:
          out[i] = Number(v.getBigUint64(o, le));
          break;
      }
    }
    return out;
  }

  matrix(buf: Uint8Array, where: string): MatVariable | null {
    if (buf.length === 0) return null; // MATLAB writes empty miMATRIX elements for empty arrays.
    const flags = this.element(buf, 0, where);
    if (flags.type !== MI.UINT32 || flags.data.length !== 8) this.fail(`${where}: malformed array flags`);
    const word = this.view(flags.data).getUint32(0, this.littleEndian);
    const classId = word & 0xff;
    const complex = (word & 0x0800) !== 0;
    const className = CLASS_NAMES[classId];
    if (!className) this.fail(`${where}: unknown array class ${classId}`);
    const dimsEl = this.element(buf, flags.next, where);
    if (dimsEl.type !== MI.INT32 || dimsEl.data.length < 8) this.fail(`${where}: malformed dimensions`);
    const dims = Array.from(this.numbers(dimsEl, `${where} dimensions`));
    if (dims.some((d) => d < 0 || !Number.isInteger(d))) this.fail(`${where}: invalid dimensions ${dims}`);
    const nameEl = this.element(buf, dimsEl.next, where);
    if (nameEl.type !== MI.INT8 && nameEl.type !== MI.UINT8) this.fail(`${where}: malformed array name`);
    const name = new TextDecoder().decode(nameEl.data);
    if (classId < MX.DOUBLE) return { name, className, dims, data: null };
    if (complex) this.fail(`variable "${name}": complex arrays are not supported`);
    const real = this.element(buf, nameEl.next, `variable "${name}"`);
    const numel = dims.reduce((a, b) => a * b, 1);
    const size = ELEMENT_SIZE[real.type];
    if (!size) this.fail(`variable "${name}": unsupported storage type ${real.type}`);
    if (real.data.length !== numel * size) {
      this.fail(
        `variable "${name}": dimensions ${dims.join("×")} need ${numel} values (${numel * size} bytes of ` +
          `type ${real.type}) but the data element holds ${real.data.length} bytes`,
      );
    }
    if (classId === MX.UINT8) {
      if (real.type === MI.UINT8) return { name, className, dims, data: real.data };
      const vals = this.numbers(real, `variable "${name}"`);
      const out = new Uint8Array(numel);
      for (let i = 0; i < numel; i++) {
        if (vals[i] < 0 || vals[i] > 255 || !Number.isInteger(vals[i])) {
          this.fail(`variable "${name}": uint8 value ${vals[i]} out of range at index ${i}`);
        }
        out[i] = vals[i];
      }
      return { name, className, dims, data: out };
    }
    // MATLAB may store a double array in a narrower integer type; numbers() widens it back.
    return { name, className, dims, data: this.numbers(real, `variable "${name}"`) };
  }
}

/** Parse a whole MAT v5 file into its variables (by name, in file order). */
export function readMatV5(bytes: Uint8Array, file: string): Map<string, MatVariable> {
  if (bytes.length < 128) {
    throw new DatasetError(`${file}: truncated MAT file (${bytes.length} bytes, header needs 128)`, file);
  }
  const text = new TextDecoder("latin1").decode(bytes.subarray(0, 116));
  if (text.startsWith("MATLAB 7.3")) {
    throw new DatasetError(
      `${file}: MATLAB v7.3 (HDF5) MAT files are not supported; expected a Level 5 MAT-file ` +
        `(re-save with save(..., '-v7'))`,
      file,
    );
  }
  if (!text.startsWith("MATLAB 5.0 MAT-file")) {
    throw new DatasetError(
      `${file}: not a MATLAB Level 5 MAT-file (header text should start with "MATLAB 5.0 MAT-file")`,
      file,
    );
  }
  const endian = String.fromCharCode(bytes[126], bytes[127]);
  if (endian !== "IM" && endian !== "MI") {
    throw new DatasetError(`${file}: bad MAT endian indicator "${endian}" (expected "IM" or "MI")`, file);
  }
  const r = new Reader(file, endian === "IM");
  const version = new DataView(bytes.buffer, bytes.byteOffset, 128).getUint16(124, r.littleEndian);
  if (version !== 0x0100) r.fail(`unsupported MAT version 0x${version.toString(16)} (expected 0x0100)`);

  const vars = new Map<string, MatVariable>();
  let offset = 128;
  while (offset < bytes.length) {
    const el = r.element(bytes, offset, "file");
    let matrix: Element | null = el.type === MI.MATRIX ? el : null;
    if (el.type === MI.COMPRESSED) {
      const inflated = inflateZlib(el.data, file);
      const inner = r.element(inflated, 0, `compressed element at byte ${offset}`);
      if (inner.type !== MI.MATRIX) r.fail(`compressed element at byte ${offset} does not hold an array`);
      matrix = inner;
    }
    if (matrix) {
      const v = r.matrix(matrix.data, `array at byte ${offset}`);
      if (v) vars.set(v.name, v);
    }
    offset = el.next;
  }
  return vars;
}
