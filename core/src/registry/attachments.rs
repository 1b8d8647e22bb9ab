//! Sigstore signatures stored in the registry, as cosign and
//! containers/image keep them: an OCI manifest tagged
//! `sha256-<hex>.sig` (the signed manifest's digest with `:` turned into
//! `-`), whose layers are the signatures: each layer's media type, its
//! blob (the signed payload) and its annotations (the signature itself,
//! and a certificate and bundle when there are some).
//!
//! Reading: [`Attachment::parse`] the manifest at [`tag`], fetch each
//! layer's blob, and make the stored signature with [`signature`]. Writing:
//! read the existing attachment (manifest and config) if any, and
//! [`update`] it with the new signatures; the native crate uploads what it
//! says and puts the manifest at the tag.
//!
//! The manifest and config are written as containers/image 5.23 writes
//! them (Go's `encoding/json` over image-spec's `Manifest` and `Image`
//! structs), so an attachment ferry updates is byte for byte the one
//! skopeo would have made.

use alloc::collections::BTreeMap;
use alloc::format;
use alloc::string::{String, ToString};
use alloc::vec::Vec;
use core::fmt;

use crate::digest::Digest;
use crate::json::{self, Fields, Member, Object, TypeError, Value};
use crate::manifest::{Descriptor, ManifestError, OciManifest};
use crate::media_type as mt;
use crate::platform::Platform;
use crate::registry::lookaside::MAX_SIGNATURE_SIZE;
use crate::trust::blob::{self, Signature};

/// The largest attachment config read (containers/image's limit for
/// configs).
pub const MAX_CONFIG_SIZE: usize = 4 * 1024 * 1024;

/// The tag that holds the signatures of the manifest `digest`.
pub fn tag(digest: &Digest) -> String {
    crate::referrers::cosign_tag(digest, ".sig")
}

/// Why an attachment cannot be read or updated.
#[derive(Debug, Clone, PartialEq)]
#[non_exhaustive]
pub enum AttachmentError {
    /// The manifest at the tag is not an OCI image manifest.
    MediaType { tag: String, found: String },
    /// The manifest at the tag cannot be parsed.
    Manifest { tag: String, error: ManifestError },
    /// A layer (or the config) names no valid digest.
    Digest { pointer: String, found: String },
    /// A signature layer is larger than a signature may be.
    TooLarge { digest: String, size: i64 },
    /// A blob's content is not what its descriptor names.
    Content { digest: String },
    /// The config is not what containers/image reads as an image config.
    Config { digest: String, error: String },
    /// A signature to write is not a sigstore signature.
    NotSigstore { index: usize, reason: String },
}

impl fmt::Display for AttachmentError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            AttachmentError::MediaType { tag, found } => write!(
                f,
                "unexpected MIME type for sigstore attachment manifest {tag}: {found}",
                found = crate::Quoted(found)
            ),
            AttachmentError::Manifest { tag, error } => {
                write!(f, "parsing sigstore attachment manifest {tag}: {error}")
            }
            AttachmentError::Digest { pointer, found } => {
                write!(
                    f,
                    "sigstore attachment {pointer}: invalid digest {found}",
                    found = crate::Quoted(found)
                )
            }
            AttachmentError::TooLarge { digest, size } => write!(
                f,
                "sigstore attachment layer {digest} is {size} bytes, more than the {MAX_SIGNATURE_SIZE} a signature may be"
            ),
            AttachmentError::Content { digest } => {
                write!(
                    f,
                    "sigstore attachment blob {digest} does not match its digest or size"
                )
            }
            AttachmentError::Config { digest, error } => {
                write!(f, "parsing sigstore attachment config {digest}: {error}")
            }
            AttachmentError::NotSigstore { index, reason } => {
                write!(f, "signature {index} is not a sigstore signature: {reason}")
            }
        }
    }
}

impl core::error::Error for AttachmentError {}

/// An attachment manifest as read from the registry.
#[derive(Debug, Clone, PartialEq)]
pub struct Attachment {
    manifest: OciManifest,
}

