//! `docker-archive:PATH[:NAME:TAG]` (or, as a source, `PATH:@N`): the
//! `docker save` format.
//!
//! ```text
//! manifest.json    [{"Config": "<file>", "RepoTags": ["name:tag", …], "Layers": ["<file>", …]}, …]
//! <config file>    the image config
//! <layer files>    one tar per layer, uncompressed or gzip
//! repositories     legacy {"name": {"tag": "<id>"}}, not read
//! ```
//!
//! The format has no manifest, so a source presents a Docker schema 2
//! manifest that ferry synthesises: the config and every layer described
//! by the sha256 and size of the file as stored, computed once when the
//! source is opened (streamed, never held whole). Layers are
//! `…rootfs.diff.tar`, or `…tar.gzip` when the file starts with gzip's
//! magic bytes. Because those digests are of the files themselves, every
//! blob ferry serves matches the manifest it serves. containers/image
//! instead describes layers by the config's `diff_ids` and decompresses
//! them when serving, so for an archive of compressed layers its manifest
//! names other digests than ferry's; for uncompressed layers the digests
//! agree.
//!
//! A destination takes one schema 2 image, with uncompressed layers, and
//! writes `<hex>.json` (the config), `<hex>.tar` (each layer, named by
//! the digest it was stored under), `manifest.json` and `repositories`;
//! blobs are staged in a locked [`StagingDir`] (removed when the
//! destination is dropped, or swept by the next archive copy if ferry is
//! killed), and the tar is written beside `PATH` under a temporary name
//! and renamed into place at commit, so `PATH` is never half-written. As in containers/image, an existing non-empty
//! file at `PATH` is refused: the format cannot be added to in place.
//! Archives carry no signatures.

use std::collections::{BTreeMap, BTreeSet};
use std::path::PathBuf;
use std::sync::{Mutex, PoisonError};

use async_trait::async_trait;
use ferry_core::json::{self, Fields, Object, Value};
use ferry_core::manifest::{MAX_MANIFEST_SIZE, Schema2};
use ferry_core::media_type as mt;
use ferry_core::reference::transport;
use ferry_core::reference::{Named, ReferenceError};
use ferry_core::{Descriptor, Digest};

use super::archive::{self, EntryDigest, Limits, Member, TarArchive};
use super::oci::blob_path;
use super::reference::PathImage;
use super::{
    BlobInfo, BlobStream, Capabilities, ImageDestination, ImageSource, Kind, ManifestToStore,
    TransportError, io_error,
};
use crate::fs::atomic::{self, Durability};
use crate::fs::staging::{self, StagingDir};

/// `PATH[:NAME[:TAG]]` or `PATH:@N`: the name is normalised and tagged
/// (`busybox` is `docker.io/library/busybox:latest`), never with a digest;
/// `@N` is the N-th image of `manifest.json`.
pub type ArchiveReference = PathImage<Named>;

impl ArchiveReference {
    /// Parses what follows `docker-archive:`, with ferry-core's rules for
    /// the path and the name.
    pub fn parse(rest: &str) -> Result<Self, ReferenceError> {
        PathImage::parse_with(rest, transport::docker_archive_tag)
    }
}

/// One image of `manifest.json`.
#[derive(Debug, Clone)]
struct Item {
    config: String,
    repo_tags: Vec<String>,
    layers: Vec<String>,
}

/// Reads `manifest.json` with Go's rules (Docker and containers/image read
/// it with `encoding/json`: keys match case-insensitively).
fn parse_items(bytes: &[u8], location: &str) -> Result<Vec<Item>, TransportError> {
    let malformed = |reason: String| TransportError::Malformed {
        location: location.to_string(),
        reason,
    };
    let items = match json::parse(bytes) {
        Ok(Value::Array(items)) => items,
        Ok(other) => return Err(malformed(format!("a JSON {}, not an array", other.kind()))),
        Err(e) => return Err(malformed(format!("not JSON: {e}"))),
    };
    items
        .iter()
        .enumerate()
        .map(|(i, v)| {
            let pointer = format!("/{i}");
            let Value::Object(o) = v else {
                return Err(malformed(format!(
                    "{pointer} is a JSON {}, not an object",
                    v.kind()
                )));
            };
            let f = Fields::new(o, &pointer);
            let item = (|| {
                Ok::<_, json::TypeError>(Item {
                    config: f.string("Config")?,
                    repo_tags: f.strings("RepoTags")?,
                    layers: f.strings("Layers")?,
                })
            })()
            .map_err(|e| malformed(e.to_string()))?;
            if item.config.is_empty() {
                return Err(malformed(format!("{pointer} has no Config")));
            }
            Ok(item)
        })
        .collect()
}

