//! Properties of ferry-core that must hold for every document, not only for
//! the conformance cases: generated lists and manifests, written with
//! random whitespace, key order and members ferry does not model.
//!
//! - Parsing and writing back keeps members ferry does not model, also
//!   after an edit.
//! - Docker list → OCI index → Docker list (and the other way round) is
//!   the identity when no loss is reported, and a loss is reported for
//!   every value that has no place in the other format.
//! - Updating list entries with their own values keeps the bytes.
//! - A digest is the sha256 of the exact bytes (signed schema 1 aside,
//!   which is not generated here): the same document written two ways
//!   means the same and digests differently.
//! - Platform choice never names a digest that is not in the list.
//!
//! Case counts are modest so that the suite stays fast; the fuzz targets
//! (fuzz/, docs/fuzzing.md) explore far more inputs.

use ferry_core::choose::{ChooseOptions, choose_instance};
use ferry_core::list::{ConvertOptions, InstanceUpdate, List, ListKind, LossKind};
use ferry_core::manifest::edit::{LayerUpdate, with_layers};
use ferry_core::media_type as mt;
use ferry_core::{Manifest, Platform, manifest};
use proptest::prelude::*;
use serde_json::{Map, Value, json};
use sha2::{Digest as _, Sha256};
use std::collections::BTreeMap;

fn config() -> ProptestConfig {
    ProptestConfig {
        cases: 256,
        ..ProptestConfig::default()
    }
}

// ---------------------------------------------------------------------------
// Generators.

/// Any JSON value, a few levels deep; numbers are integers so that every
/// JSON reader agrees on them.
fn json_value() -> impl Strategy<Value = Value> {
    let leaf = prop_oneof![
        Just(Value::Null),
        any::<bool>().prop_map(Value::Bool),
        any::<i64>().prop_map(Value::from),
        "\\PC{0,12}".prop_map(Value::String),
    ];
    leaf.prop_recursive(3, 24, 4, |inner| {
        prop_oneof![
            prop::collection::vec(inner.clone(), 0..4).prop_map(Value::Array),
            prop::collection::btree_map("[a-zA-Z]{1,6}", inner, 0..4)
                .prop_map(|m| Value::Object(m.into_iter().collect())),
        ]
    })
}

/// Members no format defines. The `x-` prefix keeps them clear of every
/// member name, also under Go's case-insensitive matching.
fn extras() -> impl Strategy<Value = BTreeMap<String, Value>> {
    prop::collection::btree_map("x-[a-z]{1,8}", json_value(), 0..3)
}

fn digest_text() -> impl Strategy<Value = String> {
    "[0-9a-f]{64}".prop_map(|hex| format!("sha256:{hex}"))
}

fn manifest_type() -> impl Strategy<Value = &'static str> {
    prop_oneof![Just(mt::OCI_MANIFEST), Just(mt::DOCKER_V2S2)]
}

/// Small alphabets, so that generated entries and wanted platforms meet.
const OSES: [&str; 3] = ["linux", "windows", "unknown"];
const ARCHES: [&str; 5] = ["amd64", "arm", "arm64", "386", "unknown"];
const VARIANTS: [&str; 6] = ["", "v5", "v6", "v7", "v8", "v3"];
const OS_VERSIONS: [&str; 3] = ["", "10.0.17763.1", "10.0.20348.2"];

/// A platform object; `features` only when `features` is true (a Docker
/// list member that OCI does not have).
fn platform_json(features: bool) -> impl Strategy<Value = Value> {
    (
        prop::sample::select(&OSES[..]),
        prop::sample::select(&ARCHES[..]),
        prop::sample::select(&VARIANTS[..]),
        prop::sample::select(&OS_VERSIONS[..]),
        prop::collection::vec("[a-z]{1,6}", 0..2),
        prop::collection::vec("[a-z]{1,6}", if features { 0..3 } else { 0..1 }),
    )
        .prop_map(|(os, arch, variant, os_version, os_features, features)| {
            let mut p = Map::new();
            p.insert("architecture".into(), json!(arch));
            p.insert("os".into(), json!(os));
            if !os_version.is_empty() {
                p.insert("os.version".into(), json!(os_version));
            }
            if !os_features.is_empty() {
                p.insert("os.features".into(), json!(os_features));
            }
            if !variant.is_empty() {
                p.insert("variant".into(), json!(variant));
            }
            if !features.is_empty() {
                p.insert("features".into(), json!(features));
            }
            Value::Object(p)
        })
}

