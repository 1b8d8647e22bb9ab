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
//! The TypeScript interfaces of the results are ferry-api's `wire.d.ts`,
//! included below as a custom section; ferry-api's tests check that file
//! against the answers, so it cannot drift from the Rust types.

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

/// The manifest digest (`sha256:…`), as containers/image's
/// `manifest.Digest` computes it: the sha256 of any bytes (JSON or not),
/// or of the signed payload for signed Docker schema 1. Throws only for a
/// signed schema 1 manifest whose signatures are malformed; `validate` is
/// the strict check.
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

/// What a file's first bytes (512 or more to tell a tar) are: `"tar"`
/// when they start with a tar header whose checksum holds, else the
/// compression their magic bytes name (`"gzip"`, `"zstd"`, `"xz"`,
/// `"bzip2"`), else `""`.
#[wasm_bindgen(js_name = detectArchiveFormat, unchecked_return_type = "ArchiveFormat")]
pub fn detect_archive_format(bytes: &[u8]) -> Result<JsValue, JsValue> {
    run("detectArchiveFormat", bytes, &[])
}

/// The regular files of a tar, in archive order, from its members as the
/// headers spell them: names normalised, links followed inside the
/// archive. Throws, naming the member, for what a safe reader refuses
/// (escaping names or links, duplicates, devices, link loops, …).
#[wasm_bindgen(js_name = tarFiles, unchecked_return_type = "TarFiles")]
pub fn tar_files(
    #[wasm_bindgen(unchecked_param_type = "TarMember[]")] members: JsValue,
) -> Result<JsValue, JsValue> {
    let text = JSON::stringify(&members)?.as_string().unwrap_or_default();
    run("tarFiles", text.as_bytes(), &[])
}

/// What each member of a layer means, by its name as the headers spell
/// it: the normalised path, and whether it is a whiteout (with the path it
/// deletes), an opaque-directory marker or AUFS metadata; a refused name
/// (absolute, `..`) answers `{ error }` alone, the others are still read.
#[wasm_bindgen(js_name = layerEntries, unchecked_return_type = "LayerEntries")]
pub fn layer_entries(
    #[wasm_bindgen(unchecked_param_type = "string[]")] names: JsValue,
) -> Result<JsValue, JsValue> {
    let text = JSON::stringify(&names)?.as_string().unwrap_or_default();
    run("layerEntries", text.as_bytes(), &[])
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

/// The TypeScript of every answer and option: ferry-api's wire, checked
/// against the facade's answers by ferry-api's tests/wire.rs.
#[wasm_bindgen(typescript_custom_section)]
const TYPES: &str = include_str!("../../api/wire.d.ts");
