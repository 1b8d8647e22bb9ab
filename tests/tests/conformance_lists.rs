//! Every conformance case through ferry-core's list reading and platform
//! choice, compared with containers/image's answers.

use ferry_core::Platform;
use ferry_core::choose::{ChooseOptions, choose_instance};
use ferry_core::list::{ConvertOptions, List, ListKind, LossKind};

use ferry_tests::conformance::{self, Tally};
use serde_json::{Value, json};

/// The fifteen platform queries of the conformance answers.
const QUERIES: [&str; 15] = [
    "linux/amd64",
    "linux/arm64",
    "linux/arm64/v8",
    "linux/arm/v7",
    "linux/arm/v6",
    "linux/arm/v5",
    "linux/arm",
    "linux/s390x",
    "linux/ppc64le",
    "linux/386",
    "windows/amd64",
    "linux/riscv64",
    "plan9/mips64",
    "linux/arm/v8",
    "linux/amd64/v3",
];

fn platform(query: &str) -> Platform {
    let mut parts = query.split('/');
    let os = parts.next().unwrap();
    let arch = parts.next().unwrap();
    Platform::new(os, arch, parts.next().unwrap_or(""))
}

#[test]
fn lists_match_containers_image() {
    let mut tally = Tally::default();
    for case in conformance::load() {
        let name = case.name.as_str();
        let guessed = ferry_core::manifest::guess_media_type(&case.bytes);
        let parsed = List::from_blob(&case.bytes, &guessed);
        tally.check(
            "list_from_blob",
            name,
            parsed.is_ok() == case.ok("list_from_blob"),
            || {
                format!(
                    "expected {}, got {:?}",
                    case.field("list_from_blob"),
                    parsed.as_ref().err()
                )
            },
        );
        let Ok(list) = parsed else { continue };

        let mime = list.list_media_type();
        tally.check("list_mime", name, case.field("list_mime") == mime, || {
            format!("expected {}, got {mime}", case.field("list_mime"))
        });

        let instances: Vec<&str> = list.instances().map(|d| d.digest_text.as_str()).collect();
        tally.check(
            "instances",
            name,
            case.field("instances") == &json!(instances),
            || format!("expected {}, got {instances:?}", case.field("instances")),
        );

        let info: Vec<Value> = instances
            .iter()
            .map(|d| {
                let e = list.instance(d).expect("listed instance is found");
                json!({"digest": e.digest_text, "size": e.size, "media_type": e.media_type})
            })
            .collect();
        let info = Value::Array(info);
        tally.check(
            "instance_info",
            name,
            case.field("instance_info") == &info,
            || format!("expected {}, got {info}", case.field("instance_info")),
        );

        // `serialized`: ferry writes an unchanged list back byte for byte,
        // where containers/image re-encodes it (dropping unknown members,
        // adding a missing mediaType). Compared as parsed lists: the same
        // entries, platforms and annotations.
        if let Some(expected) = case.field("serialized").as_str() {
            let same = same_list(&list, expected, list.kind);
            tally.check("serialized", name, same.is_ok(), || same.unwrap_err());
        }

        for (field, kind) in [
            ("to_index", ListKind::OciIndex),
            ("to_schema2list", ListKind::DockerList),
        ] {
            let Some(expected) = case.field(field).as_str() else {
                continue;
            };
            if kind == list.kind {
                // Same-format conversion is the identity in ferry, where
                // containers/image's OCI clone drops each entry's `data`
                // and `artifactType`; ferry keeps them.
                let mut kept = list.clone();
                for e in &mut kept.entries {
                    e.data = None;
                    e.artifact_type.clear();
                }
                let same = same_list(&kept, expected, kind);
                tally.check(field, name, same.is_ok(), || same.unwrap_err());
                continue;
            }
            // containers/image fills entries without a platform with the
            // converting machine's platform (linux/amd64 for these
            // answers); ferry does so only when asked, and reports it.
            let asked = ConvertOptions {
                platform_for_unplatformed: Some(Platform::new("linux", "amd64", "")),
            };
            let converted = list.convert_to(kind, &asked).expect("conversion");
            let got: Value = serde_json::from_slice(converted.list.serialize()).unwrap();
            let want: Value = serde_json::from_str(expected).unwrap();
            tally.check(field, name, got == want, || {
                format!("expected {want}, got {got}")
            });

            let unplatformed = list.entries.iter().filter(|e| e.platform.is_none()).count();
            let default = list
                .convert_to(kind, &ConvertOptions::default())
                .expect("conversion");
            let defaulted = default
                .losses
                .iter()
                .filter(|l| l.kind == LossKind::Defaulted)
                .count();
            tally.check(
                "defaulted platforms reported",
                name,
                defaulted == unplatformed,
                || format!("{unplatformed} entries lack a platform, {defaulted} defaults reported"),
            );
        }

        if let Some(expected) = case.field("choose").as_object() {
            for query in QUERIES {
                let wanted = platform(query);
                let got = choose_instance(&list, &wanted, &ChooseOptions::default());
                let exp = &expected[query];
                let ok = match (&got, exp.as_str()) {
                    (Ok(c), Some(e)) => c.digest == e,
                    (Err(_), Some(e)) => e.starts_with("error: "),
                    _ => false,
                };
                tally.check("choose", name, ok, || {
                    format!(
                        "{query}: expected {exp}, got {:?}",
                        got.as_ref().map(|c| &c.digest)
                    )
                });
            }
        }
    }
    tally.finish();
}

/// Whether `list` and the list in `expected` have the same content.
fn same_list(list: &List, expected: &str, kind: ListKind) -> Result<(), String> {
    let want = List::parse_kind(expected.as_bytes(), kind).map_err(|e| e.to_string())?;
    if want.entries != list.entries {
        return Err(format!(
            "entries differ:\n  expected {:?}\n  got      {:?}",
            want.entries, list.entries
        ));
    }
    if want.annotations != list.annotations || want.subject != list.subject {
        return Err("annotations or subject differ".into());
    }
    Ok(())
}
