//! `ferry copy` end to end between local transports, with skopeo (Debian's
//! package, installed by scripts/install-deps.sh) as the cross-check of
//! layouts and digests.

mod support;

use std::path::Path;

use support::{Scratch, compare_with_skopeo, ferry, gzip, ok, skopeo, tar_of};

/// The digest of the built-in demo index (pinned in `demo.rs` too).
const DEMO_INDEX: &str = "sha256:dceb5d4a6bad3eb2dd02f10a6b6a19a36cce7e0850d937fb68b81dfae2811111";

/// Runs `ferry copy --all --json <extra…> demo: oci:<oci>` and returns its
/// report.
fn copy_demo_report(extra: &[&str], oci: &str) -> serde_json::Value {
    let dst = format!("oci:{oci}");
    let mut args = vec!["copy", "--all", "--json"];
    args.extend_from_slice(extra);
    args.extend(["demo:", dst.as_str()]);
    serde_json::from_str(&ok(ferry(&args))).unwrap()
}

/// Runs `ferry copy --all SRC DST`, which must succeed; returns its stdout.
fn copy_all(src: &str, dst: &str) -> String {
    ok(ferry(&["copy", "--all", src, dst]))
}

/// Every file under `dir`, relative path → bytes.
fn files(dir: &Path) -> Vec<(String, Vec<u8>)> {
    let mut out = Vec::new();
    let mut stack = vec![dir.to_path_buf()];
    while let Some(d) = stack.pop() {
        for entry in std::fs::read_dir(&d).unwrap() {
            let path = entry.unwrap().path();
            if path.is_dir() {
                stack.push(path);
            } else {
                let rel = path
                    .strip_prefix(dir)
                    .unwrap()
                    .to_string_lossy()
                    .into_owned();
                out.push((rel, std::fs::read(&path).unwrap()));
            }
        }
    }
    out.sort();
    out
}

fn index_json(layout: &str) -> serde_json::Value {
    serde_json::from_slice(&std::fs::read(Path::new(layout).join("index.json")).unwrap()).unwrap()
}

#[test]
fn demo_round_trips_through_every_local_transport_keeping_digests() {
    let s = Scratch::new("roundtrip");
    let (oci, dir, oci2, dir2) = (s.path("oci"), s.path("dir"), s.path("oci2"), s.path("dir2"));
    assert_eq!(
        ok(ferry(&["copy", "--all", "demo:", &format!("oci:{oci}:v1")])),
        DEMO_INDEX
    );
    assert_eq!(
        ok(ferry(&[
            "copy",
            "--all",
            &format!("oci:{oci}:v1"),
            &format!("dir:{dir}")
        ])),
        DEMO_INDEX
    );
    assert_eq!(
        ok(ferry(&[
            "copy",
            "--all",
            &format!("dir:{dir}"),
            &format!("oci:{oci2}")
        ])),
        DEMO_INDEX
    );
    assert_eq!(
        ok(ferry(&[
            "copy",
            "--all",
            &format!("oci:{oci2}"),
            &format!("dir:{dir2}")
        ])),
        DEMO_INDEX
    );
    assert_eq!(files(Path::new(&dir)), files(Path::new(&dir2)));
    // Every manifest and blob is in the layout, and validates.
    let index = index_json(&oci);
    assert_eq!(index["manifests"][0]["digest"], DEMO_INDEX);
    assert_eq!(
        index["manifests"][0]["annotations"]["org.opencontainers.image.ref.name"],
        "v1"
    );
    assert_eq!(
        files(Path::new(&oci))
            .iter()
            .filter(|(p, _)| p.starts_with("blobs"))
            .count(),
        4 + 4 + 4 + 1 + 1
    );
}

#[test]
fn a_dir_that_ferry_writes_for_a_list_is_file_for_file_what_skopeo_writes() {
    let s = Scratch::new("dir-vs-skopeo");
    let oci = s.path("oci");
    copy_all("demo:", &format!("oci:{oci}:demo"));
    let (by_ferry, by_skopeo) = (s.path("by-ferry"), s.path("by-skopeo"));
    copy_all(&format!("oci:{oci}:demo"), &format!("dir:{by_ferry}"));
    if !compare_with_skopeo(
        "a_dir_that_ferry_writes_for_a_list_is_file_for_file_what_skopeo_writes",
    ) {
        return;
    }
    ok(skopeo(&[
        "copy",
        "--all",
        &format!("oci:{oci}:demo"),
        &format!("dir:{by_skopeo}"),
    ]));
    let (a, b) = (files(Path::new(&by_ferry)), files(Path::new(&by_skopeo)));
    assert_eq!(
        a.iter().map(|f| &f.0).collect::<Vec<_>>(),
        b.iter().map(|f| &f.0).collect::<Vec<_>>()
    );
    assert_eq!(a, b);
}

/// The raw manifest skopeo reads from `reference` (the test fails if it
/// cannot).
fn skopeo_raw(reference: &str) -> Vec<u8> {
    let out = skopeo(&["inspect", "--raw", reference]);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    out.stdout
}

fn sha256_of(bytes: &[u8]) -> String {
    ferry_core::Digest::sha256_of(bytes).to_string()
}