impl Attachment {
    /// Reads the manifest found at `tag`, served as `media_type` (which
    /// containers/image requires to be OCI's).
    pub fn parse(tag: &str, bytes: &[u8], media_type: &str) -> Result<Self, AttachmentError> {
        if media_type != mt::OCI_MANIFEST {
            return Err(AttachmentError::MediaType {
                tag: tag.to_string(),
                found: media_type.to_string(),
            });
        }
        let manifest = OciManifest::parse(bytes).map_err(|error| AttachmentError::Manifest {
            tag: tag.to_string(),
            error,
        })?;
        Ok(Attachment { manifest })
    }

    /// The signature layers, in order; every one is returned as a
    /// signature (attestations too: the policy decides by media type).
    pub fn layers(&self) -> &[Descriptor] {
        &self.manifest.layers
    }

    /// The config, which [`update`] needs.
    pub fn config(&self) -> &Descriptor {
        &self.manifest.config
    }

    /// The blobs to fetch before [`signature`] can be made of them: each
    /// layer's digest, validated, with the most bytes to read.
    pub fn payloads(&self) -> Result<Vec<Digest>, AttachmentError> {
        self.layers()
            .iter()
            .enumerate()
            .map(|(i, layer)| {
                let digest = layer.digest().map_err(|_| AttachmentError::Digest {
                    pointer: format!("/layers/{i}/digest"),
                    found: layer.digest_text.clone(),
                })?;
                if layer.size > MAX_SIGNATURE_SIZE as i64 {
                    return Err(AttachmentError::TooLarge {
                        digest: layer.digest_text.clone(),
                        size: layer.size,
                    });
                }
                Ok(digest)
            })
            .collect()
    }
}

/// The stored signature a layer and its blob make
/// (`\0sigstore-json\n{…}`), after checking the blob is the layer's.
pub fn signature(layer: &Descriptor, payload: &[u8]) -> Result<Vec<u8>, AttachmentError> {
    let matches = layer.digest().is_ok_and(|d| d.matches(payload))
        && layer.check_size(payload.len() as u64).is_ok();
    if !matches {
        return Err(AttachmentError::Content {
            digest: layer.digest_text.clone(),
        });
    }
    Ok(blob::Sigstore {
        media_type: layer.media_type.clone(),
        payload: payload.to_vec(),
        annotations: layer
            .annotations
            .iter()
            .map(|(k, v)| (k.clone(), v.clone()))
            .collect(),
    }
    .to_blob())
}

/// The sigstore signatures among stored signature blobs, with their
/// positions; anything else is refused.
pub fn sigstore_signatures(blobs: &[Vec<u8>]) -> Result<Vec<blob::Sigstore>, AttachmentError> {
    blobs
        .iter()
        .enumerate()
        .map(|(index, b)| match Signature::from_blob(b) {
            Ok(Signature::Sigstore(s)) => Ok(s),
            Ok(Signature::SimpleSigning(_)) => Err(AttachmentError::NotSigstore {
                index,
                reason: "a simple signature".into(),
            }),
            Err(e) => Err(AttachmentError::NotSigstore {
                index,
                reason: e.to_string(),
            }),
        })
        .collect()
}

/// A blob to upload.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Upload {
    pub digest: Digest,
    pub media_type: String,
    pub bytes: Vec<u8>,
}

/// What writing signatures to an attachment takes: upload these blobs
/// (new payloads, then the config), then put `manifest` at the tag.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Update {
    pub uploads: Vec<Upload>,
    pub manifest: Vec<u8>,
}

