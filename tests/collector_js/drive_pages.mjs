// Drives a real Chromium (playwright-core, system /usr/bin/chromium) through the real-page test
// pages of tests/collector_js/page_server.py: a single-page app's navigations, a touch (and pen,
// and two-finger) session, and the 64 KB exit budget. Every wait is on an explicit condition
// (the page's state, or the batches the server has received), never on a fixed sleep.
// Prints one JSON line of what it saw. Run from collector_js/ (where playwright-core is):
//   node --input-type=module -e "$(cat tests/collector_js/drive_pages.mjs)" BASE spa|touch|budget
import { chromium } from "playwright-core";

const [base, mode] = process.argv.slice(-2);
if (!/^https?:\/\//.test(base)) {
  console.error("usage: node --input-type=module -e SOURCE http://127.0.0.1:PORT MODE");
  process.exit(2);
}

// Polls `fn` until it returns something truthy; fails loudly with `what` after `ms`.
async function until(what, fn, ms = 30000) {
  const end = Date.now() + ms;
  for (;;) {
    const v = await fn();
    if (v) return v;
    if (Date.now() > end) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 25));
  }
}
const got = async () => (await fetch(`${base}/_t/got`)).json();
const batchesOf = async (sid) => (await got()).filter((b) => b.sid === sid);
const finalOf = (sid) => until(`the final batch of ${sid}`,
  async () => (await batchesOf(sid)).some((b) => b.final));

const browser = await chromium.launch({
  executablePath: process.env.CHROMIUM || "/usr/bin/chromium",
  args: ["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
         "--disable-component-update", "--disable-sync", "--no-first-run"],
});

async function open(ctx, name) {
  const page = await ctx.newPage();
  page.on("console", (m) => {
    if (!m.text().startsWith("Failed to load resource")) console.error(`page: ${m.text()}`);
  });
  await page.goto(`${base}/t/${name}`);
  await page.waitForFunction(() => window.__cp && window.__cp.sid);
  return page;
}

async function spa() {
  const ctx = await browser.newContext({ viewport: { width: 800, height: 600 } });
  const page = await open(ctx, "spa");
  const sid = () => page.evaluate(() => window.__cp.sid);
  const nav = async (fn, arg) => {
    const before = await sid();
    await page.evaluate(fn, arg);
    // hashchange and popstate are dispatched after the call returns: wait for the new view
    await page.waitForFunction((s) => window.__cp.sid !== s, before);
    return sid();
  };
  let x = 20;
  const wiggle = async () => {
    await page.mouse.move(x, 100);
    await page.mouse.move(x + 300, 400, { steps: 8 });
    x += 20;
  };
  const views = [{ sid: await sid(), path: "/t/spa" }];
  await wiggle();
  views.push({ sid: await nav((u) => history.pushState({}, "", u), "/t/spa/orders"),
               path: "/t/spa/orders" });
  await wiggle();
  // the query alone is not a new route: same view
  await page.evaluate(() => history.replaceState({ tab: 2 }, "", "/t/spa/orders?tab=2"));
  const afterQuery = await sid();
  await wiggle();
  views.push({ sid: await nav((u) => history.replaceState({}, "", u), "/t/spa/profile"),
               path: "/t/spa/profile" });
  await wiggle();
  views.push({ sid: await nav(() => { location.hash = "#settings"; }), path: "/t/spa/profile" });
  await wiggle();
  views.push({ sid: await nav(() => history.back()), path: "/t/spa/profile" });
  await wiggle();
  const csp = await page.evaluate(() => window.__csp);
  const routes = await page.evaluate(() => location.pathname + location.hash);
  for (const v of views.slice(0, -1)) await finalOf(v.sid);
  await page.goto(`${base}/t/bye`); // pagehide: the last view's final batch
  await finalOf(views.at(-1).sid);
  return { views, afterQuery, csp, routes };
}

