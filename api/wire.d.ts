// The wire of ferry-api, in TypeScript: every answer of `call(op, bytes,
// args)` and the options the operations read. ferry-wasm's typings include
// this file as it is (wasm/src/lib.rs, `typescript_custom_section`), and
// ferry-api's tests/wire.rs checks it against the facade's answers to every
// operation over the conformance cases: a member renamed, added or dropped
// on one side only fails that test. Every member name of an answer is
// camelCase, except a document's own keys (`os.version`, `os.features`).

/** What `call(op, …)` answers under `ok`, for each operation. */
export interface Answers {
  digest: string;
  detectMediaType: string;
  inspect: Inspection;
  validate: ValidationReport;
  chooseInstance: Choice;
  convertList: Conversion;
  planImage: ImagePlan;
  planCopy: CopyPlanAnswer;
  detectArchiveFormat: ArchiveFormat;
  tarFiles: TarFiles;
  layerEntries: LayerEntries;
  parseReference: Reference;
}

/** What `call` answers when an operation fails (the other functions throw an `Error` with this `error` as its message). */
export interface CallError {
  error: string;
  /** `chooseInstance` only: why no entry fits, one verdict per entry. */
  explanation?: Verdict[];
}

/** What a file's first bytes are: a tar (its first header's checksum holds), compressed data, or neither (`""`). */
export type ArchiveFormat = "tar" | "gzip" | "zstd" | "xz" | "bzip2" | "";

/** One member of a tar as its headers spell it (pax and GNU long names already applied), for `tarFiles`. */
export interface TarMember {
  name: string;
  /** The header's type byte: 48 (`"0"`) for a regular file, 53 (`"5"`) a directory, 49 a hard link, 50 a symbolic link. */
  typeflag: number;
  /** The link target, for links. */
  linkname?: string;
}

/** A regular file of a tar: its normalised name, and the position among the members of the one holding its data (a link's target's). */
export interface TarFile {
  name: string;
  member: number;
}

/** The regular files of a tar, in archive order. */
export type TarFiles = TarFile[];

/** What one member of a layer means, by its name: its normalised path, and what it deletes when the layer is applied over the ones below (`error` instead for a name a safe applier refuses). */
export interface LayerEntry {
  path?: string;
  /** A whiteout (`DIR/.wh.NAME`): the path it deletes from the layers below. */
  whiteout?: string;
  /** An opaque-directory marker (`DIR/.wh..wh..opq`): the directory whose lower content is hidden (`""` the root). */
  opaque?: string;
  /** AUFS metadata (`.wh..wh.plnk/…`), which appliers skip. */
  aufs?: boolean;
  /** Why the name was refused (absolute, a `..` component, a whiteout of nothing), naming it. */
  error?: string;
}

/** One entry per member name, in order. */
export type LayerEntries = LayerEntry[];

/** How `parseReference` reads its text. */
export type ReferenceSyntax = "docker" | "normalized" | "docker-archive";

/** A docker reference, normalised (`busybox` is `docker.io/library/busybox`). */
export interface Reference {
  /** `domain/path`. */
  name: string;
  /** `host[:port]`; `docker.io` for Docker Hub. */
  domain: string;
  /** The repository path, `library/busybox`. */
  path: string;
  tag: string | null;
  digest: string | null;
  /** The whole reference: `name[:tag][@digest]`. */
  string: string;
  /** As Docker shows it: `busybox:latest`. */
  familiar: string;
}

/** The list formats `convertList` writes. */
export type ListFormat = "oci-index" | "docker-list";

/** A platform as lists and indexes describe it. */
export interface Platform {
  architecture: string;
  os: string;
  "os.version"?: string;
  "os.features"?: string[];
  variant?: string;
  /** Docker lists only. */
  features?: string[];
}

/** A reference to content by digest (the digest as the document wrote it). */
export interface Descriptor {
  mediaType: string;
  digest: string;
  size: number;
  urls?: string[];
  annotations?: Record<string, string>;
  artifactType?: string;
  /** Embedded content, base64 as written. */
  data?: string;
  platform?: Platform;
}

