// Drives a real Chromium (playwright-core, system /usr/bin/chromium, no download) through the demo
// page served by the ingest service: a fast straight move, left and right clicks, a scroll, then
// navigation away. Prints {sid, path: [[x, y], ...] of the fast move} as JSON on stdout.
import { chromium } from "playwright-core";

const base = process.argv[2];
if (!base) {
  console.error("usage: node e2e/drive.mjs http://127.0.0.1:PORT");
  process.exit(2);
}
const browser = await chromium.launch({
  executablePath: process.env.CHROMIUM || "/usr/bin/chromium",
  args: ["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
         "--disable-component-update", "--disable-sync", "--no-first-run"],
});
try {
  const page = await browser.newPage({ viewport: { width: 1000, height: 700 } });
  page.on("console", (m) => console.error(`page: ${m.text()}`));
  await page.goto(`${base}/demo?user=alice`);
  await page.waitForFunction(() => window.__cursorprint && window.__cursorprint.sid);
  const sid = await page.evaluate(() => window.__cursorprint.sid);

  const from = [100, 100];
  const to = [700, 400];
  await page.mouse.move(...from);
  await page.waitForTimeout(50);
  // Fast continuous straight move: raw CDP mouse events every ~2 ms, not awaited one by one
  // (page.mouse awaits each event, which paces them at the frame rate, ~16 ms).
  const cdp = await page.context().newCDPSession(page);
  const steps = 200;
  // Each event carries its own input timestamp, 1 ms apart (a 1000 Hz mouse), so the spacing
  // the collector sees does not depend on how busy this machine is.
  const sent = [];
  const startS = Date.now() / 1000;
  for (let i = 1; i <= steps; i++) {
    const x = from[0] + ((to[0] - from[0]) * i) / steps;
    const y = from[1] + ((to[1] - from[1]) * i) / steps;
    const timestamp = startS + i / 1000;
    sent.push(cdp.send("Input.dispatchMouseEvent", { type: "mouseMoved", x, y, timestamp }));
    await new Promise((r) => setTimeout(r, 1));
  }
  await Promise.all(sent);
  await page.mouse.move(...to); // keep playwright's idea of the pointer position in sync
  await page.waitForTimeout(1300); // a periodic flush happens here

  await page.mouse.move(300, 300, { steps: 5 });
  await page.mouse.down({ button: "left" });
  await page.mouse.up({ button: "left" });
  await page.mouse.move(500, 250, { steps: 5 });
  await page.mouse.down({ button: "right" });
  await page.mouse.up({ button: "right" });
  await page.mouse.wheel(0, 240);
  await page.waitForTimeout(30);
  const stats = await page.evaluate(() => window.__cursorprint.stats());
  await page.goto(`${base}/demo/bye`); // pagehide -> sendBeacon flush of the tail
  await page.waitForTimeout(500);
  console.log(JSON.stringify({ sid, from, to, left: [300, 300], right: [500, 250], stats }));
} finally {
  await browser.close();
}
