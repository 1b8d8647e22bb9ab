//! The properties every [`ImageDestination`] has, as one suite run against
//! each transport.
//!
//! A [`Place`] is where a destination writes (a directory, a file, a
//! registry repository), with what the transport promises about it as
//! data ([`Promises`]): a registry cannot hide a manifest until commit,
//! an OCI layout can. Each property is an `async fn(&Place)` that panics
//! when the place breaks it; [`destination_contract_tests!`](crate::destination_contract_tests)
//! makes one `#[test]` of each, so a failure names the transport and the
//! property.
//!
//! The suite touches the transport API only through the trait and the
//! small helpers at the top of this file ([`blob_info`], [`stream`]), so a
//! change to `BlobInfo` or to the error kinds is a change here, not in
//! every property.

use std::any::Any;
use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use ferry_core::Digest;
use ferry_core::media_type as mt;

use crate::transport::daemon::DaemonOptions;
use crate::transport::dry_run::DryRun;
use crate::transport::reference::Reference;
use crate::transport::registry::RegistryOptions;
use crate::transport::{BlobInfo, BlobStream, ImageDestination, TransportError};

/// The `BlobInfo` for a blob.
pub fn blob_info(digest: &Digest, size: usize, media_type: &str) -> BlobInfo {
    BlobInfo {
        digest: digest.clone(),
        size: Some(size as i64),
        media_type: Some(media_type.to_string()),
    }
}

/// Bytes as a blob stream.
pub fn stream(bytes: &[u8]) -> BlobStream {
    Box::pin(std::io::Cursor::new(bytes.to_vec()))
}

/// Whether an error is a refusal of a manifest's type (the engine then
/// tries another).
fn is_type_refusal(error: &TransportError) -> bool {
    matches!(error, TransportError::ManifestTypeRejected { .. })
}

/// Whether an error refuses something the destination cannot store.
fn is_unsupported(error: &TransportError) -> bool {
    matches!(error, TransportError::Unsupported { .. })
}

/// When a reader of the place sees what was written.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Visibility {
    /// At commit, all at once; before, the place reads as it was.
    AtCommit,
    /// The top-level manifest as soon as it is put (a registry's tag).
    WhenPut,
}

/// What dropping a destination without commit leaves.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum OnDrop {
    /// The place as it was, file for file.
    Restored,
    /// What it was sent (a registry keeps blobs and manifests).
    Kept,
}

/// What a transport promises about a place, as its documentation says.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Promises {
    pub visibility: Visibility,
    pub on_drop: OnDrop,
    /// Whether it stores signatures (`supports_signatures`).
    pub signatures: bool,
    /// Whether it stores lists with their instances.
    pub lists: bool,
    /// A manifest type it refuses with `ManifestTypeRejected`; `None`
    /// when it takes every type.
    pub refused_type: Option<&'static str>,
    /// Whether a new image may replace one already there.
    pub replaces: bool,
    /// Whether the top-level manifest reads back byte for byte
    /// (docker-archive has no manifest: a reader synthesises one).
    pub keeps_manifest: bool,
}

/// The table: what each transport promises.
pub fn promises(reference: &Reference) -> Promises {
    let files = Promises {
        visibility: Visibility::AtCommit,
        on_drop: OnDrop::Restored,
        signatures: false,
        lists: true,
        refused_type: None,
        replaces: true,
        keeps_manifest: true,
    };
    match reference {
        Reference::Dir(_) => Promises {
            signatures: true,
            ..files
        },
        Reference::Oci(_) | Reference::OciArchive(_) => Promises {
            refused_type: Some(mt::DOCKER_V2S2),
            ..files
        },
        // A daemon could replace a tag, but the suite's earlier image
        // is an OCI one, which neither takes.
        Reference::DockerArchive(_) | Reference::DockerDaemon(_) => Promises {
            lists: false,
            refused_type: Some(mt::OCI_MANIFEST),
            replaces: false,
            keeps_manifest: false,
            ..files
        },
        Reference::Docker(_) => Promises {
            visibility: Visibility::WhenPut,
            on_drop: OnDrop::Kept,
            // distribution refuses a type it does not know.
            refused_type: Some(UNKNOWN_TYPE),
            ..files
        },
        Reference::ContainersStorage(_) => Promises {
            signatures: true,
            lists: false,
            refused_type: Some(mt::DOCKER_V2S1),
            // Read back, layers are the store's uncompressed tars.
            keeps_manifest: false,
            ..files
        },
        Reference::Demo => panic!("demo: is not a destination"),
    }
}