#[test]
fn skopeo_reads_what_ferry_writes() {
    let s = Scratch::new("skopeo-reads");
    let oci = s.path("oci");
    copy_all("demo:", &format!("oci:{oci}:demo"));
    if !compare_with_skopeo("skopeo_reads_what_ferry_writes") {
        return;
    }
    assert_eq!(
        sha256_of(&skopeo_raw(&format!("oci:{oci}:demo"))),
        DEMO_INDEX
    );
    let copied = s.path("copied");
    let out = skopeo(&[
        "copy",
        "--all",
        &format!("oci:{oci}:demo"),
        &format!("oci:{copied}:again"),
    ]);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert_eq!(index_json(&copied)["manifests"][0]["digest"], DEMO_INDEX);
}

#[test]
fn ferry_reads_what_skopeo_writes_with_identical_digests() {
    let s = Scratch::new("ferry-reads");
    let oci = s.path("oci");
    copy_all("demo:", &format!("oci:{oci}:demo"));
    let (sk_oci, sk_dir) = (s.path("sk-oci"), s.path("sk-dir"));
    if !compare_with_skopeo("ferry_reads_what_skopeo_writes_with_identical_digests") {
        return;
    }
    ok(skopeo(&[
        "copy",
        "--all",
        &format!("oci:{oci}:demo"),
        &format!("oci:{sk_oci}:demo"),
    ]));
    ok(skopeo(&[
        "copy",
        "--all",
        &format!("oci:{oci}:demo"),
        &format!("dir:{sk_dir}"),
    ]));
    let out = s.path("out");
    assert_eq!(
        ok(ferry(&[
            "copy",
            "--all",
            &format!("oci:{sk_oci}:demo"),
            &format!("oci:{out}:a")
        ])),
        DEMO_INDEX
    );
    assert_eq!(
        ok(ferry(&[
            "copy",
            "--all",
            &format!("dir:{sk_dir}"),
            &format!("oci:{out}:b")
        ])),
        DEMO_INDEX
    );
    let digest = ok(ferry(&[
        "manifest",
        "digest",
        &format!("{sk_dir}/manifest.json"),
    ]));
    assert_eq!(digest, DEMO_INDEX);
}

#[test]
fn per_instance_signatures_survive_a_dir_round_trip() {
    let s = Scratch::new("signatures");
    let (src, dst) = (s.path("src"), s.path("dst"));
    ok(ferry(&["copy", "--all", "demo:", &format!("dir:{src}")]));
    let list =
        ferry_core::List::parse(&std::fs::read(Path::new(&src).join("manifest.json")).unwrap())
            .unwrap();
    let instance = list.entries[2].digest().unwrap();
    std::fs::write(Path::new(&src).join("signature-1"), b"top-level signature").unwrap();
    std::fs::write(
        Path::new(&src).join(format!("{}.signature-1", instance.encoded())),
        b"instance sig 1",
    )
    .unwrap();
    std::fs::write(
        Path::new(&src).join(format!("{}.signature-2", instance.encoded())),
        b"instance sig 2",
    )
    .unwrap();
    assert_eq!(
        ok(ferry(&[
            "copy",
            "--all",
            &format!("dir:{src}"),
            &format!("dir:{dst}")
        ])),
        DEMO_INDEX
    );
    assert_eq!(files(Path::new(&src)), files(Path::new(&dst)));
    // An OCI layout cannot hold them: the copy says so unless told to drop them.
    let oci = s.path("oci");
    let out = ferry(&[
        "copy",
        "--all",
        &format!("dir:{src}"),
        &format!("oci:{oci}"),
    ]);
    assert!(!out.status.success());
    assert!(String::from_utf8_lossy(&out.stderr).contains("--remove-signatures"));
    ok(ferry(&[
        "copy",
        "--all",
        "--remove-signatures",
        &format!("dir:{src}"),
        &format!("oci:{oci}"),
    ]));
}

/// The demo list in `dir:{src}`, and the digest of its linux/arm/v7
/// instance (what `--override-arch arm --override-variant v7` copies).
fn demo_dir_and_arm_instance(src: &str) -> ferry_core::Digest {
    ok(ferry(&["copy", "--all", "demo:", &format!("dir:{src}")]));
    let list =
        ferry_core::List::parse(&std::fs::read(Path::new(src).join("manifest.json")).unwrap())
            .unwrap();
    list.entries[2].digest().unwrap()
}

const ARM_V7: [&str; 4] = ["--override-arch", "arm", "--override-variant", "v7"];

#[test]
fn one_unsigned_platform_of_a_signed_list_copies_into_a_layout() {
    let s = Scratch::new("signed-list-one-platform");
    let src = s.path("src");
    let instance = demo_dir_and_arm_instance(&src);
    std::fs::write(Path::new(&src).join("signature-1"), b"list signature").unwrap();
    // The list's signature is not copied with one instance: nothing to refuse.
    let (oci, by_skopeo) = (s.path("oci"), s.path("by-skopeo"));
    let mut args = vec!["copy"];
    args.extend(ARM_V7);
    let (from, to) = (format!("dir:{src}"), format!("oci:{oci}"));
    args.extend([from.as_str(), to.as_str()]);
    assert_eq!(ok(ferry(&args)), instance.to_string());
    // skopeo 1.9.3 agrees.
    let mut args = vec!["copy"];
    args.extend(ARM_V7);
    let to = format!("oci:{by_skopeo}");
    args.extend([from.as_str(), to.as_str()]);
    let out = skopeo(&args);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
}

