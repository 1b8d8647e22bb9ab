//! Where a registry's signatures are kept, as containers/image 5.23
//! decides it, and the registry signature API extension that OpenShift's
//! registry offers.
//!
//! - Simple signatures (and anything not sigstore) go to the API
//!   extension when the registry advertises it
//!   (`X-Registry-Supports-Signatures: 1` on `/v2/`), else to lookaside
//!   storage.
//! - Sigstore signatures go only to the registry's attachments
//!   ([`super::attachments`]), when `use-sigstore-attachments` allows.
//! - Reading returns the extension's (or else the lookaside's) signatures
//!   first, then the attachments'.
//!
//! The extension keeps signatures at
//! `/extensions/v2/<repository>/signatures/<digest>`: a GET answers
//! `{"signatures":[{schemaVersion, name, type, content}, …]}` and each new
//! signature is PUT there as one such object, under a name the client
//! invents.

use alloc::format;
use alloc::string::{String, ToString};
use alloc::vec::Vec;
use core::fmt;

use crate::digest::Digest;
use crate::json::{self, Fields, Member, Object, Value};
use crate::trust::blob::{self, Signature};

/// The response header by which a registry advertises the extension.
pub const EXTENSION_HEADER: &str = "x-registry-supports-signatures";

/// The largest signature list read from the extension.
pub const MAX_EXTENSION_LIST_SIZE: usize = 4 * 1024 * 1024;

/// The only schema version and type of extension signatures ferry reads
/// and writes (others are skipped, as in containers/image).
const SCHEMA_VERSION: i64 = 2;
const TYPE_ATOMIC: &str = "atomic";

/// Whether the value of [`EXTENSION_HEADER`] advertises the extension.
pub fn extension_advertised(header: Option<&str>) -> bool {
    header == Some("1")
}

/// The extension's path (after the registry's base URL) for the
/// signatures of `digest` in `repository`.
pub fn extension_path(repository: &str, digest: &Digest) -> String {
    format!("/extensions/v2/{repository}/signatures/{digest}")
}

/// What a registry can keep signatures in.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Storage {
    /// The API extension is advertised.
    pub extension: bool,
    /// A lookaside location ferry can use for this purpose is configured.
    pub lookaside: bool,
    /// `use-sigstore-attachments` is on for the repository.
    pub attachments: bool,
}

/// Which store reads or takes the signatures that are not sigstore's.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Store {
    Extension,
    Lookaside,
}

impl Storage {
    /// Where simple signatures are read from or written to: the extension
    /// wins over lookaside, as in containers/image.
    pub fn simple_store(&self) -> Option<Store> {
        if self.extension {
            Some(Store::Extension)
        } else if self.lookaside {
            Some(Store::Lookaside)
        } else {
            None
        }
    }
}

/// Signatures split by where they go.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Routed {
    /// Stored blobs for the extension or lookaside, in order.
    pub simple: Vec<Vec<u8>>,
    /// Sigstore signatures for the attachment, in order.
    pub sigstore: Vec<blob::Sigstore>,
}

/// Why a registry refuses signatures, before anything is written.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum Refusal {
    /// Sigstore signatures, and `use-sigstore-attachments` is off.
    AttachmentsDisabled,
    /// Other signatures, with neither the extension nor lookaside.
    NoStorage,
}

impl fmt::Display for Refusal {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            // containers/image's words.
            Refusal::AttachmentsDisabled => f.write_str(
                "writing sigstore attachments is disabled by configuration (set use-sigstore-attachments: true in registries.d, or use --remove-signatures)",
            ),
            Refusal::NoStorage => f.write_str(
                "pushing signatures to a Docker Registry is not supported, and there is no applicable signature storage configured (set lookaside-staging in registries.d, or use --remove-signatures)",
            ),
        }
    }
}

impl core::error::Error for Refusal {}

/// Splits `signatures` by where `storage` keeps them, or says why it
/// cannot keep them all. Nothing is written when this refuses.
pub fn route(signatures: &[Vec<u8>], storage: Storage) -> Result<Routed, Refusal> {
    let mut routed = Routed::default();
    for signature in signatures {
        match Signature::from_blob(signature) {
            Ok(Signature::Sigstore(s)) => routed.sigstore.push(s),
            _ => routed.simple.push(signature.clone()),
        }
    }
    if !routed.sigstore.is_empty() && !storage.attachments {
        return Err(Refusal::AttachmentsDisabled);
    }
    if !routed.simple.is_empty() && storage.simple_store().is_none() {
        return Err(Refusal::NoStorage);
    }
    Ok(routed)
}

/// Why an extension answer cannot be used.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum ExtensionError {
    /// The signature list is not what the extension sends.
    List(String),
    /// A signature to write is not a simple signature.
    NotSimple { index: usize },
}

