// The parity calls as any JavaScript runtime makes them (Node, workerd,
// Chromium): no Node APIs here, so the same file loads everywhere.

/** The raw `call` answers for every call on one case's bytes. */
export function answers(ferry, bytes, calls) {
  return calls.map(({ op, args }) => ferry.call(op, bytes, args));
}

/**
 * The same call through the package's friendly function: the parsed `ok`
 * value, or { error, explanation? } from the thrown Error.
 */
export function friendly(ferry, bytes, { op, args }) {
  const a = args === "" ? {} : JSON.parse(args);
  try {
    switch (op) {
      case "digest": return { ok: ferry.digest(bytes) };
      case "detectMediaType": return { ok: ferry.detectMediaType(bytes) };
      case "inspect": return { ok: ferry.inspect(bytes, a.mediaType) };
      case "validate": return { ok: ferry.validate(bytes) };
      case "chooseInstance": return { ok: ferry.chooseInstance(bytes, a.platform, a.options) };
      case "convertList": return { ok: ferry.convertList(bytes, a.to, a.options) };
      case "planImage": return { ok: ferry.planImage(bytes, a.options) };
      case "planCopy": return { ok: ferry.planCopy(bytes, a.options, a.instances) };
      case "detectArchiveFormat": return { ok: ferry.detectArchiveFormat(bytes) };
      default: throw new TypeError(`no friendly function for ${op}`);
    }
  } catch (e) {
    if (!(e instanceof Error)) throw new TypeError(`${op} threw a non-Error: ${e}`);
    return e.explanation === undefined ? { error: e.message } : { error: e.message, explanation: e.explanation };
  }
}

