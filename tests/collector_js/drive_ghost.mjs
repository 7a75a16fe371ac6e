// Drives a real Chromium (playwright-core, system /usr/bin/chromium) through the ingest demo page
// with npm ghost-cursor, a humanizing library (Bezier paths, Fitts-law step counts), used as its
// README shows: moveTo(point), then mouse down / up, through the DevTools protocol (a shim gives
// it the CDP session it takes from a puppeteer page, as the bot corpus' driver does). The library
// draws its paths with its own Math.random; only the targets and pauses here are seeded.
// Each session ends by navigating away (pagehide -> final flush). Prints the page-session ids as
// a JSON list on stdout. Run from stream/devtools/botcorpus/ (where ghost-cursor is installed):
//   node --input-type=module -e "$(cat tests/collector_js/drive_ghost.mjs)" http://127.0.0.1:PORT N
import { chromium } from "playwright-core";
import ghost from "ghost-cursor";

const [base, sessions] = process.argv.slice(-2);
if (!/^https?:\/\//.test(base) || !(Number(sessions) > 0)) {
  console.error("usage: node --input-type=module -e SOURCE http://127.0.0.1:PORT SESSIONS");
  process.exit(2);
}
const sleep = (ms) => new Promise((r) => setTimeout(r, ms));

// mulberry32: seeded targets and pauses
function prng(seed) {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}
const rnd = prng(20261129);
const uniform = (a, b) => a + (b - a) * rnd();

// a short visit, like a log-in form: six moves to points of a 1000 x 700 page (clear of the
// "leave" link at the bottom right), a click on every other one
async function visit(cursor) {
  for (let k = 0; k < 6; k++) {
    await cursor.moveTo({ x: uniform(60, 900), y: uniform(60, 600) });
    await sleep(uniform(120, 400));
    if (k % 2 === 1) {
      await cursor.mouseDown({ button: "left" });
      await sleep(uniform(60, 140));
      await cursor.mouseUp({ button: "left" });
      await sleep(uniform(150, 500));
    }
  }
}

const browser = await chromium.launch({
  executablePath: process.env.CHROMIUM || "/usr/bin/chromium",
  args: ["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
         "--disable-component-update", "--disable-sync", "--no-first-run"],
});
try {
  const sids = [];
  for (let i = 0; i < Number(sessions); i++) {
    const page = await browser.newPage({ viewport: { width: 1000, height: 700 } });
    page.on("console", (m) => console.error(`page: ${m.text()}`));
    await page.goto(`${base}/demo?user=ghost-visitor-${i}`);
    await page.waitForFunction(() => window.__cursorprint && window.__cursorprint.sid,
                               null, { timeout: 60000 });
    sids.push(await page.evaluate(() => window.__cursorprint.sid));
    const cdp = await page.context().newCDPSession(page);
    const shim = { _client: cdp, browser: () => ({ isConnected: () => true }) };
    const cursor = new ghost.GhostCursor(shim, { start: { x: uniform(50, 950), y: uniform(50, 650) } });
    await sleep(uniform(100, 400));
    await visit(cursor);
    await page.goto(`${base}/demo/bye`); // pagehide -> sendBeacon flush, final: true
    await sleep(300);
    await page.close();
  }
  console.log(JSON.stringify(sids));
} finally {
  await browser.close();
}
