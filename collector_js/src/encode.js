// Columnar, delta-encoded batch builder (wire batch v1). Pure: no DOM access, unit-tested in node.
import { PT, SRC } from "./events.js";

/** Round to 2 decimals (0.01 ms / 0.01 px): keeps batches small and times monotonic. */
const r2 = (v) => Math.round(v * 100) / 100;

/**
 * Accumulates events of one batch. Times are absolute performance.now() values in; the batch
 * stores `dt` = ms since the previous event (the first one since the batch start), never negative.
 */
export class BatchBuilder {
  constructor(startMs, pt = 0, src = 1) {
    this.start = startMs;
    this.last = startMs;
    this.ev = { dt: [], x: [], y: [], k: [], b: [] };
    this.bytes = 40; // rough JSON size of the columns, to flush at a byte budget
    this.pt = pt; // index into PT: every event of a batch has one pointer type
    // sampling achieved: source (index into SRC), events dispatched, reports they carried,
    // gaps shorter than GAP_MS between consecutive reports and their sum (ms)
    this.smp = { src, n: 0, c: 0, g: 0, gms: 0 };
  }

  get length() {
    return this.ev.dt.length;
  }

  push(t, x, y, k, b) {
    const dt = r2(Math.max(0, t - this.last));
    this.last = Math.max(this.last, t);
    const ev = this.ev;
    const xs = r2(x);
    const ys = r2(y);
    ev.dt.push(dt);
    ev.x.push(xs);
    ev.y.push(ys);
    ev.k.push(k);
    ev.b.push(b);
    this.bytes += String(dt).length + String(xs).length + String(ys).length + 9;
  }
}

/** The wire batch object for `builder`, given the page-session fields. */
export function toWire(builder, meta, seq, final) {
  const s = builder.smp;
  return {
    v: 1, site: meta.site, token: meta.token, sid: meta.sid, seq, path: meta.path,
    vp: meta.vp, scr: meta.scr, dpr: meta.dpr, t0: meta.origin + builder.start, final,
    ev: builder.ev, pt: PT[builder.pt],
    smp: { src: SRC[s.src], n: s.n, c: s.c, g: s.g, gms: r2(s.gms) },
  };
}

/** Random page-session id: 22 base64url characters. */
export function newSid(rand) {
  const a = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";
  let s = "";
  for (let i = 0; i < 22; i++) s += a[rand() & 63];
  return s;
}