/// What a generated list may contain beyond the required members.
#[derive(Debug, Clone, Copy)]
struct ListShape {
    kind: ListKind,
    /// Unknown members at the top, in entries and in platforms.
    extras: bool,
    /// Docker platform `features`.
    features: bool,
    /// OCI entries without a platform.
    unplatformed: bool,
}

fn entry_json(shape: ListShape) -> impl Strategy<Value = Value> {
    (
        manifest_type(),
        0i64..(1 << 40),
        digest_text(),
        prop::collection::vec("https://[a-z]{1,8}\\.example/[a-z]{1,8}", 0..2),
        platform_json(shape.features),
        // One entry in five has no platform, where the shape allows it.
        0u8..5,
        extras(),
        extras(),
    )
        .prop_map(
            move |(media_type, size, digest, urls, platform, roll, extra, platform_extra)| {
                let platform = (!shape.unplatformed || roll != 0).then_some(platform);
                let mut e = Map::new();
                e.insert("mediaType".into(), json!(media_type));
                e.insert("size".into(), json!(size));
                e.insert("digest".into(), json!(digest));
                if !urls.is_empty() {
                    e.insert("urls".into(), json!(urls));
                }
                if let Some(Value::Object(mut p)) = platform {
                    if shape.extras {
                        p.extend(platform_extra);
                    }
                    e.insert("platform".into(), Value::Object(p));
                }
                if shape.extras {
                    e.extend(extra);
                }
                Value::Object(e)
            },
        )
}

fn list_json(shape: ListShape) -> impl Strategy<Value = Value> {
    (prop::collection::vec(entry_json(shape), 0..6), extras()).prop_map(move |(entries, extra)| {
        let mut top = Map::new();
        top.insert("schemaVersion".into(), json!(2));
        top.insert("mediaType".into(), json!(shape.kind.media_type()));
        top.insert("manifests".into(), Value::Array(entries));
        if shape.extras {
            top.extend(extra);
        }
        Value::Object(top)
    })
}

fn any_list_json(extras: bool) -> impl Strategy<Value = Value> {
    prop_oneof![
        list_json(ListShape {
            kind: ListKind::DockerList,
            extras,
            features: true,
            unplatformed: false,
        }),
        list_json(ListShape {
            kind: ListKind::OciIndex,
            extras,
            features: false,
            unplatformed: true,
        }),
    ]
}

/// A schema 2 or OCI image manifest with unknown members at the top, in
/// the config and in each layer.
fn image_manifest_json() -> impl Strategy<Value = Value> {
    let layer = (0i64..(1 << 40), digest_text(), extras());
    (
        any::<bool>(),
        digest_text(),
        0i64..(1 << 20),
        prop::collection::vec(layer, 0..5),
        extras(),
        extras(),
    )
        .prop_map(
            |(oci, config_digest, config_size, layers, extra, config_extra)| {
                let (media_type, config_type, layer_type) = if oci {
                    (mt::OCI_MANIFEST, mt::OCI_CONFIG, mt::OCI_LAYER_GZIP)
                } else {
                    (mt::DOCKER_V2S2, mt::DOCKER_CONFIG, mt::DOCKER_LAYER_GZIP)
                };
                let mut config = Map::new();
                config.insert("mediaType".into(), json!(config_type));
                config.insert("size".into(), json!(config_size));
                config.insert("digest".into(), json!(config_digest));
                config.extend(config_extra);
                let layers: Vec<Value> = layers
                    .into_iter()
                    .map(|(size, digest, extra)| {
                        let mut l = Map::new();
                        l.insert("mediaType".into(), json!(layer_type));
                        l.insert("size".into(), json!(size));
                        l.insert("digest".into(), json!(digest));
                        l.extend(extra);
                        Value::Object(l)
                    })
                    .collect();
                let mut top = Map::new();
                top.insert("schemaVersion".into(), json!(2));
                top.insert("mediaType".into(), json!(media_type));
                top.insert("config".into(), Value::Object(config));
                top.insert("layers".into(), Value::Array(layers));
                top.extend(extra);
                Value::Object(top)
            },
        )
}