/// Picks the image a reference means: by tag, by `@N`, or the only one;
/// when there are several, the error lists them.
fn choose<'a>(
    items: &'a [Item],
    reference: &ArchiveReference,
    location: &str,
) -> Result<(usize, &'a Item), TransportError> {
    if let Some(wanted) = &reference.name {
        for (i, item) in items.iter().enumerate() {
            for tag in &item.repo_tags {
                // As containers/image: normalised, with no tag added.
                let parsed =
                    Named::parse_normalized(tag).map_err(|e| TransportError::Malformed {
                        location: format!("{location}: manifest.json"),
                        reason: format!("image @{i} has an invalid tag: {e}"),
                    })?;
                if &parsed == wanted {
                    return Ok((i, item));
                }
            }
        }
        return Err(TransportError::NotFound {
            what: format!("image tagged {wanted}"),
            location: location.to_string(),
        });
    }
    if let Some(i) = reference.index {
        return items
            .get(i)
            .map(|item| (i, item))
            .ok_or_else(|| TransportError::NotFound {
                what: format!("image @{i} (manifest.json has {} images)", items.len()),
                location: location.to_string(),
            });
    }
    match items {
        [one] => Ok((0, one)),
        [] => Err(TransportError::NotFound {
            what: "any image (manifest.json is empty)".into(),
            location: location.to_string(),
        }),
        many => {
            let listed: Vec<String> = many
                .iter()
                .enumerate()
                .map(|(i, item)| {
                    let tags = if item.repo_tags.is_empty() {
                        "(untagged)".to_string()
                    } else {
                        item.repo_tags.join(", ")
                    };
                    format!("@{i}: {tags} (config {})", item.config)
                })
                .collect();
            Err(TransportError::InvalidReference {
                reference: location.to_string(),
                reason: format!(
                    "the archive holds {} images; name one with :NAME:TAG or :@N: {}",
                    many.len(),
                    listed.join("; ")
                ),
            })
        }
    }
}

/// The schema 2 manifest for a config and layers: compact, fields in the
/// order Go's `manifest.Schema2` marshals them, as containers/image
/// writes its own. The two differ in layer media types: containers/image
/// labels every layer `tar.gzip`, even an uncompressed one; ferry says
/// what the file is.
fn synthesise(config: &EntryDigest, layers: &[EntryDigest]) -> Vec<u8> {
    let descriptor = |media_type: &str, d: &EntryDigest| {
        Value::Object(Object::from_pairs([
            ("mediaType", Value::from(media_type)),
            (
                "size",
                Value::from(i64::try_from(d.size).unwrap_or(i64::MAX)),
            ),
            ("digest", Value::from(d.digest.as_str())),
        ]))
    };
    let layers = layers
        .iter()
        .map(|l| {
            descriptor(
                if l.gzip {
                    mt::DOCKER_LAYER_GZIP
                } else {
                    mt::DOCKER_LAYER
                },
                l,
            )
        })
        .collect();
    let manifest = Object::from_pairs([
        ("schemaVersion", Value::from(2)),
        ("mediaType", Value::from(mt::DOCKER_V2S2)),
        ("config", descriptor(mt::DOCKER_CONFIG, config)),
        ("layers", Value::Array(layers)),
    ]);
    Value::Object(manifest).to_compact(true).into_bytes()
}

/// Reads one image of a `docker save` archive.
#[derive(Debug)]
pub struct DockerArchiveSource {
    reference: ArchiveReference,
    archive: TarArchive,
    manifest: Vec<u8>,
    manifest_digest: Digest,
    /// Each blob the manifest names, by digest: the archive entry holding it.
    blobs: BTreeMap<Digest, String>,
}

impl DockerArchiveSource {
    pub async fn open(reference: &ArchiveReference) -> Result<Self, TransportError> {
        Self::open_with_limits(reference, Limits::default()).await
    }

