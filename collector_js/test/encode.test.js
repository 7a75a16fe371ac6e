import { test } from "node:test";
import assert from "node:assert/strict";
import { BatchBuilder, newSid, toWire } from "../src/encode.js";

test("events are columnar with dt relative to the previous event", () => {
  const b = new BatchBuilder(1000);
  b.push(1005, 10, 20, 0, 0);
  b.push(1013.333, 11.5, 21.25, 0, 0);
  b.push(1020, 12, 22, 1, 1);
  assert.deepEqual(b.ev, { dt: [5, 8.33, 6.67], x: [10, 11.5, 12], y: [20, 21.25, 22],
                           k: [0, 0, 1], b: [0, 0, 1] });
  assert.equal(b.length, 3);
});

test("an event older than the previous one gets dt 0, never negative", () => {
  const b = new BatchBuilder(0);
  b.push(10, 0, 0, 0, 0);
  b.push(7, 1, 1, 0, 0);
  b.push(12, 2, 2, 0, 0);
  assert.deepEqual(b.ev.dt, [10, 0, 2]);
});

test("byte estimate grows with events and bounds the real JSON size", () => {
  const b = new BatchBuilder(0);
  for (let i = 0; i < 500; i++) b.push(i * 8.25, 100 + i * 0.37, 200 - i * 0.11, 0, 0);
  const real = JSON.stringify(b.ev).length;
  assert.ok(b.bytes >= real * 0.9 && b.bytes <= real * 1.5, `${b.bytes} vs ${real}`);
});

test("toWire builds a v1 batch with t0 on the epoch clock", () => {
  const b = new BatchBuilder(250);
  b.push(260, 1, 2, 0, 0);
  const meta = { site: "demo", token: "t.s", sid: "abcdefgh12", path: "/p", vp: [800, 600],
                 scr: [1920, 1080], dpr: 2, origin: 1.7e12 };
  const w = toWire(b, meta, 3, true);
  assert.equal(w.v, 1);
  assert.equal(w.seq, 3);
  assert.equal(w.final, true);
  assert.equal(w.t0, 1.7e12 + 250);
  assert.deepEqual(Object.keys(w).sort(),
    ["dpr", "ev", "final", "path", "pt", "scr", "seq", "sid", "site", "smp", "t0", "token", "v",
     "vp"]);
  assert.equal(w.pt, "mouse");
  assert.deepEqual(w.smp, { src: "move", n: 0, c: 0, g: 0, gms: 0 });
});

test("a batch names its pointer type and sampling source, gaps rounded like times", () => {
  const b = new BatchBuilder(0, 2, 0);
  Object.assign(b.smp, { n: 3, c: 12, g: 11, gms: 10.123456 });
  const w = toWire(b, { origin: 0 }, 0, false);
  assert.equal(w.pt, "touch");
  assert.deepEqual(w.smp, { src: "raw", n: 3, c: 12, g: 11, gms: 10.12 });
});

test("session ids are 22 base64url characters", () => {
  let i = 0;
  const sid = newSid(() => i++ * 7);
  assert.match(sid, /^[A-Za-z0-9_-]{22}$/);
});
