//! Validation: every problem in a manifest or list, each with a JSON
//! pointer, a severity and a message.
//!
//! Parsing ([`crate::manifest`], [`crate::list`]) answers "would
//! containers/image accept this?", which stops at the first problem.
//! Validation answers "is this document sound?": it keeps going, and it is
//! stricter where Go's leniency hides trouble, such as duplicate or
//! case-variant keys, which Go resolves one way and other registries
//! another (the root of CVE-2021-41190-style confusion).

use alloc::string::{String, ToString};
use alloc::vec::Vec;
use core::fmt;

use crate::json::{self, Object, Value, child_pointer, index_pointer};
use crate::list::{List, ListKind};
use crate::manifest::{MAX_MANIFEST_SIZE, Manifest, OciManifest, Schema1, Schema2};
use crate::media_type as mt;

/// How bad a finding is.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, serde::Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Severity {
    /// Allowed, but likely to surprise a reader or a registry.
    Warning,
    /// The document is invalid or ambiguous.
    Error,
}

impl fmt::Display for Severity {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Severity::Warning => "warning",
            Severity::Error => "error",
        })
    }
}

/// One finding.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct Diagnostic {
    /// JSON pointer of the offending value (`""` for the whole document).
    pub pointer: String,
    pub severity: Severity,
    pub message: String,
}

impl fmt::Display for Diagnostic {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let at = if self.pointer.is_empty() {
            "(document)"
        } else {
            &self.pointer
        };
        write!(f, "{}: {at}: {}", self.severity, self.message)
    }
}

/// The outcome of validating one document.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct Report {
    /// The declared `mediaType`, if any.
    #[serde(rename = "declaredMediaType")]
    pub declared_media_type: Option<String>,
    /// containers/image's guess from the bytes.
    #[serde(rename = "detectedMediaType")]
    pub detected_media_type: String,
    pub diagnostics: Vec<Diagnostic>,
}

impl Report {
    /// Valid means no errors; warnings are allowed.
    pub fn is_valid(&self) -> bool {
        !self
            .diagnostics
            .iter()
            .any(|d| d.severity == Severity::Error)
    }

    fn error(&mut self, pointer: impl Into<String>, message: impl Into<String>) {
        self.push(Severity::Error, pointer, message);
    }

    fn warning(&mut self, pointer: impl Into<String>, message: impl Into<String>) {
        self.push(Severity::Warning, pointer, message);
    }

    fn push(&mut self, severity: Severity, pointer: impl Into<String>, message: impl Into<String>) {
        self.diagnostics.push(Diagnostic {
            pointer: pointer.into(),
            severity,
            message: message.into(),
        });
    }
}

