//! `ferry copy --format v2s1`: schema 2 and OCI images written as signed
//! Docker schema 1, checked against skopeo (containers/image) reading them
//! back, and against the signature and digest rules of schema 1.

mod support;

use std::path::Path;
use std::process::Output;

use ferry_core::manifest::schema1::{GZIPPED_EMPTY_LAYER, GZIPPED_EMPTY_LAYER_DIGEST};
use ferry_core::media_type as mt;
use ferry_core::{Digest, Manifest};
use support::{Scratch, gzip, ok, skopeo, tar_of};

/// `ferry copy --format v2s1 dir:SRC DST`.
fn ferry_v2s1(src: &Path, dst: String) -> Output {
    support::ferry(&[
        "copy",
        "--progress",
        "none",
        "--format",
        "v2s1",
        &format!("dir:{}", src.display()),
        &dst,
    ])
}

/// Which manifest format the source image has.
#[derive(Clone, Copy)]
enum Kind {
    Oci,
    Schema2,
}

/// Writes a `dir:` image with two layers and a history of four entries,
/// two of them without a layer (the top one among them). Returns the
/// layer digests, base first.
fn write_image(root: &Path, kind: Kind) -> Vec<String> {
    std::fs::create_dir_all(root).unwrap();
    let (manifest_type, config_type, layer_type) = match kind {
        Kind::Oci => (mt::OCI_MANIFEST, mt::OCI_CONFIG, mt::OCI_LAYER_GZIP),
        Kind::Schema2 => (mt::DOCKER_V2S2, mt::DOCKER_CONFIG, mt::DOCKER_LAYER_GZIP),
    };
    let mut layers = Vec::new();
    let mut descriptors = Vec::new();
    for (name, content) in [("base.txt", &b"base"[..]), ("app.txt", b"app")] {
        let blob = gzip(&tar_of(name, content));
        let digest = Digest::sha256_of(&blob);
        std::fs::write(root.join(digest.encoded()), &blob).unwrap();
        descriptors.push(format!(
            r#"{{"mediaType":"{layer_type}","digest":"{digest}","size":{}}}"#,
            blob.len()
        ));
        layers.push(digest.to_string());
    }
    let config = r#"{"architecture":"amd64","os":"linux","created":"2024-05-01T10:00:00Z","config":{"Env":["PATH=/bin"],"Cmd":["/bin/app"]},"rootfs":{"type":"layers","diff_ids":[]},"history":[{"created":"2024-05-01T09:00:00Z","created_by":"ADD base.txt /"},{"created":"2024-05-01T09:30:00Z","created_by":"ENV PATH=/bin","empty_layer":true},{"created":"2024-05-01T09:45:00Z","created_by":"ADD app.txt /","author":"ferry"},{"created":"2024-05-01T10:00:00Z","created_by":"CMD [\"/bin/app\"]","empty_layer":true}]}"#;
    let config_digest = Digest::sha256_of(config.as_bytes());
    std::fs::write(root.join(config_digest.encoded()), config).unwrap();
    let manifest = format!(
        r#"{{"schemaVersion":2,"mediaType":"{manifest_type}","config":{{"mediaType":"{config_type}","digest":"{config_digest}","size":{}}},"layers":[{}]}}"#,
        config.len(),
        descriptors.join(",")
    );
    std::fs::write(root.join("manifest.json"), manifest).unwrap();
    std::fs::write(root.join("version"), "Directory Transport Version: 1.1\n").unwrap();
    layers
}

