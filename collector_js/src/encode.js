// Columnar, delta-encoded batch builder (wire batch v1). Pure: no DOM access, unit-tested in node.

/** Round to 2 decimals (0.01 ms / 0.01 px): keeps batches small and times monotonic. */
const r2 = (v) => Math.round(v * 100) / 100;

/**
 * Accumulates events of one batch. Times are absolute performance.now() values in; the batch
 * stores `dt` = ms since the previous event (the first one since the batch start), never negative.
 */
export class BatchBuilder {
  constructor(startMs) {
    this.start = startMs;
    this.last = startMs;
    this.ev = { dt: [], x: [], y: [], k: [], b: [] };
    this.bytes = 40; // rough JSON size of the columns, to flush at a byte budget
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
  return {
    v: 1, site: meta.site, token: meta.token, sid: meta.sid, seq, path: meta.path,
    vp: meta.vp, scr: meta.scr, dpr: meta.dpr, t0: meta.origin + builder.start, final,
    ev: builder.ev,
  };
}

/** Random page-session id: 22 base64url characters. */
export function newSid(rand) {
  const a = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";
  let s = "";
  for (let i = 0; i < 22; i++) s += a[rand() & 63];
  return s;
}
