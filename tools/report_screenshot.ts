/**
 * Makes docs/report.png, the README's picture of the HTML report, from the demo's report:
 *
 *   deno task demo && deno run --allow-read --allow-write --allow-run --allow-net=127.0.0.1 \
 *     --allow-env tools/report_screenshot.ts [REPORT] [PNG]
 *
 * Opens the report in headless Chromium (lib/testing/browser.ts), waits until its map is drawn,
 * fails on any JavaScript error, and writes a PNG of the page.
 */
import { PROJECT_ROOT } from "../lib/permissions.ts";
import { launchBrowser } from "../lib/testing/browser.ts";

const report = Deno.args[0] ?? `${PROJECT_ROOT}demo/report.html`;
const png = Deno.args[1] ?? `${PROJECT_ROOT}docs/report.png`;

await using browser = await launchBrowser({ width: 1280, height: 1000 });
await browser.open(new URL(report, `file://${Deno.cwd()}/`).href);
await browser.evaluate(`new Promise((ok) => { const t = setInterval(() => {
  if (document.body.dataset.ready) { clearInterval(t); ok(true); } }, 20); })`);
if (browser.errors.length > 0) throw new Error(`the report has errors: ${browser.errors.join("; ")}`);
await Deno.writeFile(png, await browser.screenshot());
console.log(`wrote ${png}`);
