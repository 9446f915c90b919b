/** Running the `dd` command line as a subprocess, as a user (or a script) would. */
import { deepStrictEqual as eq, ok } from "node:assert";

const MAIN = new URL("../../cli/main.ts", import.meta.url).pathname;
const ROOT = new URL("../../", import.meta.url).pathname;

export interface Out {
  code: number;
  stdout: string;
  stderr: string;
}

export function dd(...args: string[]): Promise<Out> {
  return ddEnv({}, ...args);
}

/** `dd` with extra environment variables (e.g. DD_DATA). */
export async function ddEnv(env: Record<string, string>, ...args: string[]): Promise<Out> {
  const out = await new Deno.Command(Deno.execPath(), {
    args: ["run", "-A", MAIN, ...args],
    cwd: ROOT,
    env: { XDG_RUNTIME_DIR: Deno.env.get("XDG_RUNTIME_DIR") ?? "/tmp", NO_COLOR: "1", ...env },
    stdout: "piped",
    stderr: "piped",
  }).output();
  const dec = new TextDecoder();
  return { code: out.code, stdout: dec.decode(out.stdout), stderr: dec.decode(out.stderr) };
}

export async function json(...args: string[]): Promise<unknown> {
  const r = await dd(...args);
  eq(r.code, 0, `dd ${args.join(" ")} failed: ${r.stderr}`);
  return JSON.parse(r.stdout);
}

/** A failing command: non-zero exit and one clear `error:` line matching `pattern`. */
export async function fails(pattern: RegExp, ...args: string[]): Promise<Out> {
  const r = await dd(...args);
  ok(r.code !== 0, `dd ${args.join(" ")} should fail`);
  const errors = r.stderr.split("\n").filter((l) => l.startsWith("error:"));
  eq(errors.length, 1, `one error line expected, got:\n${r.stderr}`);
  ok(pattern.test(errors[0]), `${errors[0]} should match ${pattern}`);
  ok(!/\n\s+at /.test(r.stderr), "no stack trace");
  return r;
}
