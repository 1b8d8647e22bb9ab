//! ferry-api: one JSON-in, JSON-out entry point over ferry-core, for every
//! runtime.
//!
//! [`call`] takes an operation name, the document's bytes and the
//! operation's arguments as a JSON object, and answers with one line of
//! JSON: `{"ok":VALUE}` or `{"error":"MESSAGE"}`. The WebAssembly bindings
//! (browsers, Node, edge runtimes) and the native parity runner call this
//! same function, so every runtime answers with the same bytes, and the
//! parity suite can compare runtimes with a plain string comparison.
//!
//! This module decides nothing: each operation reads its arguments, calls
//! one core function and serializes what it returns (the core's own
//! `serde` forms). Errors carry the core's messages unchanged. The one
//! error with more than a message is a failed platform choice, which also
//! carries the per-entry explanation:
//! `{"error":"no image in the list for …","explanation":[…]}`.
//!
//! | operation | arguments | `ok` value |
//! |---|---|---|
//! | `digest` | none | the manifest digest (`sha256:…`) as containers/image's `manifest.Digest` computes it: of any bytes, or of the signed payload for signed schema 1 (an error when that cannot be recovered); `validate` is the strict check |
//! | `detectMediaType` | none | containers/image's guess, `""` when none fits |
//! | `inspect` | `mediaType`: read as this type (optional) | [`inspect::Inspection`] |
//! | `validate` | none | [`validate::Report`] plus `valid` |
//! | `chooseInstance` | `platform`: `os/arch[/variant]`; `options`: `osVersion`, `preferGzip`, `amd64Levels`, `windowsOsVersion`, `skipAttestations` | [`choose::Choice`] |
//! | `convertList` | `to`: `oci-index` or `docker-list`; `options`: `defaultPlatform` | `mediaType`, `digest`, `size`, `manifest` (the list's text), `losses` |
//! | `planImage` | `options`: `mediaType`, `hasSignatures`, `destination` (`kind` or `supportedTypes` and `layerCompression`; `referenceDigest`), `format`, `removeSignatures`, `preserveDigests` | [`plan::ImagePlan`] |
//! | `planCopy` | `options`: as `planImage`, plus `selection` (`system` with `platform`, `all`, or `instances` with `digests` and/or `platforms`, as `--platform` lists), `stripUnselected`, `signedInstances` (digests of instances that carry signatures) and `addCompression` (`gzip`, `zstd`: `--add-compression`'s twins, planned as `--dry-run` plans them); `instances`: instance (or nested list) digest → manifest text | `top` (with `nested`, the nested lists to write, for a list; `null` while a nested list is missing), `images`, `missing`, `summary` ([`plan::CopyPlan`], once nothing is missing) |
//! | `detectArchiveFormat` | none; the input is a file's first bytes (512 or more to tell a tar) | `tar`, the compression (`gzip`, `zstd`, `xz`, `bzip2`), or `""` |
//! | `tarFiles` | none; the input is a JSON array of an archive's members as its headers spell them, in order: `name`, `typeflag` (the type byte, a number), `linkname` | the regular files, in archive order: `name` (normalised, links followed) and `member` (the position in the input of the member with the data) |
//! | `layerEntries` | none; the input is a JSON array of a layer's member names as its headers spell them, in order | one per name: `path` (normalised) and, for a whiteout, `whiteout` (the path it deletes), for an opaque-directory marker, `opaque` (the directory, `""` the root), for AUFS metadata, `aufs: true`; a name refused (absolute, `..`, a whiteout of nothing) is `{"error": MESSAGE}` instead |
//! | `parseReference` | `syntax`: `docker` (default: what follows `docker://`, tagged `latest` when it has neither tag nor digest), `normalized` (no tag added) or `docker-archive` (a `NAME[:TAG]`, no digest); the input is the reference's text | [`reference::Named`]: `name`, `domain`, `path`, `tag`, `digest`, `string`, `familiar` |
//!
//! A destination `kind` (`dir`, `oci`, `oci-archive`, `docker-archive`,
//! `docker`) stands for what that transport declares about itself (the
//! manifest types it accepts and the layer compression it wants), so a
//! browser can plan a copy to it without knowing transports. `planCopy`
//! plans for a destination that has none of the blobs yet; instance
//! manifests in `instances` must match their digest, and those of
//! instances the copy does not need are ignored. A list whose entries are
//! lists is planned as `ferry copy` plans it: the nested lists come in
//! `instances` like images, and until all of them are there, `missing`
//! names the nested lists still needed (a second call then names the
//! images).
//!
//! Arguments are a JSON object (an empty string means `{}`; `null` members
//! count as absent). Member names are exact, and unknown or repeated ones
//! are refused, so a misspelt option fails loudly instead of being ignored.
//!
//! **The wire**: every member name of every answer is camelCase (the one
//! exception is a document's own keys that an answer repeats: a platform's
//! `os.version` and `os.features`, annotations). `wire.d.ts`, beside this
//! crate's `Cargo.toml`, declares every answer in TypeScript; the npm
//! package ships it, and `tests/wire.rs` checks it against the answers to
//! every operation over the conformance cases, key by key.

#![no_std]

extern crate alloc;

use alloc::collections::BTreeMap;
use alloc::string::{String, ToString};
use alloc::vec::Vec;

use serde::Serialize;

use ferry_core::choose::{self, ChooseOptions, Verdict};
use ferry_core::copy::{self, Copy, Need};
use ferry_core::destination::{Capabilities, Kind};
use ferry_core::json::{self, Object, Value};
use ferry_core::list::{ConvertOptions, ListKind, Loss};
use ferry_core::plan::{self, CopyOptions, ImageContext, Selection, Unselected, compression};
use ferry_core::platform::Platform;
use ferry_core::reference::{self, Named};
use ferry_core::{List, inspect, manifest, tar, validate};

/// The operations [`call`] knows, in the order the table above lists them.
pub const OPERATIONS: [&str; 12] = [
    "digest",
    "detectMediaType",
    "inspect",
    "validate",
    "chooseInstance",
    "convertList",
    "planImage",
    "planCopy",
    "detectArchiveFormat",
    "tarFiles",
    "layerEntries",
    "parseReference",
];

/// Runs `op` on `input` with `args_json`, answering `{"ok":…}` or
/// `{"error":"…"}` as compact JSON. Never panics.
pub fn call(op: &str, input: &[u8], args_json: &str) -> String {
    let answer = match op {
        "digest" => with_args(op, args_json, |a| digest(input, a)),
        "detectMediaType" => with_args(op, args_json, |a| detect_media_type(input, a)),
        "inspect" => with_args(op, args_json, |a| inspect(input, a)),
        "validate" => with_args(op, args_json, |a| validate(input, a)),
        "chooseInstance" => with_args(op, args_json, |a| choose_instance(input, a)),
        "convertList" => with_args(op, args_json, |a| convert_list(input, a)),
        "planImage" => with_args(op, args_json, |a| plan_image(input, a)),
        "planCopy" => with_args(op, args_json, |a| plan_copy(input, a)),
        "detectArchiveFormat" => with_args(op, args_json, |a| detect_archive_format(input, a)),
        "tarFiles" => with_args(op, args_json, |a| tar_files(input, a)),
        "layerEntries" => with_args(op, args_json, |a| layer_entries(input, a)),
        "parseReference" => with_args(op, args_json, |a| parse_reference(input, a)),
        _ => Err(Failure::message(alloc::format!(
            "unknown operation {op} (expected one of {})",
            ferry_core::join(&OPERATIONS, ", "),
            op = ferry_core::Quoted(op)
        ))),
    };
    match answer {
        Ok(json) => {
            let mut out = String::with_capacity(json.len() + 7);
            out.push_str("{\"ok\":");
            out.push_str(&json);
            out.push('}');
            out
        }
        Err(failure) => to_json(&failure),
    }
}

