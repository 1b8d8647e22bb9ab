//! `oci-archive:` and `docker-archive:` as the copy engine meets them:
//! what they read, what they write, whether skopeo agrees, and which
//! hostile archives they refuse and how they say so.

use std::path::{Path, PathBuf};
use std::process::Command;

use ferry::fs::{atomic, leftovers, staging};
use ferry::transport::archive::{Limits, TarArchive};
use ferry::transport::docker_archive::{
    ArchiveReference, DockerArchiveDestination, DockerArchiveSource,
};
use ferry::transport::oci::{LayoutReference, OciSource};
use ferry::transport::oci_archive::{OciArchiveDestination, OciArchiveSource};
use ferry::transport::{BlobInfo, BlobStream, ImageDestination, ImageSource, TransportError};
use ferry_core::json::{self, Value};
use ferry_core::media_type as mt;
use ferry_core::plan::compression::Desired;
use ferry_core::{Descriptor, Digest, Manifest};
use tokio::io::AsyncReadExt;

// ---------------------------------------------------------------------
// Helpers
// ---------------------------------------------------------------------

/// Tests that create ferry's temporary files (staging directories,
/// decompressed archives) run one at a time, so each can check that it
/// left none behind.
static TEMP_LOCK: tokio::sync::Mutex<()> = tokio::sync::Mutex::const_new(());

/// ferry's temporary files and staging directories of this process.
fn leftovers() -> Vec<String> {
    let prefixes = [leftovers::temp_prefix(), staging::staging_prefix()];
    std::fs::read_dir(staging::big_temp_dir())
        .map(|entries| {
            entries
                .filter_map(Result::ok)
                .map(|e| e.file_name().to_string_lossy().into_owned())
                .filter(|n| prefixes.iter().any(|p| n.starts_with(p.as_str())))
                .collect()
        })
        .unwrap_or_default()
}

fn fixture(name: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests/fixtures/archives")
        .join(name)
}

// Each test file uses part of the shared rule (its `require` is for
// registry tests).
#[allow(dead_code)]
#[path = "../../tests/src/skopeo.rs"]
mod skopeo_check;

/// skopeo, to compare with ([`skopeo_check::available`]: missing fails
/// the test unless `FERRY_SKIP_SKOPEO=1`).
fn skopeo(what: &str) -> Option<&'static str> {
    skopeo_check::available(what).then_some(skopeo_check::PROGRAM)
}

fn run(program: &str, args: &[&str]) -> Vec<u8> {
    let out = Command::new(program)
        .args(args)
        .output()
        .expect("run command");
    assert!(
        out.status.success(),
        "{program} {args:?} failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    out.stdout
}

fn layout_ref(path: &Path, name: Option<&str>) -> LayoutReference {
    LayoutReference {
        path: path.to_path_buf(),
        name: name.map(String::from),
        index: None,
    }
}

fn docker_ref(path: &Path, rest: &str) -> ArchiveReference {
    let text = if rest.is_empty() {
        path.display().to_string()
    } else {
        format!("{}:{rest}", path.display())
    };
    ArchiveReference::parse(&text).expect("docker-archive reference")
}

/// A tar holding one file, with fixed headers.
fn layer_tar(file: &str, content: &[u8]) -> Vec<u8> {
    let mut builder = tar::Builder::new(Vec::new());
    let mut header = tar::Header::new_ustar();
    header.set_size(content.len() as u64);
    header.set_mode(0o644);
    header.set_mtime(0);
    header.set_entry_type(tar::EntryType::Regular);
    builder
        .append_data(&mut header, file, content)
        .expect("append");
    builder.into_inner().expect("finish tar")
}

fn gzip(bytes: &[u8]) -> Vec<u8> {
    use std::io::Write as _;
    let mut encoder = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::default());
    encoder.write_all(bytes).expect("gzip");
    encoder.finish().expect("gzip")
}

fn descriptor(media_type: &str, bytes: &[u8]) -> String {
    format!(
        r#"{{"mediaType":"{media_type}","digest":"{}","size":{}}}"#,
        Digest::sha256_of(bytes),
        bytes.len()
    )
}

fn info(media_type: &str, bytes: &[u8]) -> BlobInfo {
    BlobInfo {
        digest: Digest::sha256_of(bytes),
        size: Some(bytes.len() as i64),
        media_type: Some(media_type.to_string()),
    }
}

fn info_of(d: &Descriptor) -> BlobInfo {
    BlobInfo::described(d.digest().expect("valid digest"), d.size, &d.media_type)
}

fn stream_of(bytes: &[u8]) -> BlobStream {
    Box::pin(std::io::Cursor::new(bytes.to_vec()))
}

async fn read_stream(mut stream: BlobStream) -> Vec<u8> {
    let mut out = Vec::new();
    stream.read_to_end(&mut out).await.expect("read stream");
    out
}

/// A small image: a config and its layers, with media types.
struct Image {
    config: Vec<u8>,
    layers: Vec<(Vec<u8>, &'static str)>,
}

impl Image {
    /// Two distinct layers, the second gzip, as an OCI image.
    fn oci(seed: &str) -> Self {
        let plain = layer_tar("hello.txt", format!("hello {seed}\n").as_bytes());
        let other = layer_tar("world.txt", format!("world {seed}\n").as_bytes());
        let config = Self::config(&[&plain, &other]);
        Image {
            config,
            layers: vec![(plain, mt::OCI_LAYER), (gzip(&other), mt::OCI_LAYER_GZIP)],
        }
    }

    /// Uncompressed Docker layers, the first repeated on top.
    fn docker() -> Self {
        let a = layer_tar("hello.txt", b"hello\n");
        let b = layer_tar("world.txt", b"world\n");
        let config = Self::config(&[&a, &b, &a]);
        Image {
            config,
            layers: vec![
                (a.clone(), mt::DOCKER_LAYER),
                (b, mt::DOCKER_LAYER),
                (a, mt::DOCKER_LAYER),
            ],
        }
    }

    fn config(uncompressed: &[&[u8]]) -> Vec<u8> {
        let diff_ids: Vec<String> = uncompressed
            .iter()
            .map(|l| format!("\"{}\"", Digest::sha256_of(l)))
            .collect();
        format!(
            r#"{{"architecture":"amd64","os":"linux","config":{{}},"rootfs":{{"type":"layers","diff_ids":[{}]}}}}"#,
            diff_ids.join(",")
        )
        .into_bytes()
    }

    fn manifest(&self, media_type: &str, config_type: &str) -> Vec<u8> {
        let layers: Vec<String> = self
            .layers
            .iter()
            .map(|(bytes, t)| descriptor(t, bytes))
            .collect();
        format!(
            r#"{{"schemaVersion":2,"mediaType":"{media_type}","config":{},"layers":[{}]}}"#,
            descriptor(config_type, &self.config),
            layers.join(",")
        )
        .into_bytes()
    }

    fn oci_manifest(&self) -> Vec<u8> {
        self.manifest(mt::OCI_MANIFEST, mt::OCI_CONFIG)
    }

