// A config's history beside the manifest's layers.

/**
 * Lines the config's history up with the manifest's layers: each history
 * entry without `empty_layer` created the next layer, in order. Returns the
 * rows ({ step, entry, layer }: layer null for an empty_layer entry, -1 when
 * the manifest has no more layers; step and entry null for a layer without
 * an entry) and the count mismatches, which make the pairing unreliable.
 */
export function historyRows(config, layers) {
  const history = Array.isArray(config?.history) ? config.history : [];
  const rows = [];
  const problems = [];
  let next = 0;
  history.forEach((entry, step) => {
    const empty = entry?.empty_layer === true;
    rows.push({ step, entry, layer: empty ? null : (next < layers.length ? next : -1) });
    if (!empty) next++;
  });
  for (; next < layers.length; next++) rows.push({ step: null, entry: null, layer: next });
  const creating = history.filter((e) => e?.empty_layer !== true).length;
  if (creating !== layers.length) {
    problems.push(`The config's history has ${creating} entr${creating === 1 ? "y" : "ies"} that created a layer ` +
      `(${history.length} in all), but the manifest has ${layers.length} layer${layers.length === 1 ? "" : "s"}: the pairing below is unreliable.`);
  }
  const diffIds = config?.rootfs?.diff_ids;
  if (Array.isArray(diffIds) && diffIds.length !== layers.length) {
    problems.push(`The config's rootfs.diff_ids has ${diffIds.length} entr${diffIds.length === 1 ? "y" : "ies"}, but the manifest has ${layers.length} layer${layers.length === 1 ? "" : "s"}.`);
  }
  return { rows, problems };
}
