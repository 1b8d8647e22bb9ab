//! Changing layers' compression on the way (`--dest-compress-format`,
//! `--dest-compress`, `--dest-decompress`): what ferry writes, that diff IDs
//! never change, and that a layer which does not decode (corrupt,
//! truncated, or a decompression bomb) is refused naming it, with nothing
//! written. ferry-core decides (`plan::compression`); these tests watch the
//! engine carry it out. Real peers (skopeo, podman) read what ferry writes
//! in ferry-tests' `compression_peers`.

mod support;

use std::io::Read as _;
use std::path::Path;
use std::process::Output;

use ferry_core::Digest;
use support::{Scratch, ferry, ok, stderr, tar_of, write_dir_image_of_layers};

const TAR: &str = "application/vnd.oci.image.layer.v1.tar";
const GZIP: &str = "application/vnd.oci.image.layer.v1.tar+gzip";
const ZSTD: &str = "application/vnd.oci.image.layer.v1.tar+zstd";

/// A layer's tar: one file of seeded noise, large enough to be worth
/// compressing on every core.
fn layer_tar(seed: u64, len: usize) -> Vec<u8> {
    let mut content = support::noise(seed, len / 2);
    content.extend(std::iter::repeat_n(b'x', len / 2));
    tar_of("file", &content)
}

fn zstd_of(data: &[u8]) -> Vec<u8> {
    zstd::stream::encode_all(data, 3).unwrap()
}

/// A one-layer `dir:` image of `tar` stored as `stored` (typed
/// `media_type`), whose config names the tar's digest as its diff ID.
fn image_of(root: &Path, stored: Vec<u8>, media_type: &str, tar: &[u8]) {
    write_dir_image_of_layers(root, &[(stored, media_type)], &[Digest::sha256_of(tar)]);
}

/// `ferry copy ARGS SRC DST`.
fn copy(args: &[&str], src: &str, dst: &str, s: &Scratch) -> Output {
    support::ferry_command()
        .args(["copy", "--progress", "none"])
        .args(args)
        .args([src, dst])
        .env("TMPDIR", &s.0)
        .output()
        .expect("run ferry")
}

/// `copy` of the `dir:` image at `s/src` to the OCI layout `s/out`,
/// tagged v1, with `args`.
fn src_to_oci(s: &Scratch, args: &[&str]) -> Output {
    copy(
        args,
        &format!("dir:{}", s.join("src").display()),
        &format!("oci:{}:v1", s.join("out").display()),
        s,
    )
}

/// The image an OCI layout tags (the one image of a new layout): its
/// manifest, and the blob of each layer with its media type.
fn oci_image(layout: &Path) -> (serde_json::Value, Vec<(String, Vec<u8>)>) {
    let read = |digest: &str| oci_blob(layout, digest);
    let index: serde_json::Value =
        serde_json::from_slice(&std::fs::read(layout.join("index.json")).unwrap()).unwrap();
    let entries = index["manifests"].as_array().unwrap();
    let tagged = entries
        .iter()
        .find(|e| e["annotations"]["org.opencontainers.image.ref.name"].is_string())
        .unwrap_or(&entries[0]);
    let manifest: serde_json::Value =
        serde_json::from_slice(&read(tagged["digest"].as_str().unwrap())).unwrap();
    let layers = manifest["layers"]
        .as_array()
        .unwrap()
        .iter()
        .map(|l| {
            (
                l["mediaType"].as_str().unwrap().to_string(),
                read(l["digest"].as_str().unwrap()),
            )
        })
        .collect();
    (manifest, layers)
}

/// The blob `digest` (`sha256:…`) of an OCI layout.
fn oci_blob(layout: &Path, digest: &str) -> Vec<u8> {
    std::fs::read(
        layout
            .join("blobs/sha256")
            .join(digest.strip_prefix("sha256:").unwrap()),
    )
    .unwrap()
}

