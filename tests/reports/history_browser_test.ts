/**
 * The history page in a real browser: two nights' stores from different commits go through the same
 * writer `dd nightly` uses, headless Chromium opens the page offline, and every chart must have drawn
 * on its canvas — the line, the claimed band, and the regressed night's red marker — read back from the
 * canvas pixels. Skipped where Chromium is not installed (.ci/run installs it on Debian).
 */
import { deepStrictEqual as eq, ok } from "node:assert";
import { findChromium, renderedDom } from "../../reports/screenshot.ts";
import { openStore } from "../../results/store.ts";
import type { CellRepeatResult } from "../../results/types.ts";
import { writeHistory } from "../../cli/nightly_history.ts";
import { demoTable, repeats } from "../results/_fixtures.ts";

const browser = findChromium();

/**
 * Appended to a copy of the page: after the charts drew, each canvas gets `data-ink` with counts of
 * non-blank pixels and of pixels near the page's line blue, band orange and regression red.
 */
const PROBE = `<script>
window.addEventListener("load", function () { setTimeout(function () {
  var targets = { line: [31, 119, 180], band: [255, 160, 60], red: [214, 39, 40] };
  document.querySelectorAll("canvas").forEach(function (c) {
    var d = c.getContext("2d").getImageData(0, 0, c.width, c.height).data, ink = { painted: 0, line: 0, band: 0, red: 0 };
    for (var i = 0; i < d.length; i += 4) {
      if (d[i + 3] === 0) continue;
      ink.painted++;
      for (var k in targets) {
        var t = targets[k], a = d[i + 3] / 255;
        // The band is translucent: compare the colour composited on white.
        var r = d[i] * a + 255 * (1 - a), g = d[i + 1] * a + 255 * (1 - a), b = d[i + 2] * a + 255 * (1 - a);
        var tr = k === "band" ? t[0] * 0.28 + 255 * 0.72 : t[0], tg = k === "band" ? t[1] * 0.28 + 255 * 0.72 : t[1],
          tb = k === "band" ? t[2] * 0.28 + 255 * 0.72 : t[2];
        if (Math.abs(r - tr) + Math.abs(g - tg) + Math.abs(b - tb) < 30) ink[k]++;
      }
    }
    c.setAttribute("data-ink", JSON.stringify(ink));
  });
}, 50); });
</script>`;

function night(sha: string, day: number, cells: Record<string, number[]>): CellRepeatResult[] {
  const at = (h: number) => `2025-02-0${day}T0${h}:00:00.000Z`;
  return Object.entries(cells).flatMap(([cell, accs]) =>
    repeats(cell, accs, { gitSha: sha }).map((r) => ({
      ...r,
      provenance: { ...r.provenance, startedAt: at(1), finishedAt: at(2) },
    }))
  );
}

Deno.test({
  name:
    "browser: a two-night history draws every chart (line, claimed band, regression) in headless Chromium",
  ignore: browser === null,
  sanitizeResources: false,
  fn: async () => {
    const dir = await Deno.makeTempDir({ prefix: "ddrepro-history-browser-" });
    try {
      const nights = [
        night("1".repeat(40), 1, { "dm-1": [25.1, 25.6, 26.0], "dm-10": [48.8, 49.3, 49.0] }),
        night("2".repeat(40), 2, { "dm-1": [25.3, 25.8, 25.5], "dm-10": [41.0, 40.6, 41.2] }),
      ];
      const stores = nights.map((rows, i) => {
        const path = `${dir}/night-${i + 1}.db`;
        const s = openStore(path);
        for (const r of rows) s.put(r);
        s.close();
        return path;
      });
      const { html, history } = await writeHistory(stores, [demoTable()], dir);
      eq(history.nights.length, 2);
      eq(history.regressions.map((r) => r.cellId), ["dm-10"]);

      const probe = `${dir}/probe.html`;
      await Deno.writeTextFile(probe, (await Deno.readTextFile(html)).replace("</body>", `${PROBE}</body>`));
      const dom = await renderedDom(probe);
      const canvases = [...dom.matchAll(/<canvas\b[^>]*>/g)].map((m) => m[0]);
      eq(canvases.length, 2, "one chart per cell with results");
      const inks = canvases.map((c) => {
        const m = /data-ink="([^"]*)"/.exec(c);
        ok(m !== null, `canvas not probed (charts failed to load?): ${c}`);
        return JSON.parse(m[1].replaceAll("&quot;", '"')) as Record<string, number>;
      });
      for (const [i, ink] of inks.entries()) {
        ok(ink.painted > 2000, `chart ${i} is blank: ${JSON.stringify(ink)}`);
        ok(ink.line > 50, `chart ${i} has no reproduced line: ${JSON.stringify(ink)}`);
        ok(ink.band > 500, `chart ${i} has no claimed band: ${JSON.stringify(ink)}`);
      }
      ok(inks[1].red > 20, `the regressed night is not marked red: ${JSON.stringify(inks[1])}`);
      ok(inks[0].red < 5, `a stable cell is marked red: ${JSON.stringify(inks[0])}`);
    } finally {
      await Deno.remove(dir, { recursive: true });
    }
  },
});