/// A manifest type no registry knows.
pub const UNKNOWN_TYPE: &str = "application/vnd.ferry.contract.unknown+json";

/// Where a destination writes, and how to look at it.
pub struct Place {
    /// The destination reference.
    pub destination: Reference,
    /// The reference a reader uses to see what is there.
    pub source: Reference,
    /// For `docker://`.
    pub registry: RegistryOptions,
    /// For `docker-daemon:`.
    pub daemon: DaemonOptions,
    /// The directory the place's files are in (for file transports), all
    /// of which a snapshot covers.
    pub files: Option<PathBuf>,
    pub promises: Promises,
    /// What must live as long as the place (a temporary directory, a
    /// registry).
    _keep: Vec<Box<dyn Any + Send + Sync>>,
}

impl std::fmt::Debug for Place {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Place")
            .field("destination", &self.destination.to_string())
            .field("files", &self.files)
            .field("promises", &self.promises)
            .finish()
    }
}

impl Place {
    /// A place in a fresh temporary directory: `make` turns the
    /// directory into (destination, source) references.
    fn in_temp(make: impl FnOnce(&Path) -> (String, String)) -> Place {
        let temp = tempfile::Builder::new()
            .prefix("ferry-contract-")
            .tempdir()
            .expect("create a temporary directory");
        let (destination, source) = make(temp.path());
        let destination = Reference::parse(&destination).expect("destination reference");
        Place {
            promises: promises(&destination),
            source: Reference::parse(&source).expect("source reference"),
            destination,
            registry: RegistryOptions::default(),
            daemon: DaemonOptions::default(),
            files: Some(temp.path().to_path_buf()),
            _keep: vec![Box::new(temp)],
        }
    }

    /// `<transport>:<temp>/<file><suffix>` in a fresh temporary directory,
    /// read back by the reference it is written by.
    fn read_back_in_temp(transport: &str, file: &str, suffix: &str) -> Place {
        Place::in_temp(|t| {
            let r = format!("{transport}:{}{suffix}", t.join(file).display());
            (r.clone(), r)
        })
    }

    /// `dir:` in a fresh temporary directory.
    pub fn dir() -> Place {
        Place::read_back_in_temp("dir", "image", "")
    }

    /// `oci:` with a ref name, in a fresh temporary directory.
    pub fn oci() -> Place {
        Place::read_back_in_temp("oci", "layout", ":contract")
    }

    /// `oci-archive:` with a ref name, in a fresh temporary directory.
    pub fn oci_archive() -> Place {
        Place::read_back_in_temp("oci-archive", "image.tar", ":contract")
    }

    /// `containers-storage:` with the vfs driver, a name, and a store in a
    /// fresh temporary directory.
    pub fn containers_storage() -> Place {
        Place::in_temp(|t| {
            let r = format!(
                "containers-storage:[vfs@{}+{}]example.com/contract:1",
                t.join("root").display(),
                t.join("run").display()
            );
            (r.clone(), r)
        })
    }

    /// `docker-archive:` with a tag, in a fresh temporary directory.
    pub fn docker_archive() -> Place {
        Place::in_temp(|t| {
            let path = t.join("image.tar");
            (
                format!("docker-archive:{}:example.com/contract:1", path.display()),
                format!("docker-archive:{}", path.display()),
            )
        })
    }

    /// A `docker://` reference reached with `registry`; `keep` (the
    /// registry, say) lives as long as the place.
    pub fn registry(
        reference: &str,
        registry: RegistryOptions,
        keep: impl Any + Send + Sync,
    ) -> Place {
        let destination = Reference::parse(reference).expect("registry reference");
        Place {
            promises: promises(&destination),
            source: destination.clone(),
            destination,
            registry,
            daemon: DaemonOptions::default(),
            files: None,
            _keep: vec![Box::new(keep)],
        }
    }

