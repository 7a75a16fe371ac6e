import { test } from "node:test";
import assert from "node:assert/strict";
import { BUTTON, buttonCode } from "../src/events.js";

test("the three main DOM buttons map to wire codes, the others to none", () => {
  assert.equal(buttonCode(0), BUTTON.left);
  assert.equal(buttonCode(1), BUTTON.middle);
  assert.equal(buttonCode(2), BUTTON.right);
  for (const other of [-1, 3, 4, 5]) assert.equal(buttonCode(other), -1);
});
