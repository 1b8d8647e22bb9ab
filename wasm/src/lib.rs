//! ferry-wasm: ferry-core for JavaScript, through wasm-bindgen.
//!
//! Every function here is marshalling only: it turns its JavaScript
//! arguments into the JSON arguments of [`ferry_api::call`], calls it,
//! and turns the JSON answer into a plain object (or throws an `Error`
//! carrying the core's message). Going through the same JSON facade as the
//! native parity runner is what makes "wasm answers like native" a string
//! comparison; [`call`] exposes that facade itself.
//!
//! Bytes come in as `Uint8Array` (copied into the module's memory); results
//! are parsed with the host's `JSON.parse`, so sizes above 2^53 lose
//! precision as any JSON number does in JavaScript. `call` returns the
//! exact text when that matters.
//!
//! The TypeScript interfaces of the results are in the custom section
//! below; keep them in step with the `serde` forms in ferry-core.

use js_sys::{Error, JSON, Object, Reflect};
use wasm_bindgen::prelude::*;

/// The JSON facade itself: `call(op, bytes, argsJson)` answers
/// `{"ok":…}` or `{"error":"…"}` as text, byte for byte what native
/// ferry-core answers. See `ferry_api` for the operations.
#[wasm_bindgen(js_name = call)]
pub fn call(op: &str, bytes: &[u8], #[wasm_bindgen(js_name = argsJson)] args_json: &str) -> String {
    ferry_api::call(op, bytes, args_json)
}

#[wasm_bindgen]
extern "C" {
    /// `ChooseOptions` in TypeScript.
    #[wasm_bindgen(typescript_type = "ChooseOptions")]
    #[derive(Debug)]
    pub type ChooseOptions;
    /// `ConvertOptions` in TypeScript.
    #[wasm_bindgen(typescript_type = "ConvertOptions")]
    #[derive(Debug)]
    pub type ConvertOptions;
    /// `PlanOptions` in TypeScript.
    #[wasm_bindgen(typescript_type = "PlanOptions")]
    #[derive(Debug)]
    pub type PlanOptions;
    /// `CopyPlanOptions` in TypeScript.
    #[wasm_bindgen(typescript_type = "CopyPlanOptions")]
    #[derive(Debug)]
    pub type CopyPlanOptions;
    /// `Record<string, string>` in TypeScript: instance digest → manifest text.
    #[wasm_bindgen(typescript_type = "Record<string, string>")]
    #[derive(Debug)]
    pub type InstanceManifests;
}

/// The manifest digest (`sha256:…`): of the bytes, or of the signed
/// payload for signed Docker schema 1. Throws for input that is not JSON.
#[wasm_bindgen(js_name = digest, unchecked_return_type = "string")]
pub fn digest(bytes: &[u8]) -> Result<JsValue, JsValue> {
    run("digest", bytes, &[])
}

/// The manifest type containers/image guesses from the bytes; `""` when
/// nothing fits.
#[wasm_bindgen(js_name = detectMediaType, unchecked_return_type = "string")]
pub fn detect_media_type(bytes: &[u8]) -> Result<JsValue, JsValue> {
    run("detectMediaType", bytes, &[])
}

/// Media types, digest, config and layers of a manifest, or the entries
/// of a list. `mediaType` reads the document as that type.
#[wasm_bindgen(js_name = inspect, unchecked_return_type = "Inspection")]
pub fn inspect(
    bytes: &[u8],
    #[wasm_bindgen(js_name = mediaType)] media_type: Option<String>,
) -> Result<JsValue, JsValue> {
    let media_type = media_type.map_or(JsValue::UNDEFINED, |t| JsValue::from_str(&t));
    run("inspect", bytes, &[("mediaType", &media_type)])
}

/// Every problem in a manifest or list, each with a JSON pointer. Never
/// throws for a bad document: an invalid one has `valid: false`.
#[wasm_bindgen(js_name = validate, unchecked_return_type = "ValidationReport")]
pub fn validate(bytes: &[u8]) -> Result<JsValue, JsValue> {
    run("validate", bytes, &[])
}

/// The list entry `platform` (`os/arch[/variant]`) would run, with a
/// verdict per entry. Throws when nothing fits; the `Error` then has an
/// `explanation` with the verdicts.
#[wasm_bindgen(js_name = chooseInstance, unchecked_return_type = "Choice")]
pub fn choose_instance(
    bytes: &[u8],
    platform: &str,
    options: Option<ChooseOptions>,
) -> Result<JsValue, JsValue> {
    let options = options.map_or(JsValue::UNDEFINED, JsValue::from);
    run(
        "chooseInstance",
        bytes,
        &[
            ("platform", &JsValue::from_str(platform)),
            ("options", &options),
        ],
    )
}

