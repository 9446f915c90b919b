/**
 * A restricted unpickler: decodes Python pickles (protocols 0–5) into plain values without ever
 * running code. Pickle's power comes from two opcodes — GLOBAL/STACK_GLOBAL name a Python object and
 * REDUCE/NEWOBJ/BUILD call it — so here a global resolves only through the caller's allowlist (each
 * entry is a TypeScript function over decoded values, e.g. "rebuild a tensor reference"); any other
 * name is refused at the opcode that names it, before anything could be called. Extension codes and
 * out-of-band buffers are refused too. Every length and memo index is checked against the input, so
 * a malformed pickle is a PickleError, never a crash or a huge allocation.
 */

/** Objects that an allowlisted global builds (e.g. tensor references); opaque to the unpickler. */
export abstract class PickleObject {
  abstract describe(): string;
}

/** A dict key: Python's hashable primitives (tuple keys are refused). */
export type PickleKey = string | number | bigint | boolean | null;

/**
 * A Python dict (or OrderedDict: insertion order is kept either way). `attributes` holds instance
 * attributes a pickle set on it (an OrderedDict subclass's state, e.g. a state dict's `_metadata`).
 */
export class PickleDict extends Map<PickleKey, PickleValue> {
  attributes: PickleDict | null = null;
}

export type PickleValue =
  | null
  | boolean
  | number
  | bigint
  | string
  | Uint8Array
  | readonly PickleValue[]
  | PickleDict
  | PickleObject
  | AllowedGlobal;

/** Context given to an allowlisted callable: errors name the source and the global. */
export interface CallContext {
  readonly qualname: string;
  fail(problem: string): never;
}

/**
 * One allowlisted global. `call` is what REDUCE/NEWOBJ do with it (absent: the global may only be
 * passed around as a value, e.g. a storage type inside a persistent id).
 */
export interface AllowedGlobal {
  readonly kind: "global";
  readonly qualname: string;
  readonly call?: (args: readonly PickleValue[], ctx: CallContext) => PickleValue;
}

export interface UnpickleOptions {
  /** "module.name" → how it may be used. Names not listed are refused. */
  readonly globals: ReadonlyMap<string, Omit<AllowedGlobal, "kind" | "qualname">>;
  /** Explains why a refused global is refused (appended to the error). */
  readonly refusal?: (qualname: string) => string;
  /** Resolves a persistent id (PERSID/BINPERSID); without it such pickles are refused. */
  readonly persistentLoad?: (pid: PickleValue) => PickleValue;
  /** Names the input in errors. */
  readonly source?: string;
}

export class PickleError extends Error {
  constructor(readonly source: string, readonly problem: string) {
    super(`pickle ${source}: ${problem}`);
    this.name = "PickleError";
  }
}

const MARK = Symbol("mark");
type StackItem = PickleValue | typeof MARK;

/** Tuples are frozen arrays; lists are plain ones (APPEND on a tuple is an error, as in Python). */
const tuple = (items: PickleValue[]): readonly PickleValue[] => Object.freeze(items);

export function describeValue(v: PickleValue): string {
  if (v === null) return "None";
  if (typeof v === "boolean") return v ? "True" : "False";
  if (typeof v === "number" || typeof v === "bigint") return `the number ${v}`;
  if (typeof v === "string") return `the string ${JSON.stringify(v.slice(0, 40))}`;
  if (v instanceof Uint8Array) return `${v.length} bytes`;
  if (Array.isArray(v)) return `a ${Object.isFrozen(v) ? "tuple" : "list"} of ${v.length}`;
  if (v instanceof PickleDict) return `a dict of ${v.size}`;
  if (v instanceof PickleObject) return v.describe();
  return `the global ${(v as AllowedGlobal).qualname}`;
}

const isGlobal = (v: PickleValue): v is AllowedGlobal =>
  typeof v === "object" && v !== null && !Array.isArray(v) && !(v instanceof Uint8Array) &&
  !(v instanceof PickleDict) && !(v instanceof PickleObject) && (v as AllowedGlobal).kind === "global";

