/**
 * The HTML report in a real browser: headless Chromium loads the self-contained page offline, Chart.js
 * (inlined) draws every chart, and a screenshot is written. Skipped where Chromium is not installed
 * (.ci/run installs it on Debian).
 */
import { ok } from "node:assert";
import { renderTableHtml } from "../../reports/html.ts";
import { buildTableReport } from "../../reports/model.ts";
import { findChromium, renderedDom, screenshot } from "../../reports/screenshot.ts";
import { demoTable, repeats } from "../results/_fixtures.ts";

const browser = findChromium();

Deno.test({
  name: "browser: the HTML report draws its charts in headless Chromium and screenshots",
  ignore: browser === null,
  sanitizeResources: false,
  fn: async () => {
    const dir = await Deno.makeTempDir({ prefix: "ddrepro-browser-test-" });
    try {
      const report = buildTableReport({
        spec: demoTable(),
        results: [...repeats("dm-1", [25, 26]), ...repeats("ours-1", [30, 31]), ...repeats("ours-50", [60])],
        profile: "paper",
        methodStatus: () => ({ implemented: true }),
      });
      const html = `${dir}/report.html`;
      await Deno.writeTextFile(html, renderTableHtml(report));

      const canvases = (await renderedDom(html)).match(/<canvas\b[^>]*>/g) ?? [];
      ok(
        canvases.length >= 2,
        `expected an IPC curve and the bar chart, got ${canvases.length} canvas(es)`,
      );
      for (const c of canvases) {
        // Chart.js sizes every canvas it draws on (inline style + pixel width); an undrawn one has neither.
        ok(/box-sizing: border-box/.test(c) && /\swidth="[1-9]\d*"/.test(c), `chart not drawn: ${c}`);
      }

      const png = `${dir}/report.png`;
      await screenshot(html, png, { width: 1000, height: 1400 });
      const bytes = await Deno.readFile(png);
      const magic = [0x89, 0x50, 0x4e, 0x47];
      ok(magic.every((b, i) => bytes[i] === b), "screenshot is not a PNG");
      ok(bytes.length > 20_000, `screenshot suspiciously small (${bytes.length} bytes): blank page?`);
    } finally {
      await Deno.remove(dir, { recursive: true });
    }
  },
});
