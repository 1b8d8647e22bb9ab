//! Every conformance case through ferry-core's manifest reading, compared
//! with containers/image's answers: media type guess, digest, single-image
//! parsing (status, config, layers, image ID) and parsing as each of the
//! five formats.

use ferry_core::list::{List, ListKind};
use ferry_core::manifest::{self, Manifest, OciManifest, Schema1, Schema2};
use ferry_core::media_type as mt;
use ferry_tests::conformance::{self, Tally};
use serde_json::{Value, json};

fn descriptor_json(d: &ferry_core::Descriptor) -> Value {
    json!({
        "digest": d.digest_text,
        "size": d.size,
        "media_type": d.media_type,
        "urls": d.urls,
        "annotations": d.annotations,
    })
}

fn status<T, E: std::fmt::Display>(r: &Result<T, E>) -> String {
    match r {
        Ok(_) => "ok".into(),
        Err(e) => format!("error: {e}"),
    }
}

/// Statuses agree when both are "ok" or both are errors (error texts are
/// Go's and only hints).
fn same_status(expected: &Value, got: &str) -> bool {
    let expected_ok = expected == "ok";
    expected_ok == (got == "ok")
}

#[test]
fn manifests_match_containers_image() {
    let mut tally = Tally::default();
    for case in conformance::load() {
        let name = case.name.as_str();
        let bytes = &case.bytes;

        let guessed = manifest::guess_media_type(bytes);
        tally.check(
            "guess_mime",
            name,
            case.field("guess_mime") == guessed.as_str(),
            || format!("expected {}, got {guessed:?}", case.field("guess_mime")),
        );

        let normalized = mt::normalize(&guessed);
        tally.check(
            "normalized",
            name,
            case.field("normalized") == normalized,
            || format!("expected {}, got {normalized:?}", case.field("normalized")),
        );
        let is_multi = mt::is_list(&guessed);
        tally.check("is_multi", name, case.field("is_multi") == is_multi, || {
            format!("expected {}, got {is_multi}", case.field("is_multi"))
        });

        let digest = manifest::digest(bytes).map(|d| d.to_string());
        let digest_ok = match (&digest, case.field("digest").as_str()) {
            (Ok(d), Some(e)) => d == e,
            (Err(_), Some(e)) => e.starts_with("error: "),
            _ => false,
        };
        tally.check("digest", name, digest_ok, || {
            format!("expected {}, got {digest:?}", case.field("digest"))
        });

        let parsed = Manifest::from_blob(bytes, &guessed);
        let got = status(&parsed);
        tally.check(
            "from_blob",
            name,
            same_status(case.field("from_blob"), &got),
            || format!("expected {}, got {got}", case.field("from_blob")),
        );

        if let Ok(m) = &parsed
            && case.ok("from_blob")
        {
            let config = descriptor_json(&m.config());
            tally.check("config", name, case.field("config") == &config, || {
                format!("expected {}, got {config}", case.field("config"))
            });
            let layers: Vec<Value> = m
                .layers()
                .iter()
                .map(|l| {
                    let mut v = descriptor_json(&l.descriptor);
                    v["empty_layer"] = json!(l.empty_layer);
                    v
                })
                .collect();
            let layers = Value::Array(layers);
            tally.check("layers", name, case.field("layers") == &layers, || {
                format!("expected {}, got {layers}", case.field("layers"))
            });
            let id = m.image_id().map_err(|e| e.to_string());
            let id_ok = match (&id, case.field("image_id").as_str()) {
                (Ok(id), Some(e)) => id == e,
                (Err(_), Some(e)) => e.starts_with("error: "),
                _ => false,
            };
            tally.check("image_id", name, id_ok, || {
                format!("expected {}, got {id:?}", case.field("image_id"))
            });
        }

        let parse_as: [(&str, String); 5] = [
            (
                mt::DOCKER_LIST,
                status(&List::parse_kind(bytes, ListKind::DockerList)),
            ),
            (
                mt::OCI_INDEX,
                status(&List::parse_kind(bytes, ListKind::OciIndex)),
            ),
            (mt::OCI_MANIFEST, status(&OciManifest::parse(bytes))),
            (mt::DOCKER_V2S2, status(&Schema2::parse(bytes))),
            (mt::DOCKER_V2S1_SIGNED, status(&Schema1::parse(bytes))),
        ];
        for (media_type, got) in parse_as {
            let expected = &case.field("parse_as")[media_type];
            tally.check("parse_as", name, same_status(expected, &got), || {
                format!("as {media_type}: expected {expected}, got {got}")
            });
        }
    }
    tally.finish();
}