    /// A `docker-daemon:NAME:TAG` reference in the daemon `daemon`
    /// reaches; `keep` lives as long as the place.
    pub fn daemon(reference: &str, daemon: DaemonOptions, keep: impl Any + Send + Sync) -> Place {
        let destination = Reference::parse(reference).expect("daemon reference");
        Place {
            promises: promises(&destination),
            source: destination.clone(),
            destination,
            registry: RegistryOptions::default(),
            daemon,
            files: None,
            _keep: vec![Box::new(keep)],
        }
    }

    /// A fresh destination here.
    pub async fn open(&self) -> Box<dyn ImageDestination> {
        self.destination
            .open_destination_with(&self.registry, &self.daemon)
            .await
            .unwrap_or_else(|e| panic!("opening {}: {e}", self.destination))
    }

    /// What a reader sees here now.
    pub async fn seen(&self) -> Seen {
        let top = match self
            .source
            .open_source_with(&self.registry, &self.daemon)
            .await
        {
            Ok(source) => source.manifest(None).await.ok().map(|(bytes, _)| bytes),
            Err(_) => None,
        };
        Seen {
            top: top.map(|t| Digest::sha256_of(&t).to_string()),
            files: self.files.as_deref().map(super::snapshot),
        }
    }

    /// Writes `image` whole and commits it, as a copy would.
    pub async fn store(&self, image: &TestImage) {
        let dst = self.open().await;
        image.put_blobs(&*dst).await;
        image.put_manifest(&*dst, None).await.expect("put_manifest");
        dst.commit(&image.manifest, &image.media_type)
            .await
            .expect("commit");
    }
}

/// What a reader sees at a place.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Seen {
    /// The digest of the top-level manifest a source reads, if any.
    pub top: Option<String>,
    /// Every file with a digest of its content (file transports).
    pub files: Option<BTreeMap<String, String>>,
}

/// A tar of one 2,048-byte file whose bytes depend on `seed`, so that
/// destinations that apply layers (a Docker daemon, containers-storage)
/// can.
fn one_file_tar(seed: u8) -> Vec<u8> {
    let content: Vec<u8> = (0..2048u32)
        .map(|i| (i.wrapping_mul(31) as u8) ^ seed)
        .collect();
    let mut header = tar::Header::new_ustar();
    header.set_size(content.len() as u64);
    header.set_mode(0o644);
    header.set_mtime(0);
    header.set_cksum();
    let mut builder = tar::Builder::new(Vec::new());
    builder
        .append_data(&mut header, "contract", content.as_slice())
        .expect("a tar in memory");
    builder.into_inner().expect("a tar in memory")
}

/// A one-layer image in one manifest type, different for each seed.
#[derive(Debug, Clone)]
pub struct TestImage {
    pub config: Vec<u8>,
    pub layer: Vec<u8>,
    pub manifest: Vec<u8>,
    pub media_type: String,
    config_type: &'static str,
    layer_type: &'static str,
}

impl TestImage {
    /// An image whose manifest is of `media_type` (an OCI manifest or a
    /// Docker schema 2 one; any other type is an OCI manifest declared
    /// as that type). The layer is stored uncompressed, and is the
    /// config's diff ID; it is a real tar of one file, since a
    /// destination that applies layers (a Docker daemon) reads it.
    pub fn new(seed: u8, media_type: &str) -> TestImage {
        let layer = one_file_tar(seed);
        let diff_id = Digest::sha256_of(&layer);
        let config = format!(
            r#"{{"architecture":"amd64","os":"linux","rootfs":{{"type":"layers","diff_ids":["{diff_id}"]}},"config":{{"Labels":{{"seed":"{seed}"}}}}}}"#
        )
        .into_bytes();
        let (config_type, layer_type) = if media_type == mt::DOCKER_V2S2 {
            (mt::DOCKER_CONFIG, mt::DOCKER_LAYER)
        } else {
            (mt::OCI_CONFIG, mt::OCI_LAYER)
        };
        let manifest = format!(
            r#"{{"schemaVersion":2,"mediaType":"{media_type}","config":{{"mediaType":"{config_type}","size":{},"digest":"{}"}},"layers":[{{"mediaType":"{layer_type}","size":{},"digest":"{diff_id}"}}]}}"#,
            config.len(),
            Digest::sha256_of(&config),
            layer.len(),
        )
        .into_bytes();
        TestImage {
            config,
            layer,
            manifest,
            media_type: media_type.to_string(),
            config_type,
            layer_type,
        }
    }

