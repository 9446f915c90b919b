/** Minimal assertions (Deno std is unavailable offline): throw with a readable message. */
import { deepStrictEqual } from "node:assert";

export function assert(cond: unknown, message = "assertion failed"): asserts cond {
  if (!cond) throw new Error(message);
}

export function assertEquals<T>(actual: T, expected: T, message?: string): void {
  deepStrictEqual(actual, expected, message);
}

export function assertAlmostEquals(
  actual: number,
  expected: number,
  tolerance = 1e-9,
  message?: string,
): void {
  if (!(Math.abs(actual - expected) <= tolerance)) {
    throw new Error(message ?? `expected ${expected} ± ${tolerance}, got ${actual}`);
  }
}

// deno-lint-ignore no-explicit-any
type ErrorClass<E extends Error> = new (...args: any[]) => E;

export function assertThrows<E extends Error = Error>(
  fn: () => unknown,
  ErrorClass?: ErrorClass<E>,
  includes?: string,
): E {
  try {
    fn();
  } catch (e) {
    if (ErrorClass && !(e instanceof ErrorClass)) {
      throw new Error(
        `expected ${ErrorClass.name}, got ${e instanceof Error ? e.name + ": " + e.message : e}`,
      );
    }
    if (includes !== undefined && !(e instanceof Error && e.message.includes(includes))) {
      throw new Error(
        `expected error message to include ${JSON.stringify(includes)}, got ${(e as Error).message}`,
      );
    }
    return e as E;
  }
  throw new Error("expected function to throw");
}