    /// As [`DockerArchiveSource::open`], with other bounds on the archive.
    pub async fn open_with_limits(
        reference: &ArchiveReference,
        limits: Limits,
    ) -> Result<Self, TransportError> {
        let location = format!("docker-archive:{reference}");
        let archive = TarArchive::open(&reference.path, limits).await?;
        let bytes = archive
            .read_marker("manifest.json", MAX_MANIFEST_SIZE, "a docker save archive")
            .await?;
        let items = parse_items(&bytes, &archive.location("manifest.json"))?;
        let (i, item) = choose(&items, reference, &location)?;
        let mut names = vec![item.config.clone()];
        names.extend(item.layers.iter().cloned());
        for (n, name) in names.iter().enumerate() {
            if archive.get(name).is_none() {
                let what = if n == 0 { "config" } else { "layer" };
                return Err(TransportError::Malformed {
                    location: archive.location("manifest.json"),
                    reason: format!(
                        "image @{i} names {what} {name:?}, which is not a file in the archive"
                    ),
                });
            }
        }
        let digests = archive.digest(names.clone()).await?;
        let (config, layers) = match digests.split_first() {
            Some(split) => split,
            None => {
                return Err(TransportError::Malformed {
                    location: archive.location("manifest.json"),
                    reason: format!("image @{i} has no config"),
                });
            }
        };
        let manifest = synthesise(config, layers);
        let blobs = digests
            .iter()
            .zip(names)
            .map(|(d, name)| (d.digest.clone(), name))
            .collect();
        Ok(DockerArchiveSource {
            reference: reference.clone(),
            archive,
            manifest_digest: Digest::sha256_of(&manifest),
            manifest,
            blobs,
        })
    }
}

#[async_trait]
impl ImageSource for DockerArchiveSource {
    fn reference(&self) -> String {
        format!("docker-archive:{}", self.reference)
    }

    async fn manifest(
        &self,
        instance: Option<&Digest>,
    ) -> Result<(Vec<u8>, Option<String>), TransportError> {
        match instance {
            Some(d) if d != &self.manifest_digest => Err(TransportError::NotFound {
                what: format!("manifest {d} (a docker-archive image has no list and no instances)"),
                location: self.reference(),
            }),
            _ => Ok((self.manifest.clone(), Some(mt::DOCKER_V2S2.to_string()))),
        }
    }

    async fn blob(&self, info: &BlobInfo) -> Result<(BlobStream, Option<u64>), TransportError> {
        let name = self.blobs.get(&info.digest).map(String::as_str);
        self.archive
            .blob(name, &info.digest, self.reference())
            .await
    }

    async fn signatures(&self, _instance: Option<&Digest>) -> Result<Vec<Vec<u8>>, TransportError> {
        // The format has no place for signatures.
        Ok(Vec::new())
    }
}

/// Writes one image as a `docker save` archive.
#[derive(Debug)]
pub struct DockerArchiveDestination {
    reference: ArchiveReference,
    image: StagedImage,
}

const LIST_REFUSED: &str = "docker-archive cannot store a manifest list; copy one platform";

impl DockerArchiveDestination {
    pub async fn create(reference: &ArchiveReference) -> Result<Self, TransportError> {
        let location = format!("docker-archive:{reference}");
        if reference.index.is_some() {
            return Err(TransportError::InvalidReference {
                reference: location,
                reason: "@N selects an image in an existing archive and cannot be a destination"
                    .into(),
            });
        }
        if let Some(meta) = archive::check_target(&reference.path, &location).await?
            && meta.len() != 0
        {
            return Err(TransportError::Unsupported {
                location,
                reason: "the file exists; docker-archive cannot add to an existing archive (remove it first)".into(),
            });
        }
        Ok(DockerArchiveDestination {
            reference: reference.clone(),
            image: StagedImage::create(location, reference.name.clone(), LIST_REFUSED).await?,
        })
    }
}

#[async_trait]
impl StagedDestination for DockerArchiveDestination {
    const KIND: Kind = Kind::DockerArchive;

    fn staged(&self) -> &StagedImage {
        &self.image
    }

    async fn deliver(&self, members: Vec<Member>) -> Result<(), TransportError> {
        archive::write_archive(&self.reference.path, members).await
    }
}

/// A destination that stages one image as a [`StagedImage`] and, at
/// commit, hands the archive's members on: `docker-archive:` writes them
/// to its file, `docker-daemon:` streams them to the daemon. The rest of
/// being an [`ImageDestination`] is the staged image's, written once in
/// the impl below.
#[async_trait]
pub(crate) trait StagedDestination: Send + Sync {
    /// The transport, for [`ImageDestination::capabilities`].
    const KIND: Kind;

    /// The image being staged.
    fn staged(&self) -> &StagedImage;

    /// Sends the archive's members where the destination keeps images.
    async fn deliver(&self, members: Vec<Member>) -> Result<(), TransportError>;
}

