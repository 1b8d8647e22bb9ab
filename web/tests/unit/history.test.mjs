// A config's history lined up with the manifest's layers. Configs: ../fixtures/configs/.
import assert from "node:assert/strict";
import { readFileSync } from "node:fs";
import { dirname, join } from "node:path";
import { test } from "node:test";
import { fileURLToPath } from "node:url";

import { historyRows } from "../../src/history.js";

const configs = join(dirname(fileURLToPath(import.meta.url)), "..", "fixtures", "configs");
const config = (name) => JSON.parse(readFileSync(join(configs, name), "utf8"));
const layers = (n) => Array.from({ length: n }, (_, i) => ({ digest: `sha256:l${i}`, size: i }));

test("each entry without empty_layer created the next layer; empty_layer entries created none", () => {
  const { rows, problems } = historyRows(config("history-with-empty-layers.json"), layers(2));
  assert.deepEqual(rows.map((r) => [r.step, r.layer]), [[0, 0], [1, null], [2, 1]]);
  assert.equal(rows[0].entry.created_by, "ADD base.tar /");
  assert.deepEqual(problems, []);
});

test("layers beyond the history get rows of their own, and the mismatch is a problem", () => {
  const { rows, problems } = historyRows(config("history-short.json"), layers(3));
  assert.deepEqual(rows.map((r) => [r.step, r.entry === null, r.layer]), [[0, false, 0], [null, true, 1], [null, true, 2]]);
  assert.deepEqual(problems, [
    "The config's history has 1 entry that created a layer (1 in all), but the manifest has 3 layers: the pairing below is unreliable.",
    "The config's rootfs.diff_ids has 1 entry, but the manifest has 3 layers.",
  ]);
});

test("entries beyond the layers point at no layer (-1)", () => {
  const { rows, problems } = historyRows(config("history-with-empty-layers.json"), layers(1));
  assert.deepEqual(rows.map((r) => r.layer), [0, null, -1]);
  assert.equal(problems.length, 2);
});

test("a config without history pairs nothing and says so only when there are layers", () => {
  assert.deepEqual(historyRows({}, []), { rows: [], problems: [] });
  assert.equal(historyRows(null, layers(1)).problems.length, 1);
});