/// Validates a manifest or list and reports every problem found.
pub fn validate(bytes: &[u8]) -> Report {
    let mut report = Report {
        declared_media_type: None,
        detected_media_type: crate::manifest::guess_media_type(bytes),
        diagnostics: Vec::new(),
    };
    if bytes.len() > MAX_MANIFEST_SIZE {
        report.error(
            "",
            alloc::format!(
                "document is {} bytes; registries refuse manifests over {} bytes (4 MiB)",
                bytes.len(),
                MAX_MANIFEST_SIZE
            ),
        );
    }
    let root = match json::parse(bytes) {
        Ok(v) => v,
        Err(e) => {
            report.error("", alloc::format!("not valid JSON: {e}"));
            return report;
        }
    };
    check_keys(&root, "", &mut report);
    let Value::Object(top) = &root else {
        report.error(
            "",
            alloc::format!(
                "a manifest is a JSON object, this is a JSON {}",
                root.kind()
            ),
        );
        return report;
    };

    let declared = match top.field("mediaType") {
        None => None,
        Some(Value::String(s)) => Some(s.clone()),
        Some(other) => {
            report.error(
                "/mediaType",
                alloc::format!("mediaType must be a string, found a JSON {}", other.kind()),
            );
            None
        }
    };
    report.declared_media_type = declared.clone();
    let detected = report.detected_media_type.clone();

    // Which format to hold the document to: the declared type when it is
    // one ferry knows, else the detected one.
    let format = match declared.as_deref() {
        Some(d) if mt::is_manifest_type(d) => d.to_string(),
        Some(d) => {
            report.error(
                "/mediaType",
                alloc::format!(
                    "unknown manifest media type {d}{}",
                    near_miss(d),
                    d = crate::Quoted(d)
                ),
            );
            detected.clone()
        }
        None => detected.clone(),
    };
    if format.is_empty() {
        report.error(
            "",
            "cannot tell which manifest format this is: no known mediaType, and the structure matches none",
        );
        check_schema_version(top, None, &mut report);
        return report;
    }

    if declared.is_none() {
        match format.as_str() {
            mt::DOCKER_V2S2 | mt::DOCKER_LIST => report.error(
                "/mediaType",
                alloc::format!("mediaType is missing; {format} requires it"),
            ),
            mt::OCI_MANIFEST | mt::OCI_INDEX => report.warning(
                "/mediaType",
                alloc::format!("mediaType is missing; readers must guess that this is {format}"),
            ),
            _ => {}
        }
    } else if let Some(d) = declared.as_deref()
        && let Some(shape) = structure(top)
        && mt::is_manifest_type(d)
        && !shape.fits(d)
    {
        report.error(
            "/mediaType",
            alloc::format!(
                "mediaType says {d}, but the content is {}",
                shape.describe()
            ),
        );
    }

    check_schema_version(top, Some(&format), &mut report);

    // Does it parse as the format it claims? This catches ambiguity (fields
    // of other formats), wrong JSON types and schema 1 history problems.
    let parse_error = if mt::is_list(&format) {
        let kind = if format == mt::DOCKER_LIST {
            ListKind::DockerList
        } else {
            ListKind::OciIndex
        };
        List::parse_kind(bytes, kind).err()
    } else {
        match format.as_str() {
            mt::DOCKER_V2S2 => Schema2::parse(bytes).err(),
            mt::OCI_MANIFEST => OciManifest::parse(bytes).err(),
            _ => Schema1::parse(bytes).err(),
        }
    };
    if let Some(e) = parse_error {
        report.error(error_pointer(&e), e.to_string());
    }

    check_descriptors(top, &format, &mut report);
    if let Err(e) = crate::manifest::digest(bytes) {
        report.diagnostics.push(digest_diagnostic(&e));
    }
    report
}

/// The finding for a manifest without a digest: a signed schema 1
/// manifest whose payload cannot be recovered. No registry can store or
/// address it.
pub fn digest_diagnostic(e: &crate::manifest::jws::JwsError) -> Diagnostic {
    Diagnostic {
        pointer: "/signatures".into(),
        severity: Severity::Error,
        message: alloc::format!("the manifest digest cannot be computed: {e}"),
    }
}

/// What a document's members say it is, ignoring `mediaType`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Shape {
    List,
    Schema1,
    Image,
}

fn structure(top: &Object) -> Option<Shape> {
    let set = |name: &str| !matches!(top.field(name), None | Some(Value::Null));
    if set("manifests") {
        Some(Shape::List)
    } else if set("fsLayers") || set("history") {
        Some(Shape::Schema1)
    } else if set("config") || set("layers") {
        Some(Shape::Image)
    } else {
        None
    }
}

impl Shape {
    /// Whether a declared type fits this shape.
    fn fits(self, declared: &str) -> bool {
        match self {
            Shape::List => mt::is_list(declared),
            Shape::Schema1 => is_schema1(declared),
            Shape::Image => matches!(declared, mt::DOCKER_V2S2 | mt::OCI_MANIFEST),
        }
    }

    fn describe(self) -> &'static str {
        match self {
            Shape::List => "a list (it has \"manifests\")",
            Shape::Schema1 => "Docker schema 1 (it has \"fsLayers\"/\"history\")",
            Shape::Image => "an image manifest (it has \"config\"/\"layers\")",
        }
    }
}

fn is_schema1(t: &str) -> bool {
    matches!(t, mt::DOCKER_V2S1 | mt::DOCKER_V2S1_SIGNED)
}

