//! Converting single-image manifests between Docker schema 2 and OCI.
//!
//! Layer media types map one to one (gzip ↔ gzip, tar ↔ tar, foreign ↔
//! non-distributable); a zstd layer has no schema 2 form, so that
//! conversion fails and the copy tries its next candidate type.
//!
//! One deliberate difference from containers/image: the config blob is not
//! rewritten. containers/image re-encodes a Docker config as an OCI config
//! on the way to OCI, which drops Docker-only fields and changes the config
//! digest, and so the image ID. A Docker config is a valid OCI config (OCI
//! readers ignore members they do not know), so ferry only changes the
//! config's media type: the image keeps its ID, and no config is rewritten.

use alloc::string::{String, ToString};
use alloc::vec::Vec;
use core::fmt;

use super::{Descriptor, Manifest};
use crate::json::{Member, Object, Value};
use crate::media_type as mt;

/// Why a manifest cannot take the wanted form.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum ConvertError {
    /// A layer media type with no equivalent in the target format.
    LayerType {
        index: usize,
        media_type: String,
        target: String,
    },
    /// OCI artifacts (non-image configs) have no schema 2 form.
    Artifact { config_media_type: String },
    /// Conversions ferry does not perform (schema 1 needs the layers'
    /// uncompressed digests, which the engine computes while copying).
    Unsupported { from: String, to: String },
}

impl fmt::Display for ConvertError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            ConvertError::LayerType {
                index,
                media_type,
                target,
            } => write!(
                f,
                "layer {index} has media type {media_type:?}, which {target} cannot express"
            ),
            ConvertError::Artifact { config_media_type } => write!(
                f,
                "an OCI artifact (config type {config_media_type:?}) has no Docker schema 2 form"
            ),
            ConvertError::Unsupported { from, to } => {
                write!(f, "converting {from} to {to} is not supported")
            }
        }
    }
}

impl core::error::Error for ConvertError {}

/// The schema 2 ↔ OCI layer type pairs.
const LAYER_TYPES: [(&str, &str); 4] = [
    (mt::DOCKER_LAYER_GZIP, mt::OCI_LAYER_GZIP),
    (mt::DOCKER_LAYER, mt::OCI_LAYER),
    (
        mt::DOCKER_FOREIGN_LAYER_GZIP,
        mt::OCI_LAYER_NONDISTRIBUTABLE_GZIP,
    ),
    (mt::DOCKER_FOREIGN_LAYER, mt::OCI_LAYER_NONDISTRIBUTABLE),
];

/// Converts `manifest` to `target` (a manifest media type). Converting to
/// the manifest's own format returns its bytes unchanged.
pub fn convert(manifest: &Manifest, target: &str) -> Result<Vec<u8>, ConvertError> {
    if manifest.media_type() == target
        || (matches!(manifest, Manifest::Schema1(_))
            && matches!(target, mt::DOCKER_V2S1 | mt::DOCKER_V2S1_SIGNED))
    {
        return Ok(manifest.raw().to_vec());
    }
    match (manifest, target) {
        (Manifest::Schema2(m), mt::OCI_MANIFEST) => {
            let layers = map_layers(&m.layers, target, |t| {
                LAYER_TYPES.iter().find(|(d, _)| *d == t).map(|(_, o)| *o)
            })?;
            Ok(write(
                mt::OCI_MANIFEST,
                mt::OCI_CONFIG,
                &m.config,
                &layers,
                true,
            ))
        }
        (Manifest::Oci(m), mt::DOCKER_V2S2) => {
            if m.config.media_type != mt::OCI_CONFIG {
                return Err(ConvertError::Artifact {
                    config_media_type: m.config.media_type.clone(),
                });
            }
            let layers = map_layers(&m.layers, target, |t| {
                LAYER_TYPES.iter().find(|(_, o)| *o == t).map(|(d, _)| *d)
            })?;
            Ok(write(
                mt::DOCKER_V2S2,
                mt::DOCKER_CONFIG,
                &m.config,
                &layers,
                false,
            ))
        }
        _ => Err(ConvertError::Unsupported {
            from: manifest.media_type().to_string(),
            to: target.to_string(),
        }),
    }
}

fn map_layers(
    layers: &[Descriptor],
    target: &str,
    map: impl Fn(&str) -> Option<&'static str>,
) -> Result<Vec<Descriptor>, ConvertError> {
    layers
        .iter()
        .enumerate()
        .map(|(index, layer)| {
            let media_type = map(&layer.media_type).ok_or_else(|| ConvertError::LayerType {
                index,
                media_type: layer.media_type.clone(),
                target: target.to_string(),
            })?;
            Ok(Descriptor {
                media_type: media_type.to_string(),
                ..layer.clone()
            })
        })
        .collect()
}