#[test]
fn an_unreadable_list_signature_fails_only_copies_that_write_the_list() {
    let s = Scratch::new("unreadable-list-signature");
    let src = s.path("src");
    let instance = demo_dir_and_arm_instance(&src);
    // A directory where the list's first signature should be: reading it fails.
    std::fs::create_dir(Path::new(&src).join("signature-1")).unwrap();
    let from = format!("dir:{src}");
    // One platform leaves the list behind, so its signatures are never read,
    // as in containers/image.
    let mut args = vec!["copy"];
    args.extend(ARM_V7);
    let to = format!("oci:{}", s.path("oci"));
    args.extend([from.as_str(), to.as_str()]);
    assert_eq!(ok(ferry(&args)), instance.to_string());
    let to = format!("oci:{}", s.path("by-skopeo"));
    *args.last_mut().unwrap() = to.as_str();
    let out = skopeo(&args);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    // The whole list carries them along: the broken one fails the copy.
    let out = ferry(&["copy", "--all", &from, &format!("dir:{}", s.path("dst"))]);
    assert!(!out.status.success());
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("signature-1"), "{err}");
    let out = skopeo(&["copy", "--all", &from, &format!("dir:{}", s.path("sk-dst"))]);
    assert!(!out.status.success());
}

#[test]
fn a_signed_list_is_not_stripped_of_platforms() {
    let s = Scratch::new("signed-list-strip");
    let src = s.path("src");
    demo_dir_and_arm_instance(&src);
    std::fs::write(Path::new(&src).join("signature-1"), b"list signature").unwrap();
    let out = ferry(&[
        "copy",
        "--multi-arch",
        "linux/arm/v7",
        "--strip-removed-platforms",
        &format!("dir:{src}"),
        &format!("dir:{}", s.path("dst")),
    ]);
    assert!(!out.status.success());
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("invalidate its signatures"), "{err}");
}

#[test]
fn one_signed_platform_of_a_list_into_a_layout_is_refused_before_anything_is_written() {
    let s = Scratch::new("signed-instance-one-platform");
    let src = s.path("src");
    let instance = demo_dir_and_arm_instance(&src);
    std::fs::write(
        Path::new(&src).join(format!("{}.signature-1", instance.encoded())),
        b"instance signature",
    )
    .unwrap();
    let oci = s.path("oci");
    let mut args = vec!["copy"];
    args.extend(ARM_V7);
    let (from, to) = (format!("dir:{src}"), format!("oci:{oci}"));
    args.extend([from.as_str(), to.as_str()]);
    let out = ferry(&args);
    assert!(!out.status.success());
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("--remove-signatures"), "{err}");
    assert!(!Path::new(&oci).exists(), "{:?}", files(Path::new(&oci)));
}

#[test]
fn the_system_image_is_chosen_for_the_requested_platform() {
    let s = Scratch::new("system");
    let dir = s.path("dir");
    let digest = ok(ferry(&[
        "copy",
        "--override-arch",
        "arm",
        "--override-variant",
        "v7",
        "demo:",
        &format!("dir:{dir}"),
    ]));
    let list = ferry_core::List::parse(&ferry_demo_index()).unwrap();
    assert_eq!(digest, list.entries[2].digest_text);
    let written = std::fs::read(Path::new(&dir).join("manifest.json")).unwrap();
    assert_eq!(sha256_of(&written), digest);
}

/// The demo index as ferry writes it, made once per process: tests run in
/// parallel, and each making it in the same scratch directory would race.
fn ferry_demo_index() -> Vec<u8> {
    static INDEX: std::sync::OnceLock<Vec<u8>> = std::sync::OnceLock::new();
    INDEX
        .get_or_init(|| {
            let s = Scratch::new("demo-index");
            let dir = s.path("dir");
            ok(ferry(&["copy", "--all", "demo:", &format!("dir:{dir}")]));
            std::fs::read(Path::new(&dir).join("manifest.json")).unwrap()
        })
        .clone()
}

#[test]
fn stripping_unselected_platforms_writes_a_valid_smaller_list() {
    let s = Scratch::new("strip");
    let oci = s.path("oci");
    let digest = ok(ferry(&[
        "copy",
        "--multi-arch",
        "linux/amd64,linux/arm/v7",
        "--strip-removed-platforms",
        "demo:",
        &format!("oci:{oci}:small"),
    ]));
    assert_ne!(digest, DEMO_INDEX);
    let blob = Path::new(&oci)
        .join("blobs/sha256")
        .join(digest.trim_start_matches("sha256:"));
    let list = ferry_core::List::parse(&std::fs::read(&blob).unwrap()).unwrap();
    let platforms: Vec<String> = list
        .entries
        .iter()
        .map(|e| e.platform.as_ref().unwrap().to_string())
        .collect();
    assert_eq!(platforms, ["linux/amd64", "linux/arm/v7"]);
    assert!(ferry_core::validate::validate(list.serialize()).is_valid());
    if !compare_with_skopeo("stripping_unselected_platforms_writes_a_valid_smaller_list") {
        return;
    }
    skopeo_raw(&format!("oci:{oci}:small"));
}

