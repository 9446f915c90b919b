/**
 * A TypeScript source as a normalised token stream: comments and whitespace dropped, string literals
 * decoded (so 'a' and "a" are one token), trailing commas dropped. Two sources with equal streams
 * differ only in comments or formatting, so hashing the stream gives a code version that a comment or
 * `deno fmt` leaves alone while any change to code, a number or a string moves it.
 *
 * Template literals keep their text verbatim (WGSL kernels live in them). A `/` is read as a regular
 * expression where an expression may start (after an operator, `(`, `,`, a keyword such as `return`),
 * otherwise as division — the usual rule for tokenising JavaScript without parsing it.
 */

export class SourceTokenError extends Error {}

const PUNCTUATORS = [
  ">>>=",
  "...",
  "===",
  "!==",
  "**=",
  "<<=",
  ">>=",
  ">>>",
  "&&=",
  "||=",
  "??=",
  "=>",
  "==",
  "!=",
  "<=",
  ">=",
  "&&",
  "||",
  "??",
  "?.",
  "++",
  "--",
  "+=",
  "-=",
  "*=",
  "/=",
  "%=",
  "&=",
  "|=",
  "^=",
  "**",
  "<<",
  ">>",
];

/** Keywords after which a `/` starts a regular expression rather than a division. */
const EXPRESSION_KEYWORDS = new Set([
  "return",
  "typeof",
  "instanceof",
  "in",
  "of",
  "new",
  "delete",
  "void",
  "throw",
  "case",
  "do",
  "else",
  "yield",
  "await",
]);

