/**
 * Elementwise expressions: the one description from which ddrepro derives the WGSL kernel, the
 * TypeScript reference, and the symbolic derivative of every pointwise op (activations, arithmetic,
 * optimizer updates, fused loss pieces). Because a derivative is again an expression, gradients of
 * gradients come for free.
 */

export type UnaryOp =
  | "neg"
  | "exp"
  | "log"
  | "sqrt"
  | "rsqrt"
  | "abs"
  | "sign"
  | "recip"
  | "square"
  | "relu"
  | "step" // 1 where x > 0 else 0
  | "sigmoid"
  | "tanh"
  | "softplus"
  | "erf"
  | "sin"
  | "cos"
  | "floor";

export type BinaryOp = "add" | "sub" | "mul" | "div" | "pow" | "max" | "min" | "gt" | "ge" | "lt" | "eq";

export type Expr =
  | { readonly k: "in"; readonly i: number }
  | { readonly k: "c"; readonly v: number }
  /** A runtime scalar (e.g. a learning rate): changes per step without recompiling the kernel. */
  | { readonly k: "p"; readonly i: number }
  | { readonly k: "u"; readonly op: UnaryOp; readonly a: Expr }
  | { readonly k: "b"; readonly op: BinaryOp; readonly a: Expr; readonly b: Expr }
  | { readonly k: "w"; readonly c: Expr; readonly a: Expr; readonly b: Expr }; // c > 0 ? a : b

// ---- constructors with light constant folding (keeps generated kernels small) ----
export const inp = (i: number): Expr => ({ k: "in", i });
export const cst = (v: number): Expr => ({ k: "c", v });
export const prm = (i: number): Expr => ({ k: "p", i });
const isC = (e: Expr, v?: number): e is { k: "c"; v: number } =>
  e.k === "c" && (v === undefined || e.v === v);

export function un(op: UnaryOp, a: Expr): Expr {
  if (a.k === "c") return cst(evalUnary(op, a.v));
  if (op === "neg" && a.k === "u" && a.op === "neg") return a.a;
  return { k: "u", op, a };
}

export function bin(op: BinaryOp, a: Expr, b: Expr): Expr {
  if (a.k === "c" && b.k === "c") return cst(evalBinary(op, a.v, b.v));
  switch (op) {
    case "add":
      if (isC(a, 0)) return b;
      if (isC(b, 0)) return a;
      break;
    case "sub":
      if (isC(b, 0)) return a;
      if (isC(a, 0)) return un("neg", b);
      break;
    case "mul":
      if (isC(a, 0) || isC(b, 0)) return cst(0);
      if (isC(a, 1)) return b;
      if (isC(b, 1)) return a;
      if (isC(a, -1)) return un("neg", b);
      if (isC(b, -1)) return un("neg", a);
      break;
    case "div":
      if (isC(a, 0)) return cst(0);
      if (isC(b, 1)) return a;
      break;
  }
  return { k: "b", op, a, b };
}

export function where(c: Expr, a: Expr, b: Expr): Expr {
  if (c.k === "c") return c.v > 0 ? a : b;
  if (isC(a, 0) && isC(b, 0)) return cst(0);
  return { k: "w", c, a, b };
}

export const add = (a: Expr, b: Expr) => bin("add", a, b);
export const sub = (a: Expr, b: Expr) => bin("sub", a, b);
export const mul = (a: Expr, b: Expr) => bin("mul", a, b);
export const div = (a: Expr, b: Expr) => bin("div", a, b);

// ---- scalar semantics (the reference; WGSL must match) ----

/** erf with |error| < 1.5e-7 (Abramowitz & Stegun 7.1.26); the same formula runs in WGSL. */
export function erf(x: number): number {
  const s = x < 0 ? -1 : 1;
  const ax = Math.abs(x);
  const t = 1 / (1 + 0.3275911 * ax);
  const y = 1 -
    (((((1.061405429 * t - 1.453152027) * t) + 1.421413741) * t - 0.284496736) * t + 0.254829592) * t *
      Math.exp(-ax * ax);
  return s * y;
}

function sigmoid(x: number): number {
  return x >= 0 ? 1 / (1 + Math.exp(-x)) : Math.exp(x) / (1 + Math.exp(x));
}