    /// An image of the first image type `dst` accepts (an OCI manifest
    /// where it takes any).
    pub fn for_destination(seed: u8, dst: &dyn ImageDestination) -> TestImage {
        let types = dst.capabilities().manifest_types;
        let media_type = types
            .iter()
            .find(|t| !mt::is_list(t))
            .map_or(mt::OCI_MANIFEST, String::as_str);
        TestImage::new(seed, media_type)
    }

    pub fn digest(&self) -> Digest {
        Digest::sha256_of(&self.manifest)
    }

    /// The config and the layer, with their infos.
    pub fn blobs(&self) -> [(BlobInfo, &[u8]); 2] {
        let info = |bytes: &[u8], media_type| {
            blob_info(&Digest::sha256_of(bytes), bytes.len(), media_type)
        };
        [
            (info(&self.config, self.config_type), &self.config),
            (info(&self.layer, self.layer_type), &self.layer),
        ]
    }

    pub async fn put_blobs(&self, dst: &dyn ImageDestination) {
        for (info, bytes) in self.blobs() {
            dst.put_blob(stream(bytes), &info)
                .await
                .unwrap_or_else(|e| panic!("put_blob {}: {e}", info.digest));
        }
    }

    pub async fn put_manifest(
        &self,
        dst: &dyn ImageDestination,
        instance: Option<&Digest>,
    ) -> Result<(), TransportError> {
        dst.put_manifest(&self.manifest, &self.media_type, instance)
            .await
    }
}

/// An OCI index (or Docker list, by `media_type`) naming `images`.
fn list_of(images: &[&TestImage], media_type: &str) -> Vec<u8> {
    let entries: Vec<String> = images
        .iter()
        .map(|i| {
            format!(
                r#"{{"mediaType":"{}","size":{},"digest":"{}","platform":{{"architecture":"amd64","os":"linux"}}}}"#,
                i.media_type,
                i.manifest.len(),
                i.digest()
            )
        })
        .collect();
    format!(
        r#"{{"schemaVersion":2,"mediaType":"{media_type}","manifests":[{}]}}"#,
        entries.join(",")
    )
    .into_bytes()
}

/// Runs a property on a runtime of its own (so the test needs no tokio
/// of its own).
pub fn block_on<F: Future>(future: F) -> F::Output {
    tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .expect("build a runtime")
        .block_on(future)
}

// The properties. Each opens its own destinations at a fresh place.

/// The capabilities a destination declares are the ones its promises
/// name.
pub async fn declares_what_it_promises(place: &Place) {
    let dst = place.open().await;
    assert_eq!(
        dst.capabilities().signatures,
        place.promises.signatures,
        "supports_signatures"
    );
    let types = dst.capabilities().manifest_types;
    if let Some(refused) = place.promises.refused_type {
        assert!(
            !types.iter().any(|t| t == refused),
            "declares {refused}, which it refuses"
        );
    }
    assert_eq!(
        types.iter().any(|t| mt::is_list(t)) || types.is_empty(),
        place.promises.lists,
        "a list type among {types:?}"
    );
}