impl fmt::Display for ExtensionError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            ExtensionError::List(e) => write!(f, "decoding signature list: {e}"),
            ExtensionError::NotSimple { index } => write!(
                f,
                "signature {index}: the registry signature extension stores only simple signatures"
            ),
        }
    }
}

impl core::error::Error for ExtensionError {}

impl From<json::TypeError> for ExtensionError {
    fn from(e: json::TypeError) -> Self {
        ExtensionError::List(e.to_string())
    }
}

/// One entry of the extension's list.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ExtensionSignature {
    pub schema_version: i64,
    pub name: String,
    pub kind: String,
    pub content: Vec<u8>,
}

impl ExtensionSignature {
    fn is_simple(&self) -> bool {
        self.schema_version == SCHEMA_VERSION && self.kind == TYPE_ATOMIC
    }
}

/// Reads the extension's answer to a GET (Go's decoding rules).
pub fn parse_extension_list(body: &[u8]) -> Result<Vec<ExtensionSignature>, ExtensionError> {
    let list = |e: &dyn fmt::Display| ExtensionError::List(e.to_string());
    let value = json::parse(body).map_err(|e| list(&e))?;
    let top = match &value {
        Value::Object(o) => o,
        Value::Null => return Ok(Vec::new()),
        other => return Err(list(&other.type_error("", "struct"))),
    };
    Fields::new(top, "").slice("signatures", |v, p| {
        let o = match v {
            Value::Object(o) => o,
            Value::Null => {
                return Ok(ExtensionSignature {
                    schema_version: 0,
                    name: String::new(),
                    kind: String::new(),
                    content: Vec::new(),
                });
            }
            other => return Err(list(&other.type_error(p, "struct"))),
        };
        let f = Fields::new(o, p);
        let content = match f.get::<String>("content").map_err(|e| list(&e))? {
            None => Vec::new(),
            Some(text) => crate::base64::decode_padded(&text, crate::base64::Alphabet::Standard)
                .map_err(|_| {
                    ExtensionError::List(format!(
                        "{}: illegal base64 data",
                        json::child_pointer(p, "content")
                    ))
                })?,
        };
        Ok(ExtensionSignature {
            schema_version: f
                .get::<i64>("schemaVersion")
                .map_err(|e| list(&e))?
                .unwrap_or(0),
            name: f.string("name").map_err(|e| list(&e))?,
            kind: f.string("type").map_err(|e| list(&e))?,
            content,
        })
    })
}

/// The stored signatures in the extension's list: the simple ones, as
/// their raw bytes; others are skipped.
pub fn extension_signatures(list: &[ExtensionSignature]) -> Vec<Vec<u8>> {
    list.iter()
        .filter(|s| s.is_simple())
        .map(|s| s.content.clone())
        .collect()
}

/// The bodies to PUT, one per new signature, for adding `signatures` to
/// `existing`: those already there are skipped, each other is named
/// `<digest>@<32 hex digits>` from `random` (called again while the name
/// is taken). The extension only adds; nothing is removed.
pub fn extension_writes(
    existing: &[ExtensionSignature],
    digest: &Digest,
    signatures: &[Vec<u8>],
    mut random: impl FnMut() -> [u8; 16],
) -> Result<Vec<Vec<u8>>, ExtensionError> {
    let mut bodies = Vec::new();
    for (index, signature) in signatures.iter().enumerate() {
        let content = match Signature::from_blob(signature) {
            Ok(Signature::SimpleSigning(bytes)) => bytes,
            _ => return Err(ExtensionError::NotSimple { index }),
        };
        if existing
            .iter()
            .any(|e| e.is_simple() && e.content == content)
        {
            continue;
        }
        let name = loop {
            let mut name = format!("{digest}@");
            for b in random() {
                name.push_str(&format!("{b:02x}"));
            }
            if !existing.iter().any(|e| e.name == name) {
                break name;
            }
        };
        let body = Object {
            members: [
                ("schemaVersion", Value::from(SCHEMA_VERSION)),
                ("name", Value::from(name)),
                ("type", Value::from(TYPE_ATOMIC)),
                (
                    "content",
                    Value::from(crate::base64::encode_padded(
                        content,
                        crate::base64::Alphabet::Standard,
                    )),
                ),
            ]
            .into_iter()
            .map(|(key, value)| Member {
                key: key.to_string(),
                value,
            })
            .collect(),
        };
        bodies.push(Value::Object(body).to_compact(true).into_bytes());
    }
    Ok(bodies)
}

#[cfg(test)]
mod tests {
    use super::*;
    use alloc::vec;

    /// An OpenPGP signature packet's first bytes.
    fn simple() -> Vec<u8> {
        vec![0x89, 0x01, 0x02, 0xff]
    }

