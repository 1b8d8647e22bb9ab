//! Converting between Docker manifest lists and OCI image indexes.
//!
//! The two formats carry almost the same information, but not quite:
//! - Docker list → OCI index drops the Docker-only platform `features`.
//! - OCI index → Docker list drops the index's `annotations`,
//!   `artifactType` and `subject`, and each entry's `annotations`, `data`
//!   and `artifactType`. An OCI entry may have no platform; a Docker list
//!   entry always has one.
//!
//! containers/image silently fills a missing platform with the platform of
//! the machine doing the conversion, which makes the result depend on where
//! it ran. ferry never invents data: the caller may name a platform to use,
//! and otherwise the entry gets an empty platform (`"os": ""`,
//! `"architecture": ""`), which no platform choice will ever select. Either
//! way, every dropped or defaulted value is reported, so the caller can
//! decide whether the conversion is acceptable. Members ferry does not
//! model belong to the source format and are dropped and reported too.

use alloc::string::{String, ToString};
use alloc::vec::Vec;
use core::fmt;

use super::{List, ListKind};
use crate::json::{self, Object, Value, child_pointer, index_pointer};
use crate::manifest::ManifestError;
use crate::platform::Platform;

/// How to fill what the target format requires but the source lacks.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ConvertOptions {
    /// For OCI → Docker: the platform to give entries that have none.
    /// `None` writes an empty platform.
    pub platform_for_unplatformed: Option<Platform>,
}

/// A converted list and what the conversion lost or made up.
#[derive(Debug, Clone, PartialEq)]
pub struct Conversion {
    pub list: List,
    pub losses: Vec<Loss>,
}

impl Conversion {
    /// Whether the conversion kept everything.
    pub fn is_lossless(&self) -> bool {
        self.losses.is_empty()
    }
}

/// One value that did not survive a conversion as it was.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct Loss {
    /// JSON pointer in the source document.
    pub pointer: String,
    pub kind: LossKind,
    /// What happened, in a sentence.
    pub detail: String,
}

/// Whether a value was dropped or filled in.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize)]
#[serde(rename_all = "lowercase")]
pub enum LossKind {
    /// The target format has no place for it.
    Dropped,
    /// The target format requires it and the source has none.
    Defaulted,
}

impl fmt::Display for Loss {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let kind = match self.kind {
            LossKind::Dropped => "dropped",
            LossKind::Defaulted => "defaulted",
        };
        write!(f, "{kind} {}: {}", self.pointer, self.detail)
    }
}

/// Members each format defines at the top and in entries and platforms;
/// everything else is unknown to it.
const DOCKER_TOP: [&str; 3] = ["schemaVersion", "mediaType", "manifests"];
const OCI_TOP: [&str; 6] = [
    "schemaVersion",
    "mediaType",
    "artifactType",
    "manifests",
    "subject",
    "annotations",
];
const DOCKER_ENTRY: [&str; 5] = ["mediaType", "size", "digest", "urls", "platform"];
const OCI_ENTRY: [&str; 8] = [
    "mediaType",
    "digest",
    "size",
    "urls",
    "annotations",
    "data",
    "platform",
    "artifactType",
];
const OCI_PLATFORM: [&str; 5] = ["architecture", "os", "os.version", "os.features", "variant"];
const DOCKER_PLATFORM: [&str; 6] = [
    "architecture",
    "os",
    "os.version",
    "os.features",
    "variant",
    "features",
];

