//! Recompressed images that ferry writes, read by real peers: skopeo 1.9.3
//! pulls every one (gzip→zstd, zstd→gzip, uncompressed→either) from a
//! docker-registry and, decompressing the layers itself, finds the diff IDs
//! the configs name; `zstd -t` and `gzip -t` accept every blob ferry
//! wrote; podman (vfs storage) loads a zstd image from an OCI archive;
//! skopeo reads a list with zstd twins (`--add-compression zstd`), each
//! twin by digest.

use std::path::{Path, PathBuf};
use std::process::Command;

use ferry_tests::Scratch;
use ferry_tests::registry::{Registry, Setup, SkopeoSide, ferry, skopeo, succeeded};

fn json(path: &Path) -> serde_json::Value {
    serde_json::from_slice(&std::fs::read(path).unwrap())
        .unwrap_or_else(|e| panic!("{}: {e}", path.display()))
}

/// `ferry copy FLAGS SRC DST` with the registry's flags for both sides.
fn ferry_copy(registry: &Registry, flags: &[&str], src: &str, dst: &str) {
    let mut args: Vec<String> = vec!["copy".into(), "--progress".into(), "none".into()];
    args.extend(registry.skopeo_flags(SkopeoSide::Src));
    args.extend(registry.skopeo_flags(SkopeoSide::Dest));
    args.extend(flags.iter().map(|f| f.to_string()));
    args.extend([src.to_string(), dst.to_string()]);
    succeeded(&ferry(&args));
}

