//! containers-storage with podman 4.3 and skopeo 1.9.3 as the peers: what
//! ferry writes, they read the same as what skopeo writes; what podman
//! loads, ferry reads out as skopeo does. One throwaway vfs store per
//! store a test needs.

use std::path::Path;

use ferry_tests::registry::{
    DEMO_INDEX_DIGEST, DemoImage, Registry, Setup, SkopeoSide, ferry, skopeo, succeeded,
};
use ferry_tests::storage::{LayoutImage, Store};

const NAME: &str = "demo:v1";

/// ferry copies the demo image (a four-platform index) into `store`.
fn ferry_copies_demo_into(store: &Store) {
    succeeded(&ferry(&[
        "copy",
        "--progress",
        "none",
        "demo:",
        &store.reference(NAME),
    ]));
}

/// skopeo copies the demo image (as a `dir:` layout) into `store`.
fn skopeo_copies_demo_into(store: &Store, demo: &DemoImage) {
    succeeded(&skopeo(["copy", &demo.dir_ref(), &store.reference(NAME)]));
}

/// What `podman image inspect` says that both writers must agree on.
fn identity(store: &Store) -> serde_json::Value {
    let image = store.inspect(NAME);
    serde_json::json!({
        "Id": image["Id"],
        "Digest": image["Digest"],
        "RepoTags": image["RepoTags"],
        "RepoDigests": image["RepoDigests"],
        "Layers": image["RootFS"]["Layers"],
        "Config": image["Config"],
        "Architecture": image["Architecture"],
        "Created": image["Created"],
        "ManifestType": image["ManifestType"],
    })
}

#[test]
fn podman_shows_the_image_ferry_copied_as_the_one_skopeo_copied() {
    let demo = DemoImage::make();
    let (ours, theirs) = (Store::new(), Store::new());
    ferry_copies_demo_into(&ours);
    skopeo_copies_demo_into(&theirs, &demo);
    let ours_identity = identity(&ours);
    assert_eq!(ours_identity, identity(&theirs));
    // The list it was chosen from is the image's digest, as c/image keeps it.
    assert_eq!(ours_identity["Digest"], DEMO_INDEX_DIGEST);
    let images = ours.images();
    assert_eq!(images.len(), 1, "{images:?}");
}

#[test]
fn the_store_records_are_those_skopeo_writes() {
    let demo = DemoImage::make();
    let (ours, theirs) = (Store::new(), Store::new());
    ferry_copies_demo_into(&ours);
    skopeo_copies_demo_into(&theirs, &demo);
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
    assert_eq!(ours.image_records(), theirs.image_records());
}

#[test]
fn skopeo_reads_back_the_diff_ids_of_the_config() {
    let store = Store::new();
    ferry_copies_demo_into(&store);
    let layout = store.scratch("out");
    succeeded(&skopeo([
        "copy",
        &store.reference(NAME),
        &format!("oci:{}:x", layout.display()),
    ]));
    let image = LayoutImage::read(&layout);
    assert_eq!(image.diff_ids, image.config_diff_ids());
}

#[test]
fn podman_save_has_layers_with_the_uncompressed_digests() {
    let store = Store::new();
    ferry_copies_demo_into(&store);
    let archive = store.scratch("saved.tar");
    store.podman_ok(&[
        "save",
        "--format",
        "docker-archive",
        "-o",
        &archive.display().to_string(),
        NAME,
    ]);
    let unpacked = store.scratch("saved");
    std::fs::create_dir(&unpacked).unwrap();
    let out = std::process::Command::new("tar")
        .arg("-xf")
        .arg(&archive)
        .arg("-C")
        .arg(&unpacked)
        .output()
        .unwrap();
    assert!(out.status.success());
    let manifest: serde_json::Value =
        serde_json::from_slice(&std::fs::read(unpacked.join("manifest.json")).unwrap()).unwrap();
    let layers: Vec<String> = manifest[0]["Layers"]
        .as_array()
        .unwrap()
        .iter()
        .map(|l| {
            let bytes = std::fs::read(unpacked.join(l.as_str().unwrap())).unwrap();
            ferry_core::Digest::sha256_of(&bytes).to_string()
        })
        .collect();
    let inspected = store.inspect(NAME);
    let expected: Vec<String> = inspected["RootFS"]["Layers"]
        .as_array()
        .unwrap()
        .iter()
        .map(|l| l.as_str().unwrap().to_string())
        .collect();
    assert_eq!(layers, expected);
}