// ---------------------------------------------------------------------------
// Writing a document in different ways.

/// How to write a document: indentation (none is compact), spaces around
/// `:` and `,` when compact, and a seed that orders object keys.
#[derive(Debug, Clone, Copy)]
struct Style {
    indent: Option<&'static str>,
    spaced: bool,
    order_seed: u64,
}

fn style() -> impl Strategy<Value = Style> {
    (
        prop::sample::select(&[None, Some("  "), Some("   "), Some("\t")][..]),
        any::<bool>(),
        any::<u64>(),
    )
        .prop_map(|(indent, spaced, order_seed)| Style {
            indent,
            spaced,
            order_seed,
        })
}

/// A stable, seed-dependent order of keys (FNV-1a of the key, mixed with
/// the seed).
fn key_rank(key: &str, seed: u64) -> u64 {
    let mut h = 0xcbf2_9ce4_8422_2325u64 ^ seed;
    for b in key.bytes() {
        h = (h ^ u64::from(b)).wrapping_mul(0x0100_0000_01b3);
    }
    h
}

fn write(value: &Value, style: Style) -> Vec<u8> {
    let mut out = String::new();
    write_value(value, style, 0, &mut out);
    if style.indent.is_some() {
        out.push('\n');
    }
    out.into_bytes()
}

fn newline(style: Style, depth: usize, out: &mut String) {
    if let Some(indent) = style.indent {
        out.push('\n');
        for _ in 0..depth {
            out.push_str(indent);
        }
    }
}

fn write_value(value: &Value, style: Style, depth: usize, out: &mut String) {
    let comma = if style.spaced && style.indent.is_none() {
        ", "
    } else {
        ","
    };
    let colon = if style.spaced || style.indent.is_some() {
        ": "
    } else {
        ":"
    };
    match value {
        Value::Array(items) if !items.is_empty() => {
            out.push('[');
            for (i, item) in items.iter().enumerate() {
                if i > 0 {
                    out.push_str(comma);
                }
                newline(style, depth + 1, out);
                write_value(item, style, depth + 1, out);
            }
            newline(style, depth, out);
            out.push(']');
        }
        Value::Object(map) if !map.is_empty() => {
            let mut keys: Vec<&String> = map.keys().collect();
            keys.sort_by_key(|k| key_rank(k, style.order_seed));
            out.push('{');
            for (i, key) in keys.into_iter().enumerate() {
                if i > 0 {
                    out.push_str(comma);
                }
                newline(style, depth + 1, out);
                out.push_str(&serde_json::to_string(key).unwrap());
                out.push_str(colon);
                write_value(&map[key], style, depth + 1, out);
            }
            newline(style, depth, out);
            out.push('}');
        }
        other => out.push_str(&serde_json::to_string(other).unwrap()),
    }
}

// ---------------------------------------------------------------------------
// Checks.

fn sha256(bytes: &[u8]) -> String {
    let hash = Sha256::digest(bytes);
    let hex: String = hash.iter().map(|b| format!("{b:02x}")).collect();
    format!("sha256:{hex}")
}

fn as_json(bytes: &[u8]) -> Value {
    serde_json::from_slice(bytes).expect("ferry wrote JSON")
}