async function touch() {
  const ctx = await browser.newContext({ viewport: { width: 800, height: 600 }, hasTouch: true });
  const page = await open(ctx, "touch");
  const cdp = await ctx.newCDPSession(page);
  const t = (type, touchPoints) => cdp.send("Input.dispatchTouchEvent", { type, touchPoints });
  // one finger: (100, 100) -> (300, 200)
  await t("touchStart", [{ x: 100, y: 100, id: 1 }]);
  for (let i = 1; i <= 20; i++) await t("touchMove", [{ x: 100 + 10 * i, y: 100 + 5 * i, id: 1 }]);
  await t("touchEnd", []);
  // two fingers: only the first (primary) one is kept; the second stays at x >= 700
  await t("touchStart", [{ x: 400, y: 300, id: 2 }]);
  await t("touchStart", [{ x: 400, y: 300, id: 2 }, { x: 700, y: 500, id: 3 }]);
  for (let i = 1; i <= 10; i++) {
    await t("touchMove", [{ x: 400 + 5 * i, y: 300, id: 2 }, { x: 700 + 5 * i, y: 500 - 5 * i, id: 3 }]);
  }
  await t("touchEnd", []);
  const m = (type, x, y, extra = {}) => cdp.send("Input.dispatchMouseEvent",
    { type, x, y, ...extra });
  // a pen stroke with a press, then a mouse stroke: each type in batches of its own
  await m("mouseMoved", 200, 400, { pointerType: "pen" });
  await m("mousePressed", 200, 400, { pointerType: "pen", button: "left", clickCount: 1 });
  for (let i = 1; i <= 10; i++) await m("mouseMoved", 200 + 10 * i, 400, { pointerType: "pen", button: "left" });
  await m("mouseReleased", 300, 400, { pointerType: "pen", button: "left", clickCount: 1 });
  for (let i = 0; i <= 20; i++) await m("mouseMoved", 500 + 5 * i, 100 + 5 * i);
  const raw = await page.evaluate(() => "onpointerrawupdate" in window);
  const csp = await page.evaluate(() => window.__csp);
  const sid = await page.evaluate(() => window.__cp.sid);
  await page.goto(`${base}/t/bye`);
  await finalOf(sid);
  return { sid, raw, csp };
}

async function budget() {
  const ctx = await browser.newContext({ viewport: { width: 800, height: 600 } });
  // Logs every keepalive request the page makes (size, seq) in localStorage, which outlives
  // the page: the exit flush happens while the page goes away.
  await ctx.addInitScript(() => {
    const orig = window.fetch;
    window.fetch = function (url, opts) {
      if (opts && opts.keepalive) {
        const log = JSON.parse(localStorage.getItem("keepalive") || "[]");
        log.push({ bytes: new Blob([opts.body]).size, seq: JSON.parse(opts.body).seq });
        localStorage.setItem("keepalive", JSON.stringify(log));
      }
      return orig.apply(this, arguments);
    };
  });
  await fetch(`${base}/_t/stall?on=1`, { method: "POST" });
  const page = await open(ctx, "budget");
  const sid = await page.evaluate(() => window.__cp.sid);
  // ingest answers 503 to everything: batches pile up in the queue until it holds > 64 KB
  let i = 0;
  const stats = await until("the queue to fill up", async () => {
    await page.mouse.move(100 + (i % 40) * 10, 100 + (i++ % 7) * 30, { steps: 3 });
    const s = await page.evaluate(() => window.__cp.stats());
    return s.queued >= 36 && s;
  }, 60000);
  const plainPosts = (await got()).length; // 0: every periodic send so far was refused
  await fetch(`${base}/_t/stall?on=0`, { method: "POST" });
  await page.goto(`${base}/t/bye`); // pagehide: the exit flush
  const log = await page.evaluate(() => JSON.parse(localStorage.getItem("keepalive") || "[]"));
  // every keepalive request the collector made must arrive: none was refused by the browser
  await until("every keepalive batch to arrive", async () => {
    const seqs = new Set((await batchesOf(sid)).map((b) => b.seq));
    return log.length > 0 && log.every((e) => seqs.has(e.seq));
  });
  await finalOf(sid);
  return { sid, stats, log, plainPosts };
}

try {
  const out = await { spa, touch, budget }[mode]();
  console.log(JSON.stringify(out));
} finally {
  await browser.close();
}
