/**
 * Escaping for every string a report embeds. Table specs are user data (spec files), results come
 * from stores that may be shared, so captions, labels and reasons are treated as hostile.
 */

const HTML_ESCAPES: Record<string, string> = {
  "&": "&amp;",
  "<": "&lt;",
  ">": "&gt;",
  '"': "&quot;",
  "'": "&#39;",
};

/** Text or attribute value (quoted) in HTML. */
export function escapeHtml(value: string | number): string {
  return String(value).replace(/[&<>"']/g, (c) => HTML_ESCAPES[c]);
}

/**
 * JSON to embed inside a <script> element. `<` is escaped so no "</script>" or "<!--" can appear,
 * `>`/`&` for good measure, and U+2028/U+2029 because older JS parsers treat them as newlines.
 */
export function jsonForScript(value: unknown): string {
  return JSON.stringify(value)
    .replace(/</g, "\\u003c")
    .replace(/>/g, "\\u003e")
    .replace(/&/g, "\\u0026")
    .replace(/\u2028/g, "\\u2028")
    .replace(/\u2029/g, "\\u2029");
}

/**
 * Third-party JavaScript inlined in a <script> element: the sequences that would end the element or
 * switch the HTML parser into its escaped state are broken up. `<\/` and `<\!` mean the same as
 * `</` and `<!` inside JS strings and regular expressions, the only places they can occur.
 */
export function scriptSource(js: string): string {
  return js.replace(/<\/(script)/gi, "<\\/$1").replace(/<!--/g, "<\\!--");
}

/** Only relative links and http(s) survive; anything else (javascript:, data:, …) becomes "#". */
export function safeHref(href: string): string {
  const scheme = /^\s*([a-z][a-z0-9+.\-]*):/i.exec(href);
  if (scheme && !/^https?$/i.test(scheme[1])) return "#";
  return href;
}

/**
 * Text inside a Markdown table cell or paragraph. Renderers pass raw HTML through, so a `<` that
 * could open a tag or comment and an entity-like `&` are escaped (`a < b`, `x > y` stay readable); pipes,
 * backslashes and emphasis/link/code characters are escaped; line breaks are flattened.
 */
export function escapeMarkdown(value: string | number): string {
  return String(value)
    .replace(/&(?=#?[a-z0-9]+;)/gi, "&amp;")
    .replace(/<(?=[a-z\/!?])/gi, "&lt;") // only these can open a tag or comment
    .replace(/\\/g, "\\\\")
    .replace(/([|*_`\[\]])/g, "\\$1")
    .replace(/\r?\n|\r/g, " ");
}

/**
 * Text for a terminal. C0 and C1 control characters and DEL (ESC sequences could move the cursor, clear
 * the screen, retitle the window or write the clipboard) and the bidirectional overrides (which reorder what
 * is shown) become visible escapes such as `\x1b` and `\u202e`. Tabs and line breaks are kept unless
 * `lineBreaks` is false (a status line that is overwritten in place).
 */
export function escapeTerminal(value: string | number, opts: { lineBreaks?: boolean } = {}): string {
  const keep = opts.lineBreaks === false ? /\t/ : /[\t\n]/;
  return String(value).replace(
    // deno-lint-ignore no-control-regex -- matching control characters is the point
    /[\x00-\x1f\x7f-\x9f\u061c\u200e\u200f\u202a-\u202e\u2066-\u2069]/g,
    (c) => {
      if (keep.test(c)) return c;
      const code = c.charCodeAt(0);
      return code <= 0xff ? `\\x${code.toString(16).padStart(2, "0")}` : `\\u${code.toString(16)}`;
    },
  );
}
