// cursorprint collector: pointer movement, buttons, wheel, leave and visibility, nothing else
// (no key events, no page text). Nothing runs until the page calls start() (consent hook).
import { BatchBuilder, newSid, toWire } from "./encode.js";
import { buttonCode, KIND } from "./events.js";
import { SendQueue } from "./queue.js";

/**
 * Start collecting. opts: endpoint, site, token (signed by the site's backend), sampleMs (5-10,
 * default 8), flushMs (default 1000), maxBytes (default 16384), maxQueue (default 32).
 * Returns { sid, flush(), stop(), stats() }.
 */
export function start(opts) {
  const w = window;
  const d = document;
  const perf = w.performance;
  const sampleMs = Math.min(10, Math.max(5, opts.sampleMs || 8));
  const flushMs = opts.flushMs || 1000;
  const maxBytes = opts.maxBytes || 16384;
  const url = new URL(opts.endpoint, w.location.href).href;
  const rnd = () => (w.crypto && w.crypto.getRandomValues
    ? w.crypto.getRandomValues(new Uint8Array(1))[0] : Math.floor(Math.random() * 256));
  const meta = {
    site: opts.site, token: opts.token, sid: newSid(rnd), path: w.location.pathname,
    vp: [w.innerWidth, w.innerHeight], scr: [w.screen.width, w.screen.height],
    dpr: w.devicePixelRatio || 1, origin: perf.timeOrigin || Date.now() - perf.now(),
  };
  let seq = 0;
  let batch = new BatchBuilder(perf.now());
  let lastMove = -1e9;
  let pending = null; // latest move skipped by the sampler, kept so the path's end is not lost
  let stopped = false;

  // fetch keepalive (CORS-simple: text/plain, no credentials, so no preflight)
  const send = (body) => w.fetch(url, {
    method: "POST", body, keepalive: true, mode: "cors", credentials: "omit",
    headers: { "Content-Type": "text/plain;charset=UTF-8" },
  }).then((r) => r.status);
  const queue = new SendQueue({ send, maxItems: opts.maxQueue || 32 });

  const push = (t, x, y, k, b) => {
    if (pending && k !== KIND.move) {
      batch.push(pending[0], pending[1], pending[2], KIND.move, 0);
    }
    pending = null;
    batch.push(t, x, y, k, b);
    if (batch.bytes >= maxBytes) flush(false);
  };

  const move = (t, x, y) => {
    if (t - lastMove >= sampleMs) {
      lastMove = t;
      push(t, x, y, KIND.move, 0);
    } else {
      pending = [t, x, y];
    }
  };

  function cut(final) {
    if (pending) {
      batch.push(pending[0], pending[1], pending[2], KIND.move, 0);
      pending = null;
    }
    if (!batch.length && !final) return null;
    const body = JSON.stringify(toWire(batch, meta, seq++, final));
    // The next batch starts where this one ended (coalesced events can carry times a little
    // before now), but never more than a second back, so idle gaps stay out of its span.
    batch = new BatchBuilder(Math.max(batch.last, perf.now() - 1000));
    return body;
  }

  // exit: hand everything to sendBeacon (outlives the page); final only on pagehide.
  function flush(exit, final = false) {
    const body = cut(final);
    if (!exit) {
      if (body) queue.push(body);
      return;
    }
    const rest = queue.drain();
    if (body) rest.push(body);
    for (const b of rest) {
      const ok = w.navigator.sendBeacon && w.navigator.sendBeacon(url, b);
      if (!ok) send(b).catch(() => {});
    }
  }

  const ts = (e) => (e.timeStamp > 0 ? e.timeStamp : perf.now());
  const onMove = (e) => {
    const list = e.getCoalescedEvents ? e.getCoalescedEvents() : [];
    if (list.length) for (const c of list) move(ts(c), c.clientX, c.clientY);
    else move(ts(e), e.clientX, e.clientY);
  };
  // A press of a button the wire batch has no code for is left out: ingest would refuse the
  // whole batch for it.
  const onButton = (k) => (e) => {
    const b = buttonCode(e.button);
    if (b > 0) push(ts(e), e.clientX, e.clientY, k, b);
  };
  const onWheel = (e) => push(ts(e), e.clientX, e.clientY, KIND.wheel, 0);
  const onOut = (e) => {
    if (!e.relatedTarget) push(ts(e), e.clientX, e.clientY, KIND.leave, 0);
  };
  let exited = false; // after pagehide nothing more is sent (unless the page is shown again)
  const onVisibility = () => {
    if (d.visibilityState === "hidden" && !exited) {
      push(perf.now(), 0, 0, KIND.hidden, 0);
      flush(true, false);
    }
  };
  const onHide = () => {
    if (exited) return;
    flush(true, true);
    exited = true;
  };
  const onShow = () => { exited = false; };

  const usePointer = "onpointermove" in w;
  const listeners = [
    [d, usePointer ? "pointermove" : "mousemove", onMove],
    [d, usePointer ? "pointerdown" : "mousedown", onButton(KIND.down)],
    [d, usePointer ? "pointerup" : "mouseup", onButton(KIND.up)],
    [d, "wheel", onWheel],
    [d, usePointer ? "pointerout" : "mouseout", onOut],
    [d, "visibilitychange", onVisibility],
    [w, "pagehide", onHide],
    [w, "pageshow", onShow],
  ];
  for (const [target, type, fn] of listeners) {
    target.addEventListener(type, fn, { passive: true, capture: true });
  }
  const timer = w.setInterval(() => flush(false), flushMs);

  return {
    sid: meta.sid,
    flush: () => flush(false),
    stop() {
      if (stopped) return;
      stopped = true;
      w.clearInterval(timer);
      for (const [target, type, fn] of listeners) {
        target.removeEventListener(type, fn, { capture: true });
      }
      flush(true, true);
    },
    stats: () => ({ ...queue.stats, queued: queue.items.length, seq }),
  };
}