/// Writes a manifest as Go's encoder writes the target's struct: OCI puts
/// `digest` before `size`, schema 2 the other way round.
fn write(
    media_type: &str,
    config_type: &str,
    config: &Descriptor,
    layers: &[Descriptor],
    oci: bool,
) -> Vec<u8> {
    let descriptor = |d: &Descriptor, media_type: &str| {
        let mut o = Object::default();
        let mut push = |k: &str, v: Value| {
            o.members.push(Member {
                key: k.to_string(),
                value: v,
            })
        };
        push("mediaType", Value::from(media_type));
        if oci {
            push("digest", Value::from(d.digest_text.as_str()));
            push("size", Value::from(d.size));
        } else {
            push("size", Value::from(d.size));
            push("digest", Value::from(d.digest_text.as_str()));
        }
        if !d.urls.is_empty() {
            push(
                "urls",
                Value::Array(d.urls.iter().map(|u| Value::from(u.as_str())).collect()),
            );
        }
        if oci && !d.annotations.is_empty() {
            push(
                "annotations",
                Value::Object(Object::from_pairs(
                    d.annotations
                        .iter()
                        .map(|(k, v)| (k.as_str(), Value::from(v.as_str()))),
                )),
            );
        }
        Value::Object(o)
    };
    let doc = Object::from_pairs([
        ("schemaVersion", Value::from(2)),
        ("mediaType", Value::from(media_type)),
        ("config", descriptor(config, config_type)),
        (
            "layers",
            Value::Array(
                layers
                    .iter()
                    .map(|l| descriptor(l, &l.media_type))
                    .collect(),
            ),
        ),
    ]);
    Value::Object(doc).to_compact(true).into_bytes()
}

#[cfg(test)]
mod tests {
    use super::*;

    const SCHEMA2: &str = r#"{"schemaVersion":2,"mediaType":"application/vnd.docker.distribution.manifest.v2+json","config":{"mediaType":"application/vnd.docker.container.image.v1+json","size":7,"digest":"sha256:0000000000000000000000000000000000000000000000000000000000000001"},"layers":[{"mediaType":"application/vnd.docker.image.rootfs.diff.tar.gzip","size":10,"digest":"sha256:0000000000000000000000000000000000000000000000000000000000000002"},{"mediaType":"application/vnd.docker.image.rootfs.foreign.diff.tar.gzip","size":11,"digest":"sha256:0000000000000000000000000000000000000000000000000000000000000003","urls":["https://example.com/l"]}]}"#;

    #[test]
    fn schema2_to_oci_and_back_is_the_identity() {
        let s2 = Manifest::parse(SCHEMA2.as_bytes()).unwrap();
        let oci = Manifest::parse(&convert(&s2, mt::OCI_MANIFEST).unwrap()).unwrap();
        assert_eq!(oci.media_type(), mt::OCI_MANIFEST);
        assert_eq!(oci.config().media_type, mt::OCI_CONFIG);
        assert_eq!(oci.config().digest_text, s2.config().digest_text);
        let layers = oci.layers();
        assert_eq!(layers[0].descriptor.media_type, mt::OCI_LAYER_GZIP);
        assert_eq!(
            layers[1].descriptor.media_type,
            mt::OCI_LAYER_NONDISTRIBUTABLE_GZIP
        );
        assert_eq!(layers[1].descriptor.urls, ["https://example.com/l"]);
        let back = convert(&oci, mt::DOCKER_V2S2).unwrap();
        assert_eq!(back, SCHEMA2.as_bytes());
    }

    #[test]
    fn zstd_layers_have_no_schema2_form() {
        let s2 = Manifest::parse(SCHEMA2.as_bytes()).unwrap();
        let oci = String::from_utf8(convert(&s2, mt::OCI_MANIFEST).unwrap())
            .unwrap()
            .replace("tar+gzip", "tar+zstd");
        let oci = Manifest::parse(oci.as_bytes()).unwrap();
        let err = convert(&oci, mt::DOCKER_V2S2).unwrap_err();
        assert!(
            matches!(err, ConvertError::LayerType { index: 0, .. }),
            "{err:?}"
        );
    }

    #[test]
    fn artifacts_cannot_become_schema2() {
        let doc = r#"{"schemaVersion":2,"mediaType":"application/vnd.oci.image.manifest.v1+json","config":{"mediaType":"application/vnd.oci.empty.v1+json","digest":"sha256:44136fa355b3678a1146ad16f7e8649e94fb4fc21fe77e8310c060f61caaff8a","size":2},"layers":[]}"#;
        let m = Manifest::parse(doc.as_bytes()).unwrap();
        assert!(matches!(
            convert(&m, mt::DOCKER_V2S2),
            Err(ConvertError::Artifact { .. })
        ));
    }

    #[test]
    fn converting_to_the_same_type_keeps_the_bytes() {
        let s2 = Manifest::parse(SCHEMA2.as_bytes()).unwrap();
        assert_eq!(convert(&s2, mt::DOCKER_V2S2).unwrap(), SCHEMA2.as_bytes());
    }
}
