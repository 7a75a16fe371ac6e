import { test } from "node:test";
import assert from "node:assert/strict";
import { SendQueue, backoffMs, fit, outcome } from "../src/queue.js";

const tick = () => new Promise((r) => setImmediate(r));

test("backoff doubles, is capped and jittered within [d/2, d]", () => {
  assert.equal(backoffMs(0, 500, 30000, () => 0), 250);
  assert.equal(backoffMs(0, 500, 30000, () => 1), 500);
  assert.equal(backoffMs(3, 500, 30000, () => 1), 4000);
  assert.equal(backoffMs(20, 500, 30000, () => 1), 30000);
  assert.equal(backoffMs(20, 500, 30000, () => 0), 15000);
});

test("outcome: 2xx done, 4xx dropped, 5xx and network errors retried", () => {
  assert.equal(outcome(202), "done");
  assert.equal(outcome(400), "drop");
  assert.equal(outcome(429), "drop");
  assert.equal(outcome(503), "retry");
  assert.equal(outcome(599), "retry");
});

test("bounded queue drops the oldest and counts drops", async () => {
  const sent = [];
  const q = new SendQueue({ send: async (b) => { sent.push(b); return 202; }, maxItems: 2 });
  q.busy = true; // hold the pump so items pile up
  q.push("a"); q.push("b"); q.push("c"); q.push("d");
  assert.deepEqual(q.items, ["c", "d"]);
  assert.equal(q.stats.dropped, 2);
  q.busy = false;
  q.pump();
  for (let i = 0; i < 5; i++) await tick();
  assert.deepEqual(sent, ["c", "d"]);
  assert.equal(q.stats.sent, 2);
});

test("5xx and network errors are retried with backoff, 4xx never", async () => {
  const answers = [503, "neterr", 202, 400];
  const calls = [];
  const delays = [];
  const q = new SendQueue({
    send: async (b) => {
      calls.push(b);
      const a = answers.shift();
      if (a === "neterr") throw new TypeError("Failed to fetch");
      return a;
    },
    rand: () => 1, baseMs: 100,
    setTimer: (fn, ms) => { delays.push(ms); setImmediate(fn); },
  });
  q.push("x");
  q.push("y");
  for (let i = 0; i < 20; i++) await tick();
  assert.deepEqual(calls, ["x", "x", "x", "y"]);
  assert.deepEqual(delays, [100, 200]);
  assert.deepEqual({ sent: q.stats.sent, rejected: q.stats.rejected, retries: q.stats.retries },
                   { sent: 1, rejected: 1, retries: 2 });
  assert.equal(q.items.length, 0);
});

test("gives up after maxAttempts and counts the failure", async () => {
  let n = 0;
  const q = new SendQueue({ send: async () => { n++; return 500; }, maxAttempts: 3,
                            setTimer: (fn) => setImmediate(fn) });
  q.push("z");
  for (let i = 0; i < 20; i++) await tick();
  assert.equal(n, 3);
  assert.equal(q.stats.failed, 1);
});

test("drain hands back everything queued", () => {
  const q = new SendQueue({ send: async () => 202 });
  q.busy = true;
  q.push("1"); q.push("2");
  assert.deepEqual(q.drain(), ["1", "2"]);
  assert.equal(q.items.length, 0);
});

test("fit: the newest body first, then the oldest ones while they fit", () => {
  const b = (n, c) => c.repeat(n);
  const [a1, a2, a3, last] = [b(30, "a"), b(50, "b"), b(10, "c"), b(20, "z")];
  // 90 bytes: the last (20) is kept, then a1 (30); a2 (50) does not fit; a3 (10) does
  assert.deepEqual(fit([a1, a2, a3, last], 90), [[a1, a3, last], [a2]]);
  assert.deepEqual(fit([a1, a2, a3, last], 1000), [[a1, a2, a3, last], []]);
  assert.deepEqual(fit([a1, last], 20), [[last], [a1]]);
  assert.deepEqual(fit([a1, last], 19), [[], [a1, last]]);
  assert.deepEqual(fit([], 10), [[], []]);
  const sent = fit([a1, a2, a3, last], 64)[0];
  assert.ok(sent.reduce((n, x) => n + x.length, 0) <= 64);
});
