// Bot corpus driver: one Chromium (system /usr/bin/chromium through playwright-core, no browser
// download), N page sessions of the task pages, each page recorded by the real collector.
//
//   node driver.mjs --lib ghost-cursor|pw-steps|replay|external --base URL --sessions N
//                   --seed S --manifest FILE [--replay-segments FILE] [--headed]
//
// Movers (how the pointer travels from where it is to a target point):
//   ghost-cursor  npm ghost-cursor's GhostCursor (Bezier path, Fitts-law step count, overshoot
//                 on long moves), its own CDP dispatch; a shim gives it the CDP session it takes
//                 from a puppeteer page.
//   pw-steps      playwright's page.mouse.move(x, y, {steps}) (linear interpolation).
//   replay        a recorded human sub-movement (SapiMouse, training users only) rotated and
//                 scaled onto start -> target, with pixel jitter and time stretch, dispatched at
//                 its own times.
//   external      a Python library moves the real X pointer (Chromium headed under Xvfb): each
//                 request is a JSON line on stdout {op, x, y, ...} in SCREEN pixels, answered by
//                 one line "ok" on stdin.
// One line of JSON per session is appended to --manifest: {sid, lib, task, user, ok}.
import fs from "node:fs";
import readline from "node:readline";
import { chromium } from "playwright-core";
import ghost from "ghost-cursor";

const args = Object.fromEntries(process.argv.slice(2).reduce((acc, a, i, all) => {
  if (a.startsWith("--")) acc.push([a.slice(2), all[i + 1] && !all[i + 1].startsWith("--") ? all[i + 1] : "1"]);
  return acc;
}, []));
const lib = args.lib;
const base = args.base;
const nSessions = Number(args.sessions || 5);
const tasks = (args.tasks || "login,menu,drag,slider,reading").split(",");

// Seeded PRNG (mulberry32) for the harness' own choices; the libraries use their own randomness.
let seed = Number(args.seed || 1) >>> 0;
function rand() {
  seed = (seed + 0x6d2b79f5) >>> 0;
  let t = seed;
  t = Math.imul(t ^ (t >>> 15), t | 1);
  t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
  return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
}
const uniform = (a, b) => a + (b - a) * rand();
const randint = (a, b) => Math.floor(uniform(a, b + 1));
const gauss = () => Math.sqrt(-2 * Math.log(1 - rand())) * Math.cos(2 * Math.PI * rand());
const sleep = (ms) => new Promise((r) => setTimeout(r, ms));

// --- external (Python) bridge --------------------------------------------------------------
const stdinLines = readline.createInterface({ input: process.stdin })[Symbol.asyncIterator]();
async function ask(req) {
  process.stdout.write(JSON.stringify(req) + "\n");
  const { value, done } = await stdinLines.next();
  if (done || value.trim() !== "ok") throw new Error(`external driver answered ${value}`);
}