/// Blobs, then the manifest, then signatures where it stores them, then
/// commit: a reader sees the image.
pub async fn blobs_then_manifest_then_signatures_then_commit_store_the_image(place: &Place) {
    let dst = place.open().await;
    let image = TestImage::for_destination(1, &*dst);
    image.put_blobs(&*dst).await;
    image.put_manifest(&*dst, None).await.expect("put_manifest");
    let signatures = vec![b"signature one".to_vec(), b"signature two".to_vec()];
    if place.promises.signatures {
        dst.put_signatures(&signatures, None)
            .await
            .expect("put_signatures");
    }
    dst.commit(&image.manifest, &image.media_type)
        .await
        .expect("commit");
    drop(dst);
    let seen = place.seen().await;
    assert!(seen.top.is_some(), "nothing to read after commit");
    if place.promises.keeps_manifest {
        assert_eq!(seen.top, Some(image.digest().to_string()));
    }
    if place.promises.signatures {
        let source = place
            .source
            .open_source_with(&place.registry, &place.daemon)
            .await
            .unwrap();
        assert_eq!(source.signatures(None).await.unwrap(), signatures);
    }
}

/// `has_blob` says no before a blob is put, and yes (with its size)
/// after.
pub async fn has_blob_finds_a_blob_once_put(place: &Place) {
    let dst = place.open().await;
    let image = TestImage::for_destination(2, &*dst);
    let [_, (layer, bytes)] = image.blobs();
    assert_eq!(dst.has_blob(&layer).await.unwrap(), None, "before put_blob");
    dst.put_blob(stream(bytes), &layer).await.unwrap();
    assert_eq!(
        dst.has_blob(&layer).await.unwrap(),
        Some(bytes.len() as u64),
        "after put_blob"
    );
}

/// A blob whose bytes are not the digest it is put under is refused,
/// and neither it nor a temporary file of it stays.
pub async fn a_blob_not_matching_its_digest_is_refused_and_not_kept(place: &Place) {
    let dst = place.open().await;
    let before = place.seen().await;
    let image = TestImage::for_destination(3, &*dst);
    let [_, (layer, bytes)] = image.blobs();
    let mut tampered = bytes.to_vec();
    tampered[7] ^= 0xff;
    let result = dst.put_blob(stream(&tampered), &layer).await;
    assert!(result.is_err(), "tampered content was accepted");
    assert_eq!(dst.has_blob(&layer).await.unwrap(), None, "after refusal");
    assert_eq!(place.seen().await, before, "the refusal left something");
}

/// A blob shorter than the size it is put with is refused.
pub async fn a_blob_shorter_than_its_size_is_refused_and_not_kept(place: &Place) {
    let dst = place.open().await;
    let before = place.seen().await;
    let image = TestImage::for_destination(4, &*dst);
    let [_, (layer, bytes)] = image.blobs();
    let short = &bytes[..bytes.len() - 1];
    let info = blob_info(&layer.digest, bytes.len(), layer.media_type_or_empty());
    let result = dst.put_blob(stream(short), &info).await;
    assert!(result.is_err(), "short content was accepted");
    assert_eq!(dst.has_blob(&layer).await.unwrap(), None, "after refusal");
    assert_eq!(place.seen().await, before, "the refusal left something");
}

/// A manifest of a type the destination does not take is refused as
/// such (so the engine tries another); one that takes every type takes
/// a Docker schema 2 manifest and an OCI one alike.
pub async fn a_manifest_type_it_does_not_take_is_refused_as_such(place: &Place) {
    let dst = place.open().await;
    let Some(refused) = place.promises.refused_type else {
        for (seed, media_type) in [(5, mt::DOCKER_V2S2), (6, mt::OCI_MANIFEST)] {
            let image = TestImage::new(seed, media_type);
            image.put_blobs(&*dst).await;
            image
                .put_manifest(&*dst, Some(&image.digest()))
                .await
                .unwrap_or_else(|e| panic!("{media_type} refused: {e}"));
        }
        return;
    };
    let image = TestImage::new(5, refused);
    image.put_blobs(&*dst).await;
    match image.put_manifest(&*dst, None).await {
        Err(e) if is_type_refusal(&e) => {}
        Err(e) => panic!("{refused} refused, but not as a type: {e:?}"),
        Ok(()) => panic!("{refused} was accepted"),
    }
}