/// The `error` side of an answer.
#[derive(Debug, Serialize)]
struct Failure {
    error: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    explanation: Option<Vec<Verdict>>,
}

impl Failure {
    fn message(error: impl core::fmt::Display) -> Self {
        Self::text(&error)
    }

    /// [`Failure::message`]'s body, once: a `to_string` per error type
    /// would cost the npm module a formatting routine for each.
    #[inline(never)]
    fn text(error: &dyn core::fmt::Display) -> Self {
        Failure {
            error: alloc::format!("{error}"),
            explanation: None,
        }
    }
}

/// An answer: the `ok` value already serialized, or the failure.
type Answer = Result<String, Failure>;

fn ok<T: Serialize>(value: T) -> Answer {
    Ok(to_json(&value))
}

/// Serializes one of the core's values. The core's types serialize as
/// structs, sequences, strings, numbers and string-keyed maps, none of
/// which can fail; the fallback keeps [`call`] free of panics regardless.
fn to_json<T: Serialize>(value: &T) -> String {
    serde_json::to_string(value).unwrap_or_else(serialization_failed)
}

/// The fallback of [`to_json`], once for every type it serializes.
/// serde_json fails only on a map key that is not a string or on a
/// `Serialize` impl's own error, and the core's types have neither, so the
/// message names no cause: formatting serde_json's error would keep its
/// messages in the npm module.
#[inline(never)]
fn serialization_failed(_: serde_json::Error) -> String {
    "{\"error\":\"cannot serialize the answer\"}".to_string()
}

/// A JSON object of arguments, read strictly: exact member names, no
/// duplicates, nothing unknown. Read with the core's own JSON reader, so the
/// module carries no second JSON parser.
struct Args<'a> {
    op: &'a str,
    /// Where this object sits in the arguments, for messages (`options.`).
    at: &'static str,
    object: &'a Object,
}

impl<'a> Args<'a> {
    fn fail(&self, what: impl core::fmt::Display) -> Failure {
        Failure::message(alloc::format!("invalid arguments for {}: {what}", self.op))
    }

    /// Refuses members other than `known`, and repeated ones. Kept out of
    /// line: inlined into every operation it would cost the npm module a
    /// copy of its messages each time.
    #[inline(never)]
    fn only(self, known: &[&str]) -> Result<Self, Failure> {
        for (i, m) in self.object.members.iter().enumerate() {
            if !known.contains(&m.key.as_str()) {
                return Err(self.fail(alloc::format!(
                    "unknown member \"{}{}\" (expected {})",
                    self.at,
                    m.key,
                    if known.is_empty() {
                        "none".to_string()
                    } else {
                        ferry_core::join(known, ", ")
                    }
                )));
            }
            if self.object.members[..i].iter().any(|p| p.key == m.key) {
                return Err(self.fail(alloc::format!(
                    "member \"{}{}\" appears twice",
                    self.at,
                    m.key
                )));
            }
        }
        Ok(self)
    }

    fn value(&self, name: &str) -> Option<&'a Value> {
        match self.object.get_exact(name) {
            None | Some(Value::Null) => None,
            Some(v) => Some(v),
        }
    }

    fn wrong_type(&self, name: &str, expected: &str) -> Failure {
        self.fail(alloc::format!("\"{}{name}\" must be {expected}", self.at))
    }

    fn string(&self, name: &str) -> Result<Option<String>, Failure> {
        Ok(self.string_value(name, self.value(name))?.cloned())
    }

    /// `value`, found for member `name`, as a string (`null` as absent).
    fn string_value(
        &self,
        name: &str,
        value: Option<&'a Value>,
    ) -> Result<Option<&'a String>, Failure> {
        match value {
            None | Some(Value::Null) => Ok(None),
            Some(Value::String(s)) => Ok(Some(s)),
            Some(_) => Err(self.wrong_type(name, "a string")),
        }
    }

    fn required_string(&self, name: &str) -> Result<String, Failure> {
        self.string(name)?
            .ok_or_else(|| self.fail(alloc::format!("\"{}{name}\" is required", self.at)))
    }

    fn boolean(&self, name: &str) -> Result<bool, Failure> {
        match self.value(name) {
            None => Ok(false),
            Some(Value::Bool(b)) => Ok(*b),
            Some(_) => Err(self.wrong_type(name, "true or false")),
        }
    }

    fn strings(&self, name: &str) -> Result<Vec<String>, Failure> {
        match self.value(name) {
            None => Ok(Vec::new()),
            Some(Value::Array(items)) => items
                .iter()
                .map(|v| match v {
                    Value::String(s) => Ok(s.clone()),
                    _ => Err(self.wrong_type(name, "an array of strings")),
                })
                .collect(),
            Some(_) => Err(self.wrong_type(name, "an array of strings")),
        }
    }

    /// A nested object (`options`, `destination`); absent reads as `{}`.
    fn object(&self, name: &str, at: &'static str) -> Result<Args<'a>, Failure> {
        static EMPTY: Object = Object {
            members: Vec::new(),
        };
        match self.value(name) {
            None => Ok(Args {
                op: self.op,
                at,
                object: &EMPTY,
            }),
            Some(Value::Object(object)) => Ok(Args {
                op: self.op,
                at,
                object,
            }),
            Some(_) => Err(self.wrong_type(name, "an object")),
        }
    }
}