impl List {
    /// Converts to `kind`. Converting to the list's own kind returns it
    /// unchanged, bytes included.
    pub fn convert_to(
        &self,
        kind: ListKind,
        options: &ConvertOptions,
    ) -> Result<Conversion, ManifestError> {
        if kind == self.kind {
            return Ok(Conversion {
                list: self.clone(),
                losses: Vec::new(),
            });
        }
        let source = json::parse(self.raw())?;
        let empty = Object::default();
        let top = source.as_object().unwrap_or(&empty);
        let mut losses = Vec::new();
        let (source_top, source_entry, source_platform): (&[&str], &[&str], &[&str]) =
            match self.kind {
                ListKind::DockerList => (&DOCKER_TOP, &DOCKER_ENTRY, &DOCKER_PLATFORM),
                ListKind::OciIndex => (&OCI_TOP, &OCI_ENTRY, &OCI_PLATFORM),
            };
        report_unknown(top, "", source_top, &mut losses);

        let mut out = Object::default();
        out.members.push(member("schemaVersion", Value::from(2)));
        out.members
            .push(member("mediaType", Value::from(kind.media_type())));
        let mut manifests = Vec::with_capacity(self.entries.len());
        let raw_entries: Vec<Option<&Object>> = match top.field("manifests") {
            Some(Value::Array(items)) => items.iter().map(Value::as_object).collect(),
            _ => Vec::new(),
        };
        for (i, entry) in self.entries.iter().enumerate() {
            let pointer = index_pointer("/manifests", i);
            let raw = raw_entries.get(i).copied().flatten();
            if let Some(raw) = raw {
                report_unknown(raw, &pointer, source_entry, &mut losses);
                if let Some(p) = raw.field("platform").and_then(Value::as_object) {
                    report_unknown(
                        p,
                        &child_pointer(&pointer, "platform"),
                        source_platform,
                        &mut losses,
                    );
                }
            }
            let mut e = Object::default();
            match kind {
                ListKind::OciIndex => {
                    e.members
                        .push(member("mediaType", Value::from(entry.media_type.as_str())));
                    e.members
                        .push(member("digest", Value::from(entry.digest_text.as_str())));
                    e.members.push(member("size", Value::from(entry.size)));
                    push_strings(&mut e, "urls", &entry.urls);
                    if let Some(p) = &entry.platform {
                        if !p.features.is_empty() {
                            losses.push(Loss {
                                pointer: alloc::format!("{pointer}/platform/features"),
                                kind: LossKind::Dropped,
                                detail: "OCI platforms have no \"features\"".into(),
                            });
                        }
                        e.members.push(member("platform", platform_value(p, false)));
                    }
                }
                ListKind::DockerList => {
                    e.members
                        .push(member("mediaType", Value::from(entry.media_type.as_str())));
                    e.members.push(member("size", Value::from(entry.size)));
                    e.members
                        .push(member("digest", Value::from(entry.digest_text.as_str())));
                    push_strings(&mut e, "urls", &entry.urls);
                    for (name, present) in [
                        ("annotations", !entry.annotations.is_empty()),
                        ("data", entry.data.is_some()),
                        ("artifactType", !entry.artifact_type.is_empty()),
                    ] {
                        if present {
                            losses.push(Loss {
                                pointer: child_pointer(&pointer, name),
                                kind: LossKind::Dropped,
                                detail: alloc::format!("Docker list entries have no \"{name}\""),
                            });
                        }
                    }
                    let platform = match (&entry.platform, &options.platform_for_unplatformed) {
                        (Some(p), _) => p.clone(),
                        (None, Some(default)) => {
                            losses.push(Loss {
                                pointer: child_pointer(&pointer, "platform"),
                                kind: LossKind::Defaulted,
                                detail: alloc::format!(
                                    "the entry has no platform; {default} was filled in as asked"
                                ),
                            });
                            default.clone()
                        }
                        (None, None) => {
                            losses.push(Loss {
                                pointer: child_pointer(&pointer, "platform"),
                                kind: LossKind::Defaulted,
                                detail: "the entry has no platform and Docker lists require one; an empty platform was written, which no platform choice selects".into(),
                            });
                            Platform::default()
                        }
                    };
                    e.members
                        .push(member("platform", platform_value(&platform, true)));
                }
            }
            manifests.push(Value::Object(e));
        }
        out.members
            .push(member("manifests", Value::Array(manifests)));
        if kind == ListKind::DockerList {
            for (name, present) in [
                ("annotations", !self.annotations.is_empty()),
                ("artifactType", !self.artifact_type.is_empty()),
                ("subject", self.subject.is_some()),
            ] {
                if present {
                    losses.push(Loss {
                        pointer: alloc::format!("/{name}"),
                        kind: LossKind::Dropped,
                        detail: alloc::format!("Docker lists have no \"{name}\""),
                    });
                }
            }
        }
        let bytes = Value::Object(out).to_compact(true).into_bytes();
        let list = List::parse_kind(&bytes, kind)?;
        Ok(Conversion { list, losses })
    }
}

fn member(key: &str, value: Value) -> json::Member {
    json::Member {
        key: key.to_string(),
        value,
    }
}

fn push_strings(object: &mut Object, key: &str, items: &[String]) {
    if !items.is_empty() {
        object.members.push(member(
            key,
            Value::Array(items.iter().map(|s| Value::from(s.as_str())).collect()),
        ));
    }
}

/// A platform in the target format's field order, with Go's `omitempty`
/// (architecture and os are always written).
fn platform_value(p: &Platform, docker: bool) -> Value {
    let mut o = Object::default();
    o.members
        .push(member("architecture", Value::from(p.architecture.as_str())));
    o.members.push(member("os", Value::from(p.os.as_str())));
    if !p.os_version.is_empty() {
        o.members
            .push(member("os.version", Value::from(p.os_version.as_str())));
    }
    push_strings(&mut o, "os.features", &p.os_features);
    if !p.variant.is_empty() {
        o.members
            .push(member("variant", Value::from(p.variant.as_str())));
    }
    if docker {
        push_strings(&mut o, "features", &p.features);
    }
    Value::Object(o)
}

/// Reports members of `object` that its format does not define.
fn report_unknown(object: &Object, pointer: &str, known: &[&str], losses: &mut Vec<Loss>) {
    for m in &object.members {
        if !known.iter().any(|k| json::go_fold_eq(k, &m.key)) {
            losses.push(Loss {
                pointer: child_pointer(pointer, &m.key),
                kind: LossKind::Dropped,
                detail: "not a member of the source format, so it has no place in the target"
                    .into(),
            });
        }
    }
}