// --- movers --------------------------------------------------------------------------------
function makeMover(page, cdp, offset) {
  const pos = { x: uniform(50, 1200), y: uniform(60, 760) };
  if (lib === "ghost-cursor") {
    const shim = { _client: cdp, browser: () => ({ isConnected: () => true }) };
    const cursor = new ghost.GhostCursor(shim, { start: { ...pos }, defaultOptions: {} });
    // ghost-cursor's useTimestamps option passes Date.now() milliseconds where CDP expects
    // seconds: the page then sees event times far in the future, the collector's batches fail
    // the ingest's checks (422) and nothing is recorded. Measured: 5 of 10 sessions lost. Off.
    const useTimestamps = false;
    return {
      name: lib,
      async moveTo(x, y, box) {
        // GhostCursor.move()'s own overshoot rule, for a target given as a point and a box
        const dist = Math.hypot(x - cursor.location.x, y - cursor.location.y);
        if (dist > ghost.GhostCursor.OVERSHOOT_THRESHOLD && rand() < 0.9) {
          const r = ghost.GhostCursor.OVERSHOOT_RADIUS;
          const a = uniform(0, 2 * Math.PI);
          const rr = r * Math.sqrt(rand());
          await cursor.moveMouse({ x: x + rr * Math.cos(a), y: y + rr * Math.sin(a) }, { useTimestamps });
          await cursor.moveMouse({ x, y, width: box.width, height: box.height },
                                 { spreadOverride: ghost.GhostCursor.OVERSHOOT_SPREAD, useTimestamps });
        } else {
          await cursor.moveMouse({ x, y }, { useTimestamps });
        }
        await page.mouse.move(x, y); // keep playwright's pointer position in step (same point)
      },
      async down(button) { await cursor.mouseDown({ button }); },
      async up(button) { await cursor.mouseUp({ button }); },
      async wheel(dy) { await page.mouse.wheel(0, dy); },
    };
  }
  if (lib === "pw-steps") {
    return {
      name: lib,
      async moveTo(x, y) { await page.mouse.move(x, y, { steps: randint(5, 60) }); },
      async down(button) { await page.mouse.down({ button }); },
      async up(button) { await page.mouse.up({ button }); },
      async wheel(dy) { await page.mouse.wheel(0, dy); },
    };
  }
  if (lib === "replay") {
    const segs = JSON.parse(fs.readFileSync(args["replay-segments"], "utf8"));
    let cur = { ...pos };
    let pressed = "none";
    const send = (type, x, y, extra = {}) => cdp.send("Input.dispatchMouseEvent",
      { type, x, y, button: pressed, ...extra });
    return {
      name: lib,
      async moveTo(x, y) {
        const want = Math.hypot(x - cur.x, y - cur.y);
        if (want < 1) return;
        // a human segment of similar length (within x2 when there is one), mapped onto this move
        const near = segs.filter((s) => s.len > want / 2 && s.len < want * 2);
        const seg = (near.length ? near : segs)[randint(0, (near.length ? near : segs).length - 1)];
        const ang = Math.atan2(y - cur.y, x - cur.x) - Math.atan2(seg.dy, seg.dx);
        const sc = want / Math.max(1, seg.len);
        const c = Math.cos(ang) * sc, s = Math.sin(ang) * sc;
        const stretch = uniform(0.8, 1.25);
        const jitter = uniform(0.3, 1.5);
        const start = { ...cur };
        let t = 0;
        const n = seg.p.length;
        for (let i = 0; i < n; i++) {
          const [dt, px, py] = seg.p[i];
          t = dt * stretch;
          const last = i === n - 1;
          const qx = start.x + c * px - s * py + (last ? 0 : jitter * gauss());
          const qy = start.y + s * px + c * py + (last ? 0 : jitter * gauss());
          await sleep(Math.max(0, t));
          await send("mouseMoved", qx, qy);
          cur = { x: qx, y: qy };
        }
        await send("mouseMoved", x, y);
        cur = { x, y };
        await page.mouse.move(x, y);
      },
      async down(button) { pressed = button; await page.mouse.down({ button }); },
      async up(button) { await page.mouse.up({ button }); pressed = "none"; },
      async wheel(dy) { await page.mouse.wheel(0, dy); },
    };
  }
  if (lib === "external") {
    return {
      name: lib,
      async moveTo(x, y) { await ask({ op: "move", x: x + offset[0], y: y + offset[1] }); },
      async down(button) { await ask({ op: "down", button }); },
      async up(button) { await ask({ op: "up", button }); },
      async wheel(dy) { await ask({ op: "wheel", dy }); },
    };
  }
  throw new Error(`unknown --lib ${lib}`);
}

// --- tasks ---------------------------------------------------------------------------------
async function target(page, sel, spread = 0.3) {
  const box = await page.locator(sel).boundingBox();
  if (!box) throw new Error(`no box for ${sel}`);
  return { x: box.x + box.width * (0.5 + spread * uniform(-1, 1)),
           y: box.y + box.height * (0.5 + spread * uniform(-1, 1)), box };
}
async function goTo(m, page, sel, spread) {
  const t = await target(page, sel, spread);
  await m.moveTo(t.x, t.y, t.box);
  return t;
}
async function click(m, page, sel) {
  await goTo(m, page, sel);
  await sleep(uniform(40, 250));
  await m.down("left");
  await sleep(uniform(50, 140));
  await m.up("left");
}
const think = () => sleep(uniform(150, 900));

