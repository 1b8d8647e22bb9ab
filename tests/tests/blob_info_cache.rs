//! The blob info cache with a real registry (docker-registry, loopback):
//! a second recompressing copy of the same image into another repository
//! compresses nothing and mounts every layer's zstd form from the first;
//! a corrupt cache file is ignored with a warning; concurrent ferry
//! processes leave a cache file that parses and holds every record.

use std::path::Path;
use std::process::Output;

use ferry_tests::Scratch;
use ferry_tests::registry::{Registry, Setup, SkopeoSide, ferry_command, succeeded};

/// `ferry copy --progress json FLAGS SRC DST` with the cache at `cache`.
fn copy(registry: &Registry, cache: &Path, flags: &[&str], src: &str, dst: &str) -> Output {
    let mut args: Vec<String> = vec!["copy".into(), "--progress".into(), "json".into()];
    args.extend(registry.skopeo_flags(SkopeoSide::Src));
    args.extend(registry.skopeo_flags(SkopeoSide::Dest));
    args.extend(flags.iter().map(|f| f.to_string()));
    args.extend([src.to_string(), dst.to_string()]);
    ferry_command()
        .env("FERRY_BLOB_INFO_CACHE", cache)
        .args(&args)
        .output()
        .unwrap()
}

/// The progress events of a copy, by their `event` names.
fn events(out: &Output, name: &str) -> Vec<serde_json::Value> {
    let all =
        String::from_utf8_lossy(&out.stdout).into_owned() + &String::from_utf8_lossy(&out.stderr);
    all.lines()
        .filter_map(|l| serde_json::from_str::<serde_json::Value>(l).ok())
        .filter(|v| v["event"] == name)
        .collect()
}

/// The layer digests of the image at `reference`, as skopeo reads them.
fn layers(registry: &Registry, reference: &str) -> Vec<String> {
    let mut args = vec!["inspect".to_string(), "--raw".into()];
    args.extend(registry.skopeo_flags(SkopeoSide::Only));
    args.push(reference.into());
    let out = ferry_tests::registry::skopeo(&args);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let manifest: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    manifest["layers"]
        .as_array()
        .unwrap()
        .iter()
        .map(|l| l["digest"].as_str().unwrap().to_string())
        .collect()
}

/// The demo image, gzip layers, pushed to `ferry/gzip:v1`.
fn gzip_image(registry: &Registry, cache: &Path) -> String {
    let reference = registry.docker_ref("ferry/gzip:v1");
    succeeded(&copy(registry, cache, &[], "demo:", &reference));
    reference
}

const ZSTD: &[&str] = &["--dest-compress-format", "zstd"];

#[test]
fn a_second_recompression_to_another_repository_compresses_nothing_and_mounts() {
    ferry_tests::skopeo::require("reading the copies' manifests");
    let registry = Registry::start(Setup::plain());
    let s = Scratch::new("mount");
    let cache = s.path("blob-info.json");
    let source = gzip_image(&registry, &cache);

    let first = registry.docker_ref("ferry/zstd-one:v1");
    let out = copy(&registry, &cache, ZSTD, &source, &first);
    succeeded(&out);
    let compressed = layers(&registry, &first);
    assert!(!compressed.is_empty());
    assert_eq!(events(&out, "started").len(), compressed.len());

    let second = registry.docker_ref("ferry/zstd-two:v1");
    let out = copy(&registry, &cache, ZSTD, &source, &second);
    succeeded(&out);
    // Nothing read, so nothing compressed: every blob (the config from
    // the source repository, each layer's zstd form from the first copy)
    // was mounted.
    assert_eq!(events(&out, "started"), Vec::<serde_json::Value>::new());
    let mounted: Vec<String> = events(&out, "mounted")
        .iter()
        .map(|e| e["digest"].as_str().unwrap().to_string())
        .collect();
    for layer in &compressed {
        assert!(mounted.contains(layer), "{layer} not in {mounted:?}");
    }
    assert_eq!(layers(&registry, &second), compressed);
}