/// The tar a stored layer holds.
fn untar(media_type: &str, blob: &[u8]) -> Vec<u8> {
    let mut out = Vec::new();
    match media_type {
        ZSTD => {
            zstd::stream::read::Decoder::new(blob)
                .unwrap()
                .read_to_end(&mut out)
                .unwrap();
        }
        GZIP => {
            flate2::read::MultiGzDecoder::new(blob)
                .read_to_end(&mut out)
                .unwrap();
        }
        _ => out = blob.to_vec(),
    }
    out
}

#[test]
fn gzip_layers_are_recompressed_to_zstd_and_hold_the_same_tar() {
    let s = Scratch::new("compress-gzip-zstd");
    let tar = layer_tar(1, 6 << 20);
    image_of(&s.join("src"), support::gzip(&tar), GZIP, &tar);
    let out = src_to_oci(&s, &["--dest-compress-format", "zstd"]);
    ok(out);
    let (_, layers) = oci_image(&s.join("out"));
    assert_eq!(layers[0].0, ZSTD);
    assert_eq!(&layers[0].1[..4], [0x28, 0xb5, 0x2f, 0xfd]);
    assert_eq!(untar(ZSTD, &layers[0].1), tar);
}

#[test]
fn zstd_layers_are_recompressed_to_gzip_and_hold_the_same_tar() {
    let s = Scratch::new("compress-zstd-gzip");
    let tar = layer_tar(2, 256 << 10);
    image_of(&s.join("src"), zstd_of(&tar), ZSTD, &tar);
    let out = src_to_oci(
        &s,
        &[
            "--dest-compress-format",
            "gzip",
            "--dest-compress-level",
            "1",
        ],
    );
    ok(out);
    let (_, layers) = oci_image(&s.join("out"));
    assert_eq!(layers[0].0, GZIP);
    assert_eq!(untar(GZIP, &layers[0].1), tar);
}

#[test]
fn a_large_layer_gzipped_on_every_core_is_one_gzip_stream_of_the_same_tar() {
    let s = Scratch::new("compress-zstd-gzip-large");
    // 12 MiB of tar, stored as about 6 MiB of zstd: past the size from
    // which ferry compresses on every core (4 MiB as stored).
    let tar = layer_tar(3, 12 << 20);
    let stored = zstd_of(&tar);
    assert!(stored.len() > 4 << 20);
    image_of(&s.join("src"), stored, ZSTD, &tar);
    let out = src_to_oci(&s, &["--dest-compress-format", "gzip"]);
    ok(out);
    let (manifest, layers) = oci_image(&s.join("out"));
    assert_eq!(layers[0].0, GZIP);
    let blob = s.join("out/blobs/sha256").join(
        manifest["layers"][0]["digest"]
            .as_str()
            .unwrap()
            .strip_prefix("sha256:")
            .unwrap(),
    );
    let test = std::process::Command::new("gzip")
        .args(["-t", "-q"])
        .arg(&blob)
        .output()
        .expect("gzip is installed");
    assert!(test.status.success(), "gzip -t: {}", stderr(&test));
    // One gzip member holding the whole tar, nothing after it.
    let bytes = &layers[0].1[..];
    let mut rest = bytes;
    let mut decoder = flate2::bufread::GzDecoder::new(&mut rest);
    let mut untarred = Vec::new();
    decoder.read_to_end(&mut untarred).unwrap();
    drop(decoder);
    assert!(
        rest.is_empty(),
        "{} bytes after the gzip member",
        rest.len()
    );
    assert_eq!(untarred, tar);
    let config = oci_blob(
        &s.join("out"),
        manifest["config"]["digest"].as_str().unwrap(),
    );
    let config: serde_json::Value = serde_json::from_slice(&config).unwrap();
    assert_eq!(
        config["rootfs"]["diff_ids"][0].as_str().unwrap(),
        Digest::sha256_of(&untarred).as_str()
    );
}

