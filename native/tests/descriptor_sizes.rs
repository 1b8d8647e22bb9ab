//! Descriptors whose size is not their content's length: an `index.json`
//! entry, a list entry, a manifest's config or layer. The OCI image spec
//! says such content must not be trusted, so every transport refuses it,
//! naming the descriptor and both sizes, and the destination is left as it
//! was (here: never created), with nothing written beside it.
//!
//! The fixtures are in `tests/fixtures/descriptor-sizes/` (see its
//! README): one small image, told about honestly and in the ways that lie.

mod support;

use std::path::{Path, PathBuf};
use std::process::Output;

use ferry_core::Digest;
use support::{Scratch, Sentinel, ferry, index_for};

const OCI_MANIFEST: &str = "application/vnd.oci.image.manifest.v1+json";
const OCI_INDEX: &str = "application/vnd.oci.image.index.v1+json";

fn fixture(name: &str) -> Vec<u8> {
    let path = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests/fixtures/descriptor-sizes")
        .join(name);
    std::fs::read(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()))
}

fn text(o: &Output) -> String {
    format!(
        "{}{}",
        String::from_utf8_lossy(&o.stdout),
        String::from_utf8_lossy(&o.stderr)
    )
}

/// The fixture image's config and layer, which every source holds.
fn image_blobs() -> [Vec<u8>; 2] {
    [fixture("config.json"), fixture("layer.tar.gz")]
}

/// An OCI layout at `root` with `index.json` and, as blobs, `manifests`
/// and the fixture image's config and layer.
fn write_layout(root: &Path, index: &[u8], manifests: &[&[u8]]) {
    let image = image_blobs();
    let blobs: Vec<&[u8]> = image
        .iter()
        .map(Vec::as_slice)
        .chain(manifests.iter().copied())
        .collect();
    support::write_layout(root, index, &blobs);
}

/// A `dir:` image at `root`: `top` as `manifest.json`, `instances` as
/// `<hex>.manifest.json`, and the fixture image's config and layer.
fn write_dir(root: &Path, top: &[u8], instances: &[&[u8]]) {
    std::fs::create_dir_all(root).unwrap();
    std::fs::write(root.join("version"), "Directory Transport Version: 1.1\n").unwrap();
    std::fs::write(root.join("manifest.json"), top).unwrap();
    for instance in instances {
        let name = format!("{}.manifest.json", Digest::sha256_of(instance).encoded());
        std::fs::write(root.join(name), instance).unwrap();
    }
    for blob in image_blobs() {
        std::fs::write(root.join(Digest::sha256_of(&blob).encoded()), &blob).unwrap();
    }
}

/// Copies `source` (with `extra` arguments) to a new `dst_transport:`
/// destination beside it. Returns the output and the destination's path.
fn copy(s: &Scratch, source: &str, extra: &[&str], dst_transport: &str) -> (Output, PathBuf) {
    let dst = s.join("out");
    let destination = format!("{dst_transport}:{}", dst.display());
    let mut args = vec!["copy", "--progress", "none"];
    args.extend_from_slice(extra);
    args.extend([source, destination.as_str()]);
    (ferry(&args), dst)
}

/// The copy fails, saying which descriptor (`what`, the digest it names)
/// and both sizes; the destination was not created and nothing beside it
/// changed.
fn assert_refused(
    s: &Scratch,
    source: &str,
    extra: &[&str],
    dst_transport: &str,
    what: &str,
    content: &[u8],
    stated: usize,
) {
    let sentinel = Sentinel::new(s.join("sentinel"));
    let (out, dst) = copy(s, source, extra, dst_transport);
    let said = text(&out);
    assert_eq!(out.status.code(), Some(1), "{source}: {said}");
    let sizes = format!(
        "{what}: content of {} is {} bytes, its descriptor says {stated}",
        Digest::sha256_of(content),
        content.len()
    );
    assert!(said.contains(&sizes), "{source}: {said:?} lacks {sizes:?}");
    assert!(!dst.exists(), "{source}: the destination was created");
    sentinel.assert_untouched(source);
}

/// The fixtures lie only about sizes: told honestly, the same image copies
/// through every source these tests use.
#[test]
fn the_fixture_image_told_honestly_copies_from_every_source() {
    let manifest = fixture("manifest.json");
    let list = fixture("list.json");
    let s = Scratch::new("sizes-honest");
    write_layout(
        &s.join("image"),
        &index_for(&manifest, OCI_MANIFEST),
        &[&manifest],
    );
    write_layout(
        &s.join("list"),
        &index_for(&list, OCI_INDEX),
        &[&list, &manifest],
    );
    write_dir(&s.join("dir-list"), &list, &[&manifest]);
    for (transport, name) in [("oci", "image"), ("oci", "list"), ("dir", "dir-list")] {
        let source = format!("{transport}:{}", s.join(name).display());
        let (out, dst) = copy(&s, &source, &["--all"], transport);
        assert!(out.status.success(), "{source}: {}", text(&out));
        std::fs::remove_dir_all(dst).unwrap();
    }
}

