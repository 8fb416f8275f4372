// Browser end-to-end test of the web chat: opens the page a running weft serves, types a
// message, clicks Send and waits for the streamed reply. Asserts that the reply grew in
// place (at least one partial text before the final one) and that the final text is the
// agent's answer.
//
// usage: node web_chat.mjs URL [EXPECTED_SUBSTRING]
//   URL                the URL weft printed, e.g. http://127.0.0.1:8780/?token=… (the page
//                      exchanges the token for its login cookie)
//   EXPECTED_SUBSTRING text the final reply must contain (default: the message sent)
// Environment: CHROMIUM (default /usr/bin/chromium), E2E_SCREENSHOT (write a PNG there).
import { chromium } from "playwright-core";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";

const url = process.argv[2];
if (!url) {
  console.error("usage: node web_chat.mjs URL [EXPECTED_SUBSTRING]");
  process.exit(2);
}
const message = "hello from the browser";
const expected = process.argv[3] || message;
const profile = mkdtempSync(join(tmpdir(), "weft-e2e-"));

let failed = 0;
function check(cond, what) {
  if (cond) console.log("ok - " + what);
  else {
    console.log("not ok - " + what);
    failed++;
  }
}

// launchPersistentContext gives the browser a fresh profile directory of our own.
const context = await chromium.launchPersistentContext(profile, {
  executablePath: process.env.CHROMIUM || "/usr/bin/chromium",
  headless: true,
  args: ["--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
         "--disable-background-networking", "--disable-component-update", "--disable-sync"],
});
try {
  const page = context.pages()[0] || (await context.newPage());
  page.setDefaultTimeout(60000);
  // Record every text the reply bubble shows, as it changes.
  await page.addInitScript(() => {
    window.__snapshots = [];
    new MutationObserver(() => {
      const b = document.querySelectorAll(".msg.assistant");
      if (b.length) window.__snapshots.push(b[b.length - 1].textContent);
    }).observe(document, { subtree: true, childList: true, characterData: true });
  });
  await page.goto(url);
  check((await page.title()) === "weft chat", "the page has its title");
  await page.waitForSelector("body[data-connected='1']");  // the event stream is open
  await page.getByLabel("Message").fill(message);
  await page.getByRole("button", { name: "Send" }).click();
  await page.waitForSelector(".msg.user");
  const final = page.locator(".msg.assistant[data-final='1']");
  await final.waitFor();
  const text = await final.textContent();
  check(text.includes(expected), `the final reply contains '${expected}' (got '${text}')`);
  const events = await page.evaluate(() => window.weftChat.events);
  const deltas = events.filter((e) => e.type === "delta");
  check(deltas.length >= 1, `text was streamed (${deltas.length} delta events)`);
  const firstMessage = events.findIndex((e) => e.type === "message");
  check(firstMessage > 0 && events[0].type === "delta", "deltas arrived before the final message");
  const snaps = await page.evaluate(() => window.__snapshots);
  const partial = snaps.filter((s) => s.length > 0 && s.length < text.length && text.startsWith(s));
  check(partial.length >= 1, `the reply was shown partially before it was complete (${partial.length} partial views)`);
  const errors = await page.locator(".msg.error").count();
  check(errors === 0, "no error shown");
  if (process.env.E2E_SCREENSHOT) await page.screenshot({ path: process.env.E2E_SCREENSHOT });
} catch (e) {
  console.log("not ok - " + (e && e.message ? e.message : String(e)));
  failed++;
} finally {
  await context.close();
  rmSync(profile, { recursive: true, force: true });
}
console.log(failed ? `${failed} check(s) failed` : "all checks passed");
process.exit(failed ? 1 : 0);
