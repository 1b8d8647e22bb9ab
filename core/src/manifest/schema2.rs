//! Docker image manifest, schema 2.

use alloc::string::ToString;
use alloc::vec::Vec;

use super::{AllowedFields, Descriptor, ManifestError, check_unambiguous, parse_top};
use crate::json::Fields;
use crate::media_type::{self as mt};

/// A Docker schema 2 manifest.
#[derive(Debug, Clone, PartialEq)]
pub struct Schema2 {
    raw: Vec<u8>,
    pub schema_version: i64,
    pub media_type: alloc::string::String,
    pub config: Descriptor,
    pub layers: Vec<Descriptor>,
}

/// Media types containers/image accepts inside a schema 2 manifest (its
/// `SupportedSchema2MediaType`). The top-level `mediaType` must be one of
/// them too, so a schema 2 manifest without `mediaType` is refused.
const SUPPORTED: [&str; 9] = [
    mt::DOCKER_V2S1,
    mt::DOCKER_V2S1_SIGNED,
    mt::DOCKER_CONFIG,
    mt::DOCKER_FOREIGN_LAYER,
    mt::DOCKER_FOREIGN_LAYER_GZIP,
    mt::DOCKER_LAYER_GZIP,
    mt::DOCKER_V2S2,
    mt::DOCKER_LAYER,
    mt::DOCKER_LIST,
];

impl Schema2 {
    /// Parses with containers/image's `Schema2FromManifest` rules.
    pub fn parse(bytes: &[u8]) -> Result<Self, ManifestError> {
        let top = parse_top(bytes, "Schema2")?;
        let f = Fields::new(&top, "");
        let config = match f.object("config")? {
            None => Descriptor::default(),
            Some((o, p)) => Descriptor::decode_docker_object(o, &p, false)?,
        };
        let manifest = Schema2 {
            raw: bytes.to_vec(),
            schema_version: f.get::<i64>("schemaVersion")?.unwrap_or(0),
            media_type: f.string("mediaType")?,
            config,
            layers: f.slice("layers", |v, p| Descriptor::decode_docker(v, p, false))?,
        };
        check_unambiguous(f, mt::DOCKER_V2S2, AllowedFields::IMAGE)?;
        check_supported(&manifest.media_type, "/mediaType")?;
        for (i, layer) in manifest.layers.iter().enumerate() {
            check_supported(&layer.media_type, &alloc::format!("/layers/{i}/mediaType"))?;
        }
        Ok(manifest)
    }

    pub fn raw(&self) -> &[u8] {
        &self.raw
    }
}

fn check_supported(media_type: &str, pointer: &str) -> Result<(), ManifestError> {
    if SUPPORTED.contains(&media_type) {
        Ok(())
    } else {
        Err(ManifestError::UnsupportedMediaType {
            pointer: pointer.to_string(),
            media_type: media_type.to_string(),
        })
    }
}