/** A layer, with whether schema 1 history marks it empty. */
export interface LayerInfo extends Descriptor {
  emptyLayer: boolean;
}

interface InspectionBase {
  /** The type the document was read as. */
  mediaType: string;
  /** The `mediaType` member as written, if any. */
  declaredMediaType: string | null;
  /** containers/image's guess from the bytes ("" when none fits). */
  detectedMediaType: string;
  /** The manifest digest; null when a signed schema 1 manifest's signatures are malformed (the reason is in `diagnostics`). */
  digest: string | null;
  /** Size of the document in bytes. */
  size: number;
  /** Problems that did not stop the summary (a missing digest); absent when there are none. */
  diagnostics?: Diagnostic[];
}

/** `inspect` of a single-image manifest. */
export interface ImageInspection extends InspectionBase {
  config: Descriptor;
  layers: LayerInfo[];
  /** Config plus layer sizes; null for schema 1, which records none. */
  totalSize: number | null;
  imageId?: string;
}

/** `inspect` of a Docker manifest list or OCI index. */
export interface ListInspection extends InspectionBase {
  manifests: Descriptor[];
  annotations?: Record<string, string>;
}

export type Inspection = ImageInspection | ListInspection;

/** One finding of `validate`. */
export interface Diagnostic {
  /** JSON pointer of the offending value ("" for the whole document). */
  pointer: string;
  severity: "warning" | "error";
  message: string;
}

export interface ValidationReport {
  declaredMediaType: string | null;
  detectedMediaType: string;
  diagnostics: Diagnostic[];
  /** No errors (warnings allowed). */
  valid: boolean;
}

/** Extensions to containers/image's platform choice; all off by default. */
export interface ChooseOptions {
  /** The wanted platform's os.version (Windows builds). */
  osVersion?: string;
  /** Prefer gzip over zstd-annotated instances among equals. */
  preferGzip?: boolean;
  /** amd64/v3 accepts v3, v2, v1 (best first). */
  amd64Levels?: boolean;
  /** With osVersion: only entries of the same Windows build match. */
  windowsOsVersion?: boolean;
  /** Never choose attestation entries. */
  skipAttestations?: boolean;
}

/** Why one list entry was or was not acceptable. */
export interface Verdict {
  index: number;
  digest: string;
  /** `os/arch[/variant]`, or null when the entry has no platform. */
  platform: string | null;
  accepted: boolean;
  /** The ladder rung it matched (0 is best). */
  rank: number | null;
  chosen: boolean;
  reason: string;
}

export interface Choice {
  /** The chosen entry's digest. */
  digest: string;
  /** Its position in the list. */
  index: number;
  /** One verdict per entry, in list order. */
  explanation: Verdict[];
}

/** The Error `chooseInstance` throws when no entry fits. */
export interface NoMatchError extends Error {
  explanation: Verdict[];
}

export interface ConvertOptions {
  /** OCI → Docker: the platform (`os/arch[/variant]`) for entries without one. */
  defaultPlatform?: string;
}

/** A value a conversion dropped or filled in. */
export interface Loss {
  /** JSON pointer in the source document. */
  pointer: string;
  kind: "dropped" | "defaulted";
  detail: string;
}

export interface Conversion {
  mediaType: string;
  digest: string;
  /** Length of the converted list in bytes (UTF-8). */
  size: number;
  /** The converted list's text; the input's own text when nothing changed. */
  manifest: string;
  losses: Loss[];
}

/** The destination transports `kind` stands for. */
export type DestinationKind = "dir" | "oci" | "oci-archive" | "docker-archive" | "docker";

export interface PlanOptions {
  /** The type the source reports; guessed from the bytes when absent. */
  mediaType?: string;
  hasSignatures?: boolean;
  destination?: {
    /** What that transport declares (instead of supportedTypes and layerCompression). */
    kind?: DestinationKind;
    /** Accepted manifest types, preferred first; empty means any. */
    supportedTypes?: string[];
    /** How the destination wants layers stored. */
    layerCompression?: "preserve" | "compress" | "decompress";
    /** The digest the destination reference names, if any. */
    referenceDigest?: string;
  };
  /** Force this manifest type (`--format`). */
  format?: string;
  removeSignatures?: boolean;
  preserveDigests?: boolean;
}

