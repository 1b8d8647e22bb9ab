//! Conversions: lists between Docker and OCI, manifests between schema 2
//! and OCI, schema 1 to schema 2, and layer edits.
//!
//! Invariants: a converted list re-parses as the target kind to the very
//! list returned, with the same entries (digest, size, media type) in the
//! same order; converting to the list's own kind returns its bytes and
//! reports nothing; converting back keeps the entries. A converted manifest
//! parses as the target type with the same config and layer digests;
//! converting to its own type returns its bytes. Unchanged layer edits keep
//! the bytes; schema 1 → schema 2 gives a manifest that names the config it
//! came with.
#![no_main]

use ferry_core::list::{ConvertOptions, List, ListKind};
use ferry_core::manifest::convert::convert;
use ferry_core::manifest::edit::{LayerUpdate, with_layers};
use ferry_core::media_type as mt;
use ferry_core::{Digest, Manifest, Platform};
use ferry_fuzz::{entry_keys, sha256};
use libfuzzer_sys::fuzz_target;

fn other(kind: ListKind) -> ListKind {
    match kind {
        ListKind::DockerList => ListKind::OciIndex,
        ListKind::OciIndex => ListKind::DockerList,
    }
}

fn check_list(list: &List) {
    let options = [
        ConvertOptions::default(),
        ConvertOptions {
            platform_for_unplatformed: Some(Platform::new("linux", "amd64", "")),
        },
    ];
    for options in &options {
        let same = list
            .convert_to(list.kind, options)
            .expect("to its own kind");
        assert_eq!(same.list.raw(), list.raw());
        assert!(same.is_lossless());

        let target = other(list.kind);
        let Ok(converted) = list.convert_to(target, options) else {
            continue;
        };
        assert_eq!(converted.list.kind, target);
        let reparsed =
            List::parse_kind(converted.list.raw(), target).expect("converted list re-parses");
        assert_eq!(reparsed, converted.list);
        assert_eq!(
            List::parse(converted.list.raw()).map(|l| l.kind),
            Ok(target),
            "the converted list declares its own type"
        );
        assert_eq!(entry_keys(&converted.list), entry_keys(list));
        for loss in &converted.losses {
            assert!(
                loss.pointer.starts_with('/'),
                "loss pointer {:?}",
                loss.pointer
            );
        }
        let back = converted
            .list
            .convert_to(list.kind, options)
            .expect("converting back");
        assert_eq!(entry_keys(&back.list), entry_keys(list));
    }
}

fn check_manifest(m: &Manifest) {
    for target in [
        mt::DOCKER_V2S2,
        mt::OCI_MANIFEST,
        mt::DOCKER_V2S1,
        mt::DOCKER_V2S1_SIGNED,
    ] {
        let Ok(bytes) = convert(m, target) else {
            continue;
        };
        if m.media_type() == target {
            assert_eq!(bytes, m.raw());
            continue;
        }
        if matches!(m, Manifest::Schema1(_)) {
            assert_eq!(bytes, m.raw(), "schema 1 converts only to itself");
            continue;
        }
        let converted = Manifest::from_blob(&bytes, target).expect("converted manifest re-parses");
        assert_eq!(converted.media_type(), target);
        assert_eq!(
            ferry_core::manifest::guess_media_type(&bytes),
            target,
            "the conversion declares its type"
        );
        assert_eq!(converted.config().digest_text, m.config().digest_text);
        let digests = |m: &Manifest| -> Vec<String> {
            m.layers()
                .into_iter()
                .map(|l| l.descriptor.digest_text)
                .collect()
        };
        assert_eq!(digests(&converted), digests(m));
    }

    if let Manifest::Schema1(s1) = m {
        let layers: Vec<(i64, Digest)> = s1
            .layer_infos()
            .iter()
            .enumerate()
            .map(|(i, _)| (i as i64, Digest::sha256_of(&i.to_le_bytes())))
            .collect();
        if let Ok((config, manifest)) = s1.to_schema2(&layers) {
            let converted =
                Manifest::from_blob(&manifest, mt::DOCKER_V2S2).expect("schema 2 from schema 1");
            assert_eq!(converted.config().digest_text, sha256(&config));
            assert_eq!(converted.config().size, config.len() as i64);
            let real_layers = s1.layer_infos().iter().filter(|l| !l.empty_layer).count();
            assert_eq!(converted.layers().len(), real_layers);
        }
        return;
    }

    let same: Vec<LayerUpdate> = m
        .layers()
        .into_iter()
        .map(|l| LayerUpdate {
            digest: l.descriptor.digest_text,
            size: l.descriptor.size,
            media_type: l.descriptor.media_type,
        })
        .collect();
    let unchanged = with_layers(m, &same).expect("an edit of the right length");
    assert_eq!(unchanged, m.raw(), "an unchanged edit changed the bytes");
    let mut grown = same.clone();
    if let Some(first) = grown.first_mut()
        && first.size < i64::MAX
    {
        first.size += 1;
        let size = first.size;
        let bytes = with_layers(m, &grown).expect("an edit of the right length");
        let edited =
            Manifest::from_blob(&bytes, m.media_type()).expect("edited manifest re-parses");
        assert_eq!(edited.layers()[0].descriptor.size, size);
        assert_eq!(edited.layers().len(), same.len());
    }
}

fuzz_target!(|data: &[u8]| {
    for kind in [ListKind::DockerList, ListKind::OciIndex] {
        if let Ok(list) = List::parse_kind(data, kind) {
            check_list(&list);
        }
    }
    for target in [mt::DOCKER_V2S2, mt::OCI_MANIFEST, mt::DOCKER_V2S1_SIGNED] {
        if let Ok(m) = Manifest::from_blob(data, target) {
            check_manifest(&m);
        }
    }
});