/// skopeo pulls `reference` from the registry twice: into an OCI layout as
/// stored, and into `dir:` decompressing every layer itself. Returns the
/// stored layers (media type, blob path) and checks that the decompressed
/// layers' digests are the config's diff IDs, in order.
fn skopeo_reads(
    registry: &Registry,
    reference: &str,
    s: &Scratch,
    name: &str,
) -> Vec<(String, PathBuf)> {
    let tar_dir = s.arg(&format!("{name}-tars"));
    let mut pull: Vec<String> = vec!["copy".into(), "--dest-decompress".into()];
    pull.extend(registry.skopeo_flags(SkopeoSide::Src));
    pull.extend([reference.to_string(), format!("dir:{tar_dir}")]);
    let out = skopeo(&pull);
    assert!(
        out.status.success(),
        "skopeo reads {reference}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    let manifest = json(&Path::new(&tar_dir).join("manifest.json"));
    let config_digest = manifest["config"]["digest"].as_str().unwrap();
    let config = json(&Path::new(&tar_dir).join(config_digest.strip_prefix("sha256:").unwrap()));
    let layers: Vec<&str> = manifest["layers"]
        .as_array()
        .unwrap()
        .iter()
        .map(|l| l["digest"].as_str().unwrap())
        .collect();
    let diff_ids: Vec<&str> = config["rootfs"]["diff_ids"]
        .as_array()
        .unwrap()
        .iter()
        .map(|d| d.as_str().unwrap())
        .collect();
    assert_eq!(
        layers, diff_ids,
        "{reference}: skopeo's decompressed layers"
    );

    let layout = s.arg(&format!("{name}-stored"));
    let mut stored: Vec<String> = vec!["copy".into()];
    stored.extend(registry.skopeo_flags(SkopeoSide::Src));
    stored.extend([reference.to_string(), format!("oci:{layout}:x")]);
    let out = skopeo(&stored);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let index = json(&Path::new(&layout).join("index.json"));
    let blob = |digest: &str| {
        Path::new(&layout)
            .join("blobs/sha256")
            .join(digest.strip_prefix("sha256:").unwrap())
    };
    let manifest = json(&blob(index["manifests"][0]["digest"].as_str().unwrap()));
    manifest["layers"]
        .as_array()
        .unwrap()
        .iter()
        .map(|l| {
            (
                l["mediaType"].as_str().unwrap().to_string(),
                blob(l["digest"].as_str().unwrap()),
            )
        })
        .collect()
}

/// Every layer is `suffix`-typed (`+zstd`, `+gzip`) and its compressor's
/// own test (`zstd -t`, `gzip -t`) accepts it.
fn tools_accept(layers: &[(String, PathBuf)], suffix: &str) {
    assert!(!layers.is_empty());
    for (media_type, path) in layers {
        assert!(media_type.ends_with(suffix), "{media_type}");
        let tool = if suffix == "+zstd" { "zstd" } else { "gzip" };
        let out = Command::new(tool)
            .args(["-t", "-q"])
            .arg(path)
            .output()
            .unwrap_or_else(|e| panic!("{tool} is installed (scripts/install-deps.sh): {e}"));
        assert!(
            out.status.success(),
            "{tool} -t {}: {}",
            path.display(),
            String::from_utf8_lossy(&out.stderr)
        );
    }
}

#[test]
fn skopeo_reads_every_recompression_ferry_writes_with_the_original_diff_ids() {
    ferry_tests::skopeo::require("reading recompressed images");
    let registry = Registry::start(Setup::plain());
    let s = Scratch::new("peers");

    // gzip → zstd: the demo image's gzip layers, for this machine.
    let zstd_ref = registry.docker_ref("ferry/zstd:v1");
    ferry_copy(
        &registry,
        &["--dest-compress-format", "zstd"],
        "demo:",
        &zstd_ref,
    );
    let layers = skopeo_reads(&registry, &zstd_ref, &s, "gzip-zstd");
    tools_accept(&layers, "+zstd");

    // zstd → gzip: back again, registry to registry.
    let gzip_ref = registry.docker_ref("ferry/gzip:v1");
    ferry_copy(
        &registry,
        &["--dest-compress-format", "gzip"],
        &zstd_ref,
        &gzip_ref,
    );
    let layers = skopeo_reads(&registry, &gzip_ref, &s, "zstd-gzip");
    tools_accept(&layers, "+gzip");

    // uncompressed → either: the image with its layers as tars in dir:,
    // then pushed.
    let tars = s.arg("tars");
    ferry_copy(
        &registry,
        &["--dest-decompress"],
        "demo:",
        &format!("dir:{tars}"),
    );
    for (format, suffix) in [("zstd", "+zstd"), ("gzip", "+gzip")] {
        let reference = registry.docker_ref(&format!("ferry/from-tars-{format}:v1"));
        ferry_copy(
            &registry,
            &["--dest-compress-format", format],
            &format!("dir:{tars}"),
            &reference,
        );
        let layers = skopeo_reads(&registry, &reference, &s, &format!("tar-{format}"));
        tools_accept(&layers, suffix);
    }
}

#[test]
fn podman_loads_a_zstd_image_from_an_oci_archive() {
    let s = Scratch::new("podman");
    let archive = s.arg("zstd.tar");
    succeeded(&ferry(&[
        "copy",
        "--progress",
        "none",
        "--dest-compress-format",
        "zstd",
        "demo:",
        &format!("oci-archive:{archive}:ferry/zstd:v1"),
    ]));
    let (root, runroot) = (s.arg("root"), s.arg("runroot"));
    let podman = |args: &[&str]| {
        Command::new("podman")
            .args([
                "--root",
                &root,
                "--runroot",
                &runroot,
                "--storage-driver",
                "vfs",
            ])
            .args(args)
            .env("HOME", ferry_tests::test_home())
            .output()
            .expect("podman is installed (scripts/install-deps.sh)")
    };
    let load = podman(&["load", "-i", &archive]);
    assert!(
        load.status.success(),
        "podman load: {}{}",
        String::from_utf8_lossy(&load.stdout),
        String::from_utf8_lossy(&load.stderr)
    );
    let images = podman(&["images", "--format", "{{.Repository}}:{{.Tag}}"]);
    let listed = String::from_utf8_lossy(&images.stdout);
    assert!(listed.contains("ferry/zstd:v1"), "{listed}");
}

/// `skopeo inspect --raw` of `reference`, as JSON.
fn skopeo_raw(registry: &Registry, reference: &str) -> serde_json::Value {
    let mut args: Vec<String> = vec!["inspect".into(), "--raw".into()];
    args.extend(registry.skopeo_flags(SkopeoSide::Only));
    args.push(reference.to_string());
    let out = skopeo(&args);
    assert!(
        out.status.success(),
        "skopeo inspect --raw {reference}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    serde_json::from_slice(&out.stdout).unwrap()
}

#[test]
fn skopeo_reads_a_list_with_zstd_twins_whose_diff_ids_are_the_originals() {
    ferry_tests::skopeo::require("reading a list with zstd twins");
    let registry = Registry::start(Setup::plain());
    let s = Scratch::new("twins");
    let reference = registry.docker_ref("ferry/twins:v1");
    ferry_copy(
        &registry,
        &["--all", "--add-compression", "zstd"],
        "demo:",
        &reference,
    );
    let list = skopeo_raw(&registry, &reference);
    let entries = list["manifests"].as_array().unwrap();
    assert_eq!(entries.len(), 8, "{list}");
    let repository = reference.rsplit_once(':').unwrap().0;
    let (originals, twins) = entries.split_at(4);
    for (i, (original, twin)) in originals.iter().zip(twins).enumerate() {
        assert_eq!(
            twin["annotations"]["io.github.containers.compression.zstd"],
            "true"
        );
        assert_eq!(twin["platform"], original["platform"]);
        let by_digest =
            |e: &serde_json::Value| format!("{repository}@{}", e["digest"].as_str().unwrap());
        // The twin names the original's config: the same diff IDs, which
        // skopeo finds by decompressing the zstd layers itself.
        let o = skopeo_raw(&registry, &by_digest(original));
        let t = skopeo_raw(&registry, &by_digest(twin));
        assert_eq!(t["config"], o["config"]);
        let layers = skopeo_reads(&registry, &by_digest(twin), &s, &format!("twin-{i}"));
        tools_accept(&layers, "+zstd");
    }
}
