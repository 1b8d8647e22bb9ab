// Talking to `ferry serve`: whether it hosts the page (GET api/info), its
// same-origin, read-only registry proxy (api/manifest, api/blob,
// api/layer), a manifest's referrers (api/referrers) and the policy's
// verdict for an image (api/verdict), both decided by ferry in Rust.
// `fetchFn` is the browser's fetch (or a stand-in); paths are relative to
// the page.

const text = new TextDecoder("utf-8", { fatal: false });

/** A client of ferry serve's API over `fetchFn`. */
export function createProxy(fetchFn) {
  /** GET api/PATH?ref=…[&digest=…]: the body's bytes and the media type ferry serve read. */
  async function get(path, ref, digest) {
    const q = new URLSearchParams({ ref });
    if (digest) q.set("digest", digest);
    const r = await fetchFn(`api/${path}?${q}`, { cache: "no-store" });
    const bytes = new Uint8Array(await r.arrayBuffer());
    if (!r.ok) {
      const what = digest ? `${ref} (${digest})` : ref;
      throw new Error(`Reading ${what} through ferry serve failed (${r.status}): ${text.decode(bytes).trim() || r.statusText}`);
    }
    return { bytes, mediaType: r.headers.get("X-Ferry-Media-Type") ?? "" };
  }

  return {
    /**
     * Whether the page's own server is ferry serve (a static host answers
     * 404 to api/info): `{ available, why }`, why saying what it answered.
     */
    async detect() {
      try {
        const r = await fetchFn("api/info", { cache: "no-store" });
        const info = r.ok ? await r.json().catch(() => null) : null;
        return {
          available: info?.server === "ferry serve",
          why: r.ok ? "it does not describe itself as ferry serve" : `it answered ${r.status} to api/info`,
        };
      } catch (e) {
        return { available: false, why: e.message };
      }
    },
    /** The manifest `ref` names, or its instance `digest`. */
    manifest: (ref, digest) => get("manifest", ref, digest),
    /** A blob (a config) of the repository `ref` names. */
    blob: (ref, digest) => get("blob", ref, digest),
    /** The referrers of the manifest `ref` names, or of its `digest`: ferry's listing (JSON, as `ferry inspect --referrers --json`). */
    referrers: async (ref, digest) => JSON.parse(text.decode((await get("referrers", ref, digest)).bytes)),
    /** The policy's verdict for the image `ref` names, and why (JSON, as `ferry verify --json`). */
    verdict: async (ref) => JSON.parse(text.decode((await get("verdict", ref)).bytes)),
    /** A layer of the repository `ref` names, as a stream of its bytes (any size; ferry serve verifies it as it goes). */
    async layer(ref, digest) {
      const r = await fetchFn(`api/layer?${new URLSearchParams({ ref, digest })}`, { cache: "no-store" });
      if (!r.ok) {
        const body = text.decode(new Uint8Array(await r.arrayBuffer())).trim();
        throw new Error(`Reading layer ${digest} of ${ref} through ferry serve failed (${r.status}): ${body || r.statusText}`);
      }
      return r.body;
    },
  };
}