export function evalUnary(op: UnaryOp, x: number): number {
  switch (op) {
    case "neg":
      return -x;
    case "exp":
      return Math.exp(x);
    case "log":
      return Math.log(x);
    case "sqrt":
      return Math.sqrt(x);
    case "rsqrt":
      return 1 / Math.sqrt(x);
    case "abs":
      return Math.abs(x);
    case "sign":
      return x > 0 ? 1 : x < 0 ? -1 : 0;
    case "recip":
      return 1 / x;
    case "square":
      return x * x;
    case "relu":
      return x > 0 ? x : 0;
    case "step":
      return x > 0 ? 1 : 0;
    case "sigmoid":
      return sigmoid(x);
    case "tanh":
      return Math.tanh(x);
    case "softplus":
      return x > 20 ? x : Math.log1p(Math.exp(x));
    case "erf":
      return erf(x);
    case "sin":
      return Math.sin(x);
    case "cos":
      return Math.cos(x);
    case "floor":
      return Math.floor(x);
  }
}

export function evalBinary(op: BinaryOp, a: number, b: number): number {
  switch (op) {
    case "add":
      return a + b;
    case "sub":
      return a - b;
    case "mul":
      return a * b;
    case "div":
      return a / b;
    case "pow":
      return Math.pow(a, b);
    case "max":
      return a >= b ? a : b;
    case "min":
      return a <= b ? a : b;
    case "gt":
      return a > b ? 1 : 0;
    case "ge":
      return a >= b ? 1 : 0;
    case "lt":
      return a < b ? 1 : 0;
    case "eq":
      return a === b ? 1 : 0;
  }
}

/** Evaluates an expression on one element; `vals[i]` is input i. Rounds to f32 at every node like WGSL. */
export function evalExpr(e: Expr, vals: ArrayLike<number>, params: ArrayLike<number> = []): number {
  return compileExpr(e, params)(vals);
}

/** Compiles an expression to a JS closure for the reference backend's inner loops. */
export function compileExpr(e: Expr, params: ArrayLike<number> = []): (vals: ArrayLike<number>) => number {
  const rec = (x: Expr): (v: ArrayLike<number>) => number => {
    switch (x.k) {
      case "in": {
        const i = x.i;
        return (v) => v[i];
      }
      case "c": {
        const c = Math.fround(x.v);
        return () => c;
      }
      case "p": {
        const c = Math.fround(params[x.i]);
        return () => c;
      }
      case "u": {
        const a = rec(x.a), op = x.op;
        return (v) => Math.fround(evalUnary(op, a(v)));
      }
      case "b": {
        const a = rec(x.a), b = rec(x.b), op = x.op;
        return (v) => Math.fround(evalBinary(op, a(v), b(v)));
      }
      case "w": {
        const c = rec(x.c), a = rec(x.a), b = rec(x.b);
        return (v) => (c(v) > 0 ? a(v) : b(v));
      }
    }
  };
  return rec(e);
}

// ---- symbolic derivative ----

/**
 * d(e)/d(input i) · g, where `g` is an expression (usually another input holding the upstream
 * gradient). Non-differentiable points take the conventional subgradient (relu'(0) = 0).
 */