/// The list converted to `to` (`"oci-index"` or `"docker-list"`), with
/// every value the conversion dropped or filled in.
#[wasm_bindgen(js_name = convertList, unchecked_return_type = "Conversion")]
pub fn convert_list(
    bytes: &[u8],
    #[wasm_bindgen(unchecked_param_type = "ListFormat")] to: &str,
    options: Option<ConvertOptions>,
) -> Result<JsValue, JsValue> {
    let options = options.map_or(JsValue::UNDEFINED, JsValue::from);
    run(
        "convertList",
        bytes,
        &[("to", &JsValue::from_str(to)), ("options", &options)],
    )
}

/// How copying this image manifest would go: the manifest type to write
/// and its fallbacks, whether it may change, and the blobs it needs.
#[wasm_bindgen(js_name = planImage, unchecked_return_type = "ImagePlan")]
pub fn plan_image(bytes: &[u8], options: Option<PlanOptions>) -> Result<JsValue, JsValue> {
    let options = options.map_or(JsValue::UNDEFINED, JsValue::from);
    run("planImage", bytes, &[("options", &options)])
}

/// How copying this manifest or list would go, as `ferry copy --dry-run`
/// plans it: the top-level decision for the selection, a plan per image
/// whose manifest is at hand (`instances`: digest → manifest text), the
/// instances still `missing`, and the summary once none is.
#[wasm_bindgen(js_name = planCopy, unchecked_return_type = "CopyPlanAnswer")]
pub fn plan_copy(
    bytes: &[u8],
    options: Option<CopyPlanOptions>,
    instances: Option<InstanceManifests>,
) -> Result<JsValue, JsValue> {
    let options = options.map_or(JsValue::UNDEFINED, JsValue::from);
    let instances = instances.map_or(JsValue::UNDEFINED, JsValue::from);
    run(
        "planCopy",
        bytes,
        &[("options", &options), ("instances", &instances)],
    )
}

/// A docker reference read with `syntax` (`"docker"`, the default: what
/// follows `docker://`; `"normalized"`; `"docker-archive"`): its parts,
/// normalised as Docker does. Throws for text that is not a reference.
#[wasm_bindgen(js_name = parseReference, unchecked_return_type = "Reference")]
pub fn parse_reference(
    text: &str,
    #[wasm_bindgen(unchecked_param_type = "ReferenceSyntax")] syntax: Option<String>,
) -> Result<JsValue, JsValue> {
    let syntax = syntax.map_or(JsValue::UNDEFINED, |s| JsValue::from_str(&s));
    run("parseReference", text.as_bytes(), &[("syntax", &syntax)])
}

/// Calls the facade with `args` (members whose value is `undefined` are
/// left out, as `JSON.stringify` leaves them out) and unwraps the answer.
fn run(op: &str, bytes: &[u8], args: &[(&str, &JsValue)]) -> Result<JsValue, JsValue> {
    let object = Object::new();
    for (name, value) in args {
        Reflect::set(&object, &JsValue::from_str(name), value)?;
    }
    let args_json = JSON::stringify(&object)?.as_string().unwrap_or_default();
    let answer = JSON::parse(&ferry_api::call(op, bytes, &args_json))?;
    let message = Reflect::get(&answer, &JsValue::from_str("error"))?;
    if let Some(message) = message.as_string() {
        let error = Error::new(&message);
        let explanation = Reflect::get(&answer, &JsValue::from_str("explanation"))?;
        if !explanation.is_undefined() {
            Reflect::set(&error, &JsValue::from_str("explanation"), &explanation)?;
        }
        return Err(error.into());
    }
    Reflect::get(&answer, &JsValue::from_str("ok"))
}

#[wasm_bindgen(typescript_custom_section)]
const TYPES: &str = r#"
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
  /** The manifest digest. */
  digest: string;
  /** Size of the document in bytes. */
  size: number;
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
    needs_conversion: boolean;
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
  operations: ("keep" | "compress" | "decompress")[];
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
    /** `list`: the top-level list, or a list nested in it (nested lists come first). */
    role: "image" | "instance" | "list";
    sourceDigest: string;
    mediaType: string;
    /** Known when the manifest is written unchanged. */
    digest: string | null;
    fallbacks: string[];
  }[];
  /** Largest first. */
  blobs: { digest: string; size: number; mediaType: string; usedBy: string[]; skip: boolean }[];
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
"#;
