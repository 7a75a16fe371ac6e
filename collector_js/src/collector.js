// cursorprint collector: pointer movement, buttons, wheel, leave and visibility, nothing else
// (no key events, no page text). Nothing runs until the page calls start() (consent hook).
// CSP-safe: no eval, no Function(), no workers, no inline styles; needs only `connect-src` for
// the endpoint. One collector per document: an iframe runs its own (own sid, own path).
import { BatchBuilder, newSid, toWire } from "./encode.js";
import { buttonCode, GAP_MS, KIND, PT } from "./events.js";
import { fit, SendQueue } from "./queue.js";

const BUDGET = 65536; // bytes of keepalive bodies in flight per page (sendBeacon shares it)

/**
 * Start collecting. opts: endpoint, site, token (a JWT minted by the site's backend), sampleMs
 * (5-10, default 8), flushMs (default 1000), maxBytes (default 16384, at most 32768), maxQueue
 * (default 32). Returns { sid (the current page view's), flush(), stop(), stats() }.
 */
export function start(opts) {
  const w = window;
  const d = document;
  const loc = w.location;
  const perf = w.performance;
  const sampleMs = Math.min(10, Math.max(5, opts.sampleMs || 8));
  const flushMs = opts.flushMs || 1000;
  const maxBytes = Math.min(32768, opts.maxBytes || 16384);
  const url = new URL(opts.endpoint, loc.href).href;
  const rnd = () => w.crypto.getRandomValues(new Uint8Array(1))[0];
  const usePointer = "onpointermove" in w;
  const src = "onpointerrawupdate" in w ? 0 : usePointer ? 1 : 2;
  const meta = { site: opts.site, token: opts.token, origin: perf.timeOrigin || Date.now() - perf.now() };
  let view; // the route (path + hash) of the current page view
  let seq;
  // A page view: its own sid, path and sizes. A single-page app's navigation starts the next.
  const newView = () => {
    view = loc.pathname + loc.hash;
    seq = 0;
    Object.assign(meta, { sid: newSid(rnd), path: loc.pathname, vp: [w.innerWidth, w.innerHeight],
      scr: [w.screen.width, w.screen.height], dpr: w.devicePixelRatio || 1 });
  };
  newView();
  let batch = new BatchBuilder(perf.now(), 0, src);
  let lastMove = -1e9;
  let lastRep = -1e9; // time of the previous pointer report (for the achieved input rate)
  let pending = null; // latest move skipped by the sampler, kept so the path's end is not lost
  let stopped = false;
  let inflight = 0; // bytes of keepalive requests not yet answered

  // CORS-simple (text/plain, no credentials): no preflight. Periodic sends are plain fetches,
  // so the page's 64 KB keepalive budget is all there for the exit; a batch still unanswered
  // when the page goes is sent again by the exit flush.
  const post = (body, keepalive) => w.fetch(url, {
    method: "POST", body, keepalive, mode: "cors", credentials: "omit",
    headers: { "Content-Type": "text/plain;charset=UTF-8" },
  }).then((r) => r.status);
  const queue = new SendQueue({ send: (b) => post(b, false), maxItems: opts.maxQueue || 32 });
  const stats = queue.stats;
  const keepalive = w.Request && "keepalive" in w.Request.prototype;
  const beacon = (b) => {
    const n = b.length;
    const done = () => { inflight -= n; };
    inflight += n;
    if (keepalive) post(b, true).then(done, () => { done(); stats.failed++; });
    else {
      if (!w.navigator.sendBeacon(url, b)) stats.failed++;
      done(); // no answer to wait for: the budget holds per exit flush
    }
  };

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
    batch = new BatchBuilder(Math.max(batch.last, perf.now() - 1000), batch.pt, batch.smp.src);
    return body;
  }

  // exit: everything queued goes by keepalive fetch (sendBeacon where keepalive is missing),
  // within the 64 KB budget; final only on pagehide, when what does not fit is dropped (and
  // counted). When the page is only hidden, the rest stays queued.
  function flush(exit, final = false) {
    const body = cut(final);
    if (!exit) {
      if (body) queue.push(body);
      return;
    }
    const all = queue.drain();
    if (body) all.push(body);
    // a hidden page keeps some budget back for the final batch of a pagehide that may follow
    const [send, rest] = fit(all, BUDGET - inflight - (final ? 0 : 4096));
    send.forEach(beacon);
    if (final) stats.dropped += rest.length;
    else rest.forEach((b) => queue.push(b));
  }

  // The pointer type of an event (index into PT); -1 for a type the wire has no name for.
  // A batch holds one type: a change cuts the batch, so types are never mixed.
  const typed = (e) => {
    const p = e.pointerType === undefined ? 0 : PT.indexOf(e.pointerType);
    if (p >= 0 && p !== batch.pt) {
      flush(false);
      batch.pt = p;
    }
    return p >= 0 && e.isPrimary !== false; // a second finger is left out
  };
  const ts = (e) => (e.timeStamp > 0 ? e.timeStamp : perf.now());
  const reports = (e) => {
    const list = e.getCoalescedEvents ? e.getCoalescedEvents() : [];
    return list.length ? list : [e];
  };
  // Sampling achieved: counted on pointerrawupdate where the browser has it (every device
  // report, as it arrives), else on what gives the positions. Positions always come from
  // pointermove's coalesced reports: pointerrawupdate can arrive ahead of an earlier press.
  const raw = {}; // pointer types seen on pointerrawupdate
  const count = (s, list) => {
    const m = batch.smp;
    m.src = s;
    m.n++;
    for (const c of list) {
      const gap = ts(c) - lastRep;
      m.c++;
      if (gap > 0 && gap < GAP_MS) {
        m.g++;
        m.gms += gap;
      }
      lastRep = ts(c);
    }
  };
  const onRaw = (e) => {
    if (!typed(e)) return;
    raw[e.pointerType] = 1;
    count(0, reports(e));
  };
  const onMove = (e) => {
    if (!typed(e)) return;
    const list = reports(e);
    if (!raw[e.pointerType]) count(usePointer ? 1 : 2, list);
    for (const c of list) move(ts(c), c.clientX, c.clientY);
  };
  // A press of a button the wire batch has no code for is left out: ingest would refuse the
  // whole batch for it.
  const onButton = (k) => (e) => {
    const b = buttonCode(e.button);
    if (typed(e) && b > 0) push(ts(e), e.clientX, e.clientY, k, b);
  };
  const onWheel = (e) => push(ts(e), e.clientX, e.clientY, KIND.wheel, 0);
  const onOut = (e) => {
    if (!e.relatedTarget && e.pointerType !== "touch" && typed(e)) {
      push(ts(e), e.clientX, e.clientY, KIND.leave, 0);
    }
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
  const onShow = () => { // back from the back/forward cache: its view was closed by pagehide
    if (exited) newView();
    exited = false;
  };
  // single-page apps: a new route (path or hash; not the query) is a new page view
  const onRoute = () => {
    if (!stopped && loc.pathname + loc.hash !== view) {
      flush(false, true);
      newView();
    }
  };
  const h = w.history;
  const patch = (name) => {
    const orig = h[name];
    const f = function () {
      const r = orig.apply(this, arguments);
      onRoute();
      return r;
    };
    h[name] = f;
    return () => { if (h[name] === f) h[name] = orig; };
  };
  const unpatch = [patch("pushState"), patch("replaceState")];

  const listeners = [
    [d, usePointer ? "pointermove" : "mousemove", onMove],
    [d, usePointer ? "pointerdown" : "mousedown", onButton(KIND.down)],
    [d, usePointer ? "pointerup" : "mouseup", onButton(KIND.up)],
    [d, "wheel", onWheel],
    [d, usePointer ? "pointerout" : "mouseout", onOut],
    [d, "visibilitychange", onVisibility],
    [w, "pagehide", onHide],
    [w, "pageshow", onShow],
    [w, "popstate", onRoute],
    [w, "hashchange", onRoute],
  ];
  if (!src) listeners.push([d, "pointerrawupdate", onRaw]);
  for (const [target, type, fn] of listeners) {
    target.addEventListener(type, fn, { passive: true, capture: true });
  }
  const timer = w.setInterval(() => flush(false), flushMs);

  return {
    get sid() { return meta.sid; },
    flush: () => flush(false),
    stop() {
      if (stopped) return;
      stopped = true;
      w.clearInterval(timer);
      for (const [target, type, fn] of listeners) {
        target.removeEventListener(type, fn, { capture: true });
      }
      unpatch.forEach((u) => u());
      flush(true, true);
    },
    stats: () => ({ ...stats, queued: queue.items.length, seq, inflight }),
  };
}