#[test]
fn uncompressed_layers_are_compressed_into_dir_only_with_dest_compress() {
    let s = Scratch::new("compress-dir");
    let tar = layer_tar(3, 64 << 10);
    image_of(&s.join("src"), tar.clone(), TAR, &tar);
    let src = format!("dir:{}", s.join("src").display());
    let kept = s.join("kept");
    ok(copy(
        &["--dest-compress-format", "zstd"],
        &src,
        &format!("dir:{}", kept.display()),
        &s,
    ));
    assert!(
        std::fs::read_to_string(kept.join("manifest.json"))
            .unwrap()
            .contains(TAR)
    );
    let compressed = s.join("compressed");
    let args = ["--dest-compress", "--dest-compress-format", "zstd"];
    ok(copy(
        &args,
        &src,
        &format!("dir:{}", compressed.display()),
        &s,
    ));
    let manifest = std::fs::read_to_string(compressed.join("manifest.json")).unwrap();
    assert!(manifest.contains(ZSTD), "{manifest}");
}

#[test]
fn dest_decompress_stores_zstd_layers_as_the_tars_their_diff_ids_name() {
    let s = Scratch::new("compress-decompress");
    let tar = layer_tar(4, 64 << 10);
    image_of(&s.join("src"), zstd_of(&tar), ZSTD, &tar);
    let out = s.join("out");
    ok(copy(
        &["--dest-decompress"],
        &format!("dir:{}", s.join("src").display()),
        &format!("dir:{}", out.display()),
        &s,
    ));
    let stored = std::fs::read(out.join(Digest::sha256_of(&tar).encoded())).unwrap();
    assert_eq!(stored, tar);
}

#[test]
fn a_docker_schema2_image_made_zstd_is_written_as_oci() {
    let s = Scratch::new("compress-schema2");
    let tar = layer_tar(5, 64 << 10);
    let src = s.join("src");
    image_of(
        &src,
        support::gzip(&tar),
        "application/vnd.docker.image.rootfs.diff.tar.gzip",
        &tar,
    );
    // The same image under Docker's manifest and config types.
    let manifest = std::fs::read_to_string(src.join("manifest.json"))
        .unwrap()
        .replace(
            "application/vnd.oci.image.manifest.v1+json",
            "application/vnd.docker.distribution.manifest.v2+json",
        )
        .replace(
            "application/vnd.oci.image.config.v1+json",
            "application/vnd.docker.container.image.v1+json",
        );
    std::fs::write(src.join("manifest.json"), manifest).unwrap();
    let out = s.join("out");
    ok(copy(
        &["--dest-compress", "--dest-compress-format", "zstd"],
        &format!("dir:{}", src.display()),
        &format!("dir:{}", out.display()),
        &s,
    ));
    let written: serde_json::Value =
        serde_json::from_slice(&std::fs::read(out.join("manifest.json")).unwrap()).unwrap();
    assert_eq!(
        written["mediaType"],
        "application/vnd.oci.image.manifest.v1+json"
    );
    assert_eq!(
        written["config"]["mediaType"],
        "application/vnd.oci.image.config.v1+json"
    );
    assert_eq!(written["layers"][0]["mediaType"], ZSTD);
}

#[test]
fn a_layer_typed_gzip_whose_bytes_are_zstd_is_retyped_not_recompressed() {
    let s = Scratch::new("compress-detect");
    let tar = layer_tar(6, 64 << 10);
    let stored = zstd_of(&tar);
    image_of(&s.join("src"), stored.clone(), GZIP, &tar);
    ok(src_to_oci(&s, &["--dest-compress-format", "zstd"]));
    let (_, layers) = oci_image(&s.join("out"));
    assert_eq!(layers[0], (ZSTD.to_string(), stored));
}

/// Copies the one-layer image whose layer is `stored` (typed `media_type`)
/// to an OCI layout recompressing to `format`: the copy must fail naming
/// the layer and saying `says`, with nothing written.
fn refused(stored: Vec<u8>, media_type: &str, format: &str, says: &str) {
    let s = Scratch::new("compress-refused");
    let digest = Digest::sha256_of(&stored);
    image_of(&s.join("src"), stored, media_type, b"");
    let dst = format!("oci:{}", s.join("out").display());
    let out = copy(
        &["--dest-compress-format", format],
        &format!("dir:{}", s.join("src").display()),
        &format!("{dst}:v1"),
        &s,
    );
    assert!(!out.status.success(), "the copy succeeded");
    let message = stderr(&out);
    assert!(message.contains(&digest.to_string()), "{message}");
    assert!(message.contains(says), "{message}");
    assert_eq!(support::check(&dst), Ok(support::Found::Nothing));
}