#[test]
fn a_corrupt_cache_file_is_ignored_with_a_warning() {
    let registry = Registry::start(Setup::plain());
    let s = Scratch::new("corrupt");
    let cache = s.path("blob-info.json");
    let source = gzip_image(&registry, &cache);
    std::fs::write(&cache, b"{\"version\":1,\"entries\":[{\"sou").unwrap();

    let out = copy(
        &registry,
        &cache,
        ZSTD,
        &source,
        &registry.docker_ref("ferry/zstd:v1"),
    );
    succeeded(&out);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        stderr.contains("warning: ignoring") && stderr.contains("blob-info.json"),
        "{stderr}"
    );
    // Read once per copy, so said once, however many layers it has.
    assert_eq!(stderr.matches("warning: ignoring").count(), 1, "{stderr}");
    // The layers were compressed, and the file replaced by a valid one.
    assert!(!events(&out, "started").is_empty());
    let text = std::fs::read(&cache).unwrap();
    let cache: serde_json::Value = serde_json::from_slice(&text).unwrap();
    assert!(!cache["entries"].as_array().unwrap().is_empty());
}

#[test]
fn a_copy_that_compresses_nothing_does_not_read_the_cache() {
    let registry = Registry::start(Setup::plain());
    let s = Scratch::new("untouched");
    let cache = s.path("blob-info.json");
    let source = gzip_image(&registry, &cache);
    // A file no cache reader could take: any read of it would warn.
    std::fs::write(&cache, b"not a cache").unwrap();
    let out = copy(
        &registry,
        &cache,
        &[],
        &source,
        &registry.docker_ref("ferry/same:v1"),
    );
    succeeded(&out);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(!stderr.contains("warning"), "{stderr}");
    assert_eq!(std::fs::read(&cache).unwrap(), b"not a cache");
}

#[test]
fn concurrent_copies_leave_a_valid_cache_with_every_record() {
    let registry = Registry::start(Setup::plain());
    let s = Scratch::new("concurrent");
    let cache = s.path("blob-info.json");
    let source = gzip_image(&registry, &cache);

    let children: Vec<_> = (0..4)
        .map(|i| {
            let mut args: Vec<String> = vec!["copy".into(), "--progress".into(), "none".into()];
            args.extend(registry.skopeo_flags(SkopeoSide::Src));
            args.extend(registry.skopeo_flags(SkopeoSide::Dest));
            args.extend(ZSTD.iter().map(|f| f.to_string()));
            args.extend([
                source.clone(),
                registry.docker_ref(&format!("ferry/z{i}:v1")),
            ]);
            ferry_command()
                .env("FERRY_BLOB_INFO_CACHE", &cache)
                .args(&args)
                .spawn()
                .unwrap()
        })
        .collect();
    for child in children {
        assert!(child.wait_with_output().unwrap().status.success());
    }
    let text = std::fs::read(&cache).unwrap();
    let parsed: serde_json::Value = serde_json::from_slice(&text).unwrap();
    let layers = layers_of_cache(&parsed);
    assert!(!layers.is_empty());
    // Each layer was written (or mounted) into every repository, and each
    // process's record of it survived the others'.
    for entry in parsed["entries"].as_array().unwrap() {
        let repositories: Vec<&str> = entry["locations"]
            .as_array()
            .unwrap()
            .iter()
            .map(|l| l["repository"].as_str().unwrap())
            .collect();
        for i in 0..4 {
            let repository = format!("ferry/z{i}");
            assert!(
                repositories.contains(&repository.as_str()),
                "{repository} not in {repositories:?}"
            );
        }
    }
}

fn layers_of_cache(cache: &serde_json::Value) -> Vec<String> {
    cache["entries"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["source"].as_str().unwrap().to_string())
        .collect()
}