#[test]
fn index_only_keeps_the_list_digest_and_copies_no_instance() {
    let s = Scratch::new("index-only");
    let dir = s.path("dir");
    assert_eq!(
        ok(ferry(&[
            "copy",
            "--multi-arch",
            "index-only",
            "demo:",
            &format!("dir:{dir}")
        ])),
        DEMO_INDEX
    );
    let names: Vec<String> = files(Path::new(&dir)).into_iter().map(|f| f.0).collect();
    assert_eq!(names, ["manifest.json", "version"]);
}

#[test]
fn instances_named_by_digest_are_copied_with_the_list_kept_as_it_was() {
    let list = ferry_core::List::parse(&ferry_demo_index()).unwrap();
    let (arm64, s390x) = (&list.entries[1].digest_text, &list.entries[3].digest_text);
    let s = Scratch::new("instances");
    let dir = s.path("dir");
    let digest = ok(ferry(&[
        "copy",
        "--instance",
        arm64,
        "--instance",
        s390x,
        "demo:",
        &format!("dir:{dir}"),
    ]));
    // A sparse copy, as containers/image's CopySpecificImages makes it:
    // the list keeps every entry, so its digest holds.
    assert_eq!(digest, DEMO_INDEX);
    let names: Vec<String> = files(Path::new(&dir)).into_iter().map(|f| f.0).collect();
    for instance in [arm64, s390x] {
        let name = format!("{}.manifest.json", instance.trim_start_matches("sha256:"));
        assert!(names.contains(&name), "{name} missing from {names:?}");
    }
    let others = [&list.entries[0].digest_text, &list.entries[2].digest_text];
    for other in others {
        let name = format!("{}.manifest.json", other.trim_start_matches("sha256:"));
        assert!(!names.contains(&name), "{name} copied: {names:?}");
    }
}

#[test]
fn instances_named_by_digest_with_stripping_write_a_list_of_just_those() {
    let list = ferry_core::List::parse(&ferry_demo_index()).unwrap();
    let arm64 = &list.entries[1].digest_text;
    let s = Scratch::new("instances-strip");
    let oci = s.path("oci");
    let digest = ok(ferry(&[
        "copy",
        "--instance",
        arm64,
        "--multi-arch",
        "linux/amd64",
        "--strip-removed-platforms",
        "demo:",
        &format!("oci:{oci}:small"),
    ]));
    let blob = Path::new(&oci)
        .join("blobs/sha256")
        .join(digest.trim_start_matches("sha256:"));
    let written = ferry_core::List::parse(&std::fs::read(&blob).unwrap()).unwrap();
    let digests: Vec<&str> = written
        .entries
        .iter()
        .map(|e| e.digest_text.as_str())
        .collect();
    assert_eq!(digests, [&list.entries[0].digest_text, arm64]);
}

#[test]
fn an_instance_digest_not_in_the_list_is_an_error_naming_it() {
    let s = Scratch::new("instance-unknown");
    let missing = format!("sha256:{}", "0".repeat(64));
    let out = ferry(&[
        "copy",
        "--instance",
        &missing,
        "demo:",
        &format!("dir:{}", s.path("dir")),
    ]);
    assert_eq!(out.status.code(), Some(1));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        err.contains(&format!("instance {missing} is not in the list")),
        "{err}"
    );
    assert!(!Path::new(&s.path("dir")).join("manifest.json").exists());
}

#[test]
fn an_instance_that_is_not_a_digest_is_a_usage_error() {
    let out = ferry(&[
        "copy",
        "--instance",
        "sha256:abc",
        "demo:",
        "dir:/nonexistent/x",
    ]);
    assert_eq!(out.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&out.stderr).contains("invalid digest"));
}

#[test]
fn naming_an_image_in_a_layout_moves_the_name_off_older_entries() {
    let s = Scratch::new("names");
    let oci = s.path("oci");
    copy_all("demo:", &format!("oci:{oci}:latest"));
    ok(ferry(&[
        "copy",
        "--override-arch",
        "s390x",
        "demo:",
        &format!("oci:{oci}:latest"),
    ]));
    // The list's entry stays, unnamed, as containers/image leaves it.
    let index = index_json(&oci);
    let entries = index["manifests"].as_array().unwrap();
    assert_eq!(entries.len(), 2, "{index}");
    assert_eq!(entries[0]["digest"], DEMO_INDEX);
    assert!(entries[0].get("annotations").is_none(), "{index}");
    assert_eq!(
        entries[1]["annotations"]["org.opencontainers.image.ref.name"],
        "latest"
    );
    // Naming the list again takes over its unnamed entry, in place.
    copy_all("demo:", &format!("oci:{oci}:all"));
    let index = index_json(&oci);
    let entries = index["manifests"].as_array().unwrap();
    assert_eq!(entries.len(), 2, "{index}");
    let names: Vec<&str> = entries
        .iter()
        .map(|e| {
            e["annotations"]["org.opencontainers.image.ref.name"]
                .as_str()
                .unwrap()
        })
        .collect();
    assert_eq!(names, ["all", "latest"]);
    assert_eq!(
        entries[1]["mediaType"],
        "application/vnd.oci.image.manifest.v1+json"
    );
}