    fn sigstore() -> Vec<u8> {
        blob::Sigstore {
            media_type: blob::SIGSTORE_MEDIA_TYPE.into(),
            payload: b"{}".to_vec(),
            annotations: vec![],
        }
        .to_blob()
    }

    fn storage(extension: bool, lookaside: bool, attachments: bool) -> Storage {
        Storage {
            extension,
            lookaside,
            attachments,
        }
    }

    #[test]
    fn sigstore_signatures_go_to_attachments_and_others_to_lookaside() {
        let routed = route(&[simple(), sigstore()], storage(false, true, true)).unwrap();
        assert_eq!(routed.simple, vec![simple()]);
        assert_eq!(routed.sigstore.len(), 1);
    }

    #[test]
    fn sigstore_signatures_are_refused_without_attachments_even_with_lookaside() {
        assert_eq!(
            route(&[sigstore()], storage(true, true, false)),
            Err(Refusal::AttachmentsDisabled)
        );
        assert!(
            Refusal::AttachmentsDisabled
                .to_string()
                .starts_with("writing sigstore attachments is disabled by configuration")
        );
    }

    #[test]
    fn simple_signatures_need_the_extension_or_lookaside() {
        assert_eq!(
            route(&[simple()], storage(false, false, true)),
            Err(Refusal::NoStorage)
        );
        assert!(route(&[simple()], storage(true, false, false)).is_ok());
    }

    #[test]
    fn the_extension_wins_over_lookaside() {
        assert_eq!(
            storage(true, true, false).simple_store(),
            Some(Store::Extension)
        );
        assert_eq!(
            storage(false, true, false).simple_store(),
            Some(Store::Lookaside)
        );
        assert_eq!(storage(false, false, true).simple_store(), None);
    }

    #[test]
    fn only_the_header_value_1_advertises_the_extension() {
        assert!(extension_advertised(Some("1")));
        assert!(!extension_advertised(Some("true")));
        assert!(!extension_advertised(None));
    }

    #[test]
    fn the_extension_path_names_the_repository_and_digest() {
        assert_eq!(
            extension_path("team/app", &Digest::sha256_of(b"")),
            "/extensions/v2/team/app/signatures/sha256:e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855"
        );
    }

    #[test]
    fn only_atomic_version_2_signatures_are_read_from_the_extension() {
        let list = parse_extension_list(
            br#"{"signatures":[
                {"schemaVersion":2,"name":"a","type":"atomic","content":"iQEC/w=="},
                {"schemaVersion":1,"name":"b","type":"atomic","content":"AAAA"},
                {"schemaVersion":2,"name":"c","type":"other","content":"AAAA"}]}"#,
        )
        .unwrap();
        assert_eq!(extension_signatures(&list), vec![simple()]);
    }

    #[test]
    fn an_extension_list_that_is_not_json_is_an_error() {
        assert!(matches!(
            parse_extension_list(b"<html>"),
            Err(ExtensionError::List(_))
        ));
        assert!(matches!(
            parse_extension_list(br#"{"signatures":[{"content":"!!"}]}"#),
            Err(ExtensionError::List(_))
        ));
    }

    #[test]
    fn an_extension_write_is_the_json_containers_image_sends() {
        let digest = Digest::sha256_of(b"");
        let bodies = extension_writes(&[], &digest, &[simple()], || {
            core::array::from_fn(|i| i as u8)
        })
        .unwrap();
        let expected = include_bytes!("../../tests/fixtures/attachments/extension-put.json");
        assert_eq!(bodies, vec![expected.to_vec()]);
    }

    #[test]
    fn an_extension_write_skips_signatures_already_there_and_taken_names() {
        let digest = Digest::sha256_of(b"");
        let taken = format!("{digest}@{}", "00".repeat(16));
        let existing = vec![ExtensionSignature {
            schema_version: 2,
            name: taken.clone(),
            kind: "atomic".into(),
            content: simple(),
        }];
        assert!(
            extension_writes(&existing, &digest, &[simple()], || [0; 16])
                .unwrap()
                .is_empty()
        );
        let mut draws = [[0u8; 16], [1; 16]].into_iter();
        let bodies = extension_writes(&existing, &digest, &[vec![0x89, 9]], || {
            draws.next().unwrap()
        })
        .unwrap();
        let text = String::from_utf8(bodies[0].clone()).unwrap();
        assert!(text.contains(&format!("@{}", "01".repeat(16))), "{text}");
    }

    #[test]
    fn the_extension_takes_only_simple_signatures() {
        assert_eq!(
            extension_writes(&[], &Digest::sha256_of(b""), &[sigstore()], || [0; 16]),
            Err(ExtensionError::NotSimple { index: 0 })
        );
    }
}