export interface BlobNeed {
  digest: string;
  /** -1 when unknown (schema 1). */
  size: number;
  mediaType: string;
  config: boolean;
  emptyLayer: boolean;
}

export interface ImagePlan {
  sourceDigest: string;
  sourceMediaType: string;
  conversion: {
    preferred: string;
    needsConversion: boolean;
    fallbacks: string[];
  };
  cannotModify:
    | "WouldInvalidateSignatures"
    | "DestinationSpecifiesDigest"
    | "PreserveDigests"
    | null;
  needsDiffIds: boolean;
  blobs: BlobNeed[];
  /** What happens to each of `blobs` in transit. */
  operations: ("keep" | "compress" | "decompress" | "recompress")[];
  /** For a compression twin (`addCompression`): the format its layers are forced into; it follows the image it twins. */
  twin?: "gzip" | "zstd";
}

/** `planCopy`'s options: `planImage`'s, plus which images of a list to copy. */
export interface CopyPlanOptions extends PlanOptions {
  /** `system`: the one instance `platform` runs; `all`; `instances`: those in `digests` and those `platforms` choose (none: the list only). */
  selection?: "system" | "all" | "instances";
  platform?: string;
  digests?: string[];
  /** With `instances`: the instance each of these runs (`os/arch[/variant]`), as `ferry copy --platform` lists. */
  platforms?: string[];
  /** Digests of the instances that carry signatures: they may not be modified. */
  signedInstances?: string[];
  /** Drop unselected entries from the list (`--strip-removed-platforms`). */
  stripUnselected?: boolean;
  /**
   * `--add-compression`: with `selection` `all` of a list, every image gets a
   * twin with its layers in each of these formats, unless its platform already
   * has an instance in that format (planned as `ferry copy --dry-run` plans it).
   */
  addCompression?: ("gzip" | "zstd")[];
}

export type TopPlan =
  | { kind: "image" }
  | { kind: "instance"; listDigest: string; choice: Choice }
  | {
      kind: "list";
      listMediaType: string;
      /** Per entry, in list order. */
      entries: ("copy" | "keep" | "drop")[];
      conversion: { selected: string; fallbacks: string[] };
      cannotModify: ImagePlan["cannotModify"];
      /** The lists nested in it that are written, in writing order (each before the lists naming it). */
      nested: {
        digest: string;
        listMediaType: string;
        entries: ("copy" | "keep" | "drop")[];
        conversion: { selected: string; fallbacks: string[] };
        cannotModify: ImagePlan["cannotModify"];
      }[];
    };

/** `ferry copy --dry-run`'s summary. */
export interface CopyPlan {
  manifests: {
    /** `list`: the top-level list, or a list nested in it (nested lists come first); `zstd-twin`, `gzip-twin`: a compression twin (`addCompression`), after the instance it twins. */
    role: "image" | "instance" | "list" | "zstd-twin" | "gzip-twin";
    sourceDigest: string;
    mediaType: string;
    /** Known when the manifest is written unchanged. */
    digest: string | null;
    fallbacks: string[];
  }[];
  /**
   * Largest first. `operation`, absent when the blob is kept as it is: what
   * its media type predicts happens to it on the way (the copy decides from
   * its first bytes).
   */
  blobs: {
    digest: string;
    size: number;
    mediaType: string;
    usedBy: string[];
    skip: boolean;
    operation?: "compress" | "decompress" | "recompress";
  }[];
  bytesToCopy: number;
  bytesSkipped: number;
  sizesIncomplete: boolean;
  listEntries: ("copy" | "keep" | "drop")[];
  registryRequests: number;
}

export interface CopyPlanAnswer {
  /** `null` while a nested list is missing (then `missing` names the nested lists). */
  top: TopPlan | null;
  /** In copy order, for the images whose manifests were at hand. */
  images: ImagePlan[];
  /** Instances to copy (or nested lists to read) whose manifests were not given. */
  missing: string[];
  /** Once nothing is missing. */
  summary: CopyPlan | null;
}
