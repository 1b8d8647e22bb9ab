//! OCI image manifest, including artifacts (`artifactType`, `subject`).

use alloc::collections::BTreeMap;
use alloc::string::String;
use alloc::vec::Vec;

use super::{AllowedFields, Descriptor, ManifestError, check_unambiguous, parse_top};
use crate::json::Fields;
use crate::media_type as mt;

/// An OCI image manifest.
#[derive(Debug, Clone, PartialEq)]
pub struct OciManifest {
    raw: Vec<u8>,
    pub schema_version: i64,
    pub media_type: String,
    pub artifact_type: String,
    pub config: Descriptor,
    pub layers: Vec<Descriptor>,
    pub subject: Option<Descriptor>,
    pub annotations: BTreeMap<String, String>,
}

impl OciManifest {
    /// Parses with containers/image's `OCI1FromManifest` rules: only the
    /// JSON types and the absence of other formats' fields are checked;
    /// media types are checked when layers are used, not when parsing.
    pub fn parse(bytes: &[u8]) -> Result<Self, ManifestError> {
        let top = parse_top(bytes, "OCI1")?;
        let f = Fields::new(&top, "");
        let config = match f.object("config")? {
            None => Descriptor::default(),
            Some((o, p)) => Descriptor::decode_oci_object(o, &p)?,
        };
        let subject = match f.object("subject")? {
            None => None,
            Some((o, p)) => Some(Descriptor::decode_oci_object(o, &p)?),
        };
        let manifest = OciManifest {
            raw: bytes.to_vec(),
            schema_version: f.get::<i64>("schemaVersion")?.unwrap_or(0),
            media_type: f.string("mediaType")?,
            artifact_type: f.string("artifactType")?,
            config,
            layers: f.slice("layers", Descriptor::decode_oci)?,
            subject,
            annotations: f.string_map("annotations")?,
        };
        check_unambiguous(f, mt::OCI_MANIFEST, AllowedFields::IMAGE)?;
        Ok(manifest)
    }

    pub fn raw(&self) -> &[u8] {
        &self.raw
    }
}