/// A layout whose `index.json` is the fixture `oci-index-names/NAME.json`.
fn layout_with_index(s: &Scratch, fixture: &str, layout: &str) -> String {
    let oci = s.path(layout);
    std::fs::create_dir_all(&oci).unwrap();
    std::fs::write(
        Path::new(&oci).join("oci-layout"),
        br#"{"imageLayoutVersion": "1.0.0"}"#,
    )
    .unwrap();
    let fixture = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests/fixtures/oci-index-names")
        .join(format!("{fixture}.json"));
    std::fs::copy(fixture, Path::new(&oci).join("index.json")).unwrap();
    oci
}

#[test]
fn an_older_entry_that_loses_its_name_keeps_its_other_annotations() {
    let s = Scratch::new("name-keeps-annotations");
    let oci = layout_with_index(&s, "other-annotations", "oci");
    copy_all("demo:", &format!("oci:{oci}:demo"));
    let index = index_json(&oci);
    let entries = index["manifests"].as_array().unwrap();
    assert_eq!(entries.len(), 3, "{index}");
    assert_eq!(
        entries[0]["annotations"],
        serde_json::json!({"org.example.owner": "someone else"})
    );
    assert_eq!(
        entries[1]["annotations"]["org.opencontainers.image.ref.name"],
        "other"
    );
    assert_eq!(entries[2]["digest"], DEMO_INDEX);
    assert_eq!(
        entries[2]["annotations"]["org.opencontainers.image.ref.name"],
        "demo"
    );
}

#[test]
fn an_older_entry_left_without_annotations_has_no_annotations_member() {
    let s = Scratch::new("name-only");
    let oci = layout_with_index(&s, "name-only", "oci");
    copy_all("demo:", &format!("oci:{oci}:demo"));
    let index = index_json(&oci);
    let entries = index["manifests"].as_array().unwrap();
    assert_eq!(entries.len(), 2, "{index}");
    assert!(entries[0].get("annotations").is_none(), "{index}");
    assert_eq!(entries[1]["digest"], DEMO_INDEX);
}

#[test]
fn an_older_entry_for_the_same_manifest_is_replaced_where_it_stands() {
    let s = Scratch::new("same-digest");
    let oci = layout_with_index(&s, "same-digest-named", "oci");
    copy_all("demo:", &format!("oci:{oci}:demo"));
    let index = index_json(&oci);
    let entries = index["manifests"].as_array().unwrap();
    assert_eq!(entries.len(), 2, "{index}");
    assert_eq!(entries[0]["digest"], DEMO_INDEX);
    assert_eq!(
        entries[0]["annotations"],
        serde_json::json!({"org.opencontainers.image.ref.name": "demo"})
    );
    assert_eq!(
        entries[1]["annotations"]["org.opencontainers.image.ref.name"],
        "other"
    );
}

#[test]
fn index_json_after_naming_an_image_is_byte_for_byte_what_skopeo_writes() {
    let s = Scratch::new("names-vs-skopeo");
    let src = s.path("src");
    ok(ferry(&["copy", "--all", "demo:", &format!("dir:{src}")]));
    let fixtures = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/oci-index-names");
    let mut names: Vec<String> = std::fs::read_dir(fixtures)
        .unwrap()
        .map(|e| {
            let path = e.unwrap().path();
            path.file_stem().unwrap().to_str().unwrap().to_string()
        })
        .collect();
    names.sort();
    assert!(!names.is_empty());
    for name in names {
        let by_ferry = layout_with_index(&s, &name, &format!("{name}-by-ferry"));
        let by_skopeo = layout_with_index(&s, &name, &format!("{name}-by-skopeo"));
        copy_all(&format!("dir:{src}"), &format!("oci:{by_ferry}:demo"));
        ok(skopeo(&[
            "copy",
            "--all",
            &format!("dir:{src}"),
            &format!("oci:{by_skopeo}:demo"),
        ]));
        let read = |layout: &str| {
            String::from_utf8(std::fs::read(Path::new(layout).join("index.json")).unwrap()).unwrap()
        };
        assert_eq!(read(&by_ferry), read(&by_skopeo), "fixture {name}");
    }
}

#[test]
fn an_unnamed_source_with_several_images_is_an_error_that_lists_them() {
    let s = Scratch::new("unnamed");
    let oci = s.path("oci");
    ok(ferry(&["copy", "--all", "demo:", &format!("oci:{oci}:a")]));
    ok(ferry(&[
        "copy",
        "--override-arch",
        "s390x",
        "demo:",
        &format!("oci:{oci}:b"),
    ]));
    let out = ferry(&[
        "copy",
        &format!("oci:{oci}"),
        &format!("dir:{}", s.path("dir")),
    ]);
    assert!(!out.status.success());
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("@0: a") && err.contains("@1: b"), "{err}");
    assert_eq!(
        ok(ferry(&[
            "copy",
            "--all",
            &format!("oci:{oci}:@0"),
            &format!("dir:{}", s.path("dir"))
        ])),
        DEMO_INDEX
    );
}

