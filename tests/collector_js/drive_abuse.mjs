// Drives a real Chromium (playwright-core, system /usr/bin/chromium) through the ingest demo page
// twice: once like a bot (perfectly straight, constant-speed strokes joined by clicks and
// single-event teleports) and once like a person (curved strokes, bell-shaped speed, hand
// jitter, irregular sampling). Input goes through CDP Input.dispatchMouseEvent with explicit
// timestamps, so the times the collector records do not depend on how busy the machine is.
// Each session ends by navigating away (pagehide -> final flush). Prints {scripted, human}
// page-session ids as JSON on stdout. Run from collector_js/ (where playwright-core is installed):
//   node --input-type=module -e "$(cat tests/collector_js/drive_abuse.mjs)" http://127.0.0.1:PORT
import { chromium } from "playwright-core";

const base = process.argv.at(-1);
if (!/^https?:\/\//.test(base)) {
  console.error("usage: node --input-type=module -e SOURCE http://127.0.0.1:PORT");
  process.exit(2);
}
const sleep = (ms) => new Promise((r) => setTimeout(r, ms));

// mulberry32: a seeded PRNG, so the "person" moves the same way on every run
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

// Sends timed input events. Times are seconds since the epoch; a plan never runs ahead of the
// wall clock by more than its own length, and the next plan waits until the clock passed it.
class Input {
  constructor(cdp) {
    this.cdp = cdp;
    this.t = Date.now() / 1000;
  }
  async play(events) {
    this.t = Math.max(this.t, Date.now() / 1000) + 0.02;
    const sent = [];
    for (const ev of events) {
      this.t += ev.dt;
      const msg = { type: ev.type, x: ev.x, y: ev.y, timestamp: this.t };
      if (ev.type !== "mouseMoved") Object.assign(msg, { button: "left", clickCount: 1 });
      sent.push(this.cdp.send("Input.dispatchMouseEvent", msg));
    }
    await Promise.all(sent);
    while (Date.now() / 1000 < this.t + 0.05) await sleep(10);
  }
}

const move = (x, y, dt) => ({ type: "mouseMoved", x, y, dt });
const click = (x, y) => [
  { type: "mousePressed", x, y, dt: 0.02 },
  { type: "mouseReleased", x, y, dt: 0.015 },
];

async function scripted(input) {
  // strokes: start point and an integer step per millisecond (every sample exactly on the line,
  // at exactly the same speed), 150 ms each; between strokes a click, a teleport (one move
  // event far away, 30 ms later) and a click
  const strokes = [
    [[80, 80], [4, 2]], [[900, 620], [-4, -1]], [[120, 650], [3, -3]],
    [[880, 90], [-3, 3]], [[100, 400], [5, 0]], [[850, 300], [-3, 2]],
  ];
  for (const [i, [[sx, sy], [dx, dy]]] of strokes.entries()) {
    const evs = [];
    if (i === 0) evs.push(move(sx, sy, 0.05), ...click(sx, sy));
    for (let k = 1; k <= 150; k++) evs.push(move(sx + dx * k, sy + dy * k, 0.001));
    const [ex, ey] = [sx + dx * 150, sy + dy * 150];
    evs.push(...click(ex, ey));
    if (i + 1 < strokes.length) {
      const [nx, ny] = strokes[i + 1][0];
      evs.push(move(nx, ny, 0.03), ...click(nx, ny));
    }
    await input.play(evs);
  }
}

async function human(input) {
  const rnd = prng(20261123);
  const gauss = () => {
    const u = Math.max(rnd(), 1e-9);
    return Math.sqrt(-2 * Math.log(u)) * Math.cos(2 * Math.PI * rnd());
  };
  let [px, py] = [500, 350];
  await input.play([move(px, py, 0.05)]);
  for (let s = 0; s < 8; s++) {
    const qx = 120 + rnd() * 760;
    const qy = 100 + rnd() * 500;
    // a bowed path (quadratic Bezier), minimum-jerk timing, tremor, irregular event times
    const cx = (px + qx) / 2 + (rnd() - 0.5) * 300;
    const cy = (py + qy) / 2 + (rnd() - 0.5) * 300;
    const dur = 0.35 + rnd() * 0.45;
    const evs = [];
    let t = 0;
    while (t < dur) {
      const dt = 0.003 + rnd() * 0.006;
      t = Math.min(dur, t + dt);
      const tau = t / dur;
      const u = 10 * tau ** 3 - 15 * tau ** 4 + 6 * tau ** 5;
      const x = (1 - u) ** 2 * px + 2 * (1 - u) * u * cx + u ** 2 * qx + gauss() * 1.5;
      const y = (1 - u) ** 2 * py + 2 * (1 - u) * u * cy + u ** 2 * qy + gauss() * 1.5;
      evs.push(move(Math.round(x), Math.round(y), dt));
    }
    if (s % 3 === 2) evs.push(...click(Math.round(qx), Math.round(qy)));
    await input.play(evs);
    [px, py] = [qx, qy];
    await sleep(150 + rnd() * 300);
  }
}

const browser = await chromium.launch({
  executablePath: process.env.CHROMIUM || "/usr/bin/chromium",
  args: ["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
         "--disable-component-update", "--disable-sync", "--no-first-run"],
});
try {
  const out = {};
  for (const [name, drive] of [["scripted", scripted], ["human", human]]) {
    const page = await browser.newPage({ viewport: { width: 1000, height: 700 } });
    page.on("console", (m) => console.error(`page: ${m.text()}`));
    await page.goto(`${base}/demo?user=${name}-visitor`);
    await page.waitForFunction(() => window.__cursorprint && window.__cursorprint.sid,
                               null, { timeout: 60000 });
    out[name] = await page.evaluate(() => window.__cursorprint.sid);
    await drive(new Input(await page.context().newCDPSession(page)));
    await page.goto(`${base}/demo/bye`); // pagehide -> sendBeacon flush, final: true
    await sleep(300);
    await page.close();
  }
  console.log(JSON.stringify(out));
} finally {
  await browser.close();
}
