// Pure helpers for bytes and text: base64url (manifests in links), sizes
// as people read them, JSON pointers.

/** Decodes UTF-8 as the text box shows it (invalid sequences replaced). */
export const decoder = new TextDecoder("utf-8", { fatal: false });

/** base64url without padding, as links carry exact bytes. */
export function toBase64url(bytes) {
  let s = "";
  for (let i = 0; i < bytes.length; i += 0x8000) s += String.fromCharCode(...bytes.subarray(i, i + 0x8000));
  return btoa(s).replace(/\+/g, "-").replace(/\//g, "_").replace(/=+$/, "");
}

/** The bytes of base64url text (padding optional); throws for what is not base64. */
export function fromBase64url(text) {
  const b = atob(text.replace(/-/g, "+").replace(/_/g, "/"));
  const out = new Uint8Array(b.length);
  for (let i = 0; i < b.length; i++) out[i] = b.charCodeAt(i);
  return out;
}

/** Digits grouped by thousands (one formatter: `toLocaleString` makes a new one per call). */
const GROUPED = new Intl.NumberFormat("en-US");

/** A byte count: exact below 1 KiB, otherwise in binary units with the exact count beside. */
export function formatSize(n) {
  if (n === null || n === undefined || n < 0) return "unknown";
  const exact = `${GROUPED.format(n)} B`;
  if (n < 1024) return exact;
  const units = ["KiB", "MiB", "GiB", "TiB"];
  let v = n, u = -1;
  while (v >= 1024 && u < units.length - 1) { v /= 1024; u++; }
  return `${v.toFixed(1)} ${units[u]} (${exact})`;
}

/** Resolves a JSON pointer against a parsed document; undefined when absent. */
export function atPointer(doc, pointer) {
  if (pointer === "") return doc;
  let cur = doc;
  for (const raw of pointer.split("/").slice(1)) {
    const key = raw.replace(/~1/g, "/").replace(/~0/g, "~");
    if (cur === null || typeof cur !== "object" || !(key in cur)) return undefined;
    cur = cur[key];
  }
  return cur;
}

/** Standard OCI annotation keys (image-spec annotations.md), briefly. */
export const OCI_ANNOTATIONS = {
  "org.opencontainers.image.created": "when the image was built (RFC 3339 date-time)",
  "org.opencontainers.image.authors": "who to contact about the image",
  "org.opencontainers.image.url": "where to find more about the image",
  "org.opencontainers.image.documentation": "where its documentation is",
  "org.opencontainers.image.source": "where the source it was built from is",
  "org.opencontainers.image.version": "the packaged software's version",
  "org.opencontainers.image.revision": "the source control revision it was built from",
  "org.opencontainers.image.vendor": "who distributes the image",
  "org.opencontainers.image.licenses": "its licenses, as an SPDX expression",
  "org.opencontainers.image.ref.name": "the name of this reference (e.g. a tag in an OCI layout)",
  "org.opencontainers.image.title": "a human-readable title",
  "org.opencontainers.image.description": "a human-readable description",
  "org.opencontainers.image.base.digest": "the digest of the image this one is based on",
  "org.opencontainers.image.base.name": "the reference of the image this one is based on",
  "vnd.docker.reference.type": "Docker BuildKit: what this entry is (e.g. attestation-manifest)",
  "vnd.docker.reference.digest": "Docker BuildKit: the image this attestation describes",
};

/** Media types of manifests, configs and layers, briefly (shown on hover). */
export const MEDIA_TYPES = {
  "application/vnd.oci.image.index.v1+json": "OCI image index: a list of manifests, usually one per platform",
  "application/vnd.oci.image.manifest.v1+json": "OCI image manifest: one image's config and layers",
  "application/vnd.oci.image.config.v1+json": "OCI image config: the runtime settings, history and layer diff IDs",
  "application/vnd.oci.image.layer.v1.tar": "OCI layer: an uncompressed tar of filesystem changes",
  "application/vnd.oci.image.layer.v1.tar+gzip": "OCI layer: a gzip-compressed tar of filesystem changes",
  "application/vnd.oci.image.layer.v1.tar+zstd": "OCI layer: a zstd-compressed tar of filesystem changes",
  "application/vnd.oci.image.layer.nondistributable.v1.tar+gzip": "OCI non-distributable layer (deprecated): a gzip tar that registries may not serve",
  "application/vnd.oci.empty.v1+json": "OCI empty descriptor: the two bytes {}, a placeholder",
  "application/vnd.docker.distribution.manifest.list.v2+json": "Docker manifest list: manifests, one per platform",
  "application/vnd.docker.distribution.manifest.v2+json": "Docker image manifest, schema 2: one image's config and layers",
  "application/vnd.docker.distribution.manifest.v1+json": "Docker image manifest, schema 1 (legacy, unsigned)",
  "application/vnd.docker.distribution.manifest.v1+prettyjws": "Docker image manifest, schema 1 (legacy), signed with a JWS",
  "application/vnd.docker.container.image.v1+json": "Docker image config: the runtime settings, history and layer diff IDs",
  "application/vnd.docker.image.rootfs.diff.tar.gzip": "Docker layer: a gzip-compressed tar of filesystem changes",
  "application/vnd.docker.image.rootfs.foreign.diff.tar.gzip": "Docker foreign layer: a gzip tar usually fetched from elsewhere (URLs)",
  "application/vnd.in-toto+json": "in-toto attestation (e.g. SLSA provenance, SBOM)",
  "application/vnd.dev.cosign.simplesigning.v1+json": "cosign simple-signing payload: what a sigstore signature signs",
  "application/vnd.dev.sigstore.bundle.v0.3+json": "sigstore bundle: a signature with its certificate and transparency log entry",
  "application/spdx+json": "SPDX software bill of materials",
  "application/vnd.cyclonedx+json": "CycloneDX software bill of materials",
};

/** Whether text is a digest ferry-core could name (`sha256:` + 64 hex, `sha512:` + 128). */
export function isDigest(text) {
  return /^(sha256:[0-9a-f]{64}|sha512:[0-9a-f]{128})$/.test(text);
}