const isEmptyState = (v: PickleValue) =>
  v === null || (v instanceof PickleDict && v.size === 0) ||
  (Array.isArray(v) && v.length === 2 &&
    v.every((s: PickleValue) => s === null || (s instanceof PickleDict && s.size === 0)));

/** Decodes one pickle. Trailing bytes after STOP are an error (a checkpoint's data.pkl has none). */
export function unpickle(bytes: Uint8Array, opts: UnpickleOptions): PickleValue {
  const src = opts.source ?? "<bytes>";
  const fail = (problem: string): never => {
    throw new PickleError(src, problem);
  };
  const dv = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const utf8 = new TextDecoder("utf-8", { fatal: true });
  let pos = 0;
  const stack: StackItem[] = [];
  const marks: number[] = [];
  const memo = new Map<number, PickleValue>();

  const need = (n: number, what: string) => {
    if (n < 0 || pos + n > bytes.length) {
      fail(`truncated: ${what} needs ${n} bytes at offset ${pos}, ${bytes.length - pos} remain`);
    }
  };
  const u8 = () => (need(1, "an argument"), bytes[pos++]);
  const u16 = () => (need(2, "an argument"), pos += 2, dv.getUint16(pos - 2, true));
  const u32 = () => (need(4, "an argument"), pos += 4, dv.getUint32(pos - 4, true));
  const i32 = () => (need(4, "an argument"), pos += 4, dv.getInt32(pos - 4, true));
  const u64 = () => {
    need(8, "an argument");
    const v = dv.getBigUint64(pos, true);
    pos += 8;
    if (v > BigInt(bytes.length)) fail(`length ${v} at offset ${pos - 8} exceeds the input`);
    return Number(v);
  };
  const take = (n: number, what: string) => {
    need(n, what);
    pos += n;
    return bytes.subarray(pos - n, pos);
  };
  const line = (what: string) => {
    const end = bytes.indexOf(0x0a, pos);
    if (end < 0) fail(`truncated: ${what} has no terminating newline`);
    const s = new TextDecoder("latin1").decode(bytes.subarray(pos, end));
    pos = end + 1;
    return s;
  };
  const text = (b: Uint8Array, what: string) => {
    try {
      return utf8.decode(b);
    } catch {
      return fail(`${what} at offset ${pos - b.length} is not valid UTF-8`);
    }
  };

  const pop = (): PickleValue => {
    const v = stack.pop();
    if (v === undefined) return fail(`stack underflow at offset ${pos - 1}`);
    if (v === MARK) return fail(`unexpected MARK on the stack at offset ${pos - 1}`);
    return v;
  };
  const top = (): PickleValue => {
    const v = stack[stack.length - 1];
    if (v === undefined || v === MARK) return fail(`empty stack at offset ${pos - 1}`);
    return v;
  };
  const popMark = (): PickleValue[] => {
    const m = marks.pop();
    if (m === undefined) return fail(`no MARK to pop at offset ${pos - 1}`);
    // The MARK sits at index m; the items follow it.
    return stack.splice(m).slice(1) as PickleValue[];
  };
  const memoGet = (i: number) => {
    if (!memo.has(i)) fail(`memo entry ${i} is read before it is written (offset ${pos})`);
    return memo.get(i)!;
  };
  const memoPut = (i: number) => {
    memo.set(i, top());
  };

  const resolve = (module: string, name: string): AllowedGlobal => {
    const qualname = `${module}.${name}`;
    const allowed = opts.globals.get(qualname);
    if (!allowed) {
      return fail(
        `refusing the global ${qualname}: ${opts.refusal?.(qualname) ?? "it is not on the allowlist"}`,
      );
    }
    return { kind: "global", qualname, ...(allowed.call ? { call: allowed.call } : {}) };
  };
  const call = (f: PickleValue, args: PickleValue, how: string): PickleValue => {
    if (!isGlobal(f)) return fail(`${how} on ${describeValue(f)}: only allowlisted globals can be called`);
    if (!f.call) return fail(`${how} on ${f.qualname}: it cannot be called`);
    if (!Array.isArray(args)) {
      return fail(`${how} on ${f.qualname} with ${describeValue(args)} instead of a tuple`);
    }
    return f.call(args, { qualname: f.qualname, fail: (p) => fail(`${f.qualname}: ${p}`) });
  };
  const asKey = (k: PickleValue): PickleKey => {
    if (k === null || ["string", "number", "bigint", "boolean"].includes(typeof k)) return k as PickleKey;
    return fail(`dict key ${describeValue(k)} is not supported (only strings, numbers, booleans, None)`);
  };
  const setItems = (d: PickleValue, kv: PickleValue[]) => {
    if (!(d instanceof PickleDict)) fail(`SETITEM(S) on ${describeValue(d)}, not a dict`);
    if (kv.length % 2) fail("SETITEMS with an odd number of items");
    for (let i = 0; i < kv.length; i += 2) (d as PickleDict).set(asKey(kv[i]), kv[i + 1]);
  };
  const appendItems = (l: PickleValue, items: PickleValue[]) => {
    if (!Array.isArray(l) || Object.isFrozen(l)) fail(`APPEND(S) on ${describeValue(l)}, not a list`);
    (l as PickleValue[]).push(...items);
  };
  const toNumber = (v: bigint): number | bigint =>
    v >= BigInt(Number.MIN_SAFE_INTEGER) && v <= BigInt(Number.MAX_SAFE_INTEGER) ? Number(v) : v;
  const longLE = (b: Uint8Array): number | bigint => {
    if (b.length === 0) return 0;
    let v = 0n;
    for (let i = b.length - 1; i >= 0; i--) v = (v << 8n) | BigInt(b[i]);
    if (b[b.length - 1] & 0x80) v -= 1n << BigInt(8 * b.length);
    return toNumber(v);
  };
  const parseIntText = (s: string, what: string): number | bigint => {
    const t = s.endsWith("L") ? s.slice(0, -1) : s;
    if (!/^[-+]?\d+$/.test(t)) fail(`${what} "${s.slice(0, 40)}" is not an integer`);
    return toNumber(BigInt(t));
  };
  const memoIndex = (s: string) => {
    const i = Number(s);
    if (!Number.isSafeInteger(i) || i < 0) fail(`bad memo index "${s.slice(0, 20)}"`);
    return i;
  };

  while (true) {
    if (pos >= bytes.length) fail("truncated: the pickle ends without a STOP opcode");
    const at = pos;
    const op = bytes[pos++];
    switch (op) {
      case 0x80: { // PROTO
        const v = u8();
        if (v > 5) fail(`unsupported pickle protocol ${v}`);
        break;
      }
      case 0x95: // FRAME: a length hint for buffered readers; we hold the whole input
        u64();
        break;
      case 0x2e: { // STOP
        const v = pop();
        if (stack.length) fail(`${stack.length} values left on the stack at STOP`);
        if (pos !== bytes.length) fail(`${bytes.length - pos} bytes after STOP`);
        return v;
      }
      case 0x28: // MARK
        marks.push(stack.length);
        stack.push(MARK);
        break;
      case 0x30: // POP
        if (stack[stack.length - 1] === MARK) popMark();
        else pop();
        break;
      case 0x31: // POP_MARK
        popMark();
        break;
      case 0x32: // DUP
        stack.push(top());
        break;
      // ------------------------------------------------ numbers and constants
      case 0x4e: // NONE
        stack.push(null);
        break;
      case 0x88: // NEWTRUE
        stack.push(true);
        break;
      case 0x89: // NEWFALSE
        stack.push(false);
        break;
      case 0x4b: // BININT1
        stack.push(u8());
        break;
      case 0x4d: // BININT2
        stack.push(u16());
        break;
      case 0x4a: // BININT
        stack.push(i32());
        break;
      case 0x8a: // LONG1
        stack.push(longLE(take(u8(), "LONG1")));
        break;
      case 0x8b: { // LONG4
        const n = i32();
        if (n < 0) fail("negative LONG4 length");
        stack.push(longLE(take(n, "LONG4")));
        break;
      }
      case 0x49: { // INT (text; "00"/"01" are False/True in protocol 0)
        const s = line("INT");
        stack.push(s === "00" ? false : s === "01" ? true : parseIntText(s, "INT"));
        break;
      }
      case 0x4c: // LONG (text)
        stack.push(parseIntText(line("LONG"), "LONG"));
        break;
      case 0x47: // BINFLOAT (big-endian double)
        need(8, "BINFLOAT");
        stack.push(dv.getFloat64(pos, false));
        pos += 8;
        break;
      case 0x46: { // FLOAT (text)
        const s = line("FLOAT").trim();
        if (/^[-+]?inf$/i.test(s)) stack.push(s.startsWith("-") ? -Infinity : Infinity);
        else if (/^[-+]?nan$/i.test(s)) stack.push(NaN);
        else if (/^[-+]?(\d+(\.\d*)?|\.\d+)([eE][-+]?\d+)?$/.test(s)) stack.push(Number(s));
        else fail(`FLOAT "${s.slice(0, 40)}" is not a number`);
        break;
      }
      // ------------------------------------------------ strings and bytes
      case 0x58: // BINUNICODE
        stack.push(text(take(u32(), "BINUNICODE"), "BINUNICODE"));
        break;
      case 0x8c: // SHORT_BINUNICODE
        stack.push(text(take(u8(), "SHORT_BINUNICODE"), "SHORT_BINUNICODE"));
        break;
      case 0x8d: // BINUNICODE8
        stack.push(text(take(u64(), "BINUNICODE8"), "BINUNICODE8"));
        break;
      case 0x54: { // BINSTRING (Python 2 str): decoded as text like torch.load(encoding="utf-8")
        const n = i32();
        if (n < 0) fail("negative BINSTRING length");
        stack.push(text(take(n, "BINSTRING"), "BINSTRING"));
        break;
      }
      case 0x55: // SHORT_BINSTRING
        stack.push(text(take(u8(), "SHORT_BINSTRING"), "SHORT_BINSTRING"));
        break;
      case 0x42: // BINBYTES
        stack.push(take(u32(), "BINBYTES").slice());
        break;
      case 0x43: // SHORT_BINBYTES
        stack.push(take(u8(), "SHORT_BINBYTES").slice());
        break;
      case 0x8e: // BINBYTES8
      case 0x96: // BYTEARRAY8
        stack.push(take(u64(), "BINBYTES8").slice());
        break;
      // ------------------------------------------------ containers
      case 0x29: // EMPTY_TUPLE
        stack.push(tuple([]));
        break;
      case 0x85: // TUPLE1
        stack.push(tuple([pop()]));
        break;
      case 0x86: { // TUPLE2
        const b = pop(), a = pop();
        stack.push(tuple([a, b]));
        break;
      }
      case 0x87: { // TUPLE3
        const c = pop(), b = pop(), a = pop();
        stack.push(tuple([a, b, c]));
        break;
      }
      case 0x74: // TUPLE
        stack.push(tuple(popMark()));
        break;
      case 0x5d: // EMPTY_LIST
        stack.push([]);
        break;
      case 0x6c: // LIST
        stack.push(popMark());
        break;
      case 0x61: { // APPEND
        const v = pop();
        appendItems(top(), [v]);
        break;
      }
      case 0x65: { // APPENDS
        const items = popMark();
        appendItems(top(), items);
        break;
      }
      case 0x7d: // EMPTY_DICT
        stack.push(new PickleDict());
        break;
      case 0x64: { // DICT
        const d = new PickleDict();
        setItems(d, popMark());
        stack.push(d);
        break;
      }
      case 0x73: { // SETITEM
        const v = pop(), k = pop();
        setItems(top(), [k, v]);
        break;
      }
      case 0x75: { // SETITEMS
        const kv = popMark();
        setItems(top(), kv);
        break;
      }
      case 0x8f: // EMPTY_SET (a set is kept as a list of its members)
        stack.push([]);
        break;
      case 0x90: { // ADDITEMS
        const items = popMark();
        appendItems(top(), items);
        break;
      }
      case 0x91: // FROZENSET
        stack.push(tuple(popMark()));
        break;
      // ------------------------------------------------ memo
      case 0x71: // BINPUT
        memoPut(u8());
        break;
      case 0x72: // LONG_BINPUT
        memoPut(u32());
        break;
      case 0x70: // PUT (text)
        memoPut(memoIndex(line("PUT")));
        break;
      case 0x94: // MEMOIZE
        memoPut(memo.size);
        break;
      case 0x68: // BINGET
        stack.push(memoGet(u8()));
        break;
      case 0x6a: // LONG_BINGET
        stack.push(memoGet(u32()));
        break;
      case 0x67: // GET (text)
        stack.push(memoGet(memoIndex(line("GET"))));
        break;
      // ------------------------------------------------ globals and calls (allowlist only)
      case 0x63: { // GLOBAL "module\nname\n"
        const module = line("GLOBAL module"), name = line("GLOBAL name");
        stack.push(resolve(module, name));
        break;
      }
      case 0x93: { // STACK_GLOBAL
        const name = pop(), module = pop();
        if (typeof module !== "string" || typeof name !== "string") fail("STACK_GLOBAL needs two strings");
        stack.push(resolve(module as string, name as string));
        break;
      }
      case 0x69: { // INST "module\nname\n" with MARKed args (protocol 0)
        const module = line("INST module"), name = line("INST name");
        const f = resolve(module, name);
        stack.push(call(f, tuple(popMark()), "INST"));
        break;
      }
      case 0x6f: { // OBJ: MARK cls args… OBJ
        const items = popMark();
        if (!items.length) fail("OBJ without a class");
        stack.push(call(items[0], tuple(items.slice(1)), "OBJ"));
        break;
      }
      case 0x52: { // REDUCE
        const args = pop(), f = pop();
        stack.push(call(f, args, "REDUCE"));
        break;
      }
      case 0x81: { // NEWOBJ cls.__new__(cls, *args)
        const args = pop(), cls = pop();
        stack.push(call(cls, args, "NEWOBJ"));
        break;
      }
      case 0x92: { // NEWOBJ_EX cls.__new__(cls, *args, **kwargs)
        const kwargs = pop(), args = pop(), cls = pop();
        if (!(kwargs instanceof PickleDict) || kwargs.size) fail("NEWOBJ_EX with keyword arguments");
        stack.push(call(cls, args, "NEWOBJ_EX"));
        break;
      }
      case 0x62: { // BUILD: obj.__setstate__(state)
        const state = pop();
        const obj = top();
        if (isEmptyState(state)) break;
        // A dict's state only sets instance attributes (data): PyTorch state dicts carry their
        // module versions this way (`_metadata`). Any other object's state is refused.
        const attrs = Array.isArray(state) && state.length === 2 && state[1] === null ? state[0] : state;
        if (obj instanceof PickleDict && attrs instanceof PickleDict) {
          obj.attributes = attrs;
          break;
        }
        fail(
          `BUILD (setting the state of ${describeValue(obj)}) is not allowed in a checkpoint (offset ${at})`,
        );
        break;
      }
      case 0x50: { // PERSID (text)
        if (!opts.persistentLoad) fail("persistent ids are not allowed here");
        stack.push(opts.persistentLoad!(line("PERSID")));
        break;
      }
      case 0x51: { // BINPERSID
        if (!opts.persistentLoad) fail("persistent ids are not allowed here");
        stack.push(opts.persistentLoad!(pop()));
        break;
      }
      case 0x82: // EXT1
      case 0x83: // EXT2
      case 0x84: // EXT4
        fail(
          `extension-registry opcode 0x${
            op.toString(16)
          } at offset ${at} is refused (it names arbitrary globals)`,
        );
        break;
      case 0x97: // NEXT_BUFFER
      case 0x98: // READONLY_BUFFER
        fail(`out-of-band buffer opcode 0x${op.toString(16)} at offset ${at} is not supported`);
        break;
      case 0x53: // STRING (protocol 0 quoted repr)
      case 0x56: // UNICODE (raw-unicode-escape)
        fail(`text-protocol string opcode '${String.fromCharCode(op)}' at offset ${at} is not supported`);
        break;
      default:
        fail(`unknown opcode 0x${op.toString(16).padStart(2, "0")} at offset ${at}`);
    }
  }
}
