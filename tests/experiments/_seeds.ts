/**
 * The seed papers' extracted text, for tests that check specs against the printed tables. The papers are
 * not part of the repository: point DD_SEEDS_DIR at the folder holding them (e.g. `000_….txt`); without
 * it those tests are skipped, with one line saying so.
 */
export const SEEDS_DIR: string | null = Deno.env.get("DD_SEEDS_DIR") || null;

/** For a test that reads the papers: skipped where DD_SEEDS_DIR is unset. */
export const needsSeeds = { ignore: SEEDS_DIR === null };

if (SEEDS_DIR === null) {
  console.warn(
    "DD_SEEDS_DIR is not set: the tests that compare specs with the seed papers' text are skipped " +
      "(set it to the folder of the papers' .txt files to run them)",
  );
}

/** A seed paper's text, e.g. seedText("000_9e6ba38e66812538.txt"); only in tests marked needsSeeds. */
export function seedText(file: string): string {
  if (SEEDS_DIR === null) throw new Error("DD_SEEDS_DIR is not set (mark the test with needsSeeds)");
  return Deno.readTextFileSync(`${SEEDS_DIR.replace(/\/+$/, "")}/${file}`);
}