const TASKS = {
  async login(m, page) {
    await click(m, page, "#user");
    await page.keyboard.type("someone@example.com", { delay: uniform(30, 90) });
    await think();
    await click(m, page, "#pass");
    await page.keyboard.type("hunter2hunter2", { delay: uniform(30, 90) });
    await think();
    if (rand() < 0.5) { await click(m, page, "#remember"); await think(); }
    await click(m, page, "#submit");
  },
  async menu(m, page) {
    for (let k = 0; k < randint(2, 3); k++) {
      const i = randint(0, 5);
      await goTo(m, page, `#top${i}`, 0.2);
      await sleep(uniform(200, 600));
      await click(m, page, `#item${i}-${randint(0, 5)}`);
      await think();
    }
  },
  async drag(m, page) {
    for (let k = 0; k < randint(2, 3); k++) {
      await goTo(m, page, `#card${randint(0, 5)}`);
      await sleep(uniform(80, 300));
      await m.down("left");
      await goTo(m, page, "#bin");
      await sleep(uniform(50, 200));
      await m.up("left");
      await think();
    }
  },
  async slider(m, page) {
    await goTo(m, page, "#knob", 0.1);
    await sleep(uniform(80, 300));
    await m.down("left");
    const track = await page.locator("#track").boundingBox();
    await m.moveTo(track.x + uniform(0.2, 0.95) * track.width, track.y + uniform(-4, 8), track);
    await sleep(uniform(50, 200));
    await m.up("left");
    await think();
    await click(m, page, "#confirm");
  },
  async reading(m, page) {
    await goTo(m, page, "#text", 0.4);
    for (let k = 0; k < randint(4, 8); k++) {
      await m.wheel(randint(2, 5) * 100);
      await sleep(uniform(300, 1200));
      if (rand() < 0.4) await goTo(m, page, "#text", 0.4);
    }
    await page.locator("#accept").scrollIntoViewIfNeeded();
    await click(m, page, "#accept");
  },
};

// --- main ----------------------------------------------------------------------------------
const headed = args.headed === "1";
const browser = await chromium.launch({
  executablePath: process.env.CHROMIUM || "/usr/bin/chromium",
  headless: !headed,
  args: ["--no-sandbox", "--disable-gpu", "--disable-background-networking",
         "--disable-component-update", "--disable-sync", "--no-first-run",
         ...(headed ? ["--kiosk", "--window-position=0,0", "--window-size=1280,800",
                       "--disable-infobars", "--test-type"] : [])],
});
try {
  const context = await browser.newContext(headed ? { viewport: null } : { viewport: { width: 1280, height: 800 } });
  const page = await context.newPage();
  page.on("console", (msg) => { if (msg.type() === "error") console.error(`page: ${msg.text()}`); });
  let offset = [0, 0];
  if (lib === "external") {
    // where the page's (0, 0) is on the X screen: one calibration move on a page without collector
    await page.goto(`${base}/bots/blank`);
    await ask({ op: "calibrate", x: 400, y: 300 });
    await page.waitForFunction(() => window.__off !== null, null, { timeout: 5000 });
    offset = await page.evaluate(() => window.__off);
    console.error(`external: page origin at screen ${offset}`);
  }
  const cdp = await context.newCDPSession(page);
  for (let i = 0; i < nSessions; i++) {
    const task = tasks[i % tasks.length];
    const user = `${lib}-${args.seed || 1}-${i}`;
    await page.goto(`${base}/bots/${task}?user=${encodeURIComponent(user)}`);
    await page.waitForFunction(() => window.__cursorprint && window.__cursorprint.sid);
    const sid = await page.evaluate(() => window.__cursorprint.sid);
    const m = makeMover(page, cdp, offset);
    let ok = true;
    try {
      await sleep(uniform(100, 500));
      await TASKS[task](m, page);
      await sleep(uniform(100, 400));
    } catch (exc) {
      ok = false;
      console.error(`session ${i} (${task}) failed: ${exc}`);
    }
    await page.goto(`${base}/bots/blank`); // pagehide -> the collector's final beacon
    await sleep(300);
    fs.appendFileSync(args.manifest, JSON.stringify({ sid, lib, task, user, ok }) + "\n");
  }
  if (lib === "external") await ask({ op: "bye" });
} finally {
  await browser.close();
}
process.exit(0); // the stdin reader of the external bridge would keep node alive