/// A hint when an unknown type is a known one in disguise.
fn near_miss(declared: &str) -> String {
    let trimmed = declared.trim();
    for known in mt::MANIFEST_TYPES {
        if trimmed.eq_ignore_ascii_case(known) {
            return alloc::format!(
                " (did you mean {known}? media types are exact)",
                known = crate::Quoted(known)
            );
        }
    }
    String::new()
}

fn error_pointer(e: &crate::ManifestError) -> String {
    use crate::ManifestError as E;
    match e {
        E::Type(t) => t.pointer.clone(),
        E::UnsupportedMediaType { pointer, .. } | E::InvalidBase64 { pointer } => pointer.clone(),
        E::InvalidTime { pointer, .. } => pointer.clone(),
        E::UnsupportedSchemaVersion { .. } => "/schemaVersion".into(),
        E::Schema1(crate::manifest::schema1::HistoryError::LengthMismatch { .. }) => {
            "/history".into()
        }
        E::Schema1(_) => "/history".into(),
        _ => String::new(),
    }
}

fn check_schema_version(top: &Object, format: Option<&str>, report: &mut Report) {
    let expected = match format {
        Some(f) if is_schema1(f) => Some(1),
        Some(_) => Some(2),
        None => None,
    };
    match top.field("schemaVersion") {
        None => report.error("/schemaVersion", "schemaVersion is missing"),
        Some(Value::Number(n)) => match (n.as_i64(), expected) {
            (Some(v), Some(e)) if v == e => {}
            (Some(v), Some(e)) => report.error(
                "/schemaVersion",
                alloc::format!("schemaVersion is {v}; this format requires {e}"),
            ),
            (Some(1 | 2), None) => {}
            _ => report.error(
                "/schemaVersion",
                alloc::format!("unknown schemaVersion {}", n.as_str()),
            ),
        },
        Some(other) => report.error(
            "/schemaVersion",
            alloc::format!(
                "schemaVersion must be an integer, found a JSON {}",
                other.kind()
            ),
        ),
    }
}

/// Flags duplicate keys and keys that differ only in case, anywhere in the
/// document: Go reads the last of them, other parsers the first, so the
/// same bytes mean different things to different registries.
fn check_keys(value: &Value, pointer: &str, report: &mut Report) {
    match value {
        Value::Object(o) => {
            for (i, m) in o.members.iter().enumerate() {
                if let Some(earlier) = o.members[..i]
                    .iter()
                    .find(|e| json::go_fold_eq(&e.key, &m.key))
                {
                    let message = if earlier.key == m.key {
                        alloc::format!(
                            "duplicate key {}: parsers disagree on which value counts",
                            crate::Quoted(&m.key)
                        )
                    } else {
                        alloc::format!(
                            "key {} differs from {} only in case: Go reads them as one field, other parsers as two",
                            crate::Quoted(&m.key),
                            crate::Quoted(&earlier.key)
                        )
                    };
                    report.error(child_pointer(pointer, &m.key), message);
                }
            }
            for m in &o.members {
                check_keys(&m.value, &child_pointer(pointer, &m.key), report);
            }
        }
        Value::Array(items) => {
            for (i, item) in items.iter().enumerate() {
                check_keys(item, &index_pointer(pointer, i), report);
            }
        }
        _ => {}
    }
}