/// Parses the arguments text and hands the top-level [`Args`] to `f`.
fn with_args(op: &str, args_json: &str, f: impl FnOnce(Args<'_>) -> Answer) -> Answer {
    let text = if args_json.trim().is_empty() {
        "{}"
    } else {
        args_json
    };
    let value = json::parse(text.as_bytes())
        .map_err(|e| Failure::message(alloc::format!("invalid arguments for {op}: {e}")))?;
    let Value::Object(object) = &value else {
        return Err(Failure::message(alloc::format!(
            "invalid arguments for {op}: expected a JSON object, found a JSON {}",
            value.kind()
        )));
    };
    f(Args { op, at: "", object })
}

fn platform(text: &str) -> Result<Platform, Failure> {
    text.parse::<Platform>().map_err(Failure::message)
}

fn digest(input: &[u8], args: Args<'_>) -> Answer {
    args.only(&[])?;
    let digest = manifest::digest(input).map_err(Failure::message)?;
    ok(digest.as_str())
}

fn detect_media_type(input: &[u8], args: Args<'_>) -> Answer {
    args.only(&[])?;
    ok(manifest::guess_media_type(input))
}

fn inspect(input: &[u8], args: Args<'_>) -> Answer {
    let args = args.only(&["mediaType"])?;
    let media_type = args.string("mediaType")?;
    let inspection = inspect::inspect(input, media_type.as_deref()).map_err(Failure::message)?;
    ok(inspection)
}

fn validate(input: &[u8], args: Args<'_>) -> Answer {
    #[derive(Serialize)]
    struct Validation {
        #[serde(flatten)]
        report: validate::Report,
        valid: bool,
    }
    args.only(&[])?;
    let report = validate::validate(input);
    let valid = report.is_valid();
    ok(Validation { report, valid })
}

fn choose_instance(input: &[u8], args: Args<'_>) -> Answer {
    let args = args.only(&["platform", "options"])?;
    let mut wanted = platform(&args.required_string("platform")?)?;
    let o = args.object("options", "options.")?.only(&[
        "osVersion",
        "preferGzip",
        "amd64Levels",
        "windowsOsVersion",
        "skipAttestations",
    ])?;
    wanted.os_version = o.string("osVersion")?.unwrap_or_default();
    let options = ChooseOptions {
        prefer_gzip: o.boolean("preferGzip")?,
        amd64_levels: o.boolean("amd64Levels")?,
        windows_os_version: o.boolean("windowsOsVersion")?,
        skip_attestations: o.boolean("skipAttestations")?,
    };
    let list = List::parse(input).map_err(Failure::message)?;
    match choose::choose_instance(&list, &wanted, &options) {
        Ok(choice) => ok(choice),
        Err(no_match) => Err(Failure {
            error: no_match.to_string(),
            explanation: Some(no_match.explanation),
        }),
    }
}

fn convert_list(input: &[u8], args: Args<'_>) -> Answer {
    #[derive(Serialize)]
    struct Converted<'a> {
        #[serde(rename = "mediaType")]
        media_type: &'a str,
        digest: &'a str,
        size: usize,
        manifest: &'a str,
        losses: &'a [Loss],
    }
    let args = args.only(&["to", "options"])?;
    let kind = match args.required_string("to")?.as_str() {
        "oci-index" => ListKind::OciIndex,
        "docker-list" => ListKind::DockerList,
        other => {
            return Err(Failure::message(alloc::format!(
                "cannot convert to {other}: expected \"oci-index\" or \"docker-list\"",
                other = ferry_core::Quoted(other)
            )));
        }
    };
    let o = args
        .object("options", "options.")?
        .only(&["defaultPlatform"])?;
    let options = ConvertOptions {
        platform_for_unplatformed: match o.string("defaultPlatform")? {
            Some(text) => Some(platform(&text)?),
            None => None,
        },
    };
    let list = List::parse(input).map_err(Failure::message)?;
    let conversion = list.convert_to(kind, &options).map_err(Failure::message)?;
    let converted = &conversion.list;
    // JSON text cannot hold invalid UTF-8. A converted list is always
    // re-encoded text; only an unchanged list keeps its input bytes, which
    // Go's reader accepts even when they are not UTF-8.
    let manifest = core::str::from_utf8(converted.serialize()).map_err(|e| {
        Failure::message(alloc::format!(
            "the list is not UTF-8 text ({e}), so it cannot be returned as a string"
        ))
    })?;
    ok(Converted {
        media_type: converted.list_media_type(),
        digest: converted.digest().as_str(),
        size: manifest.len(),
        manifest,
        losses: &conversion.losses,
    })
}

/// The members of `options` that `planImage` and `planCopy` share.
const PLAN_OPTIONS: [&str; 6] = [
    "mediaType",
    "hasSignatures",
    "destination",
    "format",
    "removeSignatures",
    "preserveDigests",
];

/// `options.destination`: a transport kind (its entry in
/// [`ferry_core::destination`]'s table, which the native transports answer
/// with too), or its capabilities spelt out.
fn destination(o: &Args<'_>) -> Result<copy::Destination, Failure> {
    let d = o.object("destination", "options.destination.")?.only(&[
        "kind",
        "supportedTypes",
        "referenceDigest",
        "layerCompression",
    ])?;
    let reference_digest = d.string("referenceDigest")?;
    if let Some(kind) = d.string("kind")? {
        if d.value("supportedTypes").is_some() || d.value("layerCompression").is_some() {
            return Err(d.fail(
                "options.destination: kind already says what the destination accepts; leave out supportedTypes and layerCompression",
            ));
        }
        let kind = Kind::from_name(&kind).ok_or_else(|| {
            d.fail(alloc::format!(
                "options.destination.kind: {kind} is not dir, oci, oci-archive, docker-archive, docker-daemon or docker",
                kind = ferry_core::Quoted(&kind)
            ))
        })?;
        return Ok(copy::Destination {
            capabilities: kind.capabilities(),
            reference_digest,
            docker_reference: None,
            names: None,
        });
    }
    let layer_compression = match d.string("layerCompression")?.as_deref() {
        None | Some("preserve") => compression::Desired::Preserve,
        Some("compress") => compression::Desired::Compress,
        Some("decompress") => compression::Desired::Decompress,
        Some(other) => {
            return Err(d.fail(alloc::format!(
                "options.destination.layerCompression: {other} is not preserve, compress or decompress",
                other = ferry_core::Quoted(other)
            )));
        }
    };
    Ok(copy::Destination {
        capabilities: Capabilities {
            manifest_types: d.strings("supportedTypes")?,
            layer_compression,
            signatures: false,
            sigstore_signatures: false,
            digested_references: reference_digest.is_some(),
            referrers: false,
            tags: false,
        },
        reference_digest,
        docker_reference: None,
        names: None,
    })
}

fn plan_image(input: &[u8], args: Args<'_>) -> Answer {
    let args = args.only(&["options"])?;
    let o = args.object("options", "options.")?.only(&PLAN_OPTIONS)?;
    let destination = destination(&o)?;
    let destination = destination
        .capabilities
        .plan_destination(destination.reference_digest);
    let options = CopyOptions {
        // A single image is copied whatever the selection says.
        selection: Selection::All,
        choose: ChooseOptions::default(),
        unselected: Unselected::Keep,
        forced: o.string("format")?,
        remove_signatures: o.boolean("removeSignatures")?,
        preserve_digests: o.boolean("preserveDigests")?,
        judge_signatures: false,
        sign: Default::default(),
        compression: Default::default(),
        add_compression: Default::default(),
    };
    let context = ImageContext {
        list_digest: None,
        in_list: false,
    };
    let plan = plan::plan_image(
        input,
        o.string("mediaType")?.as_deref().unwrap_or(""),
        o.boolean("hasSignatures")?,
        &destination,
        &options,
        context,
    )
    .map_err(Failure::message)?;
    ok(plan)
}

/// `options.selection` and its companions, as `--multi-arch`, `--all`
/// and `--platform` lists give them: `platform` for `system`; `digests`
/// and `platforms` for `instances`.
fn selection(o: &Args<'_>) -> Result<Selection, Failure> {
    match o.string("selection")?.as_deref() {
        None | Some("all") => Ok(Selection::All),
        Some("system") => Ok(Selection::System(platform(
            &o.string("platform")?.ok_or_else(|| {
                o.fail("\"options.platform\" is required with \"selection\": \"system\"")
            })?,
        )?)),
        Some("instances") => Ok(Selection::Instances {
            digests: o.strings("digests")?,
            platforms: o
                .strings("platforms")?
                .iter()
                .map(|p| platform(p))
                .collect::<Result<_, _>>()?,
        }),
        Some(other) => Err(o.fail(alloc::format!(
            "\"options.selection\": {other} is not system, all or instances",
            other = ferry_core::Quoted(other)
        ))),
    }
}