/// Adds `signatures` to the attachment `existing` (its manifest and its
/// config's bytes; `None` when the tag does not exist yet), as
/// containers/image does: a signature already there (same media type,
/// payload and annotations) is not added again, new ones go after the
/// existing layers with their payload's digest appended to the config's
/// `diff_ids`, and the manifest and config are rewritten as Go writes
/// them.
pub fn update(
    existing: Option<(&Attachment, &[u8])>,
    signatures: &[blob::Sigstore],
) -> Result<Update, AttachmentError> {
    let (mut manifest, mut config) = match existing {
        None => (
            GoManifest {
                schema_version: 2,
                media_type: mt::OCI_MANIFEST.to_string(),
                config: Descriptor {
                    media_type: mt::OCI_CONFIG.to_string(),
                    ..Descriptor::default()
                },
                layers: Vec::new(),
                subject: None,
                annotations: BTreeMap::new(),
            },
            GoImage {
                rootfs_type: "layers".into(),
                ..GoImage::default()
            },
        ),
        Some((attachment, config_bytes)) => {
            let described = &attachment.manifest.config;
            let valid = described.digest().is_ok_and(|d| d.matches(config_bytes))
                && described.check_size(config_bytes.len() as u64).is_ok();
            if !valid {
                return Err(AttachmentError::Content {
                    digest: described.digest_text.clone(),
                });
            }
            let m = &attachment.manifest;
            (
                GoManifest {
                    schema_version: m.schema_version,
                    media_type: m.media_type.clone(),
                    config: m.config.clone(),
                    layers: m.layers.clone(),
                    subject: m.subject.clone(),
                    annotations: m.annotations.clone(),
                },
                GoImage::parse(config_bytes).map_err(|error| AttachmentError::Config {
                    digest: described.digest_text.clone(),
                    error,
                })?,
            )
        }
    };
    let mut uploads = Vec::new();
    for signature in signatures {
        let annotations: BTreeMap<String, String> = signature.annotations.iter().cloned().collect();
        let digest = Digest::sha256_of(&signature.payload);
        let present = manifest.layers.iter().any(|layer| {
            layer.media_type == signature.media_type
                && layer.size == signature.payload.len() as i64
                && layer.digest_text == digest.as_str()
                && layer.annotations == annotations
        });
        if present {
            continue;
        }
        manifest.layers.push(Descriptor {
            media_type: signature.media_type.clone(),
            digest_text: digest.to_string(),
            size: signature.payload.len() as i64,
            annotations,
            ..Descriptor::default()
        });
        config.diff_ids.push(digest.to_string());
        uploads.push(Upload {
            digest,
            media_type: signature.media_type.clone(),
            bytes: signature.payload.clone(),
        });
    }
    let config_bytes = config.to_json().into_bytes();
    let config_digest = Digest::sha256_of(&config_bytes);
    manifest.config = Descriptor {
        media_type: mt::OCI_CONFIG.to_string(),
        digest_text: config_digest.to_string(),
        size: config_bytes.len() as i64,
        ..Descriptor::default()
    };
    uploads.push(Upload {
        digest: config_digest,
        media_type: mt::OCI_CONFIG.to_string(),
        bytes: config_bytes,
    });
    Ok(Update {
        uploads,
        manifest: manifest.to_json().into_bytes(),
    })
}

// ---------------------------------------------------------------------------
// Go's encoding of image-spec 1.1.0-rc2's structs.

fn push(o: &mut Object, key: &str, value: Value) {
    o.members.push(Member {
        key: key.to_string(),
        value,
    });
}

fn strings(items: &[String]) -> Value {
    Value::Array(items.iter().map(|s| Value::from(s.as_str())).collect())
}

fn string_map(map: &BTreeMap<String, String>) -> Value {
    Value::Object(Object::from_pairs(
        map.iter()
            .map(|(k, v)| (k.as_str(), Value::from(v.as_str()))),
    ))
}

/// A `map[string]struct{}`: keys sorted, every value `{}`.
fn set(keys: &[String]) -> Value {
    let mut sorted = keys.to_vec();
    sorted.sort();
    sorted.dedup();
    Value::Object(Object::from_pairs(
        sorted
            .iter()
            .map(|k| (k.as_str(), Value::Object(Object::default()))),
    ))
}

/// `imgspecv1.Descriptor`, as Go serializes it (also the entries of a
/// fallback referrers index, [`crate::referrers::add_to_index`]).
pub(crate) fn descriptor_json(d: &Descriptor) -> Value {
    let mut o = Object::default();
    if !d.media_type.is_empty() {
        push(&mut o, "mediaType", Value::from(d.media_type.as_str()));
    }
    push(&mut o, "digest", Value::from(d.digest_text.as_str()));
    push(&mut o, "size", Value::from(d.size));
    if !d.urls.is_empty() {
        push(&mut o, "urls", strings(&d.urls));
    }
    if !d.annotations.is_empty() {
        push(&mut o, "annotations", string_map(&d.annotations));
    }
    if let Some(data) = &d.data {
        // Go decodes []byte and encodes it again, padded.
        let bytes = crate::base64::decode_padded(data, crate::base64::Alphabet::Standard)
            .unwrap_or_default();
        if !bytes.is_empty() {
            let text = crate::base64::encode_padded(&bytes, crate::base64::Alphabet::Standard);
            push(&mut o, "data", Value::from(text.as_str()));
        }
    }
    if let Some(p) = &d.platform {
        push(&mut o, "platform", platform(p));
    }
    if !d.artifact_type.is_empty() {
        push(
            &mut o,
            "artifactType",
            Value::from(d.artifact_type.as_str()),
        );
    }
    Value::Object(o)
}