#[async_trait]
impl<T: StagedDestination> ImageDestination for T {
    fn reference(&self) -> String {
        self.staged().location.clone()
    }

    fn capabilities(&self) -> Capabilities {
        T::KIND.capabilities()
    }

    async fn has_blob(&self, info: &BlobInfo) -> Result<Option<u64>, TransportError> {
        self.staged().has_blob(info).await
    }

    async fn put_blob(&self, stream: BlobStream, info: &BlobInfo) -> Result<(), TransportError> {
        self.staged().put_blob(stream, info).await
    }

    async fn store_manifest(&self, manifest: ManifestToStore<'_>) -> Result<(), TransportError> {
        self.staged().store_manifest(manifest)
    }

    async fn commit(&self, top: &[u8], media_type: &str) -> Result<(), TransportError> {
        let members = self.staged().members(top, media_type).await?;
        self.deliver(members).await
    }
}

/// One image on its way into a `docker save` archive: blobs staged in a
/// locked [`StagingDir`] as they arrive (removed when this is dropped, on
/// every path), the manifest kept until commit, and then the archive's
/// members. `docker-archive:` writes them to a file, `docker-daemon:`
/// streams them to the daemon.
#[derive(Debug)]
pub(crate) struct StagedImage {
    /// The destination (`docker-archive:…`, `docker-daemon:…`), for
    /// messages and as its reference.
    location: String,
    /// The `RepoTags` entry, if any.
    tag: Option<Named>,
    /// Why a list is refused, in the destination's words.
    list_refused: &'static str,
    staging: StagingDir,
    manifest: Mutex<Option<Vec<u8>>>,
}

impl StagedImage {
    pub(crate) async fn create(
        location: String,
        tag: Option<Named>,
        list_refused: &'static str,
    ) -> Result<Self, TransportError> {
        Ok(StagedImage {
            location,
            tag,
            list_refused,
            staging: StagingDir::create(&staging::big_temp_dir()).await?,
            manifest: Mutex::new(None),
        })
    }

    /// Parses a manifest offered for storage, refusing what the format
    /// cannot hold.
    fn accept(&self, manifest: &[u8], media_type: &str) -> Result<Schema2, TransportError> {
        if mt::is_list(media_type) {
            return Err(TransportError::Unsupported {
                location: self.location.clone(),
                reason: self.list_refused.into(),
            });
        }
        if media_type != mt::DOCKER_V2S2 {
            return Err(TransportError::ManifestTypeRejected {
                media_type: media_type.to_string(),
                reason: "docker-archive stores Docker schema 2 manifests only".into(),
            });
        }
        Schema2::parse(manifest).map_err(|error| TransportError::Manifest {
            what: format!("{}: manifest", self.location),
            error,
        })
    }

    /// The staged blob a descriptor names, which must have been put.
    async fn staged(
        &self,
        descriptor: &Descriptor,
        what: &str,
    ) -> Result<(Digest, PathBuf), TransportError> {
        let digest = descriptor.digest().map_err(|e| TransportError::Malformed {
            location: format!("{}: manifest", self.location),
            reason: format!("{what}: {e}"),
        })?;
        let path = blob_path(self.staging.path(), &digest);
        match tokio::fs::metadata(&path).await {
            Ok(_) => Ok((digest, path)),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => Err(TransportError::NotFound {
                what: format!("{what} {digest} (the manifest names it, but it was never written)"),
                location: self.location.clone(),
            }),
            Err(e) => Err(io_error(&path, "stat")(e)),
        }
    }

    pub(crate) async fn has_blob(&self, info: &BlobInfo) -> Result<Option<u64>, TransportError> {
        info.stored_at(&blob_path(self.staging.path(), &info.digest))
            .await
    }

    pub(crate) async fn put_blob(
        &self,
        stream: BlobStream,
        info: &BlobInfo,
    ) -> Result<(), TransportError> {
        let path = blob_path(self.staging.path(), &info.digest);
        if let Some(dir) = path.parent() {
            tokio::fs::create_dir_all(dir)
                .await
                .map_err(io_error(dir, "create"))?;
        }
        // Staging, deleted once the archive is built: no syncs.
        atomic::write_blob_verified(stream, &path, info, Durability::Scratch).await?;
        Ok(())
    }

