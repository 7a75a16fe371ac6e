// Bounded send queue with retry policy. Pure: the transport is injected, unit-tested in node.

/** Exponential backoff with full jitter: a random delay in [base*2^n / 2, base*2^n], capped. */
export function backoffMs(attempt, baseMs, capMs, rand) {
  const d = Math.min(capMs, baseMs * 2 ** attempt);
  return d / 2 + (rand() * d) / 2;
}

/** What to do with an HTTP answer: "done" (2xx), "drop" (4xx: never retried), "retry" (5xx). */
export function outcome(status) {
  if (status >= 200 && status < 300) return "done";
  if (status >= 400 && status < 500) return "drop";
  return "retry";
}

/**
 * Which of `bodies` (oldest first; the last is the newest, the page exit's `final` one) to
 * send now within `budget` bytes, the 64 KB that sendBeacon and keepalive fetch share per page:
 * the newest is kept first, then the others oldest first, each while it fits. Returns
 * [send, rest], both in their original order. Bodies are ASCII JSON: length = bytes.
 */
export function fit(bodies, budget) {
  const send = [];
  const rest = [];
  const last = bodies.length - 1;
  let left = budget - (last < 0 ? 0 : bodies[last].length);
  bodies.forEach((b, i) => {
    const ok = i === last ? left >= 0 : b.length <= left;
    if (ok && i < last) left -= b.length;
    (ok ? send : rest).push(b);
  });
  return [send, rest];
}

/**
 * Holds serialized batches until sent. When full the oldest batch is dropped and counted.
 * `send(body) -> Promise<status>` (a rejected promise or status 0 means a network error).
 * One request is in flight at a time so batches arrive in order.
 */
export class SendQueue {
  constructor({ send, maxItems = 32, baseMs = 500, capMs = 30000, maxAttempts = 8,
                rand = Math.random, setTimer = setTimeout }) {
    Object.assign(this, { send, maxItems, baseMs, capMs, maxAttempts, rand, setTimer });
    this.items = [];
    this.busy = false;
    this.attempt = 0;
    this.stats = { sent: 0, dropped: 0, rejected: 0, retries: 0, failed: 0 };
  }

  push(body) {
    this.items.push(body);
    while (this.items.length > this.maxItems) {
      this.items.shift();
      this.stats.dropped++;
    }
    this.pump();
  }

  /**
   * Remove and return everything still queued (for the exit flush by beacon), the batch whose
   * send is still unanswered included: it may yet fail, and no retry outlives the page, so it is
   * sent again (at-least-once; the sessionizer drops the copy by sequence number).
   */
  drain() {
    return this.items.splice(0);
  }

  async pump() {
    if (this.busy || !this.items.length) return;
    this.busy = true;
    const body = this.items[0];
    let status = 0;
    try {
      status = await this.send(body);
    } catch {
      status = 0;
    }
    const what = outcome(status || 599);
    if (this.items[0] === body) {
      if (what === "retry" && this.attempt + 1 < this.maxAttempts) {
        this.stats.retries++;
        const wait = backoffMs(this.attempt++, this.baseMs, this.capMs, this.rand);
        this.busy = false;
        this.setTimer(() => this.pump(), wait);
        return;
      }
      this.items.shift();
      this.attempt = 0;
      this.stats[what === "done" ? "sent" : what === "drop" ? "rejected" : "failed"]++;
    }
    this.busy = false;
    this.pump();
  }
}