/// podman loads ferry's demo image from a docker-archive; returns the store.
fn podman_loaded() -> Store {
    let store = Store::new();
    let archive = store.scratch("demo.tar");
    succeeded(&ferry(&[
        "copy",
        "--progress",
        "none",
        "demo:",
        &format!("docker-archive:{}:{NAME}", archive.display()),
    ]));
    store.podman_ok(&["load", "-i", &archive.display().to_string()]);
    store
}

#[test]
fn ferry_reads_an_image_podman_loaded_as_skopeo_reads_it() {
    let store = podman_loaded();
    let (a, b) = (store.scratch("ferry"), store.scratch("skopeo"));
    succeeded(&ferry(&[
        "copy",
        "--progress",
        "none",
        &store.reference(NAME),
        &format!("oci:{}:x", a.display()),
    ]));
    succeeded(&skopeo([
        "copy",
        &store.reference(NAME),
        &format!("oci:{}:x", b.display()),
    ]));
    let (ours, theirs) = (LayoutImage::read(&a), LayoutImage::read(&b));
    assert_eq!(ours.config, theirs.config);
    assert_eq!(ours.diff_ids, theirs.diff_ids);
    assert_eq!(ours.diff_ids, ours.config_diff_ids());
    let types = |m: &serde_json::Value| -> Vec<String> {
        m["layers"]
            .as_array()
            .unwrap()
            .iter()
            .map(|l| l["mediaType"].as_str().unwrap().to_string())
            .collect()
    };
    assert_eq!(types(&ours.manifest), types(&theirs.manifest));
}

#[test]
fn ferry_pushes_an_image_podman_loaded_to_a_registry_as_skopeo_does() {
    let store = podman_loaded();
    let registry = Registry::start(Setup::plain());
    let flags = registry.skopeo_flags(SkopeoSide::Dest);
    let mut args: Vec<String> = vec!["copy".into(), "--progress".into(), "none".into()];
    args.extend(flags.iter().cloned());
    args.extend([store.reference(NAME), registry.docker_ref("ferry:v1")]);
    succeeded(&ferry(&args));
    let mut args: Vec<String> = vec!["copy".into()];
    args.extend(flags.iter().cloned());
    args.extend([store.reference(NAME), registry.docker_ref("skopeo:v1")]);
    succeeded(&skopeo(&args));
    // Read both back into layouts with skopeo, and compare.
    let src = registry.skopeo_flags(SkopeoSide::Src);
    let read = |name: &str, out: &Path| {
        let mut args: Vec<String> = vec!["copy".into()];
        args.extend(src.iter().cloned());
        args.extend([
            registry.docker_ref(name),
            format!("oci:{}:x", out.display()),
        ]);
        succeeded(&skopeo(&args));
        LayoutImage::read(out)
    };
    let ours = read("ferry:v1", &store.scratch("ferry"));
    let theirs = read("skopeo:v1", &store.scratch("skopeo"));
    assert_eq!(ours.config, theirs.config);
    assert_eq!(ours.diff_ids, theirs.diff_ids);
}

