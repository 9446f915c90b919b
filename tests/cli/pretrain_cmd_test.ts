/** `dd pretrain`: bad input fails with one clear line before any device or data is touched. */
import { deepStrictEqual as eq, ok } from "node:assert";

const MAIN = new URL("../../cli/main.ts", import.meta.url).pathname;
const ROOT = new URL("../../", import.meta.url).pathname;

async function fails(pattern: RegExp, ...args: string[]): Promise<void> {
  const out = await new Deno.Command(Deno.execPath(), {
    args: ["run", "-A", MAIN, ...args],
    cwd: ROOT,
    env: { XDG_RUNTIME_DIR: Deno.env.get("XDG_RUNTIME_DIR") ?? "/tmp", NO_COLOR: "1" },
    stdout: "piped",
    stderr: "piped",
  }).output();
  const stderr = new TextDecoder().decode(out.stderr);
  ok(out.code !== 0, `dd ${args.join(" ")} should fail`);
  const errors = stderr.split("\n").filter((l) => l.startsWith("error:"));
  eq(errors.length, 1, `one error line expected, got:\n${stderr}`);
  ok(pattern.test(errors[0]), `${errors[0]} should match ${pattern}`);
}

Deno.test("dd pretrain: unknown model, dataset, profile and bad flags are refused clearly", async () => {
  await fails(/model "unet" is not one of vae, dit/, "pretrain", "unet", "--dataset", "mnist");
  await fails(
    /--dataset "cifar10" is not one of mnist, fashion-mnist/,
    "pretrain",
    "vae",
    "--dataset",
    "cifar10",
  );
  await fails(
    /--profile "fast" is not one of smoke, quick/,
    "pretrain",
    "vae",
    "--dataset",
    "mnist",
    "--profile",
    "fast",
  );
  await fails(/official SD VAE/, "pretrain", "dit", "--dataset", "mnist", "--profile", "paper");
  await fails(/--steps must be a positive integer/, "pretrain", "vae", "--dataset", "mnist", "--steps", "0");
  await fails(
    /--checkpoint-minutes must be a positive number/,
    "pretrain",
    "vae",
    "--dataset",
    "mnist",
    "--checkpoint-minutes",
    "x",
  );
  await fails(
    /--vae \/nonexistent\/vae.safetensors: no such file/,
    "pretrain",
    "dit",
    "--dataset",
    "mnist",
    "--vae",
    "/nonexistent/vae.safetensors",
  );
});