    pub(crate) fn store_manifest(
        &self,
        manifest: ManifestToStore<'_>,
    ) -> Result<(), TransportError> {
        if manifest.instance.is_some() {
            // Instances come only with a list, which cannot be stored.
            return Err(TransportError::Unsupported {
                location: self.location.clone(),
                reason: self.list_refused.into(),
            });
        }
        self.accept(manifest.bytes, manifest.media_type)?;
        *self.manifest.lock().unwrap_or_else(PoisonError::into_inner) =
            Some(manifest.bytes.to_vec());
        Ok(())
    }

    /// The archive's members for the stored manifest (or `top`, when none
    /// was stored): the config, each layer once, `manifest.json` and
    /// `repositories`. The files stay in the staging directory, which
    /// must outlive the writing of the members.
    pub(crate) async fn members(
        &self,
        top: &[u8],
        media_type: &str,
    ) -> Result<Vec<Member>, TransportError> {
        let stored = self
            .manifest
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .take();
        let manifest = match stored {
            Some(bytes) => self.accept(&bytes, mt::DOCKER_V2S2)?,
            None => self.accept(top, media_type)?,
        };
        let (config_digest, config_path) = self.staged(&manifest.config, "config").await?;
        let config_name = format!("{}.json", config_digest.encoded());
        let mut members = vec![Member::File {
            name: config_name.clone(),
            source: config_path,
        }];
        let mut layer_names = Vec::with_capacity(manifest.layers.len());
        let mut written = BTreeSet::new();
        for (i, layer) in manifest.layers.iter().enumerate() {
            let (digest, path) = self.staged(layer, &format!("layer {i}")).await?;
            let name = format!("{}.tar", digest.encoded());
            // A layer repeated in the image is stored once.
            if written.insert(name.clone()) {
                members.push(Member::File {
                    name: name.clone(),
                    source: path,
                });
            }
            layer_names.push(Value::from(name));
        }
        let repo_tags: Vec<Value> = self
            .tag
            .iter()
            .map(|t| Value::from(t.to_string()))
            .collect();
        let items = Value::Array(vec![Value::Object(Object::from_pairs([
            ("Config", Value::from(config_name)),
            ("RepoTags", Value::Array(repo_tags)),
            ("Layers", Value::Array(layer_names.clone())),
        ]))]);
        members.push(Member::Bytes {
            name: "manifest.json".into(),
            bytes: items.to_compact(true).into_bytes(),
        });
        members.push(Member::Bytes {
            name: "repositories".into(),
            bytes: repositories(self.tag.as_ref(), manifest.layers.last()).into_bytes(),
        });
        Ok(members)
    }
}

/// The legacy `repositories` file: name → tag → the top layer's ID. Only
/// pre-1.10 Docker reads it, and ferry writes no legacy per-layer
/// directories, so it is informational; `{}` for an untagged image.
fn repositories(tag: Option<&Named>, top_layer: Option<&Descriptor>) -> String {
    let mut repositories = Object::default();
    if let (Some(named), Some(tag), Some(layer)) = (
        tag,
        tag.and_then(Named::tag),
        top_layer.and_then(|l| l.digest().ok()),
    ) {
        let tags = Object::from_pairs([(tag, Value::from(layer.encoded()))]);
        repositories.set(named.name(), Value::Object(tags));
    }
    Value::Object(repositories).to_compact(true)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reference_path_ends_at_the_first_colon() {
        let r = ArchiveReference::parse("/tmp/x.tar:busybox:1").unwrap();
        assert_eq!(r.path, PathBuf::from("/tmp/x.tar"));
        assert_eq!(r.name.unwrap().to_string(), "docker.io/library/busybox:1");
        let r = ArchiveReference::parse("/tmp/x.tar:@2").unwrap();
        assert_eq!(r.index, Some(2));
        assert!(ArchiveReference::parse("/tmp/x.tar:@x").is_err());
    }

    #[test]
    fn repo_tags_match_once_normalised_without_a_default_tag() {
        let items = |tag: &str| {
            vec![Item {
                config: "c.json".into(),
                repo_tags: vec![tag.into()],
                layers: Vec::new(),
            }]
        };
        let wanted = ArchiveReference::parse("x.tar:busybox").unwrap();
        for matching in [
            "busybox:latest",
            "docker.io/library/busybox:latest",
            "index.docker.io/library/busybox:latest",
        ] {
            assert!(choose(&items(matching), &wanted, "x").is_ok(), "{matching}");
        }
        // As in containers/image, an untagged entry names no tag at all.
        assert!(matches!(
            choose(&items("busybox"), &wanted, "x"),
            Err(TransportError::NotFound { .. })
        ));
    }
}
