//! Manifest lists: Docker manifest lists and OCI image indexes, behind one
//! type.

use alloc::collections::BTreeMap;
use alloc::string::{String, ToString};
use alloc::vec::Vec;

use crate::json::Fields;
use crate::manifest::{AllowedFields, Descriptor, ManifestError, check_unambiguous, parse_top};
use crate::media_type as mt;

/// Which of the two list formats.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum ListKind {
    DockerList,
    OciIndex,
}

impl ListKind {
    /// The format's media type.
    pub fn media_type(self) -> &'static str {
        match self {
            ListKind::DockerList => mt::DOCKER_LIST,
            ListKind::OciIndex => mt::OCI_INDEX,
        }
    }
}

/// A parsed manifest list. The raw bytes are kept; they are what gets
/// written back when the list does not change.
#[derive(Debug, Clone, PartialEq)]
pub struct List {
    raw: Vec<u8>,
    pub kind: ListKind,
    pub schema_version: i64,
    pub media_type: String,
    /// The entries in document order. Docker list entries always have a
    /// platform (the zero platform when the document has none); OCI index
    /// entries may not.
    pub entries: Vec<Descriptor>,
    pub annotations: BTreeMap<String, String>,
    pub artifact_type: String,
    pub subject: Option<Descriptor>,
}

impl List {
    /// Parses `bytes` as a list of `media_type` (normalised first, as in
    /// containers/image's `manifest.ListFromBlob`).
    pub fn from_blob(bytes: &[u8], media_type: &str) -> Result<Self, ManifestError> {
        match mt::normalize(media_type) {
            mt::DOCKER_LIST => Self::parse_kind(bytes, ListKind::DockerList),
            mt::OCI_INDEX => Self::parse_kind(bytes, ListKind::OciIndex),
            t @ (mt::DOCKER_V2S1 | mt::DOCKER_V2S1_SIGNED | mt::DOCKER_V2S2 | mt::OCI_MANIFEST) => {
                Err(ManifestError::ManifestNotList {
                    media_type: t.to_string(),
                })
            }
            other => Err(ManifestError::UnknownMediaType {
                media_type: other.to_string(),
            }),
        }
    }

    /// Parses `bytes` as a list of the type it declares or, failing that,
    /// the type containers/image guesses.
    pub fn parse(bytes: &[u8]) -> Result<Self, ManifestError> {
        Self::from_blob(bytes, &mt::guess(bytes))
    }

    /// Parses `bytes` as a list of the given kind.
    pub fn parse_kind(bytes: &[u8], kind: ListKind) -> Result<Self, ManifestError> {
        let go_type = match kind {
            ListKind::DockerList => "Schema2List",
            ListKind::OciIndex => "OCI1Index",
        };
        let top = parse_top(bytes, go_type)?;
        let f = Fields::new(&top, "");
        let list = match kind {
            ListKind::DockerList => List {
                raw: bytes.to_vec(),
                kind,
                schema_version: f.get::<i64>("schemaVersion")?.unwrap_or(0),
                media_type: f.string("mediaType")?,
                entries: f.slice("manifests", |v, p| Descriptor::decode_docker(v, p, true))?,
                annotations: BTreeMap::new(),
                artifact_type: String::new(),
                subject: None,
            },
            ListKind::OciIndex => List {
                raw: bytes.to_vec(),
                kind,
                schema_version: f.get::<i64>("schemaVersion")?.unwrap_or(0),
                media_type: f.string("mediaType")?,
                entries: f.slice("manifests", Descriptor::decode_oci)?,
                annotations: f.string_map("annotations")?,
                artifact_type: f.string("artifactType")?,
                subject: match f.object("subject")? {
                    None => None,
                    Some((o, p)) => Some(Descriptor::decode_oci_object(o, &p)?),
                },
            },
        };
        check_unambiguous(f, kind.media_type(), AllowedFields::LIST)?;
        Ok(list)
    }

    /// The exact bytes this list was parsed from.
    pub fn raw(&self) -> &[u8] {
        &self.raw
    }

    /// The list format's media type.
    pub fn list_media_type(&self) -> &'static str {
        self.kind.media_type()
    }

    /// The entries, in document order.
    pub fn instances(&self) -> impl Iterator<Item = &Descriptor> {
        self.entries.iter()
    }

    /// The first entry with this digest (a list may name one twice).
    pub fn instance(&self, digest: &str) -> Option<&Descriptor> {
        self.entries.iter().find(|d| d.digest_text == digest)
    }
}