/// Checks each descriptor's digest, size and media type.
fn check_descriptors(top: &Object, format: &str, report: &mut Report) {
    let mut descriptors: Vec<(String, &Value)> = Vec::new();
    if is_schema1(format) {
        if let Some(Value::Array(layers)) = top.field("fsLayers") {
            for (i, layer) in layers.iter().enumerate() {
                let pointer = index_pointer("/fsLayers", i);
                if let Some(o) = layer.as_object() {
                    match o.field("blobSum") {
                        Some(Value::String(s)) => {
                            check_digest(s, &child_pointer(&pointer, "blobSum"), report)
                        }
                        _ => report.error(
                            child_pointer(&pointer, "blobSum"),
                            "blobSum is missing or not a string",
                        ),
                    }
                }
            }
        }
        return;
    }
    for name in ["config", "subject"] {
        if let Some(v @ Value::Object(_)) = top.field(name) {
            descriptors.push((alloc::format!("/{name}"), v));
        }
    }
    for name in ["layers", "manifests"] {
        if let Some(Value::Array(items)) = top.field(name) {
            for (i, item) in items.iter().enumerate() {
                descriptors.push((index_pointer(&alloc::format!("/{name}"), i), item));
            }
        }
    }
    if mt::is_list(format) && !matches!(top.field("manifests"), Some(Value::Array(_))) {
        report.error("/manifests", "a list needs a \"manifests\" array");
    }
    for (pointer, value) in descriptors {
        let Some(o) = value.as_object() else {
            report.error(
                pointer,
                alloc::format!(
                    "a descriptor is a JSON object, found a JSON {}",
                    value.kind()
                ),
            );
            continue;
        };
        match o.field("digest") {
            Some(Value::String(s)) => check_digest(s, &child_pointer(&pointer, "digest"), report),
            _ => report.error(
                child_pointer(&pointer, "digest"),
                "digest is missing or not a string",
            ),
        }
        match o.field("size") {
            Some(Value::Number(n)) => match n.as_i64() {
                Some(s) if s < 0 => report.error(
                    child_pointer(&pointer, "size"),
                    alloc::format!("size {s} is negative"),
                ),
                Some(_) => {}
                None => report.error(
                    child_pointer(&pointer, "size"),
                    alloc::format!("size {} is not a 64-bit integer", n.as_str()),
                ),
            },
            _ => report.error(
                child_pointer(&pointer, "size"),
                "size is missing or not a number",
            ),
        }
        match o.field("mediaType") {
            Some(Value::String(s)) if !s.is_empty() => {
                if let Some(problem) = media_type_problem(s) {
                    report.error(child_pointer(&pointer, "mediaType"), problem);
                }
            }
            _ => report.error(
                child_pointer(&pointer, "mediaType"),
                "mediaType is missing or empty",
            ),
        }
    }
}

fn check_digest(text: &str, pointer: &str, report: &mut Report) {
    if let Err(e) = crate::Digest::parse(text) {
        report.error(pointer, e.to_string());
    }
}

/// RFC 6838 shape: `type/subtype`, restricted-name characters, optional
/// `+suffix` and parameters; no whitespace or control characters.
fn media_type_problem(s: &str) -> Option<String> {
    if s.chars().any(|c| c.is_control() || c.is_whitespace()) {
        return Some(alloc::format!(
            "media type {s} contains whitespace or control characters",
            s = crate::Quoted(s)
        ));
    }
    let essence = s.split(';').next().unwrap_or(s);
    let ok_char = |c: char| c.is_ascii_alphanumeric() || "!#$&-^_.+".contains(c);
    match essence.split_once('/') {
        Some((t, sub))
            if !t.is_empty()
                && !sub.is_empty()
                && t.chars().all(ok_char)
                && sub.chars().all(ok_char) =>
        {
            None
        }
        _ => Some(alloc::format!(
            "media type {s} is not of the form type/subtype",
            s = crate::Quoted(s)
        )),
    }
}