#[test]
fn a_corrupt_gzip_layer_is_refused_naming_it_and_nothing_is_written() {
    let mut stored = support::gzip(&layer_tar(7, 64 << 10));
    let middle = stored.len() / 2;
    stored[middle..middle + 64].fill(0xaa);
    refused(stored, GZIP, "zstd", "cannot decompress the layer as gzip");
}

#[test]
fn a_truncated_zstd_layer_is_refused_naming_it_and_nothing_is_written() {
    let mut stored = zstd_of(&layer_tar(8, 64 << 10));
    stored.truncate(stored.len() / 2);
    refused(stored, ZSTD, "gzip", "cannot decompress the layer as zstd");
}

#[test]
fn one_kib_of_zstd_expanding_past_the_limit_is_refused_as_a_bomb() {
    // 64 MiB of zeros at zstd's strongest level: under 3 KiB, ~1 KiB at
    // the first megabytes, and past 1,024 times plus 16 MiB long before
    // its end.
    let zeros = vec![0u8; 64 << 20];
    let bomb = zstd::stream::encode_all(&zeros[..], 19).unwrap();
    assert!(bomb.len() < 4096, "{} bytes", bomb.len());
    refused(bomb, ZSTD, "gzip", "decompression bomb");
}

#[test]
fn zstd_chunked_is_refused_by_name() {
    let out = ferry(&[
        "copy",
        "--dest-compress-format",
        "zstd:chunked",
        "demo:",
        "oci:/nonexistent/never:v1",
    ]);
    assert!(!out.status.success());
    assert!(
        stderr(&out).contains("\"zstd:chunked\" is not supported"),
        "{}",
        stderr(&out)
    );
}

#[test]
fn a_dry_run_shows_which_layers_are_recompressed() {
    let s = Scratch::new("compress-dry-run");
    let tar = layer_tar(9, 64 << 10);
    image_of(&s.join("src"), support::gzip(&tar), GZIP, &tar);
    let out = src_to_oci(
        &s,
        &["--dry-run", "--json", "--dest-compress-format", "zstd"],
    );
    let text = ok(out);
    let report: serde_json::Value = serde_json::from_str(&text).unwrap();
    let blobs = report["plan"]["blobs"].as_array().unwrap();
    let layer = blobs.iter().find(|b| b["mediaType"] == GZIP).unwrap();
    assert_eq!(layer["operation"], "recompress", "{text}");
    let config = blobs.iter().find(|b| b["mediaType"] != GZIP).unwrap();
    assert_eq!(config.get("operation"), None, "{text}");
}

#[test]
fn forcing_the_format_recompresses_a_layer_the_destination_already_holds_as_named() {
    // A layer typed zstd whose bytes are gzip, already in the layout.
    let s = Scratch::new("compress-force");
    let tar = layer_tar(10, 64 << 10);
    image_of(&s.join("src"), support::gzip(&tar), ZSTD, &tar);
    let src = format!("dir:{}", s.join("src").display());
    let dst = format!("oci:{}:v1", s.join("out").display());
    let asked = ["--dest-compress-format", "zstd"];
    ok(copy(&[], &src, &dst, &s));
    // Asked for zstd, the layer its type calls zstd is found and kept.
    ok(copy(&asked, &src, &dst, &s));
    let (_, layers) = oci_image(&s.join("out"));
    assert_eq!(&layers[0].1[..2], [0x1f, 0x8b]);
    // Forced, it is read: its bytes are gzip, and become zstd.
    let forced = [
        "--dest-compress-format",
        "zstd",
        "--dest-force-compress-format",
    ];
    ok(copy(&forced, &src, &dst, &s));
    let (_, layers) = oci_image(&s.join("out"));
    assert_eq!(layers[0].0, ZSTD);
    assert_eq!(&layers[0].1[..4], [0x28, 0xb5, 0x2f, 0xfd]);
    assert_eq!(untar(ZSTD, &layers[0].1), tar);
}

