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
  /** Default $CHROMIUM or /usr/bin/chromium. */
  browser?: string;
  width?: number;
  height?: number;
  /** Milliseconds of virtual time for scripts to run before the capture (default 3000). */
  virtualTimeBudget?: number;
}

export async function screenshot(
  htmlPath: string,
  pngPath: string,
  options: ScreenshotOptions = {},
): Promise<void> {
  const browser = options.browser ?? Deno.env.get("CHROMIUM") ?? "/usr/bin/chromium";
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
        `--screenshot=${resolve(pngPath)}`,
        `--window-size=${options.width ?? 1280},${options.height ?? 2000}`,
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
    await Deno.stat(pngPath); // Chromium can exit 0 without writing; make that an error
  } finally {
    await Deno.remove(profile, { recursive: true }).catch(() => {});
  }
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
