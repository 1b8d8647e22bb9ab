//! `ferry copy --format v2s1` to a real registry (Debian's docker-registry
//! on loopback): distribution checks a schema 1 manifest's signature, its
//! name against the repository and that every `fsLayers` blob is there,
//! so a push it accepts is a well-formed one; skopeo then pulls it.

use std::path::Path;
use std::process::Output;

use ferry_core::manifest::schema1::GZIPPED_EMPTY_LAYER_DIGEST;
use ferry_core::media_type as mt;
use ferry_core::{Digest, Manifest};
use ferry_tests::Scratch;
use ferry_tests::registry::{Registry, Setup, SkopeoSide, ferry, skopeo, succeeded};

/// Writes an OCI `dir:` image with two layers of `layer_type` (arbitrary
/// bytes: nothing here unpacks them) and a history whose ENV and CMD
/// entries have no layer. Returns the `dir:` reference.
fn write_image(root: &Path, layer_type: &str) -> String {
    std::fs::create_dir_all(root).unwrap();
    let mut descriptors = Vec::new();
    for content in [&b"base layer"[..], b"app layer"] {
        let digest = Digest::sha256_of(content);
        std::fs::write(root.join(digest.encoded()), content).unwrap();
        descriptors.push(format!(
            r#"{{"mediaType":"{layer_type}","digest":"{digest}","size":{}}}"#,
            content.len()
        ));
    }
    let config = r#"{"architecture":"amd64","os":"linux","config":{"Cmd":["/app"]},"rootfs":{"type":"layers","diff_ids":[]},"history":[{"created":"2024-05-01T09:00:00Z","created_by":"ADD base /"},{"created":"2024-05-01T09:30:00Z","created_by":"ENV A=1","empty_layer":true},{"created":"2024-05-01T09:45:00Z","created_by":"ADD app /"},{"created":"2024-05-01T10:00:00Z","created_by":"CMD [\"/app\"]","empty_layer":true}]}"#;
    let config_digest = Digest::sha256_of(config.as_bytes());
    std::fs::write(root.join(config_digest.encoded()), config).unwrap();
    let manifest = format!(
        r#"{{"schemaVersion":2,"mediaType":"{}","config":{{"mediaType":"{}","digest":"{config_digest}","size":{}}},"layers":[{}]}}"#,
        mt::OCI_MANIFEST,
        mt::OCI_CONFIG,
        config.len(),
        descriptors.join(",")
    );
    std::fs::write(root.join("manifest.json"), manifest).unwrap();
    std::fs::write(root.join("version"), "Directory Transport Version: 1.1\n").unwrap();
    format!("dir:{}", root.display())
}

fn push_v2s1(registry: &Registry, src: &str, name: &str) -> Output {
    let mut push: Vec<String> = vec![
        "copy".into(),
        "--progress".into(),
        "none".into(),
        "--format".into(),
        "v2s1".into(),
    ];
    push.extend(registry.skopeo_flags(SkopeoSide::Dest));
    push.extend([src.to_string(), registry.docker_ref(name)]);
    ferry(&push)
}

#[test]
fn a_v2s1_push_passes_the_registrys_schema1_checks_and_skopeo_pulls_it() {
    let registry = Registry::start(Setup::plain().with_schema1());
    let s = Scratch::new("push");
    let src = write_image(&s.path("src"), mt::OCI_LAYER_GZIP);
    let digest = succeeded(&push_v2s1(&registry, &src, "ferry/s1:v1"));

    let mut inspect: Vec<String> = vec!["inspect".into(), "--raw".into()];
    inspect.extend(registry.skopeo_flags(SkopeoSide::Only));
    inspect.push(registry.docker_ref("ferry/s1:v1"));
    let raw = skopeo(&inspect);
    assert!(
        raw.status.success(),
        "{}",
        String::from_utf8_lossy(&raw.stderr)
    );
    let Manifest::Schema1(s1) = Manifest::parse(&raw.stdout).unwrap() else {
        panic!("the registry holds something else than schema 1")
    };
    // Named for the repository and tag it was pushed to.
    assert_eq!((s1.name.as_str(), s1.tag.as_str()), ("ferry/s1", "v1"));
    assert_eq!(s1.fs_layers.len(), 4);
    assert_eq!(s1.fs_layers[0], GZIPPED_EMPTY_LAYER_DIGEST);
    assert_eq!(
        ferry_core::manifest::digest(&raw.stdout)
            .unwrap()
            .to_string(),
        digest
    );
    assert_eq!(ferry::sign::verify_schema1(&raw.stdout).unwrap(), 1);

    // skopeo pulls it, verifying every blob, the empty layer included.
    let mut pull: Vec<String> = vec!["copy".into()];
    pull.extend(registry.skopeo_flags(SkopeoSide::Src));
    pull.extend([
        registry.docker_ref("ferry/s1:v1"),
        format!("dir:{}", s.path("pulled").display()),
    ]);
    let out = skopeo(&pull);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(
        s.path("pulled")
            .join(GZIPPED_EMPTY_LAYER_DIGEST.trim_start_matches("sha256:"))
            .is_file()
    );
}

#[test]
fn a_registry_that_refuses_schema1_says_so() {
    let registry = Registry::start(Setup::plain());
    let s = Scratch::new("refused");
    let src = write_image(&s.path("src"), mt::OCI_LAYER_GZIP);
    let out = push_v2s1(&registry, &src, "ferry/s1:v1");
    assert!(!out.status.success());
    let message = String::from_utf8_lossy(&out.stderr);
    assert!(message.contains(mt::DOCKER_V2S1_SIGNED), "{message}");
}

/// A registry wants layers compressed: uncompressed layers are gzipped on
/// the way, and the manifest names the compressed blobs.
#[test]
fn uncompressed_layers_are_pushed_gzipped_and_named_so_in_schema1() {
    let registry = Registry::start(Setup::plain().with_schema1());
    let s = Scratch::new("gzipped");
    let src = write_image(&s.path("src"), mt::OCI_LAYER);
    succeeded(&push_v2s1(&registry, &src, "ferry/gz:v1"));
    let mut inspect: Vec<String> = vec!["inspect".into(), "--raw".into()];
    inspect.extend(registry.skopeo_flags(SkopeoSide::Only));
    inspect.push(registry.docker_ref("ferry/gz:v1"));
    let raw = skopeo(&inspect);
    assert!(
        raw.status.success(),
        "{}",
        String::from_utf8_lossy(&raw.stderr)
    );
    let Manifest::Schema1(s1) = Manifest::parse(&raw.stdout).unwrap() else {
        panic!("not schema 1")
    };
    let source: Vec<String> = [&b"base layer"[..], b"app layer"]
        .iter()
        .map(|c| Digest::sha256_of(c).to_string())
        .collect();
    for layer in [&s1.fs_layers[1], &s1.fs_layers[3]] {
        assert!(!source.contains(layer), "{layer} is not the gzipped layer");
    }
    let mut pull: Vec<String> = vec!["copy".into()];
    pull.extend(registry.skopeo_flags(SkopeoSide::Src));
    pull.extend([
        registry.docker_ref("ferry/gz:v1"),
        format!("dir:{}", s.path("pulled").display()),
    ]);
    let out = skopeo(&pull);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
}