/// Where signatures cannot be stored, they are refused as unsupported
/// before anything is written, leaving the place as it was; where they
/// can, they are stored after the manifest they sign.
pub async fn signatures_are_refused_before_any_write_where_unsupported(place: &Place) {
    let signatures = vec![b"a signature".to_vec()];
    let dst = place.open().await;
    if place.promises.signatures {
        let image = TestImage::for_destination(7, &*dst);
        image.put_blobs(&*dst).await;
        image.put_manifest(&*dst, None).await.unwrap();
        dst.put_signatures(&signatures, None).await.unwrap();
        return;
    }
    let before = place.seen().await;
    match dst.put_signatures(&signatures, None).await {
        Err(e) if is_unsupported(&e) => {}
        Err(e) => panic!("signatures refused, but not as unsupported: {e:?}"),
        Ok(()) => panic!("signatures accepted by a destination that cannot store them"),
    }
    assert_eq!(place.seen().await, before, "the refusal wrote something");
    // No signatures at all is not a refusal.
    dst.put_signatures(&[], None).await.expect("no signatures");
}

/// Stores image `seed` where the place may be replaced, then opens the
/// place and puts the blobs of image `seed + 1`: what a reader saw before,
/// the destination, and the image being written.
async fn blobs_over_an_earlier_image(
    place: &Place,
    seed: u8,
) -> (Seen, Box<dyn ImageDestination>, TestImage) {
    if place.promises.replaces {
        place.store(&TestImage::new(seed, mt::OCI_MANIFEST)).await;
    }
    let before = place.seen().await;
    let dst = place.open().await;
    let image = TestImage::for_destination(seed + 1, &*dst);
    image.put_blobs(&*dst).await;
    (before, dst, image)
}

/// Until commit, a reader sees what was there before (an earlier image,
/// where one may be replaced); a registry shows the top-level manifest
/// as soon as it is put.
pub async fn nothing_is_visible_before_commit(place: &Place) {
    let (before, dst, image) = blobs_over_an_earlier_image(place, 8).await;
    image.put_manifest(&*dst, None).await.unwrap();
    let during = place.seen().await;
    match place.promises.visibility {
        Visibility::AtCommit => assert_eq!(during.top, before.top, "visible before commit"),
        Visibility::WhenPut => assert_eq!(during.top, Some(image.digest().to_string())),
    }
    dst.commit(&image.manifest, &image.media_type)
        .await
        .unwrap();
    let after = place.seen().await;
    assert_ne!(
        after.top, before.top,
        "commit changed nothing a reader sees"
    );
}

/// Dropping a destination after writing blobs and manifests but before
/// commit leaves the place as it was (with an earlier image, where one
/// may be replaced); a registry keeps what it was sent.
pub async fn dropping_without_commit_leaves_the_place_as_it_was(place: &Place) {
    let (before, dst, image) = blobs_over_an_earlier_image(place, 10).await;
    if place.promises.lists {
        image
            .put_manifest(&*dst, Some(&image.digest()))
            .await
            .unwrap();
    }
    image.put_manifest(&*dst, None).await.unwrap();
    drop(dst);
    let after = place.seen().await;
    match place.promises.on_drop {
        OnDrop::Restored => assert_eq!(after, before, "the dropped copy left something"),
        OnDrop::Kept => assert_eq!(after.top, Some(image.digest().to_string())),
    }
}