const ID_START = /[\p{ID_Start}$_]/u;
// Sticky patterns, matched at the current position.
const SPACE = /\s+/y;
const IDENT = /[\p{ID_Start}$_\\#@][\p{ID_Continue}$\u200c\u200d\\]*/uy;
const NUMBER = /0[xXoObB][0-9a-fA-F_]+n?|(?:[0-9][0-9_]*\.?[0-9_]*|\.[0-9][0-9_]*)(?:[eE][+-]?[0-9_]+)?n?/y;

/** Tokens of `src` (see the module comment); throws SourceTokenError on an unterminated literal. */
export function sourceTokens(src: string, what = "source"): string[] {
  const out: string[] = [];
  // One entry per open `{` or template `${`: true for a template substitution.
  const braces: boolean[] = [];
  let i = 0;
  const fail = (msg: string): never => {
    const line = src.slice(0, i).split("\n").length;
    throw new SourceTokenError(`${what}:${line}: ${msg}`);
  };
  // Whether the last token ends an operand (then `/` divides) or leaves an expression to start (a regex).
  const regexAllowed = () => {
    const prev = out.at(-1);
    if (prev === undefined) return true;
    if (prev === ")" || prev === "]" || prev === "}") return false;
    if (ID_START.test(prev[0]) || /^[0-9.]/.test(prev) && prev !== "...") {
      return EXPRESSION_KEYWORDS.has(prev);
    }
    if (prev.startsWith('"') || (prev.startsWith("`") || prev.startsWith("}")) && prev.endsWith("`")) {
      return false;
    }
    return !lastWasRegex;
  };
  let lastWasRegex = false;
  // Reads template text from i (just after "`" or "}") up to "`" or "${"; pushes it with its delimiters.
  const templatePart = (open: string) => {
    const start = i;
    while (i < src.length) {
      const c = src[i];
      if (c === "\\") i += 2;
      else if (c === "`") {
        out.push(open + src.slice(start, i) + "`");
        i++;
        return;
      } else if (c === "$" && src[i + 1] === "{") {
        out.push(open + src.slice(start, i) + "${");
        i += 2;
        braces.push(true);
        return;
      } else i++;
    }
    fail("unterminated template literal");
  };
  while (i < src.length) {
    const c = src[i];
    const before = out.length;
    const code = src.charCodeAt(i);
    if (code === 32 || code === 10) {
      i++;
    } else if ((SPACE.lastIndex = i, SPACE.test(src))) {
      i = SPACE.lastIndex;
    } else if (c === "/" && src[i + 1] === "/") {
      while (i < src.length && src[i] !== "\n") i++;
    } else if (c === "/" && src[i + 1] === "*") {
      const end = src.indexOf("*/", i + 2);
      if (end < 0) fail("unterminated comment");
      i = end + 2;
    } else if (c === '"' || c === "'") {
      out.push(JSON.stringify(readString(c)));
    } else if (c === "`") {
      i++;
      templatePart("`");
    } else if (c === "{") {
      braces.push(false);
      out.push("{");
      i++;
    } else if (c === "}") {
      const template = braces.pop();
      i++;
      if (template) templatePart("}");
      else out.push("}");
    } else if ((c >= "0" && c <= "9") || (c === "." && src[i + 1] >= "0" && src[i + 1] <= "9")) {
      NUMBER.lastIndex = i;
      NUMBER.test(src);
      out.push(src.slice(i, NUMBER.lastIndex));
      i = NUMBER.lastIndex;
    } else if ((IDENT.lastIndex = i, IDENT.test(src))) {
      out.push(src.slice(i, IDENT.lastIndex));
      i = IDENT.lastIndex;
    } else if (c === "/" && regexAllowed()) {
      out.push(readRegex());
      lastWasRegex = true;
      continue;
    } else {
      const p = PUNCTUATORS.find((p) => src.startsWith(p, i)) ?? c;
      out.push(p);
      i += p.length;
    }
    if (out.length > before) lastWasRegex = false;
  }
  if (braces.some((t) => t)) fail("unterminated template substitution");
  return out.filter((t, k) => {
    const next = out[k + 1], prev = out[k - 1];
    // Trailing commas: `f(a, b,)` is `f(a, b)`.
    if (t === "," && (next === ")" || next === "]" || next === "}" || next === ">")) return false;
    // A semicolon before `}` is optional (ASI); so is a type member separator there.
    if (t === ";" && next === "}") return false;
    // A leading `|` or `&` of a wrapped union or intersection type: `= | A | B` is `= A | B`.
    if (
      (t === "|" || t === "&") &&
      (prev === "=" || prev === ":" || prev === "(" || prev === "<" || prev === ",")
    ) {
      return false;
    }
    return true;
  });

  function readString(q: string): string {
    let s = "";
    i++;
    while (i < src.length && src[i] !== q) {
      if (src[i] === "\n") fail("unterminated string");
      if (src[i] !== "\\") {
        s += src[i++];
        continue;
      }
      const e = src[i + 1];
      i += 2;
      const simple: Record<string, string> = {
        n: "\n",
        t: "\t",
        r: "\r",
        b: "\b",
        f: "\f",
        v: "\v",
        0: "\0",
      };
      if (e in simple && !(e === "0" && /[0-9]/.test(src[i] ?? ""))) s += simple[e];
      else if (e === "x") {
        s += String.fromCharCode(parseInt(src.slice(i, i + 2), 16));
        i += 2;
      } else if (e === "u" && src[i] === "{") {
        const end = src.indexOf("}", i);
        s += String.fromCodePoint(parseInt(src.slice(i + 1, end), 16));
        i = end + 1;
      } else if (e === "u") {
        s += String.fromCharCode(parseInt(src.slice(i, i + 4), 16));
        i += 4;
      } else if (e === "\r" && src[i] === "\n") i++; // line continuation
      else if (e !== "\n" && e !== "\r") s += e;
    }
    if (i >= src.length) fail("unterminated string");
    i++;
    return s;
  }

  function readRegex(): string {
    const start = i;
    i++;
    let inClass = false;
    while (i < src.length) {
      const c = src[i];
      if (c === "\n") fail("unterminated regular expression");
      if (c === "\\") i += 2;
      else {
        if (c === "[") inClass = true;
        else if (c === "]") inClass = false;
        else if (c === "/" && !inClass) break;
        i++;
      }
    }
    if (i >= src.length) fail("unterminated regular expression");
    i++;
    while (i < src.length && /[a-z]/.test(src[i])) i++;
    return src.slice(start, i);
  }
}

/**
 * The module specifiers a source imports or re-exports (static `import … from`, `export … from`,
 * side-effect `import "…"`, `import("…")` with a literal, and `new URL("….ts", import.meta.url)` as
 * workers are loaded), in order of appearance.
 */
export function importSpecifiers(tokens: readonly string[]): string[] {
  const out: string[] = [];
  const str = (
    t: string | undefined,
  ) => (t !== undefined && t.startsWith('"') ? JSON.parse(t) as string : null);
  for (let k = 0; k < tokens.length; k++) {
    const t = tokens[k];
    if (
      t === "new" && tokens[k + 1] === "URL" && tokens[k + 2] === "(" && tokens[k + 4] === "," &&
      tokens.slice(k + 5, k + 10).join("") === "import.meta.url" && /\.[jt]s"$/.test(tokens[k + 3])
    ) {
      // A module loaded by URL, e.g. a worker: `new Worker(new URL("./w.ts", import.meta.url))`.
      out.push(str(tokens[k + 3])!);
    } else if (
      t === "import" && tokens[k + 1] === "(" && str(tokens[k + 2]) !== null && tokens[k + 3] === ")"
    ) {
      out.push(str(tokens[k + 2])!);
    } else if (t === "import" && str(tokens[k + 1]) !== null && tokens[k - 1] !== ".") {
      out.push(str(tokens[k + 1])!);
    } else if ((t === "import" || t === "export") && tokens[k - 1] !== ".") {
      for (let j = k + 1; j < tokens.length && tokens[j] !== ";"; j++) {
        if (tokens[j] === "from" && str(tokens[j + 1]) !== null) {
          out.push(str(tokens[j + 1])!);
          break;
        }
        // `export const x = …`, `export function`: not a re-export; stop at the first token that shows it.
        if (t === "export" && j === k + 1 && tokens[j] !== "{" && tokens[j] !== "*" && tokens[j] !== "type") {
          break;
        }
        if (t === "import" && (tokens[j] === "(" || tokens[j] === "=")) break;
      }
    }
  }
  return out;
}
