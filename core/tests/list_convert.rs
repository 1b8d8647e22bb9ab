//! Converting lists between Docker and OCI forms: nothing is invented, and
//! everything lost is reported.

mod support;

use ferry_core::Platform;
use ferry_core::list::{Conversion, ConvertOptions, List, ListKind, LossKind};

fn fixture(name: &str) -> List {
    List::parse(&support::fixture(name)).unwrap()
}

/// `list` converted to `kind` with the default options.
fn convert(list: &List, kind: ListKind) -> Conversion {
    list.convert_to(kind, &ConvertOptions::default()).unwrap()
}

fn pointers(losses: &[ferry_core::list::Loss], kind: LossKind) -> Vec<&str> {
    losses
        .iter()
        .filter(|l| l.kind == kind)
        .map(|l| l.pointer.as_str())
        .collect()
}

#[test]
fn oci_to_docker_reports_every_dropped_value() {
    let index = fixture("oci-index-annotated.json");
    let c = convert(&index, ListKind::DockerList);
    assert_eq!(c.list.kind, ListKind::DockerList);
    let mut dropped = pointers(&c.losses, LossKind::Dropped);
    dropped.sort_unstable();
    assert_eq!(
        dropped,
        [
            "/annotations",
            "/artifactType",
            "/manifests/0/annotations",
            "/manifests/2/artifactType",
            "/manifests/2/data",
            "/subject",
        ]
    );
}

#[test]
fn oci_to_docker_never_invents_a_platform() {
    let index = fixture("oci-index-annotated.json");
    let c = convert(&index, ListKind::DockerList);
    assert_eq!(
        pointers(&c.losses, LossKind::Defaulted),
        ["/manifests/1/platform"]
    );
    assert_eq!(c.list.entries[1].platform, Some(Platform::default()));
}

#[test]
fn oci_to_docker_fills_a_platform_only_when_asked() {
    let index = fixture("oci-index-annotated.json");
    let options = ConvertOptions {
        platform_for_unplatformed: Some(Platform::new("linux", "riscv64", "")),
    };
    let c = index.convert_to(ListKind::DockerList, &options).unwrap();
    assert_eq!(
        c.list.entries[1].platform,
        Some(Platform::new("linux", "riscv64", ""))
    );
    assert!(
        c.losses
            .iter()
            .any(|l| l.kind == LossKind::Defaulted && l.detail.contains("linux/riscv64"))
    );
}

#[test]
fn docker_to_oci_drops_features_and_unknown_members() {
    let list = fixture("docker-list-with-unknown-fields.json");
    let c = convert(&list, ListKind::OciIndex);
    let mut dropped = pointers(&c.losses, LossKind::Dropped);
    dropped.sort_unstable();
    assert_eq!(
        dropped,
        [
            "/manifests/0/platform/features",
            "/manifests/0/x-vendor-note",
            "/x-list-extra"
        ]
    );
    let windows = c.list.entries[2].platform.as_ref().unwrap();
    assert_eq!(windows.os_version, "10.0.17763.1879");
    assert_eq!(windows.os_features, ["win32k"]);
}

#[test]
fn docker_to_oci_and_back_is_the_identity_when_nothing_is_lost() {
    let list = fixture("docker-list-windows.json");
    let there = convert(&list, ListKind::OciIndex);
    assert!(there.is_lossless(), "{:?}", there.losses);
    let back = convert(&there.list, ListKind::DockerList);
    assert!(back.is_lossless(), "{:?}", back.losses);
    assert_eq!(back.list.entries, list.entries);
}

#[test]
fn converting_to_the_same_kind_keeps_the_bytes() {
    let index = fixture("oci-index-annotated.json");
    let c = convert(&index, ListKind::OciIndex);
    assert!(c.is_lossless());
    assert_eq!(c.list.serialize(), index.serialize());
}

#[test]
fn converted_lists_are_written_compactly_in_the_target_formats_field_order() {
    let list = fixture("docker-list-windows.json");
    let c = convert(&list, ListKind::OciIndex);
    let text = std::str::from_utf8(c.list.serialize()).unwrap();
    assert!(text.starts_with(r#"{"schemaVersion":2,"mediaType":"application/vnd.oci.image.index.v1+json","manifests":[{"mediaType":"#), "{text}");
    assert!(text.contains(r#""digest":"sha256:d7ce67d2e61cffd62a314b6cfe6c3f740ee9b9ac7b63382412497601fd313c30","size":1254,"platform":{"architecture":"amd64","os":"windows","os.version":"10.0.20348.2227"}"#), "{text}");
}
