// Logs in to the reference site in a real Chromium (playwright-core, system /usr/bin/chromium),
// moving the pointer along the paths of a plan, and reports what the site decided.
//   node --input-type=module -e "$(cat drive.mjs)" SITE_URL PLAN.json SCREENSHOT_DIR|-
// Run from collector_js/ (where playwright-core is installed). PLAN.json:
//   {"name": "owner", "logins": [{"user": "alice", "path": [[t_ms, x, y], ...]}, ...],
//    "stopWhenAllowed": bool}            (screenshots: SCREENSHOT_DIR/<name>-<n>-<page>.png)
// Each path is replayed at its own timing and ends on the "Log in" button, which is then pressed
// where the pointer is (no jump). A second factor asked for is passed with the code the page
// shows. Every wait is on an explicit condition (a page, an element), never a fixed sleep.
// Prints one JSON line: {"logins": [{user, first, decision, via, reasons, score, ...}]}.
import { readFileSync } from "node:fs";
import { chromium } from "playwright-core";

const [site, planFile, shotsArg] = process.argv.slice(-3);
const shots = shotsArg === "-" ? "" : shotsArg;
const plan = JSON.parse(readFileSync(planFile, "utf8"));
const sleep = (ms) => new Promise((r) => setTimeout(r, ms));

const browser = await chromium.launch({
  executablePath: process.env.CHROMIUM || "/usr/bin/chromium",
  args: ["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
         "--disable-component-update", "--disable-sync", "--no-first-run"],
});

async function shot(page, name) {
  if (shots) await page.screenshot({ path: `${shots}/${plan.name || "login"}-${name}.png` });
}

// Replays `path` translated so that it ends at (ex, ey); times are kept.
async function replay(page, path, ex, ey) {
  const [, lx, ly] = path[path.length - 1];
  const t0 = Date.now() - path[0][0];
  for (const [t, x, y] of path) {
    const wait = t0 + t - Date.now();
    if (wait > 0) await sleep(wait);
    await page.mouse.move(x - lx + ex, y - ly + ey);
  }
}

async function login(n, { user, path }) {
  const ctx = await browser.newContext({ viewport: { width: 1280, height: 800 } });
  const page = await ctx.newPage();
  page.on("console", (m) => {
    if (!m.text().startsWith("Failed to load resource")) console.error(`page: ${m.text()}`);
  });
  await page.goto(`${site}/login`);
  await page.fill("#user", user);
  await shot(page, `${n}-1-login`);
  await Promise.all([page.waitForURL("**/login/password"), page.click("#next")]);
  await page.waitForFunction(() => window.__collector && window.__collector.sid);
  const sid = await page.evaluate(() => window.__collector.sid);
  await page.focus("#password");
  await page.keyboard.type("demo");
  const box = await page.locator("#submit").boundingBox();
  await replay(page, path, box.x + box.width / 2, box.y + box.height / 2);
  await shot(page, `${n}-2-password`);
  await Promise.all([page.waitForURL(/\/(welcome|login\/otp|login\/refused)$/, { timeout: 60000 }),
                     page.mouse.down().then(() => page.mouse.up())]);
  const first = new URL(page.url()).pathname;
  await shot(page, `${n}-3-${first.split("/").pop()}`);
  if (first === "/login/otp") {
    await page.fill("#otp", await page.textContent("#code"));
    await Promise.all([page.waitForURL("**/welcome"), page.click("#verify")]);
    await shot(page, `${n}-4-welcome`);
  }
  const decision = await page.evaluate(async () => (await fetch("/login/decision")).json());
  await ctx.close();
  return { user, sid, first, ...decision };
}

const logins = [];
try {
  for (const [i, item] of plan.logins.entries()) {
    const got = await login(i + 1, item);
    logins.push(got);
    if (plan.stopWhenAllowed && got.decision === "allow") break;
  }
} finally {
  await browser.close();
}
console.log(JSON.stringify({ logins }));
