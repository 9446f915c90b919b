/**
 * The schedule and respacing against values computed independently with NumPy from the reference
 * formulas (improved-diffusion / DiT `gaussian_diffusion.py`, `respace.py`), hard-coded here so CI
 * does not depend on Python.
 */
import { fixedLogVariance, linearBetas, makeSchedule } from "../../diffusion/schedule.ts";
import { respace, spacedSchedule, spaceTimesteps } from "../../diffusion/respace.ts";
import { deepStrictEqual as eq, throws } from "node:assert";

function close(a: number, b: number, rel: number, what: string): void {
  if (!(Math.abs(a - b) <= rel * Math.max(Math.abs(b), 1e-300))) {
    throw new Error(`${what}: ${a} vs ${b} (relative tolerance ${rel})`);
  }
}

Deno.test("schedule: linear betas, ᾱ and posterior coefficients match the reference", () => {
  const s = makeSchedule(linearBetas(1000));
  // i, β, ᾱ, β̃, log β̃ (clipped), coef1, coef2 — NumPy float64.
  const ref: [number, number, number, number, number, number, number][] = [
    [0, 0.0001, 0.9999, 0, -9.81672513529567, 1.0000000000001101, 0],
    [
      1,
      0.00011991991991991993,
      0.9997800920720721,
      5.4531876613021935e-05,
      -9.81672513529567,
      0.5452914995102903,
      0.4547084989905303,
    ],
    [
      499,
      0.010040040040040039,
      0.07858724288177824,
      0.010031355414613688,
      -4.602039550085138,
      0.0030700711142649766,
      0.9941066702101666,
    ],
    [
      999,
      0.02,
      4.035829765375676e-05,
      0.01999998352656061,
      -3.912023829100455,
      0.00012835148717224682,
      0.9899486782675173,
    ],
  ];
  for (const [i, beta, ac, pv, plv, c1, c2] of ref) {
    close(s.betas[i], beta, 1e-14, `β[${i}]`);
    close(s.alphasCumprod[i], ac, 1e-12, `ᾱ[${i}]`);
    if (pv === 0) eq(s.posteriorVariance[i], 0);
    else close(s.posteriorVariance[i], pv, 1e-10, `β̃[${i}]`);
    close(s.posteriorLogVarianceClipped[i], plv, 1e-12, `log β̃[${i}]`);
    close(s.posteriorMeanCoef1[i], c1, 1e-10, `coef1[${i}]`);
    if (c2 === 0) eq(s.posteriorMeanCoef2[i], 0);
    else close(s.posteriorMeanCoef2[i], c2, 1e-10, `coef2[${i}]`);
  }
  eq(s.alphasCumprodPrev[0], 1);
  eq(s.alphasCumprodNext[999], 0);
  eq(s.alphasCumprodNext[10], s.alphasCumprod[11]);
  // Fixed-large: log β̃_1 at step 0, log β elsewhere.
  eq(fixedLogVariance(s, 0, "fixed-large"), Math.log(s.posteriorVariance[1]));
  eq(fixedLogVariance(s, 7, "fixed-large"), Math.log(s.betas[7]));
  eq(fixedLogVariance(s, 7, "fixed-small"), s.posteriorLogVarianceClipped[7]);
  // Other lengths scale both ends by 1000/T.
  const b = linearBetas(500);
  close(b[0], 0.0002, 1e-14, "β_0 at T=500");
  close(b[499], 0.04, 1e-14, "β_T at T=500");
});

