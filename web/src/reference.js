// Registry references as people type them, read by ferry-core's docker
// reference grammar (the wasm package's parseReference), so the page
// accepts and refuses exactly what `ferry copy docker://…` does.

/**
 * `{ reference: "docker://…", label }` for what a person typed (the
 * `docker://` prefix is optional): the reference normalised as Docker
 * normalises it, and its familiar form to show. `parseReference` is the wasm
 * package's; it throws an Error with ferry-core's message for text that is
 * not a reference, and so does this.
 */
export function registryReference(text, parseReference) {
  const typed = text.trim().replace(/^docker:\/\//, "");
  if (!typed) throw new Error("Enter a registry reference such as localhost:5000/repository:tag.");
  const r = parseReference(typed);
  return { reference: "docker://" + r.string, label: r.familiar };
}