/// Copies `kind` into a `dir:` as v2s1 and checks what was written.
fn check_dir_copy(kind: Kind, test: &str) {
    let s = Scratch::new(test);
    let (src, out) = (s.join("src"), s.join("out"));
    let layers = write_image(&src, kind);
    let digest = ok(ferry_v2s1(&src, format!("dir:{}", out.display())));
    let written = std::fs::read(out.join("manifest.json")).unwrap();
    let manifest = Manifest::parse(&written).unwrap();
    assert_eq!(manifest.media_type(), mt::DOCKER_V2S1_SIGNED);
    // Top first: the empty CMD, the app layer, the empty ENV, the base.
    let Manifest::Schema1(s1) = &manifest else {
        panic!("not schema 1")
    };
    assert_eq!(
        s1.fs_layers,
        [
            GZIPPED_EMPTY_LAYER_DIGEST,
            layers[1].as_str(),
            GZIPPED_EMPTY_LAYER_DIGEST,
            layers[0].as_str()
        ]
    );
    assert!(
        s1.history[1].contains(r#""container_config":{"Cmd":["ADD app.txt /"]},"author":"ferry""#)
    );
    // The empty layer is stored; the config is not (schema 1 has none).
    assert_eq!(
        std::fs::read(out.join(GZIPPED_EMPTY_LAYER_DIGEST.trim_start_matches("sha256:"))).unwrap(),
        GZIPPED_EMPTY_LAYER
    );
    let config = Manifest::parse(&std::fs::read(src.join("manifest.json")).unwrap())
        .unwrap()
        .config();
    assert!(!out.join(config.digest().unwrap().encoded()).exists());

    // Signed by a key that verifies, over the payload whose digest is the
    // manifest digest; `ferry manifest digest` and skopeo agree.
    assert_eq!(ferry::sign::verify_schema1(&written).unwrap(), 1);
    let manifest_path = out.join("manifest.json");
    let manifest_path = manifest_path.to_str().unwrap();
    assert_eq!(
        ok(support::ferry(&["manifest", "digest", manifest_path])),
        digest
    );
    assert_eq!(ok(skopeo(&["manifest-digest", manifest_path])), digest);
    assert_eq!(
        digest,
        Digest::sha256_of(&ferry_core::manifest::jws::payload(&written).unwrap()).to_string()
    );

    // containers/image reads it, and copies it (verifying every blob).
    let inspected: serde_json::Value =
        serde_json::from_str(&ok(skopeo(&["inspect", &format!("dir:{}", out.display())]))).unwrap();
    assert_eq!(inspected["Digest"], digest.as_str());
    assert_eq!(inspected["Architecture"], "amd64");
    assert_eq!(inspected["Env"], serde_json::json!(["PATH=/bin"]));
    assert_eq!(inspected["Layers"].as_array().unwrap().len(), 4);
    let again = s.join("again");
    ok(skopeo(&[
        "copy",
        "-q",
        &format!("dir:{}", out.display()),
        &format!("dir:{}", again.display()),
    ]));
    assert_eq!(std::fs::read(again.join("manifest.json")).unwrap(), written);
}

#[test]
fn an_oci_image_is_written_as_signed_schema1_that_skopeo_reads() {
    check_dir_copy(Kind::Oci, "oci");
}

#[test]
fn a_schema2_image_is_written_as_signed_schema1_that_skopeo_reads() {
    check_dir_copy(Kind::Schema2, "schema2");
}

/// ferry's schema 1 payload is byte for byte the one skopeo writes for the
/// same image (the signatures differ: each uses a fresh key).
#[test]
fn the_schema1_payload_is_the_one_skopeo_writes() {
    let s = Scratch::new("same-as-skopeo");
    let (src, ours, theirs) = (s.join("src"), s.join("ours"), s.join("theirs"));
    write_image(&src, Kind::Oci);
    let digest = ok(ferry_v2s1(&src, format!("dir:{}", ours.display())));
    ok(skopeo(&[
        "copy",
        "-q",
        "--format",
        "v2s1",
        &format!("dir:{}", src.display()),
        &format!("dir:{}", theirs.display()),
    ]));
    let payload = |dir: &Path| {
        ferry_core::manifest::jws::payload(&std::fs::read(dir.join("manifest.json")).unwrap())
            .unwrap()
    };
    assert_eq!(
        String::from_utf8(payload(&ours)).unwrap(),
        String::from_utf8(payload(&theirs)).unwrap()
    );
    let theirs_manifest = theirs.join("manifest.json");
    assert_eq!(
        ok(skopeo(&[
            "manifest-digest",
            theirs_manifest.to_str().unwrap()
        ])),
        digest
    );
}

#[test]
fn schema1_into_an_oci_layout_is_refused_before_any_blob_is_copied() {
    let s = Scratch::new("oci-refused");
    let (src, layout) = (s.join("src"), s.join("layout"));
    write_image(&src, Kind::Oci);
    let out = ferry_v2s1(&src, format!("oci:{}:x", layout.display()));
    assert!(!out.status.success());
    let message = support::stderr(&out);
    assert!(
        message.contains(&format!(
            "cannot store {} manifests",
            mt::DOCKER_V2S1_SIGNED
        )),
        "{message}"
    );
    let blobs = layout.join("blobs/sha256");
    let stored = std::fs::read_dir(&blobs).map_or(0, |d| d.count());
    assert_eq!(stored, 0, "blobs were copied into {}", blobs.display());
}

#[test]
fn an_image_without_history_cannot_become_schema1_and_says_so() {
    let s = Scratch::new("no-history");
    let (src, out) = (s.join("src"), s.join("out"));
    std::fs::create_dir_all(&src).unwrap();
    support::write_dir_image(&src, 7, 1, 64);
    let result = ferry_v2s1(&src, format!("dir:{}", out.display()));
    assert!(!result.status.success());
    let message = support::stderr(&result);
    assert!(message.contains("no history entries"), "{message}");
    assert!(!out.join("manifest.json").exists());
}
