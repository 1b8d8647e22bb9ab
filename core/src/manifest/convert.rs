//! Converting single-image manifests between Docker schema 2 and OCI, and
//! from either to Docker schema 1 ([`to_schema1`]).
//!
//! Layer media types map one to one (gzip ↔ gzip, tar ↔ tar, foreign ↔
//! non-distributable); a zstd layer has no schema 2 form, so that
//! conversion fails and the copy tries its next candidate type. Schema 1
//! is reached through schema 2, as in containers/image.
//!
//! One deliberate difference from containers/image: the config blob is not
//! rewritten. containers/image re-encodes a Docker config as an OCI config
//! on the way to OCI, which drops Docker-only fields and changes the config
//! digest, and so the image ID. A Docker config is a valid OCI config (OCI
//! readers ignore members they do not know), so ferry only changes the
//! config's media type: the image keeps its ID, and no config is rewritten.

use alloc::string::{String, ToString};
use alloc::vec::Vec;

use super::{Descriptor, Manifest};
use crate::json::{Member, Object, Value};
use crate::media_type as mt;

pub use super::convert_error::ConvertError;

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

/// Where a schema 1 manifest goes, and what it is built from besides the
/// manifest.
#[derive(Debug, Clone, Copy)]
pub struct Schema1Inputs<'a> {
    /// The config blob the manifest names.
    pub config: &'a [u8],
    /// The layer digests as the destination stores them, base first,
    /// aligned with the manifest's layers.
    pub written_layers: &'a [String],
    /// The repository path of a registry destination, else empty.
    pub name: &'a str,
    /// The tag of a registry destination, else empty.
    pub tag: &'a str,
}