/// The list an OCI layout holds (its first entry) and a reader of its blobs.
fn oci_list(layout: &Path) -> (serde_json::Value, impl Fn(&str) -> Vec<u8>) {
    let root = layout.to_path_buf();
    let read = move |digest: &str| {
        std::fs::read(
            root.join("blobs/sha256")
                .join(digest.strip_prefix("sha256:").unwrap()),
        )
        .unwrap()
    };
    let index: serde_json::Value =
        serde_json::from_slice(&std::fs::read(layout.join("index.json")).unwrap()).unwrap();
    let list =
        serde_json::from_slice(&read(index["manifests"][0]["digest"].as_str().unwrap())).unwrap();
    (list, read)
}

#[test]
fn add_compression_writes_a_zstd_twin_of_every_image_after_the_originals() {
    let s = Scratch::new("add-compression");
    let out = s.join("out");
    ok(copy(
        &["--all", "--add-compression", "zstd"],
        "demo:",
        &format!("oci:{}", out.display()),
        &s,
    ));
    let (list, read) = oci_list(&out);
    let entries = list["manifests"].as_array().unwrap();
    assert_eq!(entries.len(), 8, "{list}");
    let (originals, twins) = entries.split_at(4);
    for (original, twin) in originals.iter().zip(twins) {
        assert_eq!(original["annotations"], serde_json::Value::Null);
        assert_eq!(
            twin["annotations"]["io.github.containers.compression.zstd"],
            "true"
        );
        assert_eq!(twin["platform"], original["platform"]);
        let o: serde_json::Value =
            serde_json::from_slice(&read(original["digest"].as_str().unwrap())).unwrap();
        let t: serde_json::Value =
            serde_json::from_slice(&read(twin["digest"].as_str().unwrap())).unwrap();
        // The same config, so the same diff IDs; each layer the same tar.
        assert_eq!(t["config"], o["config"]);
        for (ol, tl) in o["layers"]
            .as_array()
            .unwrap()
            .iter()
            .zip(t["layers"].as_array().unwrap())
        {
            assert_eq!(tl["mediaType"], ZSTD);
            let ot = untar(
                ol["mediaType"].as_str().unwrap(),
                &read(ol["digest"].as_str().unwrap()),
            );
            let tt = untar(ZSTD, &read(tl["digest"].as_str().unwrap()));
            assert_eq!(ot, tt);
        }
    }
}

#[test]
fn a_list_that_has_its_zstd_twins_is_copied_as_it_is() {
    let s = Scratch::new("add-compression-again");
    let (first, second) = (s.join("first"), s.join("second"));
    ok(copy(
        &["--all", "--add-compression", "zstd"],
        "demo:",
        &format!("oci:{}", first.display()),
        &s,
    ));
    ok(copy(
        &["--all", "--add-compression", "zstd"],
        &format!("oci:{}", first.display()),
        &format!("oci:{}", second.display()),
        &s,
    ));
    assert_eq!(oci_list(&first).0, oci_list(&second).0);
}

#[test]
fn add_compression_without_all_is_refused_before_anything_is_written() {
    let s = Scratch::new("add-compression-refused");
    let out = s.join("out");
    let result = copy(
        &["--add-compression", "zstd"],
        "demo:",
        &format!("oci:{}", out.display()),
        &s,
    );
    assert!(!result.status.success());
    assert!(stderr(&result).contains("--all"), "{}", stderr(&result));
    assert!(!out.join("index.json").exists());
}

#[test]
fn a_dry_run_shows_the_zstd_twins() {
    let s = Scratch::new("add-compression-dry-run");
    let text = ok(copy(
        &["--all", "--add-compression", "zstd", "--dry-run", "--json"],
        "demo:",
        &format!("oci:{}", s.join("out").display()),
        &s,
    ));
    let report: serde_json::Value = serde_json::from_str(&text).unwrap();
    let twins = report["plan"]["manifests"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|m| m["role"] == "zstd-twin")
        .count();
    assert_eq!(twins, 4, "{text}");
}