export function derivative(e: Expr, i: number, g: Expr): Expr {
  switch (e.k) {
    case "in":
      return e.i === i ? g : cst(0);
    case "c":
    case "p":
      return cst(0);
    case "w": {
      const ga = derivative(e.a, i, g), gb = derivative(e.b, i, g);
      return where(e.c, ga, gb);
    }
    case "u": {
      if (!dependsOn(e.a, i)) return cst(0);
      const a = e.a;
      let local: Expr;
      switch (e.op) {
        case "neg":
          return derivative(a, i, un("neg", g));
        case "exp":
          local = e;
          break;
        case "log":
          local = un("recip", a);
          break;
        case "sqrt":
          local = div(cst(0.5), e);
          break;
        case "rsqrt":
          local = mul(cst(-0.5), mul(e, mul(e, e)));
          break;
        case "abs":
          local = un("sign", a);
          break;
        case "sign":
        case "step":
        case "floor":
          return cst(0);
        case "recip":
          local = un("neg", un("square", e));
          break;
        case "square":
          local = mul(cst(2), a);
          break;
        case "relu":
          local = un("step", a);
          break;
        case "sigmoid":
          local = mul(e, sub(cst(1), e));
          break;
        case "tanh":
          local = sub(cst(1), un("square", e));
          break;
        case "softplus":
          local = un("sigmoid", a);
          break;
        case "erf":
          local = mul(cst(2 / Math.sqrt(Math.PI)), un("exp", un("neg", un("square", a))));
          break;
        case "sin":
          local = un("cos", a);
          break;
        case "cos":
          local = un("neg", un("sin", a));
          break;
      }
      return derivative(a, i, mul(g, local));
    }
    case "b": {
      const { a, b } = e;
      const da = dependsOn(a, i), db = dependsOn(b, i);
      if (!da && !db) return cst(0);
      let ga: Expr = cst(0), gb: Expr = cst(0);
      switch (e.op) {
        case "add":
          ga = g;
          gb = g;
          break;
        case "sub":
          ga = g;
          gb = un("neg", g);
          break;
        case "mul":
          ga = mul(g, b);
          gb = mul(g, a);
          break;
        case "div":
          ga = div(g, b);
          gb = un("neg", div(mul(g, e), b));
          break;
        case "pow":
          ga = mul(g, mul(b, bin("pow", a, sub(b, cst(1)))));
          gb = db ? mul(g, mul(e, un("log", a))) : cst(0);
          break;
        case "max":
          ga = where(bin("ge", a, b), g, cst(0));
          gb = where(bin("ge", a, b), cst(0), g);
          break;
        case "min":
          ga = where(bin("ge", b, a), g, cst(0));
          gb = where(bin("ge", b, a), cst(0), g);
          break;
        case "gt":
        case "ge":
        case "lt":
        case "eq":
          return cst(0);
      }
      const ra = da ? derivative(a, i, ga) : cst(0);
      const rb = db ? derivative(b, i, gb) : cst(0);
      return add(ra, rb);
    }
  }
}

export function dependsOn(e: Expr, i: number): boolean {
  switch (e.k) {
    case "in":
      return e.i === i;
    case "c":
    case "p":
      return false;
    case "u":
      return dependsOn(e.a, i);
    case "b":
      return dependsOn(e.a, i) || dependsOn(e.b, i);
    case "w":
      return dependsOn(e.c, i) || dependsOn(e.a, i) || dependsOn(e.b, i);
  }
}

/** `e` with every input index `i` replaced by `f(i)`. */
export function renumberInputs(e: Expr, f: (i: number) => number): Expr {
  switch (e.k) {
    case "in":
      return inp(f(e.i));
    case "c":
    case "p":
      return e;
    case "u":
      return { ...e, a: renumberInputs(e.a, f) };
    case "b":
      return { ...e, a: renumberInputs(e.a, f), b: renumberInputs(e.b, f) };
    case "w":
      return { ...e, c: renumberInputs(e.c, f), a: renumberInputs(e.a, f), b: renumberInputs(e.b, f) };
  }
}

export function maxInput(e: Expr): number {
  switch (e.k) {
    case "in":
      return e.i;
    case "c":
    case "p":
      return -1;
    case "u":
      return maxInput(e.a);
    case "b":
      return Math.max(maxInput(e.a), maxInput(e.b));
    case "w":
      return Math.max(maxInput(e.c), maxInput(e.a), maxInput(e.b));
  }
}

/** A stable textual key (pipeline cache key, CSE). */
export function exprKey(e: Expr): string {
  switch (e.k) {
    case "in":
      return `$${e.i}`;
    case "c":
      return `${Math.fround(e.v)}`;
    case "p":
      return `%${e.i}`;
    case "u":
      return `${e.op}(${exprKey(e.a)})`;
    case "b":
      return `${e.op}(${exprKey(e.a)},${exprKey(e.b)})`;
    case "w":
      return `where(${exprKey(e.c)},${exprKey(e.a)},${exprKey(e.b)})`;
  }
}

export function maxParam(e: Expr): number {
  switch (e.k) {
    case "p":
      return e.i;
    case "in":
    case "c":
      return -1;
    case "u":
      return maxParam(e.a);
    case "b":
      return Math.max(maxParam(e.a), maxParam(e.b));
    case "w":
      return Math.max(maxParam(e.c), maxParam(e.a), maxParam(e.b));
  }
}
