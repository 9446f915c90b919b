/** Lowers an elementwise `Expr` to WGSL statements (SSA with common subexpressions shared). */
import { type Expr, exprKey } from "../engine/expr.ts";
import { f32Lit } from "./kernel.ts";

export class ExprEmitter {
  private lines: string[] = [];
  private names = new Map<string, string>();
  private n = 0;
  constructor(
    /** WGSL expression reading input i for the current element. */
    private readonly input: (i: number) => string,
    /** WGSL expression reading runtime parameter i. */
    private readonly param: (i: number) => string = (i) => `P[${i}]`,
    private readonly prefix = "t",
    /** Value type: `f32`, or `vec4<f32>` to evaluate four elements at once (constants splat). */
    private readonly type: "f32" | "vec4<f32>" = "f32",
  ) {}

  /** A literal of the value type. */
  private k(v: number | string): string {
    const lit = typeof v === "number" ? f32Lit(v) : v;
    return this.type === "f32" ? lit : `${this.type}(${lit})`;
  }

  /** Emits the statements for `e`; returns the name holding its value. */
  emit(e: Expr): string {
    const key = exprKey(e);
    const known = this.names.get(key);
    if (known) return known;
    const v = this.value(e);
    const name = `${this.prefix}${this.n++}`;
    this.lines.push(`let ${name}: ${this.type} = ${v};`);
    this.names.set(key, name);
    return name;
  }

  code(indent = "    "): string {
    return this.lines.map((l) => indent + l).join("\n");
  }

  private value(e: Expr): string {
    switch (e.k) {
      case "in":
        return this.input(e.i);
      case "c":
        return this.k(e.v);
      case "p":
        return this.k(this.param(e.i));
      case "w":
        return `select(${this.emit(e.b)}, ${this.emit(e.a)}, ${this.emit(e.c)} > ${this.k(0)})`;
      case "u": {
        const a = this.emit(e.a);
        switch (e.op) {
          case "neg":
            return `-${a}`;
          case "exp":
            return `exp(${a})`;
          case "log":
            return `log(${a})`;
          case "sqrt":
            return `sqrt(${a})`;
          case "rsqrt":
            return `inverseSqrt(${a})`;
          case "abs":
            return `abs(${a})`;
          case "sign":
            return `sign(${a})`;
          case "recip":
            return `1.0 / ${a}`;
          case "square":
            return `${a} * ${a}`;
          case "relu":
            return `max(${a}, ${this.k(0)})`;
          case "step":
            return `select(${this.k(0)}, ${this.k(1)}, ${a} > ${this.k(0)})`;
          case "sigmoid":
            // exp of a non-positive number only: no overflow for large |x|.
            return `select(exp(-abs(${a})) / (1.0 + exp(-abs(${a}))), 1.0 / (1.0 + exp(-abs(${a}))), ${a} >= ${
              this.k(0)
            })`;
          case "tanh":
            return `sign(${a}) * (1.0 - exp(-2.0 * abs(${a}))) / (1.0 + exp(-2.0 * abs(${a})))`;
          case "softplus":
            return `max(${a}, ${this.k(0)}) + log(1.0 + exp(-abs(${a})))`;
          case "erf": {
            const t = `(1.0 / (1.0 + 0.3275911 * abs(${a})))`;
            return `sign(${a}) * (1.0 - (((((1.061405429 * ${t} - 1.453152027) * ${t}) + 1.421413741) * ${t} - 0.284496736) * ${t} + 0.254829592) * ${t} * exp(-${a} * ${a}))`;
          }
          case "sin":
            return `sin(${a})`;
          case "cos":
            return `cos(${a})`;
          case "floor":
            return `floor(${a})`;
        }
        break;
      }
      case "b": {
        const a = this.emit(e.a);
        if (e.op === "pow" && e.b.k === "c" && Number.isInteger(e.b.v) && Math.abs(e.b.v) <= 4) {
          // Small integer powers by multiplication: defined for negative bases, unlike WGSL pow.
          const p = Math.abs(e.b.v);
          const prod = p === 0 ? this.k(1) : Array(p).fill(a).join(" * ");
          return e.b.v < 0 ? `1.0 / (${prod})` : prod;
        }
        const b = this.emit(e.b);
        switch (e.op) {
          case "add":
            return `${a} + ${b}`;
          case "sub":
            return `${a} - ${b}`;
          case "mul":
            return `${a} * ${b}`;
          case "div":
            return `${a} / ${b}`;
          case "pow":
            return `pow(${a}, ${b})`;
          case "max":
            return `select(${b}, ${a}, ${a} >= ${b})`;
          case "min":
            return `select(${b}, ${a}, ${a} <= ${b})`;
          case "gt":
            return `select(${this.k(0)}, ${this.k(1)}, ${a} > ${b})`;
          case "ge":
            return `select(${this.k(0)}, ${this.k(1)}, ${a} >= ${b})`;
          case "lt":
            return `select(${this.k(0)}, ${this.k(1)}, ${a} < ${b})`;
          case "eq":
            return `select(${this.k(0)}, ${this.k(1)}, ${a} == ${b})`;
        }
      }
    }
    throw new Error("unreachable expression node");
  }
}