#[test]
fn a_corrupt_source_blob_is_refused_and_leaves_the_destination_as_it_was() {
    let s = Scratch::new("corrupt");
    let (dir, oci) = (s.path("dir"), s.path("oci"));
    ok(ferry(&["copy", "--all", "demo:", &format!("dir:{dir}")]));
    ok(ferry(&[
        "copy",
        "--override-arch",
        "s390x",
        "demo:",
        &format!("oci:{oci}:keep"),
    ]));
    let before = files(Path::new(&oci));
    // Corrupt the largest blob of the source.
    let (victim, _) = files(Path::new(&dir))
        .into_iter()
        .filter(|(n, _)| n.len() == 64)
        .max_by_key(|(_, b)| b.len())
        .unwrap();
    std::fs::write(
        Path::new(&dir).join(&victim),
        b"not the content you are looking for",
    )
    .unwrap();
    let out = ferry(&[
        "copy",
        "--all",
        &format!("dir:{dir}"),
        &format!("oci:{oci}:new"),
    ]);
    assert!(!out.status.success());
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains(&victim[..12]), "{err}");
    // index.json did not change; nothing half-written remains.
    assert_eq!(
        index_json(&oci),
        serde_json::from_slice::<serde_json::Value>(
            &before.iter().find(|f| f.0 == "index.json").unwrap().1
        )
        .unwrap()
    );
    assert!(
        files(Path::new(&oci))
            .iter()
            .all(|(n, _)| !n.contains(".ferry-tmp-"))
    );
}

#[test]
fn dry_run_changes_nothing_and_reports_the_plan() {
    let s = Scratch::new("dry-run");
    let oci = s.path("oci");
    let report = copy_demo_report(&["--dry-run"], &oci);
    assert!(!Path::new(&oci).exists());
    assert_eq!(report["dryRun"], true);
    assert_eq!(report["plan"]["manifests"].as_array().unwrap().len(), 5);
    // Four configs, four own layers, one shared base: nine blobs, once each.
    assert_eq!(report["plan"]["blobs"].as_array().unwrap().len(), 9);
}

#[test]
fn a_repeated_copy_skips_what_is_already_there() {
    let s = Scratch::new("repeat");
    let oci = s.path("oci");
    ok(ferry(&["copy", "--all", "demo:", &format!("oci:{oci}")]));
    let report = copy_demo_report(&[], &oci);
    assert_eq!(report["blobsCopied"], 0);
    assert_eq!(report["blobsSkipped"], 9);
}

#[test]
fn format_conversion_writes_docker_manifests_into_a_dir() {
    let s = Scratch::new("format");
    let dir = s.path("dir");
    let digest = ok(ferry(&[
        "copy",
        "--all",
        "--format",
        "v2s2",
        "demo:",
        &format!("dir:{dir}"),
    ]));
    let list =
        ferry_core::List::parse(&std::fs::read(Path::new(&dir).join("manifest.json")).unwrap())
            .unwrap();
    assert_eq!(list.list_media_type(), ferry_core::media_type::DOCKER_LIST);
    assert_eq!(list.digest().to_string(), digest);
    for entry in &list.entries {
        assert_eq!(entry.media_type, ferry_core::media_type::DOCKER_V2S2);
        let path = Path::new(&dir).join(format!(
            "{}.manifest.json",
            entry.digest().unwrap().encoded()
        ));
        let m = ferry_core::Manifest::parse(&std::fs::read(path).unwrap()).unwrap();
        assert_eq!(m.config().media_type, ferry_core::media_type::DOCKER_CONFIG);
    }
    // skopeo agrees the result is a valid Docker list.
    if !compare_with_skopeo("format_conversion_writes_docker_manifests_into_a_dir") {
        return;
    }
    skopeo_raw(&format!("dir:{dir}"));
}

/// Writes a single-image `dir:` whose one layer is an uncompressed tar.
fn dir_with_uncompressed_layer(root: &Path) -> (String, Vec<u8>) {
    std::fs::create_dir_all(root).unwrap();
    let mut builder = tar::Builder::new(Vec::new());
    let mut header = tar::Header::new_ustar();
    header.set_size(5);
    header.set_mode(0o644);
    header.set_cksum();
    builder
        .append_data(&mut header, "hello.txt", &b"hello"[..])
        .unwrap();
    let layer = builder.into_inner().unwrap();
    let layer_digest = ferry_core::Digest::sha256_of(&layer);
    let config =
        br#"{"architecture":"amd64","os":"linux","rootfs":{"type":"layers","diff_ids":[]}}"#;
    let config_digest = ferry_core::Digest::sha256_of(config);
    let manifest = format!(
        r#"{{"schemaVersion":2,"mediaType":"application/vnd.oci.image.manifest.v1+json","config":{{"mediaType":"application/vnd.oci.image.config.v1+json","digest":"{config_digest}","size":{}}},"layers":[{{"mediaType":"application/vnd.oci.image.layer.v1.tar","digest":"{layer_digest}","size":{}}}]}}"#,
        config.len(),
        layer.len()
    );
    std::fs::write(root.join(layer_digest.encoded()), &layer).unwrap();
    std::fs::write(root.join(config_digest.encoded()), config).unwrap();
    std::fs::write(root.join("manifest.json"), &manifest).unwrap();
    std::fs::write(root.join("version"), "Directory Transport Version: 1.1\n").unwrap();
    (layer_digest.to_string(), layer)
}