/// Whether `bytes` would be accepted by [`Manifest::parse`] or as a list.
pub fn parses(bytes: &[u8]) -> bool {
    let guessed = crate::manifest::guess_media_type(bytes);
    if mt::is_list(&guessed) {
        List::from_blob(bytes, &guessed).is_ok()
    } else {
        Manifest::from_blob(bytes, &guessed).is_ok()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn errors(doc: &str) -> Vec<Diagnostic> {
        validate(doc.as_bytes())
            .diagnostics
            .into_iter()
            .filter(|d| d.severity == Severity::Error)
            .collect()
    }

    const GOOD_OCI: &str = r#"{"schemaVersion":2,"mediaType":"application/vnd.oci.image.manifest.v1+json","config":{"mediaType":"application/vnd.oci.image.config.v1+json","digest":"sha256:e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855","size":0},"layers":[]}"#;

    #[test]
    fn a_sound_oci_manifest_has_no_findings() {
        let r = validate(GOOD_OCI.as_bytes());
        assert!(r.is_valid(), "{:?}", r.diagnostics);
        assert!(r.diagnostics.is_empty(), "{:?}", r.diagnostics);
    }

    #[test]
    fn reports_every_problem_not_just_the_first() {
        let doc = r#"{"schemaVersion":2,"mediaType":"application/vnd.oci.image.manifest.v1+json","config":{"mediaType":"application/vnd.oci.image.config.v1+json","digest":"sha256:nothex","size":-1},"layers":[{"mediaType":"bad type","digest":"md5:00","size":1}]}"#;
        let pointers: Vec<String> = errors(doc).into_iter().map(|d| d.pointer).collect();
        for expected in [
            "/config/digest",
            "/config/size",
            "/layers/0/mediaType",
            "/layers/0/digest",
        ] {
            assert!(
                pointers.iter().any(|p| p == expected),
                "{expected} missing from {pointers:?}"
            );
        }
    }

    #[test]
    fn duplicate_and_case_variant_keys_are_errors() {
        let doc = GOOD_OCI.replacen(
            "\"layers\":[]",
            "\"layers\":[],\"Layers\":[],\"layers\":[]",
            1,
        );
        let found = errors(&doc);
        assert!(
            found.iter().any(|d| d.message.contains("only in case")),
            "{found:?}"
        );
        assert!(
            found.iter().any(|d| d.message.contains("duplicate key")),
            "{found:?}"
        );
    }

    #[test]
    fn missing_media_type_is_an_error_for_docker_and_a_warning_for_oci() {
        let oci = GOOD_OCI.replacen(
            "\"mediaType\":\"application/vnd.oci.image.manifest.v1+json\",",
            "",
            1,
        );
        let r = validate(oci.as_bytes());
        assert!(r.is_valid());
        assert!(
            r.diagnostics
                .iter()
                .any(|d| d.pointer == "/mediaType" && d.severity == Severity::Warning)
        );
    }

    #[test]
    fn contradicting_media_type_is_an_error() {
        let doc = GOOD_OCI.replacen(
            "application/vnd.oci.image.manifest.v1+json",
            mt::OCI_INDEX,
            1,
        );
        let found = errors(&doc);
        assert!(found.iter().any(|d| d.pointer == "/mediaType"), "{found:?}");
    }

    #[test]
    fn unknown_schema_version_is_an_error() {
        let doc = GOOD_OCI.replacen("\"schemaVersion\":2", "\"schemaVersion\":3", 1);
        assert!(errors(&doc).iter().any(|d| d.pointer == "/schemaVersion"));
    }

    #[test]
    fn oversized_documents_are_errors() {
        let mut doc = String::from(GOOD_OCI);
        doc.push_str(&" ".repeat(MAX_MANIFEST_SIZE));
        assert!(errors(&doc).iter().any(|d| d.message.contains("4 MiB")));
    }

    #[test]
    fn broken_schema1_signatures_are_errors() {
        let doc = r#"{"schemaVersion":1,"name":"a/b","tag":"t","architecture":"amd64","fsLayers":[{"blobSum":"sha256:a3ed95caeb02ffe68cdd9fd84406680ae93d633cb16422d00e8c7c22955b46d4"}],"history":[{"v1Compatibility":"{\"id\":\"aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa\"}"}],"signatures":"nope"}"#;
        assert!(
            errors(doc).iter().any(|d| d.pointer == "/signatures"),
            "{:?}",
            errors(doc)
        );
    }

    #[test]
    fn wrong_case_media_type_gets_a_hint() {
        let doc = GOOD_OCI.replacen(
            "application/vnd.oci.image.manifest.v1+json",
            "application/vnd.OCI.image.manifest.v1+json",
            1,
        );
        assert!(
            errors(&doc)
                .iter()
                .any(|d| d.message.contains("did you mean"))
        );
    }
}