    fn blobs(&self) -> Vec<&[u8]> {
        let mut out = vec![self.config.as_slice()];
        out.extend(self.layers.iter().map(|(b, _)| b.as_slice()));
        out
    }
}

/// Writes an OCI layout whose `index.json` lists `images` under their
/// names; returns their manifests.
fn write_layout(root: &Path, images: &[(&Image, Option<&str>)]) -> Vec<Vec<u8>> {
    let blobs = root.join("blobs/sha256");
    std::fs::create_dir_all(&blobs).expect("layout dirs");
    std::fs::write(
        root.join("oci-layout"),
        br#"{"imageLayoutVersion": "1.0.0"}"#,
    )
    .expect("oci-layout");
    let mut entries = Vec::new();
    let mut manifests = Vec::new();
    for (image, name) in images {
        let manifest = image.oci_manifest();
        let mut all = image.blobs();
        all.push(&manifest);
        for blob in all {
            std::fs::write(blobs.join(Digest::sha256_of(blob).encoded()), blob).expect("blob");
        }
        let annotations = name.map_or(String::new(), |n| {
            format!(r#","annotations":{{"org.opencontainers.image.ref.name":"{n}"}}"#)
        });
        let d = descriptor(mt::OCI_MANIFEST, &manifest);
        entries.push(format!("{}{annotations}}}", &d[..d.len() - 1]));
        manifests.push(manifest);
    }
    let index = format!(
        r#"{{"schemaVersion":2,"manifests":[{}]}}"#,
        entries.join(",")
    );
    std::fs::write(root.join("index.json"), index).expect("index.json");
    manifests
}

/// Tars a directory's files (sorted, with `./` prefixes as `tar -C dir .`
/// writes them).
fn tar_dir(root: &Path) -> Vec<u8> {
    let mut builder = tar::Builder::new(Vec::new());
    builder.mode(tar::HeaderMode::Deterministic);
    builder.append_dir_all(".", root).expect("tar dir");
    builder.into_inner().expect("finish tar")
}

/// The copy engine's part, reduced to one image: blobs, manifest,
/// signatures, commit.
async fn copy(source: &dyn ImageSource, dest: &dyn ImageDestination) -> (Vec<u8>, String) {
    let (manifest, media_type) = source.manifest(None).await.expect("source manifest");
    let media_type = media_type.unwrap_or_default();
    let parsed = Manifest::from_blob(&manifest, &media_type).expect("parse manifest");
    let mut blobs = vec![parsed.config()];
    blobs.extend(parsed.layers().into_iter().map(|l| l.descriptor));
    for d in blobs {
        let info = info_of(&d);
        if dest.has_blob(&info).await.expect("has_blob").is_none() {
            let (stream, _) = source.blob(&info).await.expect("source blob");
            dest.put_blob(stream, &info).await.expect("put_blob");
        }
    }
    dest.put_manifest(&manifest, &media_type, None)
        .await
        .expect("put_manifest");
    dest.put_signatures(&[], None)
        .await
        .expect("put_signatures");
    dest.commit(&manifest, &media_type).await.expect("commit");
    (manifest, media_type)
}

/// The config digest of a source's image.
async fn config_digest(source: &dyn ImageSource) -> String {
    let (manifest, media_type) = source.manifest(None).await.expect("manifest");
    let media_type = media_type.unwrap_or_default();
    Manifest::from_blob(&manifest, &media_type)
        .expect("parses")
        .config()
        .digest_text
}

/// Streams every blob the manifest names through the verifying writer, so
/// a wrong byte anywhere fails.
async fn verify_blobs(source: &dyn ImageSource, manifest: &[u8], media_type: &str) {
    let parsed = Manifest::from_blob(manifest, media_type).expect("parse manifest");
    let mut blobs = vec![parsed.config()];
    blobs.extend(parsed.layers().into_iter().map(|l| l.descriptor));
    let out = tempfile::tempdir().expect("tempdir");
    for d in blobs {
        let info = info_of(&d);
        let (stream, size) = source.blob(&info).await.expect("blob");
        assert_eq!(
            size,
            u64::try_from(d.size).ok(),
            "size of {}",
            d.digest_text
        );
        let target = out.path().join(info.digest.encoded());
        atomic::write_blob_verified(stream, &target, &info, atomic::Durability::Synced)
            .await
            .expect("blob matches its digest");
    }
}

/// One entry of a hand-made tar, hostile ones included: names and link
/// targets are written into the header as given, unchecked.
#[derive(Clone, Copy)]
enum Raw<'a> {
    File(&'a str, &'a [u8]),
    Dir(&'a str),
    Symlink(&'a str, &'a str),
    Hardlink(&'a str, &'a str),
    CharDevice(&'a str),
    BlockDevice(&'a str),
    Fifo(&'a str),
    /// A PAX extended header with these records.
    Pax(&'a str),
    /// A regular file whose header claims another size than its data has
    /// (for PAX size overrides).
    Sized(&'a str, &'a [u8], u64),
}

/// One PAX record: `<length> <key>=<value>\n`, the length counting
/// itself.
fn pax_record(key: &str, value: &str) -> String {
    let body = format!(" {key}={value}\n");
    let mut len = body.len() + 1;
    while format!("{len}{body}").len() != len {
        len += 1;
    }
    format!("{len}{body}")
}

fn raw_tar(entries: &[Raw<'_>]) -> Vec<u8> {
    let mut out = Vec::new();
    for entry in entries {
        let mut claimed = None;
        let (name, kind, link, data): (&str, tar::EntryType, &str, &[u8]) = match *entry {
            Raw::File(n, d) => (n, tar::EntryType::Regular, "", d),
            Raw::Pax(records) => ("PaxHeader", tar::EntryType::XHeader, "", records.as_bytes()),
            Raw::Sized(n, d, size) => {
                claimed = Some(size);
                (n, tar::EntryType::Regular, "", d)
            }
            Raw::Dir(n) => (n, tar::EntryType::Directory, "", b""),
            Raw::Symlink(n, l) => (n, tar::EntryType::Symlink, l, b""),
            Raw::Hardlink(n, l) => (n, tar::EntryType::Link, l, b""),
            Raw::CharDevice(n) => (n, tar::EntryType::Char, "", b""),
            Raw::BlockDevice(n) => (n, tar::EntryType::Block, "", b""),
            Raw::Fifo(n) => (n, tar::EntryType::Fifo, "", b""),
        };
        let mut header = tar::Header::new_ustar();
        let old = header.as_old_mut();
        old.name[..name.len()].copy_from_slice(name.as_bytes());
        old.linkname[..link.len()].copy_from_slice(link.as_bytes());
        header.set_entry_type(kind);
        header.set_mode(0o644);
        header.set_mtime(0);
        header.set_size(claimed.unwrap_or(data.len() as u64));
        header.set_cksum();
        out.extend_from_slice(header.as_bytes());
        out.extend_from_slice(data);
        out.resize(out.len().div_ceil(512) * 512, 0);
    }
    out.extend_from_slice(&[0u8; 1024]);
    out
}

/// Indexes `bytes` as an archive file; the directory holding it lives as
/// long as the result.
async fn open_bytes(
    bytes: &[u8],
    limits: Limits,
) -> Result<(tempfile::TempDir, TarArchive), TransportError> {
    let dir = tempfile::tempdir().expect("tempdir");
    let path = dir.path().join("archive.tar");
    std::fs::write(&path, bytes).expect("write archive");
    TarArchive::open(&path, limits).await.map(|a| (dir, a))
}

/// Asserts the refusal of a reference that chose no image among several:
/// an invalid reference listing each image as `@INDEX: NAME`.
fn assert_lists_images(err: TransportError, listed: &[&str]) {
    let message = err.to_string();
    assert!(
        matches!(err, TransportError::InvalidReference { .. }),
        "{message}"
    );
    for entry in listed {
        assert!(message.contains(entry), "{message} lacks {entry}");
    }
}

/// Asserts a `NotFound` error.
fn assert_not_found<T: std::fmt::Debug>(result: Result<T, TransportError>) {
    assert!(
        matches!(result, Err(TransportError::NotFound { .. })),
        "{result:?}"
    );
}

/// Asserts that nothing ferry stages is left in the temporary directory.
fn assert_no_leftovers(why: &str) {
    assert_eq!(leftovers(), Vec::<String>::new(), "{why}");
}

/// The default limits, but decompressing at most `bytes`.
fn decompressing_at_most(bytes: u64) -> Limits {
    Limits {
        max_decompressed_size: bytes,
        ..Limits::default()
    }
}

/// Asserts a `Malformed` error whose message contains `needle`.
fn assert_malformed<T: std::fmt::Debug>(result: Result<T, TransportError>, needle: &str) {
    match result {
        Err(e @ TransportError::Malformed { .. }) => {
            let message = e.to_string();
            assert!(message.contains(needle), "{message:?} lacks {needle:?}");
        }
        other => panic!("expected a Malformed error containing {needle:?}, got {other:?}"),
    }
}

// ---------------------------------------------------------------------
// oci-archive
// ---------------------------------------------------------------------

/// `image` copied by ferry from an OCI layout into `WORK/image.tar` as
/// `v1`: its manifest, and the archive's path.
async fn archive_of(work: &Path, image: &Image) -> (Vec<u8>, PathBuf) {
    let layout = work.join("layout");
    let manifest = write_layout(&layout, &[(image, None)]).remove(0);
    let source = OciSource::open(&layout_ref(&layout, None))
        .await
        .expect("open layout");
    let path = work.join("image.tar");
    let dest = OciArchiveDestination::create(&layout_ref(&path, Some("v1")))
        .await
        .expect("create");
    copy(&source, &dest).await;
    (manifest, path)
}

#[tokio::test]
async fn oci_archive_round_trip_keeps_manifest_and_blob_digests() {
    let _lock = TEMP_LOCK.lock().await;
    let work = tempfile::tempdir().expect("tempdir");
    let image = Image::oci("a");
    let (manifest, path) = archive_of(work.path(), &image).await;

    let read = OciArchiveSource::open(&layout_ref(&path, Some("v1")))
        .await
        .expect("open archive");
    let (bytes, media_type) = read.manifest(None).await.expect("manifest");
    let media_type = media_type.unwrap_or_default();
    assert_eq!(bytes, manifest);
    assert_eq!(media_type, mt::OCI_MANIFEST);
    let digest = Digest::sha256_of(&manifest);
    assert_eq!(
        read.manifest(Some(&digest)).await.expect("by digest").0,
        manifest
    );
    for blob in image.blobs() {
        let (stream, size) = read.blob(&info("", blob)).await.expect("blob");
        assert_eq!(size, Some(blob.len() as u64));
        assert_eq!(read_stream(stream).await, blob);
    }
    verify_blobs(&read, &bytes, &media_type).await;
    assert!(read.signatures(None).await.expect("signatures").is_empty());
    drop(read);
    let mut names: Vec<String> = std::fs::read_dir(work.path())
        .expect("list")
        .map(|e| e.expect("entry").file_name().to_string_lossy().into_owned())
        .collect();
    names.sort();
    assert_eq!(
        names,
        ["image.tar", "layout"],
        "no temporary file beside the archive"
    );
    assert_no_leftovers("staging directory removed");
}

#[tokio::test]
async fn oci_archive_is_reproducible_with_fixed_headers() {
    let _lock = TEMP_LOCK.lock().await;
    let work = tempfile::tempdir().expect("tempdir");
    let image = Image::oci("b");
    let layout = work.path().join("layout");
    write_layout(&layout, &[(&image, None)]);
    let source = OciSource::open(&layout_ref(&layout, None))
        .await
        .expect("open layout");
    let mut archives = Vec::new();
    for name in ["one.tar", "two.tar"] {
        let path = work.path().join(name);
        let dest = OciArchiveDestination::create(&layout_ref(&path, None))
            .await
            .expect("create");
        copy(&source, &dest).await;
        archives.push(std::fs::read(&path).expect("read archive"));
    }
    assert_eq!(archives[0], archives[1], "same image, same bytes");

    let mut reader = tar::Archive::new(archives[0].as_slice());
    let mut names = Vec::new();
    for entry in reader.entries().expect("entries") {
        let entry = entry.expect("entry");
        let header = entry.header();
        let name = String::from_utf8_lossy(&entry.path_bytes()).into_owned();
        assert_eq!(header.mtime().expect("mtime"), 0, "{name}");
        assert_eq!(header.uid().expect("uid"), 0, "{name}");
        assert_eq!(header.gid().expect("gid"), 0, "{name}");
        assert_eq!(header.username().expect("username"), Some(""), "{name}");
        let mode = if name.ends_with('/') { 0o755 } else { 0o644 };
        assert_eq!(header.mode().expect("mode"), mode, "{name}");
        names.push(name);
    }
    let mut blobs: Vec<String> = image
        .blobs()
        .into_iter()
        .chain([image.oci_manifest().as_slice()])
        .map(|b| format!("blobs/sha256/{}", Digest::sha256_of(b).encoded()))
        .collect();
    blobs.sort();
    let mut expected = vec!["oci-layout", "index.json", "blobs/", "blobs/sha256/"];
    expected.extend(blobs.iter().map(String::as_str));
    assert_eq!(names, expected);
}

#[tokio::test]
async fn oci_archive_written_by_ferry_is_read_by_skopeo() {
    let _lock = TEMP_LOCK.lock().await;
    let Some(skopeo) = skopeo("reading the OCI archive ferry wrote with skopeo") else {
        return;
    };
    let work = tempfile::tempdir().expect("tempdir");
    let image = Image::oci("c");
    let (manifest, path) = archive_of(work.path(), &image).await;

    let reference = format!("oci-archive:{}:v1", path.display());
    assert_eq!(run(skopeo, &["inspect", "--raw", &reference]), manifest);
    // skopeo copy verifies every blob against its digest.
    let out = work.path().join("copied");
    let out_ref = format!("oci:{}", out.display());
    run(skopeo, &["copy", "-q", &reference, &out_ref]);
}

#[tokio::test]
async fn oci_archive_written_by_skopeo_is_read_by_ferry() {
    let path = fixture("skopeo-oci-archive.tar");
    let expected = std::fs::read(fixture("skopeo-oci-archive.manifest.json")).expect("fixture");
    let source = OciArchiveSource::open(&layout_ref(&path, Some("v1")))
        .await
        .expect("open");
    let (manifest, media_type) = source.manifest(None).await.expect("manifest");
    let media_type = media_type.unwrap_or_default();
    assert_eq!(manifest, expected);
    assert_eq!(media_type, mt::OCI_MANIFEST);
    verify_blobs(&source, &manifest, &media_type).await;
}

#[tokio::test]
async fn oci_archive_lists_its_images_when_none_is_chosen() {
    let work = tempfile::tempdir().expect("tempdir");
    let (first, second) = (Image::oci("first"), Image::oci("second"));
    let layout = work.path().join("layout");
    let manifests = write_layout(&layout, &[(&first, Some("one")), (&second, Some("two"))]);
    let path = work.path().join("two-images.tar");
    std::fs::write(&path, tar_dir(&layout)).expect("write archive");

    let err = OciArchiveSource::open(&layout_ref(&path, None))
        .await
        .expect_err("ambiguous");
    assert_lists_images(err, &["@0: one", "@1: two"]);

    let by_name = OciArchiveSource::open(&layout_ref(&path, Some("two")))
        .await
        .expect("by name");
    assert_eq!(
        by_name.manifest(None).await.expect("manifest").0,
        manifests[1]
    );
    let mut by_index = layout_ref(&path, None);
    by_index.index = Some(0);
    let by_index = OciArchiveSource::open(&by_index).await.expect("by index");
    assert_eq!(
        by_index.manifest(None).await.expect("manifest").0,
        manifests[0]
    );
    assert_not_found(OciArchiveSource::open(&layout_ref(&path, Some("three"))).await);
}

#[tokio::test]
async fn oci_archive_manifest_not_matching_its_digest_is_refused() {
    let work = tempfile::tempdir().expect("tempdir");
    let image = Image::oci("d");
    let layout = work.path().join("layout");
    let manifest = write_layout(&layout, &[(&image, None)]).remove(0);
    // Same name, other content: what a tampered archive looks like.
    let blob = layout
        .join("blobs/sha256")
        .join(Digest::sha256_of(&manifest).encoded());
    let mut tampered = manifest.clone();
    tampered.extend_from_slice(b" ");
    std::fs::write(&blob, &tampered).expect("tamper");
    let path = work.path().join("tampered.tar");
    std::fs::write(&path, tar_dir(&layout)).expect("write archive");

    let source = OciArchiveSource::open(&layout_ref(&path, None))
        .await
        .expect("open");
    let err = source.manifest(None).await.expect_err("digest mismatch");
    assert!(
        matches!(err, TransportError::DigestMismatch { .. }),
        "{err}"
    );
    let instance = source.manifest(Some(&Digest::sha256_of(&manifest))).await;
    assert!(
        matches!(instance, Err(TransportError::DigestMismatch { .. })),
        "{instance:?}"
    );
}

#[tokio::test]
async fn oci_archive_blob_not_matching_its_digest_fails_the_verified_write() {
    let work = tempfile::tempdir().expect("tempdir");
    let image = Image::oci("e");
    let layout = work.path().join("layout");
    write_layout(&layout, &[(&image, None)]);
    let layer = &image.layers[0].0;
    let mut tampered = layer.clone();
    tampered[0] ^= 1;
    std::fs::write(
        layout
            .join("blobs/sha256")
            .join(Digest::sha256_of(layer).encoded()),
        &tampered,
    )
    .expect("tamper");
    let path = work.path().join("tampered.tar");
    std::fs::write(&path, tar_dir(&layout)).expect("write archive");

    let source = OciArchiveSource::open(&layout_ref(&path, None))
        .await
        .expect("open");
    let wanted = info(mt::OCI_LAYER, layer);
    let (stream, _) = source.blob(&wanted).await.expect("blob streams");
    let target = work.path().join("layer");
    let err = atomic::write_blob_verified(stream, &target, &wanted, atomic::Durability::Synced)
        .await
        .expect_err("digest mismatch");
    assert!(
        matches!(err, TransportError::DigestMismatch { .. }),
        "{err}"
    );
    assert!(!target.exists(), "refused content is not kept");
}

// ---------------------------------------------------------------------
// docker-archive
// ---------------------------------------------------------------------

/// A `docker save` archive of one image, laid out as Docker before 25
/// writes it: `<id>/layer.tar` per layer, one of them gzip.
fn docker_save(items: &[(&[&str], &Image)]) -> Vec<u8> {
    let mut files: Vec<(String, Vec<u8>)> = Vec::new();
    let mut manifest_items = Vec::new();
    for (tags, image) in items {
        let config_name = format!("{}.json", Digest::sha256_of(&image.config).encoded());
        files.push((config_name.clone(), image.config.clone()));
        let mut layer_names = Vec::new();
        for (layer, _) in &image.layers {
            let dir = Digest::sha256_of(layer).encoded().to_string();
            let name = format!("{dir}/layer.tar");
            if !files.iter().any(|(n, _)| n == &name) {
                files.push((format!("{dir}/VERSION"), b"1.0".to_vec()));
                files.push((name.clone(), layer.clone()));
            }
            layer_names.push(format!("\"{name}\""));
        }
        let tags: Vec<String> = tags.iter().map(|t| format!("\"{t}\"")).collect();
        manifest_items.push(format!(
            r#"{{"Config":"{config_name}","RepoTags":[{}],"Layers":[{}]}}"#,
            tags.join(","),
            layer_names.join(",")
        ));
    }
    files.push((
        "manifest.json".into(),
        format!("[{}]", manifest_items.join(",")).into_bytes(),
    ));
    files.push(("repositories".into(), b"{}".to_vec()));
    let entries: Vec<Raw<'_>> = files.iter().map(|(n, b)| Raw::File(n, b)).collect();
    raw_tar(&entries)
}

/// One plain and one gzip layer, as `docker save` of a pulled image can
/// hold.
fn docker_image(seed: &str) -> Image {
    let plain = layer_tar("hello.txt", format!("hello {seed}\n").as_bytes());
    let other = layer_tar("world.txt", format!("world {seed}\n").as_bytes());
    Image {
        config: Image::config(&[&plain, &other]),
        layers: vec![
            (plain, mt::DOCKER_LAYER),
            (gzip(&other), mt::DOCKER_LAYER_GZIP),
        ],
    }
}

#[tokio::test]
async fn docker_archive_read_gives_a_schema2_manifest_matching_the_files() {
    let work = tempfile::tempdir().expect("tempdir");
    let image = docker_image("a");
    let path = work.path().join("saved.tar");
    std::fs::write(&path, docker_save(&[(&["app:v1"], &image)])).expect("write archive");

    let source = DockerArchiveSource::open(&docker_ref(&path, ""))
        .await
        .expect("open");
    let (manifest, media_type) = source.manifest(None).await.expect("manifest");
    let media_type = media_type.unwrap_or_default();
    assert_eq!(media_type, mt::DOCKER_V2S2);
    assert_eq!(
        manifest,
        image
            .manifest(mt::DOCKER_V2S2, mt::DOCKER_CONFIG)
            .replace_descriptor_order()
    );
    let Manifest::Schema2(parsed) = Manifest::from_blob(&manifest, &media_type).expect("parses")
    else {
        panic!("not schema 2");
    };
    assert_eq!(parsed.config.media_type, mt::DOCKER_CONFIG);
    assert_eq!(
        parsed.config.digest_text,
        Digest::sha256_of(&image.config).as_str()
    );
    assert_eq!(parsed.config.size, image.config.len() as i64);
    let layers: Vec<(String, i64, String)> = parsed
        .layers
        .iter()
        .map(|l| (l.digest_text.clone(), l.size, l.media_type.clone()))
        .collect();
    let expected: Vec<(String, i64, String)> = image
        .layers
        .iter()
        .map(|(b, t)| {
            (
                Digest::sha256_of(b).to_string(),
                b.len() as i64,
                t.to_string(),
            )
        })
        .collect();
    assert_eq!(layers, expected);
    verify_blobs(&source, &manifest, &media_type).await;
    let digest = Digest::sha256_of(&manifest);
    assert_eq!(
        source.manifest(Some(&digest)).await.expect("by digest").0,
        manifest
    );
    assert!(
        source
            .signatures(None)
            .await
            .expect("signatures")
            .is_empty()
    );
}

/// `Image::manifest` writes descriptors as `mediaType, digest, size`;
/// Go's `Schema2Descriptor`, which ferry follows, has `mediaType, size,
/// digest`.
trait DescriptorOrder {
    fn replace_descriptor_order(self) -> Vec<u8>;
}

impl DescriptorOrder for Vec<u8> {
    fn replace_descriptor_order(self) -> Vec<u8> {
        let Ok(Value::Object(mut top)) = json::parse(&self) else {
            panic!("test manifest is an object")
        };
        let reorder = |v: &Value| {
            let Value::Object(o) = v else {
                panic!("descriptor")
            };
            let field = |k: &str| o.field(k).cloned().expect("field");
            Value::Object(json::Object::from_pairs([
                ("mediaType", field("mediaType")),
                ("size", field("size")),
                ("digest", field("digest")),
            ]))
        };
        let config = reorder(top.field("config").expect("config"));
        let Some(Value::Array(layers)) = top.field("layers") else {
            panic!("layers")
        };
        let layers = Value::Array(layers.iter().map(reorder).collect());
        top.set("config", config);
        top.set("layers", layers);
        Value::Object(top).to_compact(true).into_bytes()
    }
}

#[tokio::test]
async fn docker_archive_written_by_skopeo_is_read_by_ferry() {
    // skopeo's docker-archive has legacy `<id>/layer.tar` symlinks to the
    // layer files; they resolve inside the archive.
    let path = fixture("skopeo-docker-archive.tar");
    let skopeo_view =
        std::fs::read(fixture("skopeo-docker-archive.manifest.json")).expect("fixture");
    let Manifest::Schema2(theirs) =
        Manifest::from_blob(&skopeo_view, mt::DOCKER_V2S2).expect("parses")
    else {
        panic!("not schema 2");
    };
    for rest in ["", "example.com/ferry/test:v1", "@0"] {
        let source = DockerArchiveSource::open(&docker_ref(&path, rest))
            .await
            .expect("open");
        let (manifest, media_type) = source.manifest(None).await.expect("manifest");
        let media_type = media_type.unwrap_or_default();
        let Manifest::Schema2(ours) = Manifest::from_blob(&manifest, &media_type).expect("parses")
        else {
            panic!("not schema 2");
        };
        assert_eq!(ours.config, theirs.config);
        // Same digests and sizes; containers/image calls every layer
        // tar.gzip, ferry says what the files are: plain tar.
        let strip = |ls: &[Descriptor]| -> Vec<(String, i64)> {
            ls.iter().map(|l| (l.digest_text.clone(), l.size)).collect()
        };
        assert_eq!(strip(&ours.layers), strip(&theirs.layers));
        assert!(ours.layers.iter().all(|l| l.media_type == mt::DOCKER_LAYER));
        verify_blobs(&source, &manifest, &media_type).await;
    }
}

#[tokio::test]
async fn docker_archive_lists_its_images_when_none_is_chosen() {
    let work = tempfile::tempdir().expect("tempdir");
    let (first, second) = (docker_image("first"), docker_image("second"));
    let path = work.path().join("two.tar");
    std::fs::write(
        &path,
        docker_save(&[
            (&["first:1"], &first),
            (&["docker.io/library/second:2"], &second),
        ]),
    )
    .expect("write archive");

    let err = DockerArchiveSource::open(&docker_ref(&path, ""))
        .await
        .expect_err("ambiguous");
    assert_lists_images(err, &["@0: first:1", "@1: docker.io/library/second:2"]);

    // Tags match after normalisation, whichever form the archive uses; an
    // index picks by position.
    for (chosen, image) in [
        ("second:2", &second),
        ("docker.io/library/first:1", &first),
        ("@1", &second),
    ] {
        let source = DockerArchiveSource::open(&docker_ref(&path, chosen))
            .await
            .unwrap_or_else(|e| panic!("{chosen}: {e}"));
        assert_eq!(
            config_digest(&source).await,
            Digest::sha256_of(&image.config).as_str(),
            "{chosen}"
        );
    }
    // A tag it lacks, an index past its end.
    for chosen in ["first:2", "@2"] {
        assert_not_found(DockerArchiveSource::open(&docker_ref(&path, chosen)).await);
    }
}

#[tokio::test]
async fn docker_archive_naming_a_missing_layer_is_malformed() {
    let work = tempfile::tempdir().expect("tempdir");
    let path = work.path().join("broken.tar");
    let manifest = br#"[{"Config":"c.json","RepoTags":[],"Layers":["gone/layer.tar"]}]"#;
    std::fs::write(
        &path,
        raw_tar(&[
            Raw::File("c.json", b"{}"),
            Raw::File("manifest.json", manifest),
        ]),
    )
    .expect("write archive");
    let result = DockerArchiveSource::open(&docker_ref(&path, "")).await;
    assert_malformed(
        result,
        "\"gone/layer.tar\", which is not a file in the archive",
    );
}

#[tokio::test]
async fn docker_archive_round_trip_through_ferry() {
    let _lock = TEMP_LOCK.lock().await;
    let work = tempfile::tempdir().expect("tempdir");
    let image = Image::docker();
    let manifest = image.manifest(mt::DOCKER_V2S2, mt::DOCKER_CONFIG);
    let path = work.path().join("app.tar");
    let dest = DockerArchiveDestination::create(&docker_ref(&path, "app:v1"))
        .await
        .expect("create");
    let capabilities = dest.capabilities();
    assert_eq!(capabilities.manifest_types, [mt::DOCKER_V2S2]);
    assert_eq!(capabilities.layer_compression, Desired::Decompress);
    assert!(!capabilities.signatures);
    dest.put_blob(
        stream_of(&image.config),
        &info(mt::DOCKER_CONFIG, &image.config),
    )
    .await
    .expect("config");
    for (layer, t) in &image.layers {
        let info = info(t, layer);
        if dest.has_blob(&info).await.expect("has_blob").is_none() {
            dest.put_blob(stream_of(layer), &info).await.expect("layer");
        }
    }
    dest.put_manifest(&manifest, mt::DOCKER_V2S2, None)
        .await
        .expect("manifest");
    dest.commit(&manifest, mt::DOCKER_V2S2)
        .await
        .expect("commit");
    drop(dest);
    assert_no_leftovers("staging directory removed");

    let written = TarArchive::open(&path, Limits::default())
        .await
        .expect("index");
    let config_hex = Digest::sha256_of(&image.config).encoded().to_string();
    let (a, b) = (
        Digest::sha256_of(&image.layers[0].0).encoded().to_string(),
        Digest::sha256_of(&image.layers[1].0).encoded().to_string(),
    );
    let names: Vec<&str> = written.names().collect();
    let mut expected = vec![
        format!("{config_hex}.json"),
        format!("{a}.tar"),
        format!("{b}.tar"),
        "manifest.json".into(),
        "repositories".into(),
    ];
    expected.sort();
    assert_eq!(names, expected);
    let items = written
        .read("manifest.json", 1 << 20)
        .await
        .expect("manifest.json");
    assert_eq!(
        String::from_utf8(items).expect("utf-8"),
        format!(
            r#"[{{"Config":"{config_hex}.json","RepoTags":["docker.io/library/app:v1"],"Layers":["{a}.tar","{b}.tar","{a}.tar"]}}]"#
        )
    );
    let repositories = written
        .read("repositories", 1 << 20)
        .await
        .expect("repositories");
    assert_eq!(
        String::from_utf8(repositories).expect("utf-8"),
        format!(r#"{{"docker.io/library/app":{{"v1":"{a}"}}}}"#)
    );

    let source = DockerArchiveSource::open(&docker_ref(&path, "app:v1"))
        .await
        .expect("read back");
    let (read, media_type) = source.manifest(None).await.expect("manifest");
    let media_type = media_type.unwrap_or_default();
    assert_eq!(read, manifest.replace_descriptor_order());
    verify_blobs(&source, &read, &media_type).await;

    if let Some(skopeo) = skopeo("reading the docker archive ferry wrote with skopeo") {
        let reference = format!("docker-archive:{}", path.display());
        let theirs = run(skopeo, &["inspect", "--raw", &reference]);
        let Manifest::Schema2(theirs) =
            Manifest::from_blob(&theirs, mt::DOCKER_V2S2).expect("parses")
        else {
            panic!("not schema 2");
        };
        assert_eq!(
            theirs.config.digest_text,
            Digest::sha256_of(&image.config).as_str()
        );
        let digests: Vec<&str> = theirs
            .layers
            .iter()
            .map(|l| l.digest_text.as_str())
            .collect();
        let ours: Vec<String> = image
            .layers
            .iter()
            .map(|(l, _)| Digest::sha256_of(l).to_string())
            .collect();
        assert_eq!(digests, ours);
        // skopeo copy verifies every layer against the config's diff IDs.
        let out = format!("oci:{}", work.path().join("copied").display());
        run(skopeo, &["copy", "-q", &reference, &out]);
    }
}

#[tokio::test]
async fn docker_archive_destination_refuses_lists_other_types_and_signatures() {
    let _lock = TEMP_LOCK.lock().await;
    let work = tempfile::tempdir().expect("tempdir");
    let dest = DockerArchiveDestination::create(&docker_ref(&work.path().join("x.tar"), ""))
        .await
        .expect("create");
    let index = br#"{"schemaVersion":2,"mediaType":"application/vnd.oci.image.index.v1+json","manifests":[]}"#;
    let err = dest
        .put_manifest(index, mt::OCI_INDEX, None)
        .await
        .expect_err("list");
    assert!(matches!(err, TransportError::Unsupported { .. }), "{err}");
    assert!(
        err.to_string()
            .contains("docker-archive cannot store a manifest list; copy one platform"),
        "{err}"
    );
    let docker_list = br#"{"schemaVersion":2,"mediaType":"application/vnd.docker.distribution.manifest.list.v2+json","manifests":[]}"#;
    let err = dest
        .put_manifest(docker_list, mt::DOCKER_LIST, None)
        .await
        .expect_err("list");
    assert!(matches!(err, TransportError::Unsupported { .. }), "{err}");
    let oci = Image::oci("x").oci_manifest();
    let err = dest
        .put_manifest(&oci, mt::OCI_MANIFEST, None)
        .await
        .expect_err("oci");
    assert!(
        matches!(err, TransportError::ManifestTypeRejected { .. }),
        "{err}"
    );
    let err = dest
        .put_signatures(&[b"signature".to_vec()], None)
        .await
        .expect_err("signatures");
    assert!(matches!(err, TransportError::Unsupported { .. }), "{err}");
    dest.put_signatures(&[], None)
        .await
        .expect("no signatures is fine");
    drop(dest);
    assert!(
        !work.path().join("x.tar").exists(),
        "nothing written without commit"
    );
    assert_no_leftovers("staging directory removed");
}

#[tokio::test]
async fn docker_archive_destination_commit_needs_every_blob() {
    let _lock = TEMP_LOCK.lock().await;
    let work = tempfile::tempdir().expect("tempdir");
    let path = work.path().join("x.tar");
    let image = Image::docker();
    let manifest = image.manifest(mt::DOCKER_V2S2, mt::DOCKER_CONFIG);
    let dest = DockerArchiveDestination::create(&docker_ref(&path, ""))
        .await
        .expect("create");
    dest.put_blob(
        stream_of(&image.config),
        &info(mt::DOCKER_CONFIG, &image.config),
    )
    .await
    .expect("config");
    dest.put_manifest(&manifest, mt::DOCKER_V2S2, None)
        .await
        .expect("manifest");
    let err = dest
        .commit(&manifest, mt::DOCKER_V2S2)
        .await
        .expect_err("layers missing");
    assert!(matches!(err, TransportError::NotFound { .. }), "{err}");
    drop(dest);
    assert!(!path.exists());
    assert_eq!(leftovers(), Vec::<String>::new());
}

#[tokio::test]
async fn docker_archive_destination_refuses_an_existing_archive() {
    let work = tempfile::tempdir().expect("tempdir");
    let path = work.path().join("existing.tar");
    std::fs::write(&path, b"not empty").expect("write");
    let err = DockerArchiveDestination::create(&docker_ref(&path, ""))
        .await
        .expect_err("existing");
    assert!(matches!(err, TransportError::Unsupported { .. }), "{err}");
    let mut at = docker_ref(&path, "");
    at.index = Some(0);
    let err = DockerArchiveDestination::create(&at).await.expect_err("@N");
    assert!(
        matches!(err, TransportError::InvalidReference { .. }),
        "{err}"
    );
}

#[tokio::test]
async fn gzip_compressed_docker_archive_is_read() {
    let _lock = TEMP_LOCK.lock().await;
    let work = tempfile::tempdir().expect("tempdir");
    let image = docker_image("gz");
    let path = work.path().join("saved.tar.gz");
    std::fs::write(&path, gzip(&docker_save(&[(&["app:v1"], &image)]))).expect("write archive");
    let source = DockerArchiveSource::open(&docker_ref(&path, "app:v1"))
        .await
        .expect("open");
    let (manifest, media_type) = source.manifest(None).await.expect("manifest");
    let media_type = media_type.unwrap_or_default();
    assert_eq!(
        manifest,
        image
            .manifest(mt::DOCKER_V2S2, mt::DOCKER_CONFIG)
            .replace_descriptor_order()
    );
    verify_blobs(&source, &manifest, &media_type).await;
    let staged = leftovers();
    assert!(
        staged.len() == 1 && staged[0].starts_with(&staging::staging_prefix()),
        "decompressed into one locked staging directory: {staged:?}"
    );
    drop(source);
    assert_no_leftovers("decompressed copy removed");
}

// ---------------------------------------------------------------------
// Hostile archives
// ---------------------------------------------------------------------

#[tokio::test]
async fn gzip_bomb_over_the_limit_is_refused() {
    let _lock = TEMP_LOCK.lock().await;
    // 8 MiB of zeros compress to a few kilobytes.
    let zeros = vec![0u8; 8 << 20];
    let bomb = gzip(&raw_tar(&[Raw::File("zeros", &zeros)]));
    assert!(bomb.len() < 64 << 10);
    let limits = decompressing_at_most(1 << 20);
    assert_malformed(open_bytes(&bomb, limits).await, "decompression bomb");
    assert_no_leftovers("partial decompression removed");
}

#[tokio::test]
async fn path_traversal_is_refused() {
    for name in ["../x", "a/../../x", "blobs/../../etc/passwd", "a/.."] {
        let result = open_bytes(&raw_tar(&[Raw::File(name, b"x")]), Limits::default()).await;
        assert_malformed(result, "'..'");
    }
}

#[tokio::test]
async fn absolute_paths_are_refused() {
    let result = open_bytes(&raw_tar(&[Raw::File("/etc/x", b"x")]), Limits::default()).await;
    assert_malformed(result, "absolute path \"/etc/x\"");
}

#[tokio::test]
async fn symlinks_escaping_the_root_are_refused() {
    for target in ["../../etc/passwd", "/etc/passwd", "../../x"] {
        let tar = raw_tar(&[Raw::File("x", b"x"), Raw::Symlink("blobs/link", target)]);
        assert_malformed(
            open_bytes(&tar, Limits::default()).await,
            "points outside the archive",
        );
    }
}

#[tokio::test]
async fn hard_links_outside_or_forward_are_refused() {
    for (target, needle) in [
        ("../outside", "points outside the archive"),
        ("/etc/passwd", "points outside the archive"),
        ("later", "not an earlier regular file"),
    ] {
        let tar = raw_tar(&[Raw::Hardlink("link", target), Raw::File("later", b"x")]);
        assert_malformed(open_bytes(&tar, Limits::default()).await, needle);
    }
}

#[tokio::test]
async fn links_inside_the_archive_resolve_to_their_target() {
    let tar = raw_tar(&[
        Raw::Dir("./"),
        Raw::Dir("a"),
        Raw::File("a/data", b"content"),
        Raw::Hardlink("hard", "a/data"),
        Raw::Symlink("b/soft", "../a/data"),
        Raw::Symlink("chain", "b/soft"),
        Raw::Symlink("dangling", "nothing"),
    ]);
    let (_dir, archive) = open_bytes(&tar, Limits::default()).await.expect("open");
    for name in ["a/data", "./a/data", "hard", "b/soft", "chain"] {
        let (stream, size) = archive.stream(name).await.expect(name);
        assert_eq!(size, 7);
        assert_eq!(read_stream(stream).await, b"content", "{name}");
    }
    assert!(archive.get("dangling").is_none());
}

#[tokio::test]
async fn duplicate_entries_are_refused() {
    let tar = raw_tar(&[Raw::File("a", b"first"), Raw::File("./a", b"second")]);
    assert_malformed(
        open_bytes(&tar, Limits::default()).await,
        "duplicate entry \"a\"",
    );
}

#[tokio::test]
async fn truncated_archives_are_refused() {
    let data = vec![7u8; 1000];
    let whole = raw_tar(&[Raw::File("blob", &data)]);
    // Cut inside the data: the header promises 1000 bytes.
    assert_malformed(
        open_bytes(&whole[..512 + 800], Limits::default()).await,
        "truncated archive",
    );
    // Cut inside a header.
    let two = raw_tar(&[Raw::File("a", b"x"), Raw::File("b", b"y")]);
    assert_malformed(
        open_bytes(&two[..1024 + 100], Limits::default()).await,
        "truncated archive",
    );
}

#[tokio::test]
async fn devices_and_fifos_are_refused() {
    for (entry, needle) in [
        (Raw::CharDevice("dev/null"), "device files"),
        (Raw::BlockDevice("dev/sda"), "device files"),
        (Raw::Fifo("pipe"), "FIFOs"),
    ] {
        assert_malformed(
            open_bytes(&raw_tar(&[entry]), Limits::default()).await,
            needle,
        );
    }
}

#[tokio::test]
async fn entry_count_and_name_length_are_limited() {
    let many = raw_tar(&[
        Raw::File("a", b""),
        Raw::File("b", b""),
        Raw::File("c", b""),
        Raw::File("d", b""),
    ]);
    let few = Limits {
        max_entries: 3,
        ..Limits::default()
    };
    assert_malformed(open_bytes(&many, few).await, "more than 3 entries");
    let short = Limits {
        max_name_len: 16,
        ..Limits::default()
    };
    let long = raw_tar(&[Raw::File("a-name-longer-than-sixteen-bytes", b"")]);
    assert_malformed(open_bytes(&long, short).await, "over the 16-byte limit");
}

#[tokio::test]
async fn long_names_from_gnu_and_pax_headers_are_read() {
    let long = format!("{}/file", "d".repeat(150));
    // The tar crate writes a GNU long-name entry for a name over 100 bytes.
    let mut builder = tar::Builder::new(Vec::new());
    let mut header = tar::Header::new_gnu();
    header.set_size(3);
    header.set_mode(0o644);
    header.set_entry_type(tar::EntryType::Regular);
    builder
        .append_data(&mut header, &long, &b"gnu"[..])
        .expect("append");
    let gnu = builder.into_inner().expect("finish tar");
    let (_dir, archive) = open_bytes(&gnu, Limits::default()).await.expect("gnu");
    let (stream, _) = archive.stream(&long).await.expect("long name");
    assert_eq!(read_stream(stream).await, b"gnu");

    let records = pax_record("path", &long);
    let pax = raw_tar(&[Raw::Pax(&records), Raw::File("short", b"pax")]);
    let (_dir, archive) = open_bytes(&pax, Limits::default()).await.expect("pax");
    assert!(
        archive.get("short").is_none(),
        "the PAX path replaces the header's"
    );
    let (stream, _) = archive.stream(&long).await.expect("long name");
    assert_eq!(read_stream(stream).await, b"pax");
}

#[tokio::test]
async fn pax_size_overrides_the_header_size() {
    // Readers that ignored the PAX size would see a different archive.
    let records = pax_record("size", "5");
    let tar = raw_tar(&[Raw::Pax(&records), Raw::Sized("blob", b"12345", 0)]);
    let (_dir, archive) = open_bytes(&tar, Limits::default()).await.expect("open");
    let (stream, size) = archive.stream("blob").await.expect("blob");
    assert_eq!(size, 5);
    assert_eq!(read_stream(stream).await, b"12345");
}

#[tokio::test]
async fn tar_whose_first_name_looks_like_a_compression_magic_is_read_as_tar() {
    let tar = raw_tar(&[Raw::File("BZh91AY", b"not bzip2")]);
    let (_dir, archive) = open_bytes(&tar, Limits::default())
        .await
        .expect("plain tar");
    assert!(archive.get("BZh91AY").is_some());
}

#[tokio::test]
async fn files_that_are_not_tar_are_refused() {
    assert_malformed(
        open_bytes(b"{\"json\": true}", Limits::default()).await,
        "not a tar archive",
    );
    let mut garbage = vec![b'x'; 2048];
    garbage[0] = b'a';
    assert_malformed(
        open_bytes(&garbage, Limits::default()).await,
        "not a tar archive",
    );
    let zstd = [0x28, 0xb5, 0x2f, 0xfd, 0, 0];
    let result = open_bytes(&zstd, Limits::default()).await;
    assert!(
        matches!(result, Err(TransportError::Unsupported { .. })),
        "{result:?}"
    );
}

// ---------------------------------------------------------------------
// Tar bombs: tiny archives that claim terabytes
// ---------------------------------------------------------------------

const TERABYTE: u64 = 1 << 40;

/// A GNU sparse entry: a 512-byte map that claims `real_size` bytes.
fn gnu_sparse(name: &str, real_size: u64) -> Vec<u8> {
    let mut header = tar::Header::new_gnu();
    header.set_path(name).expect("name");
    header.set_entry_type(tar::EntryType::GNUSparse);
    header.set_mode(0o644);
    header.set_size(512);
    let gnu = header.as_gnu_mut().expect("GNU header");
    gnu.set_real_size(real_size);
    header.set_cksum();
    let mut out = header.as_bytes().to_vec();
    out.extend_from_slice(&[0u8; 512]);
    out.extend_from_slice(&[0u8; 1024]);
    out
}

/// Whatever an archive claims, indexing it is refused quickly, leaves no
/// temporary file, and the message says what was wrong and where.
async fn assert_bomb_refused(bytes: &[u8], needle: &str) {
    assert!(
        bytes.len() < 64 << 10,
        "a bomb is small: {} bytes",
        bytes.len()
    );
    assert_malformed(open_bytes(bytes, Limits::default()).await, needle);
    assert_no_leftovers("no temporary file left");
}

#[tokio::test]
async fn a_header_claiming_a_terabyte_is_refused_as_truncated() {
    let _lock = TEMP_LOCK.lock().await;
    // The size field in base-256, as GNU tar writes sizes over 8 GiB.
    let bomb = raw_tar(&[Raw::Sized("blobs/sha256/huge", b"tiny", TERABYTE)]);
    assert_bomb_refused(
        &bomb,
        "truncated archive: the header says 1099511627776 bytes follow",
    )
    .await;
}

#[tokio::test]
async fn a_pax_size_claiming_a_terabyte_is_refused_as_truncated() {
    let _lock = TEMP_LOCK.lock().await;
    let records = pax_record("size", &TERABYTE.to_string());
    let bomb = raw_tar(&[Raw::Pax(&records), Raw::File("blobs/sha256/huge", b"tiny")]);
    assert_bomb_refused(
        &bomb,
        "truncated archive: the header says 1099511627776 bytes follow",
    )
    .await;
}

#[tokio::test]
async fn a_gzip_archive_whose_header_claims_a_terabyte_is_refused() {
    let _lock = TEMP_LOCK.lock().await;
    let bomb = gzip(&raw_tar(&[Raw::Sized("layer.tar", b"tiny", TERABYTE)]));
    assert_bomb_refused(&bomb, "truncated archive").await;
}

#[tokio::test]
async fn sparse_entries_claiming_a_terabyte_are_refused() {
    let _lock = TEMP_LOCK.lock().await;
    assert_bomb_refused(
        &gnu_sparse("blobs/sha256/sparse", TERABYTE),
        "sparse files are not supported in image archives",
    )
    .await;
    // PAX sparse format 1.0: a regular entry whose records declare the
    // real size.
    let records = format!(
        "{}{}{}",
        pax_record("GNU.sparse.major", "1"),
        pax_record("GNU.sparse.minor", "0"),
        pax_record("GNU.sparse.realsize", &TERABYTE.to_string())
    );
    assert_bomb_refused(
        &raw_tar(&[Raw::Pax(&records), Raw::File("blobs/sha256/sparse", b"")]),
        "sparse files are not supported in image archives",
    )
    .await;
}

/// DEFLATE expands at most about 1032 to 1, so a small gzip stream cannot
/// reach terabytes, but 64 KiB can still become 64 MiB: decompression
/// stops at the limit, long before the stream ends, and removes what it
/// wrote. (`tests/disk_full.rs` checks the same stream against a full
/// TMPDIR through the CLI.)
#[tokio::test]
async fn a_gzip_stream_expanding_a_thousandfold_stops_at_the_limit() {
    let _lock = TEMP_LOCK.lock().await;
    let zeros = vec![0u8; 64 << 20];
    let bomb = gzip(&raw_tar(&[Raw::File("zeros", &zeros)]));
    drop(zeros);
    assert!(bomb.len() < 128 << 10, "{} bytes", bomb.len());
    let limits = decompressing_at_most(4 << 20);
    assert_malformed(
        open_bytes(&bomb, limits).await,
        "decompresses to more than 4194304 bytes; refusing it as a possible decompression bomb",
    );
    assert_no_leftovers("partial decompression removed");
}

/// The same bombs through `ferry copy`: a one-line error naming the
/// archive, no destination created, nothing written beside it.
#[tokio::test]
async fn tar_bombs_through_copy_fail_without_writing_anything() {
    let _lock = TEMP_LOCK.lock().await;
    let dir = tempfile::tempdir().expect("tempdir");
    let sentinel = dir.path().join("sentinel");
    std::fs::create_dir_all(&sentinel).unwrap();
    std::fs::write(sentinel.join("passwd"), "root:x:0:0\n").unwrap();
    let records = pax_record("size", &TERABYTE.to_string());
    let bombs: Vec<(&str, Vec<u8>, &str)> = vec![
        (
            "header.tar",
            raw_tar(&[Raw::Sized("index.json", b"{}", TERABYTE)]),
            "truncated archive",
        ),
        (
            "pax.tar",
            raw_tar(&[Raw::Pax(&records), Raw::File("oci-layout", b"{}")]),
            "truncated archive",
        ),
        (
            "sparse.tar",
            gnu_sparse("blobs/sha256/x", TERABYTE),
            "sparse files",
        ),
    ];
    for (name, bytes, needle) in bombs {
        let archive = dir.path().join(name);
        std::fs::write(&archive, &bytes).unwrap();
        let out_dir = dir.path().join(format!("out-{name}"));
        for source in [
            format!("oci-archive:{}", archive.display()),
            format!("docker-archive:{}", archive.display()),
        ] {
            let out = Command::new(env!("CARGO_BIN_EXE_ferry"))
                .env(
                    "HOME",
                    Path::new(env!("CARGO_MANIFEST_DIR")).join("../tests/fixtures/home"),
                )
                .args(["copy", "--progress", "none", &source])
                .arg(format!("oci:{}", out_dir.display()))
                .output()
                .expect("run ferry");
            let err = String::from_utf8_lossy(&out.stderr);
            assert_eq!(out.status.code(), Some(1), "{source}: {err}");
            assert!(err.contains(needle), "{source}: {err}");
            assert!(
                err.contains(&archive.display().to_string()),
                "{source}: {err}"
            );
            assert_eq!(err.trim_end().lines().count(), 1, "{source}: {err}");
            assert!(!out_dir.exists(), "{source}: destination created");
        }
    }
    assert_eq!(
        std::fs::read_dir(&sentinel).unwrap().count(),
        1,
        "nothing written beside the archives"
    );
    assert_eq!(
        std::fs::read(sentinel.join("passwd")).unwrap(),
        b"root:x:0:0\n"
    );
}

/// A layout addressed by sha512 is checked with sha512, and the error
/// names what the content hashes to under that algorithm, in layouts and
/// archives alike.
#[tokio::test]
async fn a_sha512_manifest_not_matching_its_digest_is_named_in_sha512() {
    let work = tempfile::tempdir().expect("tempdir");
    let layout = work.path().join("layout");
    let manifest = Image::oci("f").oci_manifest();
    let digest = Digest::of(ferry_core::digest::Algorithm::Sha512, &manifest);
    std::fs::create_dir_all(layout.join("blobs/sha512")).expect("layout dirs");
    std::fs::write(
        layout.join("oci-layout"),
        br#"{"imageLayoutVersion": "1.0.0"}"#,
    )
    .expect("oci-layout");
    let mut tampered = manifest.clone();
    tampered.extend_from_slice(b" ");
    std::fs::write(
        layout.join("blobs/sha512").join(digest.encoded()),
        &tampered,
    )
    .expect("tamper");
    std::fs::write(
        layout.join("index.json"),
        format!(
            r#"{{"schemaVersion":2,"manifests":[{{"mediaType":"{}","digest":"{digest}","size":{}}}]}}"#,
            mt::OCI_MANIFEST,
            manifest.len()
        ),
    )
    .expect("index.json");
    let actual = Digest::of(ferry_core::digest::Algorithm::Sha512, &tampered).to_string();

    let path = work.path().join("tampered.tar");
    std::fs::write(&path, tar_dir(&layout)).expect("write archive");
    let from_layout = OciSource::open(&layout_ref(&layout, None))
        .await
        .expect("open")
        .manifest(None)
        .await;
    let from_archive = OciArchiveSource::open(&layout_ref(&path, None))
        .await
        .expect("open")
        .manifest(None)
        .await;
    for read in [from_layout, from_archive] {
        let err = read.expect_err("digest mismatch");
        assert!(
            matches!(&err, TransportError::DigestMismatch { actual: a, .. } if *a == actual),
            "{err}"
        );
    }
}