#[test]
fn uncompressed_layers_are_gzipped_for_an_oci_layout() {
    let s = Scratch::new("compress");
    let (dir, oci) = (s.path("dir"), s.path("oci"));
    let (layer_digest, layer) = dir_with_uncompressed_layer(Path::new(&dir));
    let digest = ok(ferry(&[
        "copy",
        &format!("dir:{dir}"),
        &format!("oci:{oci}:gz"),
    ]));
    let manifest_path = Path::new(&oci)
        .join("blobs/sha256")
        .join(digest.trim_start_matches("sha256:"));
    let manifest = ferry_core::Manifest::parse(&std::fs::read(manifest_path).unwrap()).unwrap();
    let new_layer = &manifest.layers()[0].descriptor;
    assert_eq!(new_layer.media_type, ferry_core::media_type::OCI_LAYER_GZIP);
    assert_ne!(new_layer.digest_text, layer_digest);
    // The stored blob is the gzip of the original tar.
    let stored = std::fs::read(
        Path::new(&oci)
            .join("blobs/sha256")
            .join(new_layer.digest_text.trim_start_matches("sha256:")),
    )
    .unwrap();
    let mut unpacked = Vec::new();
    std::io::Read::read_to_end(
        &mut flate2::read::GzDecoder::new(&stored[..]),
        &mut unpacked,
    )
    .unwrap();
    assert_eq!(unpacked, layer);
    // A digest-preserving copy keeps the layer as it is instead.
    let kept = ok(ferry(&[
        "copy",
        "--preserve-digests",
        &format!("dir:{dir}"),
        &format!("oci:{oci}:same"),
    ]));
    let original = ferry_core::Digest::sha256_of(
        &std::fs::read(Path::new(&dir).join("manifest.json")).unwrap(),
    );
    assert_eq!(kept, original.to_string());
}

/// the layers' diff IDs, base first.
fn schema1_dir(root: &Path) -> Vec<String> {
    std::fs::create_dir_all(root).unwrap();
    let base_tar = tar_of("base.txt", b"base");
    let top_tar = tar_of("top.txt", b"top");
    let (base, top) = (gzip(&base_tar), gzip(&top_tar));
    let (base_digest, top_digest) = (
        ferry_core::Digest::sha256_of(&base),
        ferry_core::Digest::sha256_of(&top),
    );
    std::fs::write(root.join(base_digest.encoded()), &base).unwrap();
    std::fs::write(root.join(top_digest.encoded()), &top).unwrap();
    let (base_id, top_id) = ("a".repeat(64), "b".repeat(64));
    let top_compat = format!(
        r#"{{"id":"{top_id}","parent":"{base_id}","created":"2020-01-01T00:00:00Z","architecture":"amd64","os":"linux","container_config":{{"Cmd":["/bin/sh","-c","echo top"]}}}}"#
    );
    let base_compat = format!(
        r#"{{"id":"{base_id}","created":"2019-01-01T00:00:00Z","container_config":{{"Cmd":["/bin/sh","-c","echo base"]}}}}"#
    );
    let manifest = serde_json::json!({
        "schemaVersion": 1,
        "name": "ferry/test",
        "tag": "latest",
        "architecture": "amd64",
        "fsLayers": [{"blobSum": top_digest.to_string()}, {"blobSum": base_digest.to_string()}],
        "history": [{"v1Compatibility": top_compat}, {"v1Compatibility": base_compat}],
    });
    std::fs::write(
        root.join("manifest.json"),
        serde_json::to_vec_pretty(&manifest).unwrap(),
    )
    .unwrap();
    std::fs::write(root.join("version"), "Directory Transport Version: 1.1\n").unwrap();
    vec![
        ferry_core::Digest::sha256_of(&base_tar).to_string(),
        ferry_core::Digest::sha256_of(&top_tar).to_string(),
    ]
}

#[test]
fn schema1_is_converted_with_diff_ids_computed_while_copying() {
    let s = Scratch::new("schema1");
    let (dir, oci) = (s.path("dir"), s.path("oci"));
    let diff_ids = schema1_dir(Path::new(&dir));
    let digest = ok(ferry(&[
        "copy",
        &format!("dir:{dir}"),
        &format!("oci:{oci}:converted"),
    ]));
    let blob = |d: &str| {
        std::fs::read(
            Path::new(&oci)
                .join("blobs/sha256")
                .join(d.trim_start_matches("sha256:")),
        )
        .unwrap()
    };
    let manifest = ferry_core::Manifest::parse(&blob(&digest)).unwrap();
    assert_eq!(manifest.media_type(), ferry_core::media_type::OCI_MANIFEST);
    assert_eq!(manifest.layers().len(), 2);
    let config: serde_json::Value =
        serde_json::from_slice(&blob(&manifest.config().digest_text)).unwrap();
    assert_eq!(config["rootfs"]["diff_ids"], serde_json::json!(diff_ids));
    assert_eq!(config["history"].as_array().unwrap().len(), 2);
    // skopeo reads the converted image.
    if !compare_with_skopeo("schema1_is_converted_with_diff_ids_computed_while_copying") {
        return;
    }
    let out = skopeo(&["inspect", &format!("oci:{oci}:converted")]);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
}