/// `imgspecv1.Platform`.
fn platform(p: &Platform) -> Value {
    let mut o = Object::default();
    push(&mut o, "architecture", Value::from(p.architecture.as_str()));
    push(&mut o, "os", Value::from(p.os.as_str()));
    if !p.os_version.is_empty() {
        push(&mut o, "os.version", Value::from(p.os_version.as_str()));
    }
    if !p.os_features.is_empty() {
        push(&mut o, "os.features", strings(&p.os_features));
    }
    if !p.variant.is_empty() {
        push(&mut o, "variant", Value::from(p.variant.as_str()));
    }
    Value::Object(o)
}

/// `manifest.OCI1` (image-spec's `Manifest`), as c/image serializes it.
struct GoManifest {
    schema_version: i64,
    media_type: String,
    config: Descriptor,
    layers: Vec<Descriptor>,
    subject: Option<Descriptor>,
    annotations: BTreeMap<String, String>,
}

impl GoManifest {
    fn to_json(&self) -> String {
        let mut o = Object::default();
        push(&mut o, "schemaVersion", Value::from(self.schema_version));
        if !self.media_type.is_empty() {
            push(&mut o, "mediaType", Value::from(self.media_type.as_str()));
        }
        push(&mut o, "config", descriptor_json(&self.config));
        push(
            &mut o,
            "layers",
            Value::Array(self.layers.iter().map(descriptor_json).collect()),
        );
        if let Some(subject) = &self.subject {
            push(&mut o, "subject", descriptor_json(subject));
        }
        if !self.annotations.is_empty() {
            push(&mut o, "annotations", string_map(&self.annotations));
        }
        Value::Object(o).to_compact(true)
    }
}

/// `imgspecv1.History`.
#[derive(Debug, Clone, Default)]
struct GoHistory {
    created: Option<String>,
    created_by: String,
    author: String,
    comment: String,
    empty_layer: bool,
}

/// `imgspecv1.ImageConfig`.
#[derive(Debug, Clone, Default)]
struct GoImageConfig {
    user: String,
    exposed_ports: Vec<String>,
    env: Vec<String>,
    entrypoint: Vec<String>,
    cmd: Vec<String>,
    volumes: Vec<String>,
    working_dir: String,
    labels: BTreeMap<String, String>,
    stop_signal: String,
    args_escaped: bool,
}

/// `imgspecv1.Image`: what c/image reads an attachment's config into and
/// writes back (members it does not know are dropped, as in Go).
#[derive(Debug, Clone, Default)]
struct GoImage {
    created: Option<String>,
    author: String,
    architecture: String,
    variant: String,
    os: String,
    os_version: String,
    os_features: Vec<String>,
    config: GoImageConfig,
    rootfs_type: String,
    diff_ids: Vec<String>,
    history: Vec<GoHistory>,
}

fn time(f: &Fields<'_>, name: &str) -> Result<Option<String>, String> {
    match f.get::<String>(name).map_err(|e| e.to_string())? {
        None => Ok(None),
        Some(text) => crate::manifest::rfc3339::normalize(&text)
            .map(Some)
            .ok_or_else(|| {
                format!(
                    "{}: not an RFC 3339 time: {text}",
                    json::child_pointer(f.pointer, name),
                    text = crate::Quoted(&text)
                )
            }),
    }
}