#[test]
fn an_index_json_entry_whose_size_is_not_the_manifests_is_refused() {
    let manifest = fixture("manifest.json");
    let s = Scratch::new("sizes-index-json");
    let layout = s.join("layout");
    write_layout(
        &layout,
        &fixture("layout-index-size-wrong.json"),
        &[&manifest],
    );
    assert_refused(
        &s,
        &format!("oci:{}:v1", layout.display()),
        &[],
        "oci",
        &format!("{}: entry @0", layout.join("index.json").display()),
        &manifest,
        manifest.len() - 1,
    );
}

#[test]
fn an_oci_archive_index_json_entry_whose_size_is_not_the_manifests_is_refused() {
    let manifest = fixture("manifest.json");
    let s = Scratch::new("sizes-archive-index-json");
    let layout = s.join("layout");
    write_layout(
        &layout,
        &fixture("layout-index-size-wrong.json"),
        &[&manifest],
    );
    let archive = s.join("image.tar");
    support::tar_layout(&layout, &archive);
    std::fs::remove_dir_all(&layout).unwrap();
    assert_refused(
        &s,
        &format!("oci-archive:{}", archive.display()),
        &[],
        "oci",
        &format!("{}: index.json: entry @0", archive.display()),
        &manifest,
        manifest.len() - 1,
    );
}

/// The list entry is checked whether the copy takes the whole list or
/// only the image for this machine (the entry has no platform, so it is
/// the one chosen on any machine).
#[test]
fn a_layout_list_entry_whose_size_is_not_the_instances_is_refused() {
    let manifest = fixture("manifest.json");
    let list = fixture("list-instance-size-wrong.json");
    let list_digest = Digest::sha256_of(&list);
    for (name, extra) in [("all", &["--all"][..]), ("system", &[][..])] {
        let s = Scratch::new(&format!("sizes-layout-list-{name}"));
        let layout = s.join("layout");
        write_layout(&layout, &index_for(&list, OCI_INDEX), &[&list, &manifest]);
        assert_refused(
            &s,
            &format!("oci:{}", layout.display()),
            extra,
            "oci",
            &format!("entry 0 of list {list_digest}"),
            &manifest,
            manifest.len() + 100,
        );
    }
}

#[test]
fn a_dir_list_entry_whose_size_is_not_the_instances_is_refused() {
    let manifest = fixture("manifest.json");
    let list = fixture("list-instance-size-wrong.json");
    let s = Scratch::new("sizes-dir-list");
    let image = s.join("image");
    write_dir(&image, &list, &[&manifest]);
    assert_refused(
        &s,
        &format!("dir:{}", image.display()),
        &["--all"],
        "dir",
        &format!("entry 0 of list {}", Digest::sha256_of(&list)),
        &manifest,
        manifest.len() + 100,
    );
}

#[test]
fn a_config_whose_size_is_not_its_descriptors_is_refused() {
    let manifest = fixture("manifest-config-size-wrong.json");
    let config = fixture("config.json");
    let s = Scratch::new("sizes-config");
    let layout = s.join("layout");
    write_layout(&layout, &index_for(&manifest, OCI_MANIFEST), &[&manifest]);
    assert_refused(
        &s,
        &format!("oci:{}", layout.display()),
        &[],
        "oci",
        &format!("the config of manifest {}", Digest::sha256_of(&manifest)),
        &config,
        config.len() + 10,
    );
}

#[test]
fn a_layer_whose_size_is_not_its_descriptors_is_refused() {
    let manifest = fixture("manifest-layer-size-wrong.json");
    let layer = fixture("layer.tar.gz");
    let s = Scratch::new("sizes-layer");
    let image = s.join("image");
    write_dir(&image, &manifest, &[]);
    assert_refused(
        &s,
        &format!("dir:{}", image.display()),
        &[],
        "dir",
        &format!("the layer of manifest {}", Digest::sha256_of(&manifest)),
        &layer,
        layer.len() - 10,
    );
}

/// `ferry inspect` reads an instance through its list entry and the
/// config through its descriptor: both are checked as a copy checks them.
#[test]
fn inspect_refuses_a_list_entry_or_config_whose_size_is_not_the_contents() {
    let s = Scratch::new("sizes-inspect");
    let manifest = fixture("manifest.json");
    let list = fixture("list-instance-size-wrong.json");
    write_dir(&s.join("list"), &list, &[&manifest]);
    let lying_config = fixture("manifest-config-size-wrong.json");
    write_dir(&s.join("config"), &lying_config, &[]);
    let config = fixture("config.json");
    for (name, what, content, stated) in [
        (
            "list",
            "entry 0 of the list",
            &manifest,
            manifest.len() + 100,
        ),
        ("config", "the config", &config, config.len() + 10),
    ] {
        let source = format!("dir:{}", s.join(name).display());
        let out = ferry(&["inspect", &source]);
        let said = text(&out);
        assert_eq!(out.status.code(), Some(1), "{source}: {said}");
        let sizes = format!(
            "{source}: {what}: content of {} is {} bytes, its descriptor says {stated}",
            Digest::sha256_of(content),
            content.len()
        );
        assert!(said.contains(&sizes), "{said:?} lacks {sizes:?}");
    }
}