#[test]
fn a_list_round_trips_through_oci_archive_keeping_its_digest() {
    let s = Scratch::new("oci-archive");
    let (archive, dir) = (s.path("image.tar"), s.path("dir"));
    assert_eq!(
        ok(ferry(&[
            "copy",
            "--all",
            "demo:",
            &format!("oci-archive:{archive}:demo")
        ])),
        DEMO_INDEX
    );
    assert_eq!(
        ok(ferry(&[
            "copy",
            "--all",
            &format!("oci-archive:{archive}:demo"),
            &format!("dir:{dir}")
        ])),
        DEMO_INDEX
    );
    if !compare_with_skopeo("a_list_round_trips_through_oci_archive_keeping_its_digest") {
        return;
    }
    assert_eq!(
        sha256_of(&skopeo_raw(&format!("oci-archive:{archive}:demo"))),
        DEMO_INDEX
    );
}

#[test]
fn docker_archive_gets_one_platform_as_schema2_with_uncompressed_layers() {
    let s = Scratch::new("docker-archive");
    let (archive, dir) = (s.path("image.tar"), s.path("dir"));
    ok(ferry(&[
        "copy",
        "--override-arch",
        "arm64",
        "demo:",
        &format!("docker-archive:{archive}:ferry/demo:arm64"),
    ]));
    if !compare_with_skopeo("docker_archive_gets_one_platform_as_schema2_with_uncompressed_layers")
    {
        return;
    }
    let out = skopeo(&["inspect", &format!("docker-archive:{archive}")]);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let inspected: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(inspected["Architecture"], "arm64");
    // Reading it back gives plain tar layers.
    ok(ferry(&[
        "copy",
        &format!("docker-archive:{archive}"),
        &format!("dir:{dir}"),
    ]));
    let manifest =
        ferry_core::Manifest::parse(&std::fs::read(Path::new(&dir).join("manifest.json")).unwrap())
            .unwrap();
    assert_eq!(manifest.media_type(), ferry_core::media_type::DOCKER_V2S2);
    for layer in manifest.layers() {
        assert_eq!(
            layer.descriptor.media_type,
            ferry_core::media_type::DOCKER_LAYER
        );
    }
}

#[test]
fn a_whole_list_into_docker_archive_is_refused_clearly() {
    let s = Scratch::new("docker-archive-list");
    let archive = s.path("image.tar");
    let out = ferry(&[
        "copy",
        "--all",
        "demo:",
        &format!("docker-archive:{archive}"),
    ]);
    assert!(!out.status.success());
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("list"), "{err}");
    assert!(!Path::new(&archive).exists());
}

#[test]
fn json_progress_writes_only_json_events_and_ends_with_the_summary() {
    let s = Scratch::new("json-progress");
    let out = ferry(&[
        "copy",
        "--all",
        "--progress=json",
        "demo:",
        &format!("oci:{}", s.path("oci")),
    ]);
    let stderr = String::from_utf8(out.stderr.clone()).unwrap();
    assert_eq!(ok(out), DEMO_INDEX);
    let events: Vec<serde_json::Value> = stderr
        .lines()
        .map(|line| {
            let event: serde_json::Value = serde_json::from_str(line)
                .unwrap_or_else(|e| panic!("not a JSON line ({e}): {line:?}"));
            assert!(event["event"].is_string(), "{line}");
            event
        })
        .collect();
    let last = events.last().expect("events");
    assert_eq!(last["event"], "copied", "{stderr}");
    assert_eq!(last["digest"], DEMO_INDEX);
    assert_eq!(last["manifests"], 5);
    assert_eq!(last["blobsCopied"], 9);
}

#[test]
fn json_progress_reports_a_failed_copy_as_its_last_event() {
    let s = Scratch::new("json-progress-failed");
    let missing = s.path("missing");
    let out = ferry(&[
        "copy",
        "--progress=json",
        &format!("dir:{missing}"),
        &format!("oci:{}", s.path("oci")),
    ]);
    assert_eq!(out.status.code(), Some(1));
    assert!(out.stdout.is_empty());
    let stderr = String::from_utf8(out.stderr).unwrap();
    let events: Vec<serde_json::Value> = stderr
        .lines()
        .map(|line| {
            serde_json::from_str(line).unwrap_or_else(|e| panic!("not a JSON line ({e}): {line:?}"))
        })
        .collect();
    let last = events.last().expect("events");
    assert_eq!(last["event"], "failed", "{stderr}");
    let error = last["error"].as_str().expect("an error message");
    assert!(error.contains(&missing), "{error}");
}

#[test]
fn a_copy_into_a_partly_filled_layout_skips_exactly_the_blobs_it_holds() {
    let s = Scratch::new("partly-filled");
    let oci = s.path("oci");
    // This machine's platform only: its config, its own layer, the base.
    ok(ferry(&["copy", "demo:", &format!("oci:{oci}")]));
    let report = copy_demo_report(&[], &oci);
    assert_eq!(report["blobsSkipped"], 3);
    assert_eq!(report["blobsCopied"], 6);
    assert_eq!(report["bytesSkipped"], report["plan"]["bytesSkipped"]);
}

#[test]
fn a_dry_run_into_a_full_layout_counts_every_blob_as_present() {
    let s = Scratch::new("dry-run-full");
    let oci = s.path("oci");
    ok(ferry(&["copy", "--all", "demo:", &format!("oci:{oci}")]));
    let before = files(Path::new(&oci));
    let report = copy_demo_report(&["--dry-run"], &oci);
    assert_eq!(report["blobsSkipped"], 9);
    assert_eq!(files(Path::new(&oci)), before);
}