/// Every `x-` member of `expected`, at any depth the generators put them,
/// is in `actual` with the same value.
fn assert_extras_kept(expected: &Value, actual: &Value, at: &str) {
    let (Value::Object(e), Value::Object(a)) = (expected, actual) else {
        return;
    };
    for (key, value) in e {
        if key.starts_with("x-") {
            assert_eq!(a.get(key), Some(value), "{at}/{key} was not kept");
        }
    }
    for nested in ["platform", "config"] {
        if let (Some(ev), Some(av)) = (e.get(nested), a.get(nested)) {
            assert_extras_kept(ev, av, &format!("{at}/{nested}"));
        }
    }
    for array in ["manifests", "layers"] {
        if let (Some(Value::Array(ev)), Some(Value::Array(av))) = (e.get(array), a.get(array)) {
            for (i, (ei, ai)) in ev.iter().zip(av).enumerate() {
                assert_extras_kept(ei, ai, &format!("{at}/{array}/{i}"));
            }
        }
    }
}

fn same_values(list: &List) -> Vec<InstanceUpdate> {
    list.entries
        .iter()
        .map(|e| InstanceUpdate {
            digest: e.digest_text.clone(),
            size: e.size,
            media_type: e.media_type.clone(),
        })
        .collect()
}

fn other_kind(kind: ListKind) -> ListKind {
    match kind {
        ListKind::DockerList => ListKind::OciIndex,
        ListKind::OciIndex => ListKind::DockerList,
    }
}

// ---------------------------------------------------------------------------
// Properties.

