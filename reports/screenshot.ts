/**
 * Renders a report HTML file in headless Chromium and saves a PNG screenshot, to check by eye that
 * the page and its charts draw offline. A script, not a test (it needs a browser):
 *
 *   deno run -A reports/screenshot.ts reports/out/igds_table1.html [out.png] [--size=1280,2000]
 *
 * Chromium: `apt-get install -y chromium` (Debian), or set CHROMIUM=/path/to/binary.
 */
import { resolve } from "node:path";
import { pathToFileURL } from "node:url";

export interface ScreenshotOptions {
  /** Default: findChromium(). */
  browser?: string;
  width?: number;
  height?: number;
  /** Milliseconds of virtual time for scripts to run before the capture (default 3000). */
  virtualTimeBudget?: number;
}

/** The Chromium binary to use: $CHROMIUM or /usr/bin/chromium when present; null when neither exists. */
export function findChromium(): string | null {
  for (const p of [Deno.env.get("CHROMIUM"), "/usr/bin/chromium"]) {
    if (!p) continue;
    try {
      if (Deno.statSync(p).isFile) return p;
    } catch { /* not there */ }
  }
  return null;
}

/** Runs headless Chromium on a local HTML file with `mode` args; returns its stdout. */
async function headless(htmlPath: string, mode: string[], options: ScreenshotOptions): Promise<string> {
  const browser = options.browser ?? findChromium();
  if (!browser) {
    throw new Error("Chromium not found: apt-get install -y chromium, or set CHROMIUM=/path/to/binary");
  }
  // A fresh profile each time: no state leaks between runs, nothing is written to $HOME.
  const profile = await Deno.makeTempDir({ prefix: "ddrepro-chromium-" });
  try {
    const out = await new Deno.Command(browser, {
      args: [
        "--headless",
        "--no-sandbox",
        "--disable-gpu",
        "--disable-quic",
        "--no-first-run",
        "--disable-background-networking",
        "--disable-component-update",
        "--disable-sync",
        "--hide-scrollbars",
        `--user-data-dir=${profile}`,
        `--virtual-time-budget=${options.virtualTimeBudget ?? 3000}`,
        `--window-size=${options.width ?? 1280},${options.height ?? 2000}`,
        ...mode,
        pathToFileURL(resolve(htmlPath)).href,
      ],
      stdout: "piped",
      stderr: "piped",
    }).output();
    if (!out.success) {
      throw new Error(
        `${browser} exited with ${out.code}: ${new TextDecoder().decode(out.stderr).slice(-2000)}`,
      );
    }
    return new TextDecoder().decode(out.stdout);
  } finally {
    await Deno.remove(profile, { recursive: true }).catch(() => {});
  }
}

export async function screenshot(
  htmlPath: string,
  pngPath: string,
  options: ScreenshotOptions = {},
): Promise<void> {
  await headless(htmlPath, [`--screenshot=${resolve(pngPath)}`], options);
  await Deno.stat(pngPath); // Chromium can exit 0 without writing; make that an error
}

/** The page's DOM after its scripts ran (to check that charts were drawn, not only that the page loads). */
export function renderedDom(htmlPath: string, options: ScreenshotOptions = {}): Promise<string> {
  return headless(htmlPath, ["--dump-dom"], options);
}

if (import.meta.main) {
  const positional = Deno.args.filter((a) => !a.startsWith("--"));
  const size = Deno.args.find((a) => a.startsWith("--size="))?.slice("--size=".length).split(",").map(Number);
  const [html, png = html.replace(/\.html?$/i, "") + ".png"] = positional;
  if (!html) {
    console.error("usage: deno run -A reports/screenshot.ts <report.html> [out.png] [--size=W,H]");
    Deno.exit(2);
  }
  await screenshot(html, png, { width: size?.[0], height: size?.[1] });
  console.log(png);
}