/// Plans a whole copy as `ferry copy --dry-run` does, to a destination
/// that has none of the blobs yet: the top-level decision, then each
/// image whose manifest is at hand, then the summary. Instance manifests
/// come in `instances` (digest → text) and must match their digest; those
/// not given are listed in `missing`, and the summary waits for them.
fn plan_copy(input: &[u8], args: Args<'_>) -> Answer {
    let args = args.only(&["options", "instances"])?;
    let mut known = PLAN_OPTIONS.to_vec();
    known.extend([
        "selection",
        "platform",
        "digests",
        "platforms",
        "stripUnselected",
        "signedInstances",
        "addCompression",
    ]);
    let o = args.object("options", "options.")?.only(&known)?;
    let instances = args.object("instances", "instances.")?;
    let destination = destination(&o)?;
    let options = CopyOptions {
        selection: selection(&o)?,
        choose: ChooseOptions::default(),
        unselected: if o.boolean("stripUnselected")? {
            Unselected::Strip
        } else {
            Unselected::Keep
        },
        forced: o.string("format")?,
        remove_signatures: o.boolean("removeSignatures")?,
        preserve_digests: o.boolean("preserveDigests")?,
        judge_signatures: false,
        sign: Default::default(),
        compression: Default::default(),
        add_compression: o
            .strings("addCompression")?
            .iter()
            .map(|f| compression::Format::parse(f))
            .collect::<Result<_, _>>()
            .map_err(|e| o.fail(alloc::format!("\"options.addCompression\": {e}")))?,
    };
    let media_type = o.string("mediaType")?.unwrap_or_default();
    let has_signatures = o.boolean("hasSignatures")?;
    let signed_instances = o.strings("signedInstances")?;
    if let Some(bad) = signed_instances
        .iter()
        .find(|d| ferry_core::Digest::parse(d).is_err())
    {
        return Err(o.fail(alloc::format!(
            "\"options.signedInstances\": {bad} is not a digest",
            bad = ferry_core::Quoted(bad)
        )));
    }
    // Looked up once per manifest: an index, so thousands of instances do
    // not make thousands of scans (the first member of a name wins, as in
    // `Object::get_exact`).
    let members = &instances.object.members;
    let mut given: BTreeMap<&str, usize> = BTreeMap::new();
    for (i, member) in members.iter().enumerate() {
        given.entry(member.key.as_str()).or_insert(i);
    }
    let lookup = |digest: &str| {
        let found = given.get(digest).map(|&i| &members[i].value);
        instances.string_value(digest, found)
    };
    // The copy machine `ferry copy --dry-run` drives, answered from the
    // manifests given. Signatures are known only to exist: a dry run
    // never writes them, so one empty signature stands for them.
    let signed = |yes: bool| {
        copy::Answer::Signatures(if yes {
            alloc::vec![Vec::new()]
        } else {
            Vec::new()
        })
    };
    let mut copy =
        Copy::plan(input.to_vec(), media_type, destination, options).map_err(Failure::message)?;
    let missing = loop {
        // Borrowed (`need`, not `poll`): see `Copy::need`.
        let answers = match copy.need() {
            Need::NestedList { digest } => alloc::vec![match lookup(digest.as_str())? {
                Some(text) => copy::Answer::Manifest {
                    bytes: text.as_bytes().to_vec(),
                    media_type: String::new(),
                },
                None => copy::Answer::Missing,
            }],
            Need::Instance { digest } => {
                let digest = digest.as_str();
                alloc::vec![match lookup(digest)? {
                    Some(text) => {
                        // The manifest digest (of the signed payload for
                        // signed schema 1), as list entries name it. Only
                        // sha256 is checked: hashing sha512 here would cost
                        // the WebAssembly module about 10 KiB.
                        let actual = manifest::digest(text.as_bytes()).map_err(|e| {
                            Failure::message(alloc::format!(
                                "the manifest given for instance {digest}: {e}"
                            ))
                        })?;
                        if actual.as_str() != digest {
                            return Err(Failure::message(alloc::format!(
                                "the manifest given for instance {digest} does not match that digest (it is {actual})"
                            )));
                        }
                        copy::Answer::Manifest {
                            bytes: text.as_bytes().to_vec(),
                            media_type: String::new(),
                        }
                    }
                    None => copy::Answer::Missing,
                }]
            }
            Need::Signatures { instance: None } => alloc::vec![signed(has_signatures)],
            Need::Signatures {
                instance: Some(digest),
            } => alloc::vec![signed(
                signed_instances.iter().any(|s| s == digest.as_str())
            )],
            // Planning refuses nothing a destination would refuse itself.
            Need::RefuseSignatures { .. } => alloc::vec![copy::Answer::Done],
            Need::Unavailable { missing } => break missing.clone(),
            _ => break Vec::new(),
        };
        for answer in answers {
            copy.handle(answer).map_err(Failure::message)?;
        }
    };
    // Written by hand, as the other answers are: through serde (three
    // answer structs, borrowed), `ok::<CopyAnswer>` alone was 2,906 bytes
    // of the npm module. The core's values inside are serde's.
    // `{"top":TOP,"images":[…],"missing":[…],"summary":…}`, where TOP is
    // `null` until every nested list is given, else the top-level
    // decision: `kind` `image`, `instance` (with `listDigest` and
    // `choice`) or `list` (with `listMediaType`, `entries`, `conversion`,
    // `cannotModify` and `nested`, the nested lists to write in writing
    // order, each with `digest` and the same four).
    let mut out = String::from("{\"top\":");
    match copy.top_plan() {
        None => out.push_str("null"),
        Some(plan::TopPlan::Image) => out.push_str("{\"kind\":\"image\"}"),
        Some(plan::TopPlan::Instance {
            list_digest,
            choice,
            ..
        }) => {
            out.push_str("{\"kind\":\"instance\",\"listDigest\":");
            out.push_str(&to_json(&list_digest.as_str()));
            out.push_str(",\"choice\":");
            out.push_str(&to_json(choice));
            out.push('}');
        }
        Some(plan::TopPlan::List(list_plan)) => {
            out.push_str("{\"kind\":\"list\",");
            list_answer(
                &mut out,
                list_plan.list.list_media_type(),
                &list_plan.entries,
                &list_plan.conversion,
                list_plan.cannot_modify,
            );
            out.push_str(",\"nested\":[");
            for (i, n) in list_plan.nested.iter().enumerate() {
                if i > 0 {
                    out.push(',');
                }
                out.push_str("{\"digest\":");
                out.push_str(&to_json(&n.digest.as_str()));
                out.push(',');
                list_answer(
                    &mut out,
                    n.list.list_media_type(),
                    &n.entries,
                    &n.conversion,
                    n.cannot_modify,
                );
                out.push('}');
            }
            out.push_str("]}");
        }
    }
    out.push_str(",\"images\":[");
    for (i, image) in copy.images().into_iter().enumerate() {
        if i > 0 {
            out.push(',');
        }
        out.push_str(&to_json(image));
    }
    out.push_str("],\"missing\":[");
    for (i, digest) in missing.iter().enumerate() {
        if i > 0 {
            out.push(',');
        }
        out.push_str(&to_json(&digest.as_str()));
    }
    out.push_str("],\"summary\":");
    match copy.summary() {
        Some(summary) => out.push_str(&to_json(summary)),
        None => out.push_str("null"),
    }
    out.push('}');
    Ok(out)
}