proptest! {
    #![proptest_config(config())]

    /// A list keeps its bytes, and an edited list keeps every member ferry
    /// does not model (top, entries, platforms) with its value.
    #[test]
    fn list_edits_keep_unknown_members(doc in any_list_json(true), style in style(), bump in 1i64..1000) {
        let bytes = write(&doc, style);
        let list = List::parse(&bytes).expect("a generated list parses");
        prop_assert_eq!(list.serialize(), &bytes[..]);
        let same = list.convert_to(list.kind, &ConvertOptions::default()).unwrap();
        prop_assert_eq!(same.list.serialize(), &bytes[..]);

        let mut updates = same_values(&list);
        if let Some(first) = updates.first_mut() {
            first.size += bump;
        }
        let mut edited = list.clone();
        edited.update_instances(&updates).expect("a valid update");
        prop_assert_eq!(edited.entries.len(), list.entries.len());
        assert_extras_kept(&doc, &as_json(edited.serialize()), "");
    }

    /// A manifest keeps its bytes, and a layer edit keeps every member
    /// ferry does not model (top, config, layers).
    #[test]
    fn manifest_edits_keep_unknown_members(doc in image_manifest_json(), style in style(), bump in 1i64..1000) {
        let bytes = write(&doc, style);
        let m = Manifest::parse(&bytes).expect("a generated manifest parses");
        prop_assert_eq!(m.raw(), &bytes[..]);
        let mut updates: Vec<LayerUpdate> = m
            .layers()
            .into_iter()
            .map(|l| LayerUpdate {
                digest: l.descriptor.digest_text,
                size: l.descriptor.size,
                media_type: l.descriptor.media_type,
            })
            .collect();
        prop_assert_eq!(with_layers(&m, &updates).unwrap(), bytes.clone());
        if let Some(first) = updates.first_mut() {
            first.size += bump;
        }
        let edited = with_layers(&m, &updates).unwrap();
        let reparsed = Manifest::from_blob(&edited, m.media_type()).expect("an edited manifest parses");
        prop_assert_eq!(reparsed.layers().len(), m.layers().len());
        assert_extras_kept(&doc, &as_json(&edited), "");
    }

    /// Docker list → OCI index → Docker list gives back the same list when
    /// neither conversion reports a loss.
    #[test]
    fn docker_list_round_trips_through_oci_without_loss(
        doc in list_json(ListShape { kind: ListKind::DockerList, extras: false, features: false, unplatformed: false }),
        style in style(),
    ) {
        let list = List::parse(&write(&doc, style)).unwrap();
        let oci = list.convert_to(ListKind::OciIndex, &ConvertOptions::default()).unwrap();
        prop_assert!(oci.is_lossless(), "losses: {:?}", oci.losses);
        let back = oci.list.convert_to(ListKind::DockerList, &ConvertOptions::default()).unwrap();
        prop_assert!(back.is_lossless(), "losses: {:?}", back.losses);
        prop_assert_eq!(&back.list.entries, &list.entries);
        prop_assert_eq!(as_json(back.list.serialize()), doc);
    }

    /// OCI index → Docker list → OCI index, likewise, for indexes whose
    /// entries all have platforms and nothing Docker lacks.
    #[test]
    fn oci_index_round_trips_through_docker_without_loss(
        doc in list_json(ListShape { kind: ListKind::OciIndex, extras: false, features: false, unplatformed: false }),
        style in style(),
    ) {
        let list = List::parse(&write(&doc, style)).unwrap();
        let docker = list.convert_to(ListKind::DockerList, &ConvertOptions::default()).unwrap();
        prop_assert!(docker.is_lossless(), "losses: {:?}", docker.losses);
        let back = docker.list.convert_to(ListKind::OciIndex, &ConvertOptions::default()).unwrap();
        prop_assert!(back.is_lossless(), "losses: {:?}", back.losses);
        prop_assert_eq!(&back.list.entries, &list.entries);
        prop_assert_eq!(as_json(back.list.serialize()), doc);
    }

    /// Whatever a conversion cannot carry is reported: Docker platform
    /// features, OCI entries without a platform, and unknown members, each
    /// at its own pointer.
    #[test]
    fn every_value_a_conversion_cannot_carry_is_reported(doc in any_list_json(true), style in style()) {
        let list = List::parse(&write(&doc, style)).unwrap();
        let converted = list.convert_to(other_kind(list.kind), &ConvertOptions::default()).unwrap();
        let reported = |pointer: &str| converted.losses.iter().any(|l| l.pointer == pointer);
        let top = doc.as_object().unwrap();
        for key in top.keys().filter(|k| k.starts_with("x-")) {
            let pointer = format!("/{key}");
            prop_assert!(reported(&pointer), "{} not reported", pointer);
        }
        for (i, entry) in top["manifests"].as_array().unwrap().iter().enumerate() {
            let entry = entry.as_object().unwrap();
            for key in entry.keys().filter(|k| k.starts_with("x-")) {
                let pointer = format!("/manifests/{i}/{key}");
                prop_assert!(reported(&pointer), "{} not reported", pointer);
            }
            match entry.get("platform") {
                None => {
                    let loss = converted.losses.iter().find(|l| l.pointer == format!("/manifests/{i}/platform"));
                    prop_assert_eq!(loss.map(|l| l.kind), Some(LossKind::Defaulted));
                }
                Some(Value::Object(p)) => {
                    if p.contains_key("features") {
                        let pointer = format!("/manifests/{i}/platform/features");
                        prop_assert!(reported(&pointer), "{} not reported", pointer);
                    }
                    for key in p.keys().filter(|k| k.starts_with("x-")) {
                        let pointer = format!("/manifests/{i}/platform/{key}");
                        prop_assert!(reported(&pointer), "{} not reported", pointer);
                    }
                }
                Some(other) => prop_assert!(false, "generated platform {other}"),
            }
        }
        prop_assert_eq!(converted.is_lossless(), converted.losses.is_empty());
    }

    /// Updating every entry with the values it already has changes nothing:
    /// same bytes, same digest. So does keeping every entry.
    #[test]
    fn unchanged_instance_updates_keep_the_bytes(doc in any_list_json(true), style in style()) {
        let bytes = write(&doc, style);
        let list = List::parse(&bytes).unwrap();
        let mut updated = list.clone();
        updated.update_instances(&same_values(&list)).unwrap();
        prop_assert_eq!(updated.serialize(), &bytes[..]);
        prop_assert_eq!(updated.digest(), list.digest());
        let mut kept = list.clone();
        kept.retain_entries(&(0..list.entries.len()).collect::<Vec<_>>()).unwrap();
        prop_assert_eq!(kept.serialize(), &bytes[..]);
    }

    /// A digest is the sha256 of the exact bytes: the same list written in
    /// two ways reads the same and digests differently.
    #[test]
    fn list_digests_are_of_the_bytes_not_the_meaning(doc in any_list_json(true), a in style(), b in style()) {
        let (bytes_a, bytes_b) = (write(&doc, a), write(&doc, b));
        let (list_a, list_b) = (List::parse(&bytes_a).unwrap(), List::parse(&bytes_b).unwrap());
        prop_assert_eq!(&list_a.entries, &list_b.entries);
        prop_assert_eq!(list_a.digest().to_string(), sha256(&bytes_a));
        prop_assert_eq!(manifest::digest(&bytes_a).unwrap().to_string(), sha256(&bytes_a));
        prop_assert_eq!(list_b.digest().to_string(), sha256(&bytes_b));
        prop_assert_eq!(bytes_a == bytes_b, list_a.digest() == list_b.digest());
    }

    /// The same for image manifests.
    #[test]
    fn manifest_digests_are_of_the_bytes_not_the_meaning(doc in image_manifest_json(), a in style(), b in style()) {
        let (bytes_a, bytes_b) = (write(&doc, a), write(&doc, b));
        let (ma, mb) = (Manifest::parse(&bytes_a).unwrap(), Manifest::parse(&bytes_b).unwrap());
        prop_assert_eq!(ma.config(), mb.config());
        prop_assert_eq!(ma.layers(), mb.layers());
        let (da, db) = (ma.digest().unwrap(), mb.digest().unwrap());
        prop_assert_eq!(da.as_str(), sha256(&bytes_a));
        prop_assert_eq!(db.as_str(), sha256(&bytes_b));
        prop_assert_eq!(bytes_a == bytes_b, da == db);
    }

    /// Choice never names a digest outside the list: the chosen digest is
    /// the chosen entry's, exactly one entry is chosen, and nothing
    /// accepted ranks better than it.
    #[test]
    fn choice_names_only_digests_in_the_list(
        doc in any_list_json(false),
        os in prop::sample::select(&OSES[..]),
        arch in prop::sample::select(&ARCHES[..]),
        variant in prop::sample::select(&VARIANTS[..]),
        os_version in prop::sample::select(&OS_VERSIONS[..]),
        flags in 0u8..16,
    ) {
        let list = List::parse(&write(&doc, Style { indent: None, spaced: false, order_seed: 0 })).unwrap();
        let mut wanted = Platform::new(os, arch, variant);
        wanted.os_version = os_version.into();
        let options = ChooseOptions {
            prefer_gzip: flags & 1 != 0,
            amd64_levels: flags & 2 != 0,
            windows_os_version: flags & 4 != 0,
            skip_attestations: flags & 8 != 0,
        };
        match choose_instance(&list, &wanted, &options) {
            Ok(choice) => {
                prop_assert!(list.instance(&choice.digest).is_some());
                prop_assert_eq!(&list.entries[choice.index].digest_text, &choice.digest);
                prop_assert_eq!(choice.explanation.iter().filter(|v| v.chosen).count(), 1);
                let best = choice.explanation[choice.index].rank.unwrap();
                for v in choice.explanation.iter().filter(|v| v.accepted) {
                    prop_assert!(v.rank.unwrap() >= best);
                }
            }
            Err(no) => {
                prop_assert_eq!(no.explanation.len(), list.entries.len());
                prop_assert!(no.explanation.iter().all(|v| !v.accepted));
            }
        }
    }
}