fn keys(f: &Fields<'_>, name: &str) -> Result<Vec<String>, String> {
    match f.object.field(name) {
        None | Some(Value::Null) => Ok(Vec::new()),
        Some(Value::Object(o)) => o
            .members
            .iter()
            .map(|m| match &m.value {
                Value::Object(_) | Value::Null => Ok(m.key.clone()),
                other => Err(other
                    .type_error(&json::child_pointer(f.pointer, name), "struct")
                    .to_string()),
            })
            .collect(),
        Some(other) => Err(other
            .type_error(&json::child_pointer(f.pointer, name), "map")
            .to_string()),
    }
}

/// A decoding problem, as text.
struct Problem(String);

impl From<TypeError> for Problem {
    fn from(e: TypeError) -> Self {
        Problem(e.to_string())
    }
}

impl From<String> for Problem {
    fn from(s: String) -> Self {
        Problem(s)
    }
}

impl GoImage {
    fn parse(bytes: &[u8]) -> Result<GoImage, String> {
        let value = json::parse(bytes).map_err(|e| e.to_string())?;
        let Value::Object(top) = &value else {
            return Err(value.type_error("", "struct").to_string());
        };
        let f = Fields::new(top, "");
        let e = |e: TypeError| e.to_string();
        let config = match f.object("config").map_err(e)? {
            None => GoImageConfig::default(),
            Some((o, p)) => {
                let c = Fields::new(o, &p);
                GoImageConfig {
                    user: c.string("User").map_err(e)?,
                    exposed_ports: keys(&c, "ExposedPorts")?,
                    env: c.strings("Env").map_err(e)?,
                    entrypoint: c.strings("Entrypoint").map_err(e)?,
                    cmd: c.strings("Cmd").map_err(e)?,
                    volumes: keys(&c, "Volumes")?,
                    working_dir: c.string("WorkingDir").map_err(e)?,
                    labels: c.string_map("Labels").map_err(e)?,
                    stop_signal: c.string("StopSignal").map_err(e)?,
                    args_escaped: c.get::<bool>("ArgsEscaped").map_err(e)?.unwrap_or(false),
                }
            }
        };
        let (rootfs_type, diff_ids) = match f.object("rootfs").map_err(e)? {
            None => (String::new(), Vec::new()),
            Some((o, p)) => {
                let r = Fields::new(o, &p);
                (
                    r.string("type").map_err(e)?,
                    r.strings("diff_ids").map_err(e)?,
                )
            }
        };
        let history = f
            .slice("history", |v, p| -> Result<GoHistory, Problem> {
                let Some(o) = v.as_struct() else {
                    return match v {
                        Value::Null => Ok(GoHistory::default()),
                        other => Err(other.type_error(p, "struct").into()),
                    };
                };
                let h = Fields::new(o, p);
                Ok(GoHistory {
                    created: time(&h, "created")?,
                    created_by: h.string("created_by").map_err(e)?,
                    author: h.string("author").map_err(e)?,
                    comment: h.string("comment").map_err(e)?,
                    empty_layer: h.get::<bool>("empty_layer").map_err(e)?.unwrap_or(false),
                })
            })
            .map_err(|Problem(p)| p)?;
        Ok(GoImage {
            created: time(&f, "created")?,
            author: f.string("author").map_err(e)?,
            architecture: f.string("architecture").map_err(e)?,
            variant: f.string("variant").map_err(e)?,
            os: f.string("os").map_err(e)?,
            os_version: f.string("os.version").map_err(e)?,
            os_features: f.strings("os.features").map_err(e)?,
            config,
            rootfs_type,
            diff_ids,
            history,
        })
    }