/// Converts a schema 2 or OCI image manifest to an unsigned Docker schema 1
/// manifest (see [`super::schema1::from_config`]); sign it with
/// [`super::jws::Signing`]. OCI goes through schema 2 first, so artifacts
/// and zstd layers are refused as they are there.
pub fn to_schema1(
    manifest: &Manifest,
    inputs: &Schema1Inputs<'_>,
) -> Result<super::schema1::Built, ConvertError> {
    let via;
    let schema2 = match manifest {
        Manifest::Schema2(m) => m,
        Manifest::Oci(_) => {
            via = Manifest::parse(&convert(manifest, mt::DOCKER_V2S2)?)
                .map_err(|error| ConvertError::Schema1 { error })?;
            match &via {
                Manifest::Schema2(m) => m,
                _ => unreachable!("converting to schema 2 yields schema 2"),
            }
        }
        Manifest::Schema1(_) => {
            return Err(ConvertError::Unsupported {
                from: manifest.media_type().to_string(),
                to: mt::DOCKER_V2S1_SIGNED.to_string(),
            });
        }
    };
    if !schema2
        .config
        .digest()
        .is_ok_and(|d| d.matches(inputs.config))
    {
        return Err(ConvertError::ConfigDigest {
            expected: schema2.config.digest_text.clone(),
        });
    }
    let source_layers: Vec<String> = schema2
        .layers
        .iter()
        .map(|l| l.digest_text.clone())
        .collect();
    super::schema1::from_config(&super::schema1::FromConfig {
        config: inputs.config,
        source_layers: &source_layers,
        written_layers: inputs.written_layers,
        name: inputs.name,
        tag: inputs.tag,
    })
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

    /// containers/image's own vectors for schema 1 conversion.
    mod to_schema1 {
        use super::super::*;
        use crate::digest::Digest;
        use crate::manifest::Schema1;
        use crate::manifest::jws;
        use crate::manifest::schema1::{Built, GZIPPED_EMPTY_LAYER, GZIPPED_EMPTY_LAYER_DIGEST};

        macro_rules! fixture {
            ($name:literal) => {
                include_bytes!(concat!(
                    "../../../tests/conformance/containers-image/image/",
                    $name
                ))
            };
        }

        const SCHEMA2: &[u8] = fixture!("schema2.json");
        const OCI: &[u8] = fixture!("oci1.json");
        const CONFIG: &[u8] = fixture!("schema2-config.json");

        fn layers(m: &Manifest) -> Vec<String> {
            m.layers()
                .into_iter()
                .map(|l| l.descriptor.digest_text)
                .collect()
        }

        /// What containers/image's test destination is called: the name
        /// and tag land in the manifest.
        fn convert(bytes: &[u8], written: Option<&[String]>) -> Result<Vec<u8>, ConvertError> {
            let m = Manifest::parse(bytes).unwrap();
            let own = layers(&m);
            to_schema1(
                &m,
                &Schema1Inputs {
                    config: CONFIG,
                    written_layers: written.unwrap_or(&own),
                    name: "library/httpd-copy",
                    tag: "latest",
                },
            )
            .map(|b| b.unsigned)
        }

        fn without_signatures(bytes: &[u8]) -> serde_json::Value {
            let mut v: serde_json::Value = serde_json::from_slice(bytes).unwrap();
            v.as_object_mut().unwrap().remove("signatures");
            v
        }

        /// Asserts that `source` converts to `expected`, signatures aside.
        fn assert_converts_to(source: &[u8], expected: &[u8]) {
            let unsigned = convert(source, None).unwrap();
            assert_eq!(without_signatures(&unsigned), without_signatures(expected));
        }

        /// `TestConvertToManifestSchema1`: what Docker Hub serves for the
        /// same image, down to every `v1Compatibility` string.
        #[test]
        fn schema2_converts_to_what_docker_serves_as_schema1() {
            assert_converts_to(SCHEMA2, fixture!("schema2-to-schema1-by-docker.json"));
        }

        /// `TestManifestOCI1ConvertToManifestSchema1`.
        #[test]
        fn oci_converts_to_schema1_through_schema2() {
            assert_converts_to(OCI, fixture!("oci1-to-schema1.json"));
        }

        #[test]
        fn the_unsigned_manifest_is_gos_compact_encoding() {
            let unsigned = convert(SCHEMA2, None).unwrap();
            let value: serde_json::Value = serde_json::from_slice(&unsigned).unwrap();
            let keys: Vec<&str> = value
                .as_object()
                .unwrap()
                .keys()
                .map(|k| k.as_str())
                .collect();
            assert!(unsigned.starts_with(br#"{"name":"library/httpd-copy","tag":"latest","architecture":"amd64","fsLayers":[{"blobSum":"#));
            assert!(unsigned.ends_with(br#"],"schemaVersion":1}"#));
            assert_eq!(keys.len(), 6);
            assert!(!unsigned.contains(&b'\n'));
        }

        /// The second half of `TestConvertToManifestSchema1`: layers that
        /// changed on the way (compressed for a registry) are named as
        /// written, and empty layers stay the gzipped empty layer.
        #[test]
        fn written_layers_are_named_while_legacy_ids_follow_the_source() {
            let m = Manifest::parse(SCHEMA2).unwrap();
            let written: Vec<String> = layers(&m)
                .iter()
                .map(|d| {
                    let flipped = if d.ends_with('0') { '1' } else { '0' };
                    alloc::format!("{}{flipped}", &d[..d.len() - 1])
                })
                .collect();
            let changed = Schema1::parse(&convert(SCHEMA2, Some(&written)).unwrap()).unwrap();
            let original = Schema1::parse(&convert(SCHEMA2, None).unwrap()).unwrap();
            let sums: Vec<&str> = changed.fs_layers.iter().map(String::as_str).collect();
            let e = GZIPPED_EMPTY_LAYER_DIGEST;
            let w = |i: usize| written[i].as_str();
            // Top first, as c/image's expectation (base first) reversed.
            assert_eq!(
                sums,
                [e, e, w(4), w(3), e, e, e, e, w(2), e, w(1), e, e, e, w(0)]
            );
            assert_eq!(changed.history, original.history);
        }

        #[test]
        fn the_empty_layer_blob_has_the_digest_schema1_names() {
            assert_eq!(
                Digest::sha256_of(&GZIPPED_EMPTY_LAYER).as_str(),
                GZIPPED_EMPTY_LAYER_DIGEST
            );
            let m = Manifest::parse(SCHEMA2).unwrap();
            let own = layers(&m);
            let built = to_schema1(
                &m,
                &Schema1Inputs {
                    config: CONFIG,
                    written_layers: &own,
                    name: "",
                    tag: "",
                },
            )
            .unwrap();
            assert!(built.uses_empty_layer);
            assert!(built.unsigned.starts_with(br#"{"name":"","tag":"","#));
        }

        #[test]
        fn the_signed_manifest_digest_is_the_unsigned_payloads() {
            let unsigned = convert(SCHEMA2, None).unwrap();
            let signing = jws::Signing::new(&unsigned, 1_700_000_000).unwrap();
            let key = jws::p256_generator();
            let signed = signing.finish(&key, &[5; 64]);
            let parsed = Manifest::parse(&signed).unwrap();
            assert_eq!(parsed.media_type(), mt::DOCKER_V2S1_SIGNED);
            assert_eq!(parsed.digest().unwrap(), Digest::sha256_of(&unsigned));
            assert_eq!(parsed.layers().len(), 15);
        }

        fn config_with_history(history: &str) -> Vec<u8> {
            alloc::format!(r#"{{"architecture":"amd64","os":"linux","history":{history}}}"#)
                .into_bytes()
        }

        /// A one-layer schema 2 manifest naming `config`.
        fn one_layer_manifest(config: &[u8], layers: usize) -> Manifest {
            let layer = r#"{"mediaType":"application/vnd.docker.image.rootfs.diff.tar.gzip","size":1,"digest":"sha256:0000000000000000000000000000000000000000000000000000000000000002"}"#;
            let list: Vec<&str> = (0..layers).map(|_| layer).collect();
            let text = alloc::format!(
                r#"{{"schemaVersion":2,"mediaType":"application/vnd.docker.distribution.manifest.v2+json","config":{{"mediaType":"application/vnd.docker.container.image.v1+json","size":{},"digest":"{}"}},"layers":[{}]}}"#,
                config.len(),
                Digest::sha256_of(config),
                list.join(",")
            );
            Manifest::parse(text.as_bytes()).unwrap()
        }

        fn convert_config(config: &[u8], layers: usize) -> Result<Built, ConvertError> {
            let m = one_layer_manifest(config, layers);
            let own: Vec<String> = m
                .layers()
                .into_iter()
                .map(|l| l.descriptor.digest_text)
                .collect();
            to_schema1(
                &m,
                &Schema1Inputs {
                    config,
                    written_layers: &own,
                    name: "",
                    tag: "",
                },
            )
        }

        #[test]
        fn a_config_without_history_cannot_become_schema1() {
            for history in ["[]", "null"] {
                assert_eq!(
                    convert_config(&config_with_history(history), 1),
                    Err(ConvertError::NoHistory)
                );
            }
        }

        #[test]
        fn history_naming_more_layers_than_the_image_has_is_refused() {
            let config = config_with_history(r#"[{"created_by":"a"},{"created_by":"b"}]"#);
            assert_eq!(
                convert_config(&config, 1),
                Err(ConvertError::HistoryNeedsMoreLayers { layers: 1 })
            );
        }

        #[test]
        fn layers_without_history_are_refused_rather_than_dropped() {
            let config = config_with_history(r#"[{"created_by":"a"}]"#);
            assert_eq!(
                convert_config(&config, 3),
                Err(ConvertError::LayersWithoutHistory {
                    layers: 3,
                    unused: 2
                })
            );
        }

        #[test]
        fn a_config_that_does_not_match_its_digest_is_refused() {
            let config = config_with_history(r#"[{"created_by":"a"}]"#);
            let m = one_layer_manifest(&config, 1);
            let own = layers(&m);
            let err = to_schema1(
                &m,
                &Schema1Inputs {
                    config: b"{}",
                    written_layers: &own,
                    name: "",
                    tag: "",
                },
            )
            .unwrap_err();
            assert!(matches!(err, ConvertError::ConfigDigest { .. }), "{err:?}");
        }

        #[test]
        fn mistyped_history_fields_are_refused_with_their_pointer() {
            for (history, pointer) in [
                (r#"[{"created":5}]"#, "/history/0/created"),
                (r#"[{"created":"yesterday"}]"#, "/history/0/created"),
                (r#"[{"empty_layer":"yes"}]"#, "/history/0/empty_layer"),
                (r#"{"a":1}"#, "/history"),
            ] {
                let err = convert_config(&config_with_history(history), 1).unwrap_err();
                match &err {
                    ConvertError::Config { reason } => {
                        assert!(reason.contains(pointer), "{history}: {reason}")
                    }
                    other => panic!("{history}: {other:?}"),
                }
            }
        }

        #[test]
        fn a_single_entry_image_has_no_parent_and_its_config_on_top() {
            let config = config_with_history(
                r#"[{"created":"2020-01-01T00:00:00+00:00","created_by":"ADD <x> & y","empty_layer":true}]"#,
            );
            let built = convert_config(&config, 0).unwrap();
            let s1 = Schema1::parse(&built.unsigned).unwrap();
            assert_eq!(s1.fs_layers, [GZIPPED_EMPTY_LAYER_DIGEST]);
            let top = &s1.history[0];
            assert!(
                top.starts_with(r#"{"architecture":"amd64","id":""#),
                "{top}"
            );
            assert!(
                top.ends_with(r#"","os":"linux","throwaway":true}"#),
                "{top}"
            );
            assert!(!top.contains("parent") && !top.contains("history"), "{top}");
        }

        #[test]
        fn artifacts_and_schema1_are_not_converted_to_schema1() {
            let doc = r#"{"schemaVersion":2,"mediaType":"application/vnd.oci.image.manifest.v1+json","config":{"mediaType":"application/vnd.oci.empty.v1+json","digest":"sha256:44136fa355b3678a1146ad16f7e8649e94fb4fc21fe77e8310c060f61caaff8a","size":2},"layers":[]}"#;
            let m = Manifest::parse(doc.as_bytes()).unwrap();
            let inputs = Schema1Inputs {
                config: b"{}",
                written_layers: &[],
                name: "",
                tag: "",
            };
            assert!(matches!(
                to_schema1(&m, &inputs),
                Err(ConvertError::Artifact { .. })
            ));
            let s1 = Manifest::parse(fixture!("schema2-to-schema1-by-docker.json")).unwrap();
            assert!(matches!(
                to_schema1(&s1, &inputs),
                Err(ConvertError::Unsupported { .. })
            ));
        }
    }
}