Deno.test("respacing: kept steps match the reference's striding (incl. Python's half-to-even rounding)", () => {
  const range = (n: number, step: number) => Array.from({ length: n }, (_, i) => i * step);
  eq(spaceTimesteps(1000, "ddim50"), range(50, 20));
  eq(spaceTimesteps(1000, "ddim25"), range(25, 40));
  eq(spaceTimesteps(1000, ""), range(1000, 1));
  eq(spaceTimesteps(300, "10,15,20"), [
    0,
    11,
    22,
    33,
    44,
    55,
    66,
    77,
    88,
    99,
    100,
    107,
    114,
    121,
    128,
    135,
    142,
    149,
    157,
    164,
    171,
    178,
    185,
    192,
    199,
    200,
    205,
    210,
    216,
    221,
    226,
    231,
    236,
    242,
    247,
    252,
    257,
    263,
    268,
    273,
    278,
    283,
    289,
    294,
    299,
  ]);
  eq(spaceTimesteps(1000, "7"), [0, 166, 333, 500, 666, 832, 999]);
  eq(spaceTimesteps(1000, [4, 1, 9]), [
    0,
    111,
    222,
    333,
    334,
    667,
    709,
    750,
    791,
    833,
    875,
    916,
    957,
    999,
  ]);
  const s100 = spaceTimesteps(1000, "100");
  eq(s100.length, 100);
  eq(s100.slice(0, 14), [0, 10, 20, 30, 40, 50, 61, 71, 81, 91, 101, 111, 121, 131]);
  eq(s100.reduce((a, b) => a + b, 0), 49950);
  const s250 = spaceTimesteps(1000, "250");
  eq(s250.length, 250);
  eq(s250.slice(-3), [991, 995, 999]);
  eq(s250.reduce((a, b) => a + b, 0), 124875);
  // stride 2.5: Python's round(2.5) = 2 (Math.round would give 3).
  eq(spaceTimesteps(6, "3"), [0, 2, 5]);
  throws(() => spaceTimesteps(1000, "ddim37"), /exactly\ 37/);
  throws(() => spaceTimesteps(1000, "fast"), /ddimN/);
  throws(() => spaceTimesteps(10, "4,8"), /section\ of\ 5\ steps\ into\ 8/);
});

Deno.test("respacing: spaced betas keep ᾱ at the kept steps and match the reference", () => {
  const base = makeSchedule(linearBetas(1000));
  // spaced index, β', ᾱ', β̃', log β̃' (clipped) — NumPy float64.
  const refs: Record<string, [number, number, number, number, number][]> = {
    ddim50: [
      [0, 9.999999999998899e-05, 0.9999, 0, -9.226331928392868],
      [1, 0.006165187946595374, 0.9937354285721993, 9.841356296513845e-05, -9.226331928392868],
      [25, 0.17995439100829413, 0.07779665836502389, 0.17662303428009896, -1.7337375673806428],
      [49, 0.3246144475291255, 5.9037513708533764e-05, 0.3246052358749863, -1.1251454937945642],
    ],
    "250": [
      [0, 9.999999999998899e-05, 0.9999, 0, -9.364628159803084],
      [1, 0.0005990655644756426, 0.9993009943420809, 8.570253440564813e-05, -9.364628159803084],
      [125, 0.04929790363417974, 0.07623466678988594, 0.0490869420889959, -3.0141622247856663],
      [249, 0.07751934499235003, 4.035829765375675e-05, 0.07751908207860697, -2.557231152560974],
    ],
  };
  for (const [spec, rows] of Object.entries(refs)) {
    const s = spacedSchedule(base, spec);
    eq(s.originalLength, 1000);
    s.timesteps.forEach((t, i) => close(s.alphasCumprod[i], base.alphasCumprod[t], 1e-12, `${spec} ᾱ[${i}]`));
    for (const [i, beta, ac, pv, plv] of rows) {
      close(s.betas[i], beta, 1e-9, `${spec} β'[${i}]`);
      close(s.alphasCumprod[i], ac, 1e-12, `${spec} ᾱ'[${i}]`);
      if (pv === 0) eq(s.posteriorVariance[i], 0);
      else close(s.posteriorVariance[i], pv, 1e-9, `${spec} β̃'[${i}]`);
      close(s.posteriorLogVarianceClipped[i], plv, 1e-10, `${spec} log β̃'[${i}]`);
    }
  }
  eq(spacedSchedule(base, "ddim50").timesteps[31], 620);
  throws(() => respace(spacedSchedule(base, "ddim50"), [0, 1]), /already\ respaced/);
  throws(() => respace(base, [1000]), /outside/);
  throws(() => makeSchedule([0.1, 1.5]), /betas\[1\]/);
});