    fn to_json(&self) -> String {
        let text = |s: &str| Value::from(s);
        let mut o = Object::default();
        if let Some(created) = &self.created {
            push(&mut o, "created", text(created));
        }
        if !self.author.is_empty() {
            push(&mut o, "author", text(&self.author));
        }
        push(&mut o, "architecture", text(&self.architecture));
        if !self.variant.is_empty() {
            push(&mut o, "variant", text(&self.variant));
        }
        push(&mut o, "os", text(&self.os));
        if !self.os_version.is_empty() {
            push(&mut o, "os.version", text(&self.os_version));
        }
        if !self.os_features.is_empty() {
            push(&mut o, "os.features", strings(&self.os_features));
        }
        let c = &self.config;
        let mut config = Object::default();
        if !c.user.is_empty() {
            push(&mut config, "User", text(&c.user));
        }
        if !c.exposed_ports.is_empty() {
            push(&mut config, "ExposedPorts", set(&c.exposed_ports));
        }
        for (key, list) in [
            ("Env", &c.env),
            ("Entrypoint", &c.entrypoint),
            ("Cmd", &c.cmd),
        ] {
            if !list.is_empty() {
                push(&mut config, key, strings(list));
            }
        }
        if !c.volumes.is_empty() {
            push(&mut config, "Volumes", set(&c.volumes));
        }
        if !c.working_dir.is_empty() {
            push(&mut config, "WorkingDir", text(&c.working_dir));
        }
        if !c.labels.is_empty() {
            push(&mut config, "Labels", string_map(&c.labels));
        }
        if !c.stop_signal.is_empty() {
            push(&mut config, "StopSignal", text(&c.stop_signal));
        }
        if c.args_escaped {
            push(&mut config, "ArgsEscaped", Value::Bool(true));
        }
        push(&mut o, "config", Value::Object(config));
        let mut rootfs = Object::default();
        push(&mut rootfs, "type", text(&self.rootfs_type));
        push(
            &mut rootfs,
            "diff_ids",
            // A nil slice is `null` in Go.
            if self.diff_ids.is_empty() {
                Value::Null
            } else {
                strings(&self.diff_ids)
            },
        );
        push(&mut o, "rootfs", Value::Object(rootfs));
        if !self.history.is_empty() {
            let history = self
                .history
                .iter()
                .map(|h| {
                    let mut e = Object::default();
                    if let Some(created) = &h.created {
                        push(&mut e, "created", text(created));
                    }
                    for (key, value) in [
                        ("created_by", &h.created_by),
                        ("author", &h.author),
                        ("comment", &h.comment),
                    ] {
                        if !value.is_empty() {
                            push(&mut e, key, text(value));
                        }
                    }
                    if h.empty_layer {
                        push(&mut e, "empty_layer", Value::Bool(true));
                    }
                    Value::Object(e)
                })
                .collect();
            push(&mut o, "history", Value::Array(history));
        }
        Value::Object(o).to_compact(true)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use alloc::vec;

    const SIGNATURE: &str = "dev.cosignproject.cosign/signature";

    fn fixture(name: &str) -> Vec<u8> {
        match name {
            "new/manifest.json" => {
                include_bytes!("../../tests/fixtures/attachments/new/manifest.json").to_vec()
            }
            "new/config.json" => {
                include_bytes!("../../tests/fixtures/attachments/new/config.json").to_vec()
            }
            "existing/manifest.json" => {
                include_bytes!("../../tests/fixtures/attachments/existing/manifest.json").to_vec()
            }
            "existing/config.json" => {
                include_bytes!("../../tests/fixtures/attachments/existing/config.json").to_vec()
            }
            "existing/old-manifest.json" => {
                include_bytes!("../../tests/fixtures/attachments/existing/old-manifest.json")
                    .to_vec()
            }
            "existing/old-config.json" => {
                include_bytes!("../../tests/fixtures/attachments/existing/old-config.json").to_vec()
            }
            other => panic!("no fixture {other}"),
        }
    }

    fn sigstore(payload: &[u8], annotations: &[(&str, &str)]) -> blob::Sigstore {
        blob::Sigstore {
            media_type: blob::SIGSTORE_MEDIA_TYPE.into(),
            payload: payload.to_vec(),
            annotations: annotations
                .iter()
                .map(|(k, v)| (k.to_string(), v.to_string()))
                .collect(),
        }
    }

    fn existing() -> (Attachment, Vec<u8>) {
        let attachment = Attachment::parse(
            "x.sig",
            &fixture("existing/old-manifest.json"),
            mt::OCI_MANIFEST,
        )
        .unwrap();
        (attachment, fixture("existing/old-config.json"))
    }

    #[test]
    fn the_tag_is_the_digest_with_a_dash_and_sig() {
        assert_eq!(
            tag(&Digest::sha256_of(b"")),
            "sha256-e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855.sig"
        );
    }

    #[test]
    fn a_new_attachment_is_the_manifest_and_config_containers_image_writes() {
        let signature = sigstore(
            br#"{"critical":{"identity":{"docker-reference":"reg.example/a<b>"}}}"#,
            &[(SIGNATURE, "MEUCIQ+/="), ("z&last", "<v>")],
        );
        let update = update(None, core::slice::from_ref(&signature)).unwrap();
        assert_eq!(
            String::from_utf8(update.manifest).unwrap(),
            String::from_utf8(fixture("new/manifest.json")).unwrap()
        );
        let config = fixture("new/config.json");
        assert_eq!(update.uploads.len(), 2, "the payload, then the config");
        assert_eq!(update.uploads[0].bytes, signature.payload);
        assert_eq!(update.uploads[0].media_type, blob::SIGSTORE_MEDIA_TYPE);
        assert_eq!(update.uploads[1].bytes, config);
        assert_eq!(update.uploads[1].digest, Digest::sha256_of(&config));
        assert_eq!(update.uploads[1].media_type, mt::OCI_CONFIG);
    }

    #[test]
    fn an_existing_attachment_keeps_its_layers_and_gains_the_new_one_after_them() {
        let (attachment, config) = existing();
        let update = update(
            Some((&attachment, &config)),
            &[sigstore(b"second", &[(SIGNATURE, "BBBB")])],
        )
        .unwrap();
        assert_eq!(
            String::from_utf8(update.manifest).unwrap(),
            String::from_utf8(fixture("existing/manifest.json")).unwrap()
        );
        assert_eq!(
            String::from_utf8(update.uploads[1].bytes.clone()).unwrap(),
            String::from_utf8(fixture("existing/config.json")).unwrap()
        );
    }

    #[test]
    fn a_signature_already_attached_is_not_added_again() {
        let (attachment, config) = existing();
        let again = sigstore(b"first", &[(SIGNATURE, "AAAA")]);
        let twice = sigstore(b"second", &[(SIGNATURE, "BBBB")]);
        let update = update(Some((&attachment, &config)), &[again, twice.clone(), twice]).unwrap();
        let written = OciManifest::parse(&update.manifest).unwrap();
        assert_eq!(written.layers.len(), 2);
        assert_eq!(update.uploads.len(), 2, "one payload and the config");
    }

    #[test]
    fn a_signature_differing_only_in_annotations_is_added() {
        let (attachment, config) = existing();
        let other = sigstore(b"first", &[(SIGNATURE, "AAAB")]);
        let update = update(Some((&attachment, &config)), &[other]).unwrap();
        assert_eq!(
            OciManifest::parse(&update.manifest).unwrap().layers.len(),
            2
        );
    }

    #[test]
    fn a_config_that_is_not_the_one_described_is_refused() {
        let (attachment, _) = existing();
        assert!(matches!(
            update(Some((&attachment, b"{}")), &[]),
            Err(AttachmentError::Content { .. })
        ));
    }

    #[test]
    fn layers_become_sigstore_signatures_with_their_annotations() {
        let (attachment, _) = existing();
        assert_eq!(
            attachment.payloads().unwrap(),
            vec![Digest::sha256_of(b"first")]
        );
        let blob = signature(&attachment.layers()[0], b"first").unwrap();
        assert_eq!(
            blob,
            sigstore(b"first", &[(SIGNATURE, "AAAA")]).to_blob(),
            "media type, payload and annotations"
        );
        assert!(matches!(
            signature(&attachment.layers()[0], b"other"),
            Err(AttachmentError::Content { .. })
        ));
    }

    #[test]
    fn only_an_oci_manifest_is_an_attachment() {
        assert!(matches!(
            Attachment::parse(
                "x.sig",
                &fixture("existing/old-manifest.json"),
                mt::DOCKER_V2S2
            ),
            Err(AttachmentError::MediaType { .. })
        ));
    }

    #[test]
    fn a_layer_larger_than_a_signature_is_not_fetched() {
        let text = String::from_utf8(fixture("existing/old-manifest.json"))
            .unwrap()
            .replace("\"size\":5,", "\"size\":4194305,");
        let attachment = Attachment::parse("x.sig", text.as_bytes(), mt::OCI_MANIFEST).unwrap();
        assert!(matches!(
            attachment.payloads(),
            Err(AttachmentError::TooLarge { size: 4194305, .. })
        ));
    }
}