#[test]
fn an_image_is_read_by_its_id_and_by_the_list_digest() {
    let store = Store::new();
    ferry_copies_demo_into(&store);
    let id = store.inspect(NAME)["Id"].as_str().unwrap().to_string();
    for (reference, out) in [
        (store.reference(&format!("@{id}")), "by-id"),
        (store.reference(&id[..12]), "by-prefix"),
        (
            store.reference(&format!("demo@{DEMO_INDEX_DIGEST}")),
            "by-list-digest",
        ),
    ] {
        let layout = store.scratch(out);
        succeeded(&ferry(&[
            "copy",
            "--progress",
            "none",
            &reference,
            &format!("oci:{}:x", layout.display()),
        ]));
        let image = LayoutImage::read(&layout);
        assert_eq!(
            ferry_core::Digest::sha256_of(&image.config).encoded(),
            id,
            "{reference}"
        );
    }
}

#[test]
fn a_name_not_in_the_store_is_not_found() {
    let store = Store::new();
    ferry_copies_demo_into(&store);
    let out = ferry(&[
        "copy",
        &store.reference("other:v1"),
        &format!("oci:{}:x", store.scratch("x").display()),
    ]);
    assert!(!out.status.success());
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(stderr.contains("not found"), "{stderr}");
}

#[test]
fn a_second_copy_reuses_the_layers_and_moves_the_name() {
    let store = Store::new();
    ferry_copies_demo_into(&store);
    let layers = store.layer_records();
    ferry_copies_demo_into(&store);
    assert_eq!(store.layer_records(), layers);
    assert_eq!(store.images().len(), 1);
}

/// ferry's copy summary (stderr) of a copy that must succeed.
fn copy_summary(source: &str, destination: &str) -> String {
    let out = ferry(&["copy", "--progress", "none", source, destination]);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8_lossy(&out.stderr).into_owned()
}

#[test]
fn layers_the_store_holds_are_not_sent_again() {
    let store = Store::new();
    ferry_copies_demo_into(&store);
    let summary = copy_summary("demo:", &store.reference("demo:v2"));
    assert!(summary.contains("skipped 2 blob(s)"), "{summary}");
    assert_eq!(store.inspect("demo:v2")["Id"], store.inspect(NAME)["Id"]);
}

/// An OCI layout of one image whose only layer is the demo image's top
/// layer (linux/amd64), as a base layer.
fn top_layer_alone(demo: &DemoImage, out: &Path) {
    let read = |name: &str| std::fs::read(demo.path().join(name)).unwrap();
    let hex = |d: &serde_json::Value| d.as_str().unwrap()["sha256:".len()..].to_string();
    let index: serde_json::Value = serde_json::from_slice(&demo.index()).unwrap();
    let amd64 = index["manifests"]
        .as_array()
        .unwrap()
        .iter()
        .find(|m| m["platform"]["architecture"] == "amd64")
        .unwrap();
    let manifest: serde_json::Value =
        serde_json::from_slice(&read(&format!("{}.manifest.json", hex(&amd64["digest"])))).unwrap();
    let mut config: serde_json::Value =
        serde_json::from_slice(&read(&hex(&manifest["config"]["digest"]))).unwrap();
    let top = manifest["layers"]
        .as_array()
        .unwrap()
        .last()
        .unwrap()
        .clone();
    let diff_ids = config["rootfs"]["diff_ids"].as_array().unwrap().clone();
    config["rootfs"]["diff_ids"] = serde_json::json!([diff_ids.last().unwrap()]);
    config.as_object_mut().unwrap().remove("history");
    let blobs = out.join("blobs/sha256");
    std::fs::create_dir_all(&blobs).unwrap();
    let put = |bytes: &[u8]| {
        let digest = ferry_core::Digest::sha256_of(bytes);
        std::fs::write(blobs.join(digest.encoded()), bytes).unwrap();
        (digest.to_string(), bytes.len())
    };
    put(&read(&hex(&top["digest"])));
    let (config_digest, config_size) = put(&serde_json::to_vec(&config).unwrap());
    let manifest = serde_json::to_vec(&serde_json::json!({
        "schemaVersion": 2,
        "mediaType": "application/vnd.oci.image.manifest.v1+json",
        "config": {"mediaType": "application/vnd.oci.image.config.v1+json",
                   "digest": config_digest, "size": config_size},
        "layers": [top],
    }))
    .unwrap();
    let (digest, size) = put(&manifest);
    std::fs::write(
        out.join("index.json"),
        serde_json::to_vec(&serde_json::json!({"schemaVersion": 2, "manifests": [{
            "mediaType": "application/vnd.oci.image.manifest.v1+json",
            "digest": digest, "size": size,
            "annotations": {"org.opencontainers.image.ref.name": "one"}}]}))
        .unwrap(),
    )
    .unwrap();
    std::fs::write(
        out.join("oci-layout"),
        br#"{"imageLayoutVersion": "1.0.0"}"#,
    )
    .unwrap();
}

