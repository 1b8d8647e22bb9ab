//! Every conformance case through ferry-core's list reading and platform
//! choice, compared with containers/image's answers.

use ferry_core::Platform;
use ferry_core::choose::{ChooseOptions, choose_instance};
use ferry_core::list::List;
use ferry_core::media_type as mt;
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
        let guessed = mt::guess(&case.bytes);
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