/// The members of a list to write in `planCopy`'s answer, without the
/// braces: `listMediaType`, `entries`, `conversion`, `cannotModify`.
fn list_answer(
    out: &mut String,
    media_type: &str,
    entries: &[plan::EntryAction],
    conversion: &plan::ListConversion,
    cannot_modify: Option<plan::CannotModify>,
) {
    out.push_str("\"listMediaType\":");
    out.push_str(&to_json(&media_type));
    out.push_str(",\"entries\":");
    out.push_str(&to_json(&entries));
    out.push_str(",\"conversion\":");
    out.push_str(&to_json(conversion));
    out.push_str(",\"cannotModify\":");
    out.push_str(&to_json(&cannot_modify));
}

fn detect_archive_format(input: &[u8], args: Args<'_>) -> Answer {
    args.only(&[])?;
    // A fixed ASCII name: quoted by hand, not through serde (which added
    // a 142-byte `ok::<&str>` to the npm module).
    let name = tar::sniff(input).name();
    let mut out = String::with_capacity(name.len() + 2);
    out.push('"');
    out.push_str(name);
    out.push('"');
    Ok(out)
}

fn tar_files(input: &[u8], args: Args<'_>) -> Answer {
    const BAD: &str = "invalid tar members: expected a JSON array of {name, typeflag, linkname} objects, typeflag a byte (0 to 255)";
    args.only(&[])?;
    let value = json::parse(input).map_err(Failure::message)?;
    let Value::Array(values) = &value else {
        return Err(Failure::message(BAD));
    };
    let mut members = Vec::with_capacity(values.len());
    for value in values {
        members.push(tar_member(value).ok_or_else(|| Failure::message(BAD))?);
    }
    let files = tar::files(&members).map_err(Failure::message)?;
    // Written by hand: `[{"name":…,"member":N},…]`, with each name
    // quoted by the serializer every answer uses. Through serde, with the
    // `detectArchiveFormat` answer above, the npm module was 87 bytes
    // larger (257,861 -> 257,774 after wasm-opt), not several hundred.
    let mut out = String::from("[");
    for (i, file) in files.iter().enumerate() {
        if i > 0 {
            out.push(',');
        }
        out.push_str("{\"name\":");
        out.push_str(&to_json(&file.name));
        out.push_str(",\"member\":");
        out.push_str(&file.member.to_string());
        out.push('}');
    }
    out.push(']');
    Ok(out)
}

fn layer_entries(input: &[u8], args: Args<'_>) -> Answer {
    const BAD: &str = "invalid layer members: expected a JSON array of names";
    args.only(&[])?;
    let value = json::parse(input).map_err(Failure::message)?;
    let Value::Array(values) = &value else {
        return Err(Failure::message(BAD));
    };
    // Written by hand, as `tarFiles` is: one object per name.
    let mut out = String::from("[");
    for (i, value) in values.iter().enumerate() {
        let Value::String(name) = value else {
            return Err(Failure::message(BAD));
        };
        if i > 0 {
            out.push(',');
        }
        let entry = match tar::classify(name) {
            Ok(entry) => entry,
            Err(e) => {
                out.push_str("{\"error\":");
                out.push_str(&to_json(&alloc::format!(
                    "{name}: {e}",
                    name = ferry_core::Quoted(name)
                )));
                out.push('}');
                continue;
            }
        };
        out.push_str("{\"path\":");
        // `classify` accepted the name, so it normalises.
        out.push_str(&to_json(&tar::normalise(name).unwrap_or_default()));
        let (key, text) = match &entry {
            tar::Entry::Ordinary => ("", ""),
            tar::Entry::Whiteout { target } => (",\"whiteout\":", target.as_str()),
            tar::Entry::Opaque { dir } => (",\"opaque\":", dir.as_str()),
            tar::Entry::AufsMeta => (",\"aufs\":true", ""),
        };
        out.push_str(key);
        if !matches!(entry, tar::Entry::Ordinary | tar::Entry::AufsMeta) {
            out.push_str(&to_json(&text));
        }
        out.push('}');
    }
    out.push(']');
    Ok(out)
}

/// `{name, typeflag, linkname}` (`linkname` optional), each at most once.
fn tar_member(value: &Value) -> Option<tar::Member<'_>> {
    let Value::Object(object) = value else {
        return None;
    };
    let (mut name, mut typeflag, mut link) = (None, None, None);
    for m in &object.members {
        let (slot, text) = match (m.key.as_str(), &m.value) {
            ("name", Value::String(s)) => (&mut name, s),
            ("linkname", Value::String(s)) => (&mut link, s),
            ("typeflag", Value::Number(n)) if typeflag.is_none() => {
                typeflag = Some(u8::try_from(n.as_i64()?).ok()?);
                continue;
            }
            _ => return None,
        };
        if slot.replace(text.as_str()).is_some() {
            return None;
        }
    }
    Some(tar::Member {
        name: name?,
        typeflag: typeflag?,
        link: link.unwrap_or_default(),
    })
}

fn parse_reference(input: &[u8], args: Args<'_>) -> Answer {
    let args = args.only(&["syntax"])?;
    let text = core::str::from_utf8(input)
        .map_err(|_| Failure::message("the reference is not UTF-8 text"))?;
    let named = match args.string("syntax")?.as_deref() {
        None | Some("docker") => reference::transport::docker(text),
        Some("normalized") => Named::parse_normalized(text),
        Some("docker-archive") => reference::transport::docker_archive_tag(text),
        Some(other) => {
            return Err(Failure::message(alloc::format!(
                "cannot read a reference as {other}: expected \"docker\", \"normalized\" or \"docker-archive\"",
                other = ferry_core::Quoted(other)
            )));
        }
    };
    ok(named.map_err(Failure::message)?)
}

#[cfg(test)]
mod tests {
    use super::*;

    const INDEX: &[u8] = br#"{"schemaVersion":2,"mediaType":"application/vnd.oci.image.index.v1+json","manifests":[{"mediaType":"application/vnd.oci.image.manifest.v1+json","digest":"sha256:e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855","size":2,"platform":{"architecture":"arm","os":"linux","variant":"v7"}}]}"#;

    #[test]
    fn detect_archive_format_tells_a_tar_by_its_header_and_compression_by_magic_bytes() {
        const TAR: &[u8] = include_bytes!("../../core/tests/fixtures/tar/well-formed.tar");
        assert_eq!(call("detectArchiveFormat", TAR, ""), r#"{"ok":"tar"}"#);
        assert_eq!(
            call("detectArchiveFormat", &[0x1f, 0x8b, 8, 0], ""),
            r#"{"ok":"gzip"}"#
        );
        assert_eq!(
            call("detectArchiveFormat", &[0x28, 0xb5, 0x2f, 0xfd], ""),
            r#"{"ok":"zstd"}"#
        );
        assert_eq!(
            call("detectArchiveFormat", b"{\"schemaVersion\":2}", ""),
            r#"{"ok":""}"#
        );
    }

    #[test]
    fn tar_files_answers_the_regular_files_in_archive_order_with_the_member_holding_each() {
        let members = br#"[
            {"name":"./","typeflag":53},
            {"name":"./oci-layout","typeflag":48},
            {"name":"blobs//sha256/a","typeflag":48},
            {"name":"hard","typeflag":49,"linkname":"oci-layout"},
            {"name":"soft","typeflag":50,"linkname":"blobs/sha256/a"},
            {"name":"dangling","typeflag":50,"linkname":"nothing"}
        ]"#;
        assert_eq!(
            call("tarFiles", members, ""),
            r#"{"ok":[{"name":"oci-layout","member":1},{"name":"blobs/sha256/a","member":2},{"name":"hard","member":1},{"name":"soft","member":2}]}"#
        );
    }