#[test]
fn a_layer_the_store_holds_over_another_parent_is_rebuilt_from_it() {
    let demo = DemoImage::make();
    let store = Store::new();
    ferry_copies_demo_into(&store);
    let layout = store.scratch("one");
    top_layer_alone(&demo, &layout);
    let summary = copy_summary(
        &format!("oci:{}:one", layout.display()),
        &store.reference("one:1"),
    );
    assert!(summary.contains("skipped 1 blob(s)"), "{summary}");
    let inspected = store.inspect("one:1");
    assert_eq!(
        inspected["RootFS"]["Layers"],
        serde_json::json!([store.inspect(NAME)["RootFS"]["Layers"][1]])
    );
    let saved = store.scratch("one.tar");
    store.podman_ok(&["save", "-o", &saved.display().to_string(), "one:1"]);
}

/// The demo image's linux/amd64 instance as a `dir:` layout with
/// uncompressed layers (through a docker-archive) and one stored
/// signature, `signature-1`, holding `signature`.
fn signed_dir(store: &Store, signature: &[u8]) -> std::path::PathBuf {
    let archive = store.scratch("demo-signed.tar");
    succeeded(&ferry(&[
        "copy",
        "--progress",
        "none",
        "demo:",
        &format!("docker-archive:{}:{NAME}", archive.display()),
    ]));
    let dir = store.scratch("signed");
    succeeded(&ferry(&[
        "copy",
        "--progress",
        "none",
        &format!("docker-archive:{}", archive.display()),
        &format!("dir:{}", dir.display()),
    ]));
    std::fs::write(dir.join("signature-1"), signature).unwrap();
    dir
}

#[test]
fn signatures_are_stored_beside_the_image_and_read_back_by_skopeo() {
    let store = Store::new();
    // An OpenPGP compressed-data tag, as containers/image recognises
    // simple signatures; the rest is kept as bytes, never verified here.
    let signature = b"\xa3 not really a signature, kept as bytes";
    let dir = signed_dir(&store, signature);
    succeeded(&ferry(&[
        "copy",
        "--progress",
        "none",
        &format!("dir:{}", dir.display()),
        &store.reference(NAME),
    ]));
    let image = store.image_records().remove(0);
    let metadata: serde_json::Value =
        serde_json::from_str(image["metadata"].as_str().unwrap()).unwrap();
    assert_eq!(
        metadata["signature-sizes"],
        serde_json::json!([signature.len()])
    );
    let out = store.scratch("read-back");
    succeeded(&skopeo([
        "copy",
        &store.reference(NAME),
        &format!("dir:{}", out.display()),
    ]));
    assert_eq!(std::fs::read(out.join("signature-1")).unwrap(), signature);
    // And ferry reads them back the same.
    let ours = store.scratch("read-back-ferry");
    succeeded(&ferry(&[
        "copy",
        "--progress",
        "none",
        &store.reference(NAME),
        &format!("dir:{}", ours.display()),
    ]));
    assert_eq!(std::fs::read(ours.join("signature-1")).unwrap(), signature);
}
