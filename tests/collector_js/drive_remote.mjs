// Drives a real Chromium (playwright-core, system /usr/bin/chromium) over the real-page test page
// "remote" of tests/collector_js/page_server.py twice, along the same hand-like path: once as a
// page sees the pointer through a remote-desktop session (a position every 6-8 ticks of the
// 15.625 ms Windows timer, none while the pointer rests: sparse, time-quantised jumps), once at
// a local browser's cadence (a position every 8 ms). Input goes through CDP
// Input.dispatchMouseEvent with explicit timestamps, so the times the collector records do not
// depend on how busy the machine is. Every wait is on an explicit condition (the page's state,
// or the batches the server has received), never on a fixed sleep. Prints {remote, local}
// page-session ids as JSON. Run from collector_js/ (where playwright-core is installed):
//   node --input-type=module -e "$(cat tests/collector_js/drive_remote.mjs)" BASE
import { chromium } from "playwright-core";

const base = process.argv.at(-1);
if (!/^https?:\/\//.test(base)) {
  console.error("usage: node --input-type=module -e SOURCE http://127.0.0.1:PORT");
  process.exit(2);
}
const sleep = (ms) => new Promise((r) => setTimeout(r, ms));

// Polls `fn` until it returns something truthy; fails loudly with `what` after `ms`.
async function until(what, fn, ms = 60000) {
  const end = Date.now() + ms;
  for (;;) {
    const v = await fn();
    if (v) return v;
    if (Date.now() > end) throw new Error(`timed out waiting for ${what}`);
    await sleep(25);
  }
}
const got = async () => (await fetch(`${base}/_t/got`)).json();
// every batch of a page view arrived: the final one and each seq before it (the exit flush
// sends what was still queued alongside the final batch, so the final may arrive first)
const complete = (sid) => until(`all batches of ${sid}`, async () => {
  const mine = (await got()).filter((b) => b.sid === sid);
  const last = mine.find((b) => b.final);
  return last && new Set(mine.map((b) => b.seq)).size === last.seq + 1;
});

// mulberry32: a seeded PRNG, so both sessions follow the same path on every run
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

// The hand: strokes between random targets (bowed, minimum-jerk timing), 0.8-1.2 s each with
// 0.15-0.3 s rests between them; position(t) for t in seconds from the start.
function hand(seed, strokes) {
  const rnd = prng(seed);
  const parts = [];
  let [px, py, t] = [500, 350, 0];
  for (let s = 0; s < strokes; s++) {
    const [qx, qy] = [80 + rnd() * 840, 80 + rnd() * 540];
    const c = [(px + qx) / 2 + (rnd() - 0.5) * 250, (py + qy) / 2 + (rnd() - 0.5) * 250];
    const dur = 0.8 + rnd() * 0.4;
    parts.push({ t0: t, dur, p: [px, py], c, q: [qx, qy] });
    t += dur + 0.15 + rnd() * 0.15;
    [px, py] = [qx, qy];
  }
  const at = (time) => {
    let part = parts[0];
    for (const p of parts) if (p.t0 <= time) part = p;
    const tau = Math.min(1, Math.max(0, (time - part.t0) / part.dur));
    const u = 10 * tau ** 3 - 15 * tau ** 4 + 6 * tau ** 5;
    const f = (i) => (1 - u) ** 2 * part.p[i] + 2 * (1 - u) * u * part.c[i] + u ** 2 * part.q[i];
    return [Math.round(f(0)), Math.round(f(1))];
  };
  return { at, duration: t };
}

// The moves a page receives: the hand's position at each sample time, none while it rests.
function samples(h, nextDt) {
  const out = [];
  let [t, last] = [0, ""];
  while (t < h.duration) {
    const [x, y] = h.at(t);
    if (`${x},${y}` !== last) out.push({ t, x, y });
    last = `${x},${y}`;
    t += nextDt();
  }
  return out;
}

const TICK = 0.015625;
const cadences = {
  remote: (rnd) => (6 + Math.floor(rnd() * 3)) * TICK,   // 94-125 ms on the timer grid
  local: (rnd) => 0.008 + rnd() * 0.0004,                 // 125 Hz, sub-millisecond stamps
};

// Sends the moves with explicit timestamps (seconds since the epoch), one second of them at a
// time; a chunk never runs ahead of the wall clock by more than its own length. When a slow
// machine falls behind, the following times move on by whole multiples of 0.125 s (8 ticks, 16
// local samples), so the remote session's times stay on the timer grid.
async function play(cdp, moves) {
  const SHIFT = 0.125;
  let start = Date.now() / 1000 + 0.05;
  for (let i = 0; i < moves.length;) {
    const chunk = [];
    const until_t = moves[i].t + 1.0;
    while (i < moves.length && moves[i].t < until_t) chunk.push(moves[i++]);
    await Promise.all(chunk.map((m) => cdp.send("Input.dispatchMouseEvent",
      { type: "mouseMoved", x: m.x, y: m.y, timestamp: start + m.t })));
    const last = start + chunk.at(-1).t;
    while (Date.now() / 1000 < last + 0.05) await sleep(10);
    const lag = Date.now() / 1000 - (start + chunk.at(-1).t) - 0.1;
    if (lag > 0) start += Math.ceil(lag / SHIFT) * SHIFT;
  }
}

const browser = await chromium.launch({
  executablePath: process.env.CHROMIUM || "/usr/bin/chromium",
  args: ["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
         "--disable-component-update", "--disable-sync", "--no-first-run"],
});
try {
  const h = hand(20261129, 16);   // ~20 s: ~160 remote move intervals (the detector needs 100)
  const out = {};
  for (const [name, cadence] of Object.entries(cadences)) {
    const rnd = prng(7);
    const ctx = await browser.newContext({ viewport: { width: 1000, height: 700 } });
    const page = await ctx.newPage();
    page.on("console", (m) => {
      if (!m.text().startsWith("Failed to load resource")) console.error(`page: ${m.text()}`);
    });
    await page.goto(`${base}/t/remote`);
    await page.waitForFunction(() => window.__cp && window.__cp.sid);
    out[name] = await page.evaluate(() => window.__cp.sid);
    await play(await ctx.newCDPSession(page), samples(h, () => cadence(rnd)));
    await page.goto(`${base}/t/bye`); // pagehide: the final batch
    await complete(out[name]);
    await ctx.close();
  }
  console.log(JSON.stringify(out));
} finally {
  await browser.close();
}
