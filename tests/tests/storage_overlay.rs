//! containers-storage with the overlay driver (the kernel's overlay, no
//! mount program), podman 4.3 and skopeo 1.9.3 as the peers: layers are
//! the layer's own `diff`, with the driver's `link`, `l/` short links and
//! `lower` files; no mount is needed to write or read them.

use std::os::unix::fs::{FileTypeExt, MetadataExt};
use std::path::Path;

use ferry_tests::registry::{DemoImage, ferry, skopeo, succeeded};
use ferry_tests::storage::{LayoutImage, Store, layout_of_trees};

const NAME: &str = "demo:v1";

fn ferry_copy(source: &str, destination: &str) {
    succeeded(&ferry(&["copy", "--progress", "none", source, destination]));
}

#[test]
fn podman_shows_the_image_ferry_copied_as_the_one_skopeo_copied() {
    let demo = DemoImage::make();
    let (ours, theirs) = (Store::overlay(), Store::overlay());
    ferry_copy("demo:", &ours.reference(NAME));
    succeeded(&skopeo(["copy", &demo.dir_ref(), &theirs.reference(NAME)]));
    let identity = |store: &Store| {
        let image = store.inspect(NAME);
        serde_json::json!([
            image["Id"],
            image["Digest"],
            image["RootFS"],
            image["Config"]
        ])
    };
    assert_eq!(identity(&ours), identity(&theirs));
    let without_created = |mut records: Vec<serde_json::Value>| {
        for r in &mut records {
            r.as_object_mut().unwrap().remove("created");
        }
        records
    };
    assert_eq!(
        without_created(ours.layer_records()),
        without_created(theirs.layer_records())
    );
}

#[test]
fn layers_have_the_drivers_links_and_lower_files() {
    let store = Store::overlay();
    ferry_copy("demo:", &store.reference(NAME));
    let home = store.graph_root().join("overlay");
    let layers = store.layer_records();
    assert_eq!(layers.len(), 2);
    let link = |id: &str| std::fs::read_to_string(home.join(id).join("link")).unwrap();
    for layer in &layers {
        let id = layer["id"].as_str().unwrap();
        let short = link(id);
        assert_eq!(short.len(), 26, "{short:?}");
        assert_eq!(
            std::fs::read_link(home.join("l").join(&short)).unwrap(),
            Path::new(&format!("../{id}/diff"))
        );
        for dir in ["diff", "work", "merged"] {
            assert!(home.join(id).join(dir).is_dir(), "{id}/{dir}");
        }
    }
    let (base, top) = (
        layers[0]["id"].as_str().unwrap(),
        layers[1]["id"].as_str().unwrap(),
    );
    assert!(home.join(base).join("empty").is_dir());
    assert_eq!(
        std::fs::read_to_string(home.join(top).join("lower")).unwrap(),
        format!("l/{}", link(base))
    );
}

#[test]
fn skopeo_and_podman_save_read_back_the_diff_ids() {
    let store = Store::overlay();
    ferry_copy("demo:", &store.reference(NAME));
    let layout = store.scratch("out");
    succeeded(&skopeo([
        "copy",
        &store.reference(NAME),
        &format!("oci:{}:x", layout.display()),
    ]));
    let image = LayoutImage::read(&layout);
    assert_eq!(image.diff_ids, image.config_diff_ids());
    let saved = store.scratch("saved.tar");
    store.podman_ok(&["save", "-o", &saved.display().to_string(), NAME]);
}

/// Two layers: a base with `f`, `d/old`; over it a layer that deletes `f`
/// and makes `d` opaque with `d/new` in it.
fn whiteout_layout(store: &Store) -> String {
    let trees = store.scratch("trees");
    let (base, top) = (trees.join("base"), trees.join("top"));
    std::fs::create_dir_all(base.join("d")).unwrap();
    std::fs::write(base.join("f"), b"f").unwrap();
    std::fs::write(base.join("d/old"), b"old").unwrap();
    std::fs::create_dir_all(top.join("d")).unwrap();
    std::fs::write(top.join(".wh.f"), b"").unwrap();
    std::fs::write(top.join("d/.wh..wh..opq"), b"").unwrap();
    std::fs::write(top.join("d/new"), b"new").unwrap();
    let layout = store.scratch("whiteouts");
    layout_of_trees(&layout, "w", &[base, top]);
    format!("oci:{}:w", layout.display())
}

#[test]
fn whiteouts_are_device_nodes_and_opaque_directories_carry_the_xattr() {
    let store = Store::overlay();
    ferry_copy(&whiteout_layout(&store), &store.reference("w:1"));
    let layers = store.layer_records();
    let top = layers[1]["id"].as_str().unwrap();
    let diff = store.graph_root().join("overlay").join(top).join("diff");
    let whiteout = std::fs::symlink_metadata(diff.join("f")).unwrap();
    assert!(whiteout.file_type().is_char_device());
    assert_eq!(whiteout.rdev(), 0);
    assert!(!diff.join(".wh.f").exists());
    // Read with Python's os.getxattr: the tests have no xattr binding.
    let opaque = std::process::Command::new("python3")
        .args([
            "-c",
            "import os, sys; sys.stdout.buffer.write(os.getxattr(sys.argv[1], 'trusted.overlay.opaque', follow_symlinks=False))",
        ])
        .arg(diff.join("d"))
        .output()
        .unwrap();
    assert!(
        opaque.status.success(),
        "{}",
        String::from_utf8_lossy(&opaque.stderr)
    );
    assert_eq!(opaque.stdout, b"y");
    assert_eq!(std::fs::read(diff.join("d/new")).unwrap(), b"new");
    // Read back, the layers are the streams they were made from.
    let out = store.scratch("back");
    succeeded(&skopeo([
        "copy",
        &store.reference("w:1"),
        &format!("oci:{}:x", out.display()),
    ]));
    let image = LayoutImage::read(&out);
    assert_eq!(image.diff_ids, image.config_diff_ids());
}