    #[test]
    fn layer_entries_answers_each_names_path_and_what_it_deletes() {
        let names = br#"["./etc/","etc/.wh.passwd","usr/.wh..wh..opq",".wh..wh.plnk/1","bin"]"#;
        assert_eq!(
            call("layerEntries", names, ""),
            r#"{"ok":[{"path":"etc"},{"path":"etc/.wh.passwd","whiteout":"etc/passwd"},{"path":"usr/.wh..wh..opq","opaque":"usr"},{"path":".wh..wh.plnk/1","aufs":true},{"path":"bin"}]}"#
        );
    }

    #[test]
    fn layer_entries_refuses_an_escaping_name_alone_naming_it() {
        let answer = call("layerEntries", br#"["../../etc/shadow","a","/abs"]"#, "");
        assert_eq!(
            answer,
            r#"{"ok":[{"error":"\"../../etc/shadow\": path \"../../etc/shadow\" has a '..' component"},{"path":"a"},{"error":"\"/abs\": absolute path \"/abs\""}]}"#
        );
    }

    #[test]
    fn tar_files_refuses_a_member_with_the_cores_message_naming_it() {
        let answer = call("tarFiles", br#"[{"name":"a/../../x","typeflag":48}]"#, "");
        assert_eq!(
            answer,
            r#"{"error":"\"a/../../x\": path \"a/../../x\" has a '..' component"}"#
        );
        let answer = call(
            "tarFiles",
            br#"[{"name":"a","typeflag":50,"linkname":"b"},{"name":"b","typeflag":50,"linkname":"a"}]"#,
            "",
        );
        assert!(answer.ends_with(r#": symbolic link loop"}"#), "{answer}");
    }

    #[test]
    fn tar_files_refuses_members_it_cannot_read() {
        for members in [
            &br#"{}"#[..],
            br#"[1]"#,
            br#"[{"name":"a"}]"#,
            br#"[{"name":"a","typeflag":256}]"#,
            br#"[{"name":"a","typeflag":"0"}]"#,
            br#"[{"typeflag":48}]"#,
            br#"[{"name":"a","typeflag":48,"size":1}]"#,
            br#"[{"name":"a","name":"b","typeflag":48}]"#,
        ] {
            assert_eq!(
                call("tarFiles", members, ""),
                r#"{"error":"invalid tar members: expected a JSON array of {name, typeflag, linkname} objects, typeflag a byte (0 to 255)"}"#,
                "{}",
                String::from_utf8_lossy(members)
            );
        }
    }

    #[test]
    fn parse_reference_answers_the_parts_docker_reads() {
        assert_eq!(
            call("parseReference", b"busybox", ""),
            r#"{"ok":{"name":"docker.io/library/busybox","domain":"docker.io","path":"library/busybox","tag":"latest","digest":null,"string":"docker.io/library/busybox:latest","familiar":"busybox:latest"}}"#
        );
        let answer = call("parseReference", b"busybox", r#"{"syntax":"normalized"}"#);
        assert!(answer.contains(r#""tag":null"#), "{answer}");
        assert_eq!(
            call("parseReference", b"Busybox", ""),
            r#"{"error":"\"Busybox\": invalid reference format: repository name must be lowercase"}"#
        );
        let digested =
            "busybox@sha256:e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855";
        let answer = call(
            "parseReference",
            digested.as_bytes(),
            r#"{"syntax":"docker-archive"}"#,
        );
        assert!(answer.starts_with(r#"{"error":"#), "{answer}");
        let answer = call("parseReference", b"busybox", r#"{"syntax":"oci"}"#);
        assert!(
            answer.starts_with(r#"{"error":"cannot read a reference as \"oci\""#),
            "{answer}"
        );
    }

    #[test]
    fn answers_are_wrapped_in_ok() {
        assert_eq!(
            call("detectMediaType", INDEX, ""),
            r#"{"ok":"application/vnd.oci.image.index.v1+json"}"#
        );
    }

    /// sha256 of the bytes, as `call` answers it.
    fn sha256_answer(bytes: &[u8]) -> String {
        alloc::format!(r#"{{"ok":"{}"}}"#, ferry_core::Digest::sha256_of(bytes))
    }

    #[test]
    fn digest_of_bytes_that_are_no_manifest_is_their_sha256() {
        // containers/image's manifest.Digest hashes whatever it is given.
        let cases: [&[u8]; 6] = [
            b"",
            b"not json",
            b"   ",
            b"{\"schemaVersion\":2} trailing",
            b"\xef\xbb\xbf{\"schemaVersion\":2}",
            b"\xff\xfe\x00",
        ];
        for bytes in cases {
            assert_eq!(call("digest", bytes, ""), sha256_answer(bytes), "{bytes:?}");
        }
    }

    #[test]
    fn digest_of_signed_schema1_is_its_payloads() {
        let signed = include_bytes!("../../core/tests/fixtures/plan/v2s1-signed.json");
        let payload = manifest::jws::payload(signed).unwrap();
        assert_eq!(call("digest", signed, ""), sha256_answer(&payload));
        assert_ne!(call("digest", signed, ""), sha256_answer(signed));
    }

    #[test]
    fn inspect_describes_signed_schema1_whose_signatures_are_malformed() {
        let doc = include_bytes!("../../core/tests/fixtures/schema1-keys/jwk-null.json");
        let answer: serde_json::Value = serde_json::from_str(&call("inspect", doc, "")).unwrap();
        let inspection = &answer["ok"];
        assert_eq!(
            inspection["mediaType"],
            "application/vnd.docker.distribution.manifest.v1+prettyjws"
        );
        assert_eq!(inspection["layers"].as_array().unwrap().len(), 1);
        assert_eq!(inspection["digest"], serde_json::Value::Null);
        let diagnostics = inspection["diagnostics"].as_array().unwrap();
        assert_eq!(diagnostics.len(), 1);
        assert_eq!(diagnostics[0]["pointer"], "/signatures");
        assert_eq!(diagnostics[0]["severity"], "error");
        assert_eq!(
            diagnostics[0]["message"],
            "the manifest digest cannot be computed: public key of /signatures/0: \"kty\" value not specified"
        );
    }

    #[test]
    fn inspect_has_no_diagnostics_member_when_there_are_none() {
        let answer = call("inspect", INDEX, "");
        assert!(!answer.contains("diagnostics"), "{answer}");
    }

    #[test]
    fn digest_of_signed_schema1_with_malformed_signatures_is_an_error() {
        let doc = br#"{"schemaVersion":1,"signatures":[{"protected":"!"}]}"#;
        assert_eq!(
            call("digest", doc, ""),
            r#"{"error":"invalid base64url at /signatures/0/protected"}"#
        );
    }

    #[test]
    fn unknown_operations_and_arguments_are_refused() {
        assert!(call("dgest", INDEX, "").starts_with(r#"{"error":"unknown operation \"dgest\""#));
        let answer = call("inspect", INDEX, r#"{"mediatype":"x"}"#);
        assert_eq!(
            answer,
            r#"{"error":"invalid arguments for inspect: unknown member \"mediatype\" (expected mediaType)"}"#
        );
        assert!(call("validate", INDEX, r#"{"x":1}"#).starts_with(r#"{"error":"#));
        for bad in [
            r#"{"platform":"linux/amd64","platform":"linux/arm64"}"#,
            r#"{"platform":1}"#,
            r#"{"platform":"linux/amd64","options":{"preferGzip":"yes"}}"#,
            r#"{"platform":"linux/amd64","options":[]}"#,
            r#"{}"#,
            "[]",
        ] {
            let answer = call("chooseInstance", INDEX, bad);
            assert!(
                answer.starts_with(r#"{"error":"invalid arguments for chooseInstance: "#),
                "{bad}: {answer}"
            );
        }
    }

    #[test]
    fn validate_adds_the_verdict() {
        let answer = call("validate", INDEX, "");
        assert!(
            answer.ends_with(r#""diagnostics":[],"valid":true}}"#),
            "{answer}"
        );
    }

    #[test]
    fn failed_choice_carries_the_explanation() {
        let answer = call("chooseInstance", INDEX, r#"{"platform":"linux/arm/v6"}"#);
        assert!(
            answer.starts_with(r#"{"error":"no image in the list for platform linux/arm/v6"#),
            "{answer}"
        );
        assert!(answer.contains(r#""explanation":[{"index":0,"#), "{answer}");
        let answer = call("chooseInstance", INDEX, r#"{"platform":"linux/arm/v8"}"#);
        assert!(
            answer.starts_with(r#"{"ok":{"digest":"sha256:e3b0"#),
            "{answer}"
        );
    }

    #[test]
    fn converting_a_list_to_its_own_form_returns_its_text() {
        let answer = call("convertList", INDEX, r#"{"to":"oci-index"}"#);
        let text = core::str::from_utf8(INDEX).unwrap();
        let quoted = serde_json::to_string(text).unwrap();
        assert!(
            answer.contains(&alloc::format!(r#""manifest":{quoted},"losses":[]"#)),
            "{answer}"
        );
        assert!(call("convertList", INDEX, r#"{"to":"docker"}"#).starts_with(r#"{"error":"#));
    }
    const IMAGE: &str = r#"{"schemaVersion":2,"mediaType":"application/vnd.oci.image.manifest.v1+json","config":{"mediaType":"application/vnd.oci.image.config.v1+json","digest":"sha256:44136fa355b3678a1146ad16f7e8649e94fb4fc21fe77e8310c060f61caaff8a","size":2},"layers":[{"mediaType":"application/vnd.oci.image.layer.v1.tar","digest":"sha256:5f70bf18a086007016e948b04aed3b82103a36bea41755b6cddfaf10ace3c6ef","size":1024}]}"#;

    fn index_of(image: &str) -> String {
        let digest = ferry_core::Digest::sha256_of(image.as_bytes());
        alloc::format!(
            r#"{{"schemaVersion":2,"mediaType":"application/vnd.oci.image.index.v1+json","manifests":[{{"mediaType":"application/vnd.oci.image.manifest.v1+json","digest":"{digest}","size":{},"platform":{{"architecture":"amd64","os":"linux"}}}}]}}"#,
            image.len()
        )
    }

    #[test]
    fn plan_copy_lists_instances_it_was_not_given_and_waits_to_summarize() {
        let index = index_of(IMAGE);
        let answer = call(
            "planCopy",
            index.as_bytes(),
            r#"{"options":{"destination":{"kind":"docker-archive"},"selection":"system","platform":"linux/amd64"}}"#,
        );
        assert!(
            answer.starts_with(r#"{"ok":{"top":{"kind":"instance","#),
            "{answer}"
        );
        let digest = ferry_core::Digest::sha256_of(IMAGE.as_bytes());
        assert!(
            answer.contains(&alloc::format!(r#""images":[],"missing":["{digest}"]"#)),
            "{answer}"
        );
        assert!(answer.ends_with(r#""summary":null}}"#), "{answer}");
    }

    #[test]
    fn plan_copy_with_the_instance_summarizes_as_dry_run_does() {
        let index = index_of(IMAGE);
        let digest = ferry_core::Digest::sha256_of(IMAGE.as_bytes());
        let args = alloc::format!(
            r#"{{"options":{{"destination":{{"kind":"oci"}}}},"instances":{{"{digest}":{}}}}}"#,
            serde_json::to_string(IMAGE).unwrap()
        );
        let answer = call("planCopy", index.as_bytes(), &args);
        assert!(answer.contains(r#""top":{"kind":"list","#), "{answer}");
        assert!(answer.contains(r#""entries":["copy"]"#), "{answer}");
        assert!(answer.contains(r#""missing":[],"summary":{"#), "{answer}");
        // The uncompressed layer is compressed for an OCI layout.
        assert!(
            answer.contains(r#""operations":["keep","compress"]"#),
            "{answer}"
        );
    }

    #[test]
    fn plan_copy_chooses_instances_by_platform_as_platform_lists_do() {
        let index = index_of(IMAGE);
        let digest = ferry_core::Digest::sha256_of(IMAGE.as_bytes());
        let plan = |platforms: &str| {
            call(
                "planCopy",
                index.as_bytes(),
                &alloc::format!(
                    r#"{{"options":{{"destination":{{"kind":"oci"}},"selection":"instances","platforms":{platforms}}},"instances":{{"{digest}":{}}}}}"#,
                    serde_json::to_string(IMAGE).unwrap()
                ),
            )
        };
        let amd64 = plan(r#"["linux/amd64"]"#);
        assert!(amd64.contains(r#""entries":["copy"]"#), "{amd64}");
        assert!(amd64.contains(r#""missing":[],"summary":{"#), "{amd64}");
        // As `ferry copy --platform`: a platform the list lacks is an
        // error that names it, and so is one that is not a platform.
        let arm64 = plan(r#"["linux/arm64"]"#);
        assert!(
            arm64.starts_with(r#"{"error":"no image in the list for platform linux/arm64"#),
            "{arm64}"
        );
        let bad = plan(r#"["linux"]"#);
        assert!(
            bad.starts_with(r#"{"error":"#) && bad.contains("linux"),
            "{bad}"
        );
    }

    #[test]
    fn plan_copy_knows_which_instances_are_signed() {
        let index = index_of(IMAGE);
        let digest = ferry_core::Digest::sha256_of(IMAGE.as_bytes());
        let plan = |kind: &str, signed: &str| {
            call(
                "planCopy",
                index.as_bytes(),
                &alloc::format!(
                    r#"{{"options":{{"destination":{{"kind":"{kind}"}},"selection":"system","platform":"linux/amd64","signedInstances":{signed}}},"instances":{{"{digest}":{}}}}}"#,
                    serde_json::to_string(IMAGE).unwrap()
                ),
            )
        };
        let signed = alloc::format!(r#"["{digest}"]"#);
        // A signed instance may not be modified: its layers stay as they
        // are even where the destination would compress them.
        let unsigned = plan("oci", "[]");
        assert!(unsigned.contains(r#""cannotModify":null"#), "{unsigned}");
        assert!(
            unsigned.contains(r#""operations":["keep","compress"]"#),
            "{unsigned}"
        );
        let kept = plan("oci", &signed);
        assert!(
            kept.contains(r#""cannotModify":"WouldInvalidateSignatures""#),
            "{kept}"
        );
        assert!(kept.contains(r#""operations":["keep","keep"]"#), "{kept}");
        // A typo is named, not silently matched against nothing.
        let typo = plan("oci", r#"["sha256:12"]"#);
        assert!(
            typo.starts_with(
                r#"{"error":"invalid arguments for planCopy: \"options.signedInstances\": \"sha256:12\" is not a digest"#
            ),
            "{typo}"
        );
        // One that would need converting for the destination is planned
        // unconverted, as containers/image plans it, and the destination
        // then refuses it (`ferry copy`: docker-archive cannot store
        // signatures; use --remove-signatures).
        let converted = plan("docker-archive", "[]");
        assert!(
            converted.contains(r#""needsConversion":true"#),
            "{converted}"
        );
        let unconverted = plan("docker-archive", &signed);
        assert!(
            unconverted.contains(r#""needsConversion":false"#),
            "{unconverted}"
        );
    }

    #[test]
    fn plan_copy_asks_for_nested_lists_then_their_images_and_counts_them() {
        const TOP: &str = include_str!("../../core/tests/fixtures/plan/nested-index.json");
        const CHILD: &str = include_str!("../../core/tests/fixtures/plan/nested-child.json");
        const IMAGES: [&str; 3] = [
            include_str!("../../core/tests/fixtures/plan/amd64.json"),
            include_str!("../../core/tests/fixtures/plan/arm64.json"),
            include_str!("../../core/tests/fixtures/plan/arm-v7.json"),
        ];
        let child = ferry_core::Digest::sha256_of(CHILD.as_bytes());
        let plan = |given: &[&str]| {
            plan_copy(
                TOP,
                given,
                r#"{"destination":{"kind":"oci"},"selection":"all"}"#,
            )
        };
        let first = plan(&[]);
        assert_eq!(
            first,
            alloc::format!(
                r#"{{"ok":{{"top":null,"images":[],"missing":["{child}"],"summary":null}}}}"#
            )
        );
        let second = plan(&[CHILD]);
        assert!(second.contains(r#""top":{"kind":"list","#), "{second}");
        assert!(
            second.contains(&alloc::format!(r#""nested":[{{"digest":"{child}","#)),
            "{second}"
        );
        assert!(second.contains(r#""summary":null"#), "{second}");
        let mut all = alloc::vec![CHILD];
        all.extend(IMAGES);
        let third = plan(&all);
        let answer: serde_json::Value = serde_json::from_str(&third).unwrap();
        let manifests = answer["ok"]["summary"]["manifests"].as_array().unwrap();
        let roles: Vec<&str> = manifests
            .iter()
            .map(|m| m["role"].as_str().unwrap())
            .collect();
        assert_eq!(roles, ["instance", "instance", "instance", "list", "list"]);
        assert_eq!(manifests[3]["sourceDigest"], child.as_str());
    }

    /// `planCopy` of the manifest `top`, with `given` as the instances it
    /// may ask for, and these options.
    fn plan_copy(top: &str, given: &[&str], options: &str) -> String {
        let members: Vec<String> = given
            .iter()
            .map(|text| {
                alloc::format!(
                    "\"{}\":{}",
                    ferry_core::Digest::sha256_of(text.as_bytes()),
                    serde_json::to_string(text).unwrap()
                )
            })
            .collect();
        call(
            "planCopy",
            top.as_bytes(),
            &alloc::format!(
                r#"{{"options":{options},"instances":{{{}}}}}"#,
                members.join(",")
            ),
        )
    }

    /// `planCopy` of the three-image index of core's plan fixtures, with
    /// its images given, and these options.
    fn plan_index(options: &str) -> String {
        plan_copy(
            include_str!("../../core/tests/fixtures/plan/index.json"),
            &[
                include_str!("../../core/tests/fixtures/plan/amd64.json"),
                include_str!("../../core/tests/fixtures/plan/arm64.json"),
                include_str!("../../core/tests/fixtures/plan/arm-v7.json"),
            ],
            options,
        )
    }

    #[test]
    fn plan_copy_plans_a_zstd_twin_after_each_image_with_add_compression() {
        let answer = plan_index(
            r#"{"destination":{"kind":"oci"},"selection":"all","addCompression":["zstd"]}"#,
        );
        let answer: serde_json::Value = serde_json::from_str(&answer).unwrap();
        let images = answer["ok"]["images"].as_array().unwrap();
        let twins: Vec<&serde_json::Value> = images.iter().map(|i| &i["twin"]).collect();
        assert_eq!(twins, [&serde_json::Value::Null, &"zstd".into()].repeat(3));
        let roles: Vec<&str> = answer["ok"]["summary"]["manifests"]
            .as_array()
            .unwrap()
            .iter()
            .map(|m| m["role"].as_str().unwrap())
            .collect();
        assert_eq!(
            roles,
            [
                "instance",
                "zstd-twin",
                "instance",
                "zstd-twin",
                "instance",
                "zstd-twin",
                "list"
            ]
        );
    }

    #[test]
    fn plan_copy_refuses_add_compression_for_less_than_a_whole_list_as_copy_does() {
        let answer = plan_index(
            r#"{"destination":{"kind":"oci"},"selection":"system","platform":"linux/amd64","addCompression":["zstd"]}"#,
        );
        assert_eq!(
            answer,
            r#"{"error":"--add-compression zstd: compression twins are added only to a manifest list copied whole (--all), but this copy copies one image out of the list"}"#
        );
    }

    #[test]
    fn plan_copy_refuses_a_compression_it_does_not_write_naming_it() {
        let answer = plan_index(r#"{"selection":"all","addCompression":["lz4"]}"#);
        assert_eq!(
            answer,
            r#"{"error":"invalid arguments for planCopy: \"options.addCompression\": unsupported compression format \"lz4\": ferry writes \"gzip\" and \"zstd\""}"#
        );
    }

    #[test]
    fn plan_copy_refuses_a_manifest_that_does_not_match_its_digest() {
        let index = index_of(IMAGE);
        let digest = ferry_core::Digest::sha256_of(IMAGE.as_bytes());
        let args = alloc::format!(r#"{{"instances":{{"{digest}":"{{}}"}}}}"#);
        let answer = call("planCopy", index.as_bytes(), &args);
        assert!(
            answer.starts_with(r#"{"error":"the manifest given for instance sha256:"#),
            "{answer}"
        );
    }

    #[test]
    fn a_destination_kind_excludes_spelt_out_capabilities() {
        let answer = call(
            "planImage",
            IMAGE.as_bytes(),
            r#"{"options":{"destination":{"kind":"oci","supportedTypes":[]}}}"#,
        );
        assert!(
            answer.starts_with(
                r#"{"error":"invalid arguments for planImage: options.destination: kind already"#
            ),
            "{answer}"
        );
        let answer = call(
            "planImage",
            IMAGE.as_bytes(),
            r#"{"options":{"destination":{"kind":"tape"}}}"#,
        );
        assert!(
            answer.contains(r#"kind: \"tape\" is not dir, oci"#),
            "{answer}"
        );
    }
}
