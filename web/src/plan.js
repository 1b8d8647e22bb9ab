// The copy plan preview's decisions about what to ask ferry-core's planCopy
// and how to read its answer; ferry-core decides the plan itself.

/** What each transit operation does to a blob, as the blobs table says it. */
export const OPERATION_TEXT = { keep: "copied as is", compress: "gzip-compressed (new digest)", decompress: "decompressed (new digest)" };

/**
 * planCopy's options for what the page shows: `isList` (the bytes are a
 * list), the chosen `selection` (a single image is always "all"), the
 * destination kind, the media type the source reported ("" for none), the
 * `platform` for "system", the chosen instance `digests` and `strip` for
 * "instances".
 */
export function planOptions({ isList, selection, destination, mediaType, platform, digests, strip }) {
  const chosen = isList ? selection : "all";
  const options = { destination: { kind: destination }, selection: chosen };
  if (mediaType) options.mediaType = mediaType;
  if (chosen === "system") options.platform = platform;
  if (chosen === "instances") {
    options.digests = digests;
    options.stripUnselected = strip;
  }
  return options;
}

/**
 * Asks `planCopy` (the wasm package's) for the plan, giving it the instance
 * manifests it names as missing for as long as `atHand(digests)` (digest →
 * manifest text) has more: nested lists first, then the instances under
 * them. Throws what planCopy throws.
 */
export function askPlan(planCopy, bytes, options, atHand) {
  const given = {};
  let answer = planCopy(bytes, options);
  while (answer.missing.length) {
    const more = atHand(answer.missing.filter((d) => !(d in given)));
    if (!Object.keys(more).length) break;
    Object.assign(given, more);
    answer = planCopy(bytes, options, given);
  }
  return answer;
}

/** One sentence for the top-level decision of a plan (`answer.top`, or nested when absent). */
export function planVerdict(top, options) {
  if (top.kind === "nested") return "The list names nested lists: their manifests are needed first.";
  if (top.kind === "image") return "Copies this one image.";
  if (top.kind === "instance") return `Copies entry ${top.choice.index} (the one ${options.platform} runs), not the list.`;
  const count = (what) => top.entries.filter((e) => e === what).length;
  return `Writes the list as ${top.listMediaType === top.conversion.selected ? "it is typed" : "a converted list"} (${top.conversion.selected}` +
    `${top.conversion.fallbacks.length ? `, then ${top.conversion.fallbacks.join(", ")}` : ""}): ` +
    `${count("copy")} entries copied, ${count("keep")} kept without their images, ` +
    `${count("drop")} dropped.` +
    (top.cannotModify ? ` It may not change: ${top.cannotModify}.` : "");
}

/** Blob digest → its transit operation, over every image of the answer. */
export function blobOperations(answer) {
  const ops = new Map();
  for (const img of answer.images) img.blobs.forEach((b, i) => ops.set(b.digest, img.operations[i]));
  return ops;
}

/**
 * The manifests written: the summary's once every instance is at hand,
 * until then one row per image planned so far (digest null when converted).
 */
export function plannedManifests(answer, top) {
  if (answer.summary) return answer.summary.manifests;
  return answer.images.map((i) => ({
    role: top.kind === "list" ? "instance" : "image", sourceDigest: i.sourceDigest, mediaType: i.conversion.preferred,
    digest: i.conversion.needsConversion ? null : i.sourceDigest, fallbacks: i.conversion.fallbacks,
  }));
}