/// A list is stored after its instances, each under its digest, and a
/// reader finds both; a destination that stores no lists refuses the
/// first instance as unsupported.
pub async fn a_list_is_stored_after_its_instances_or_refused(place: &Place) {
    let dst = place.open().await;
    let first = TestImage::for_destination(12, &*dst);
    if !place.promises.lists {
        first.put_blobs(&*dst).await;
        match first.put_manifest(&*dst, Some(&first.digest())).await {
            Err(e) if is_unsupported(&e) => return,
            other => panic!("an instance manifest: {other:?}"),
        }
    }
    let second = TestImage::for_destination(13, &*dst);
    let list_type = if first.media_type == mt::DOCKER_V2S2 {
        mt::DOCKER_LIST
    } else {
        mt::OCI_INDEX
    };
    let list = list_of(&[&first, &second], list_type);
    for image in [&first, &second] {
        image.put_blobs(&*dst).await;
        image
            .put_manifest(&*dst, Some(&image.digest()))
            .await
            .unwrap();
    }
    dst.put_manifest(&list, list_type, None).await.unwrap();
    dst.commit(&list, list_type).await.unwrap();
    drop(dst);
    assert_eq!(
        place.seen().await.top,
        Some(Digest::sha256_of(&list).to_string())
    );
    let source = place
        .source
        .open_source_with(&place.registry, &place.daemon)
        .await
        .unwrap();
    for image in [&first, &second] {
        let (bytes, _) = source.manifest(Some(&image.digest())).await.unwrap();
        assert_eq!(bytes, image.manifest, "instance {}", image.digest());
    }
}

/// `--dry-run`'s stand-in for the place declares what the destination
/// declares, so the plan is the one a real copy makes, claims no blob
/// the destination lacks, and refuses every write, writing nothing.
pub async fn a_dry_run_declares_what_the_destination_declares_and_writes_nothing(place: &Place) {
    let image = TestImage::new(14, mt::OCI_MANIFEST);
    if place.promises.replaces {
        place.store(&image).await;
    }
    let dst = place.open().await;
    let dry = DryRun::new(&place.destination);
    assert_eq!(
        dry.capabilities().manifest_types,
        dst.capabilities().manifest_types,
        "supported_manifest_types"
    );
    assert_eq!(
        dry.capabilities().layer_compression,
        dst.capabilities().layer_compression,
        "desired_layer_compression"
    );
    assert_eq!(
        dry.capabilities().signatures,
        dst.capabilities().signatures,
        "supports_signatures"
    );
    let absent = TestImage::new(15, mt::OCI_MANIFEST);
    for (info, _) in image.blobs().into_iter().chain(absent.blobs()) {
        if dry.has_blob(&info).await.unwrap().is_some() {
            assert!(
                dst.has_blob(&info).await.unwrap().is_some(),
                "the dry run claims {}, which the destination lacks",
                info.digest
            );
        }
    }
    drop(dst);
    let before = place.seen().await;
    let next = TestImage::for_destination(16, &dry);
    let [(config, bytes), _] = next.blobs();
    assert!(
        dry.put_blob(stream(bytes), &config).await.is_err(),
        "put_blob"
    );
    assert!(next.put_manifest(&dry, None).await.is_err(), "put_manifest");
    assert!(
        dry.commit(&next.manifest, &next.media_type).await.is_err(),
        "commit"
    );
    assert_eq!(place.seen().await, before, "the dry run wrote something");
}

/// One `#[test]` per property of [`crate::testing::contract`] for the
/// place `$place` makes (evaluated afresh in each test), e.g.
/// `mod dir { ferry::destination_contract_tests!(Place::dir()); }`.
#[macro_export]
macro_rules! destination_contract_tests {
    ($place:expr) => {
        $crate::destination_contract_tests!(@each $place;
            declares_what_it_promises,
            blobs_then_manifest_then_signatures_then_commit_store_the_image,
            has_blob_finds_a_blob_once_put,
            a_blob_not_matching_its_digest_is_refused_and_not_kept,
            a_blob_shorter_than_its_size_is_refused_and_not_kept,
            a_manifest_type_it_does_not_take_is_refused_as_such,
            signatures_are_refused_before_any_write_where_unsupported,
            nothing_is_visible_before_commit,
            dropping_without_commit_leaves_the_place_as_it_was,
            a_list_is_stored_after_its_instances_or_refused,
            a_dry_run_declares_what_the_destination_declares_and_writes_nothing,
        );
    };
    (@each $place:expr; $($property:ident),+ $(,)?) => {
        $(
            #[test]
            fn $property() {
                let place = $place;
                $crate::testing::contract::block_on(
                    $crate::testing::contract::$property(&place),
                );
            }
        )+
    };
}
