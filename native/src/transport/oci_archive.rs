//! `oci-archive:PATH[:REF]`: an OCI image layout in a tar file.
//!
//! The archive holds what an `oci:` directory holds (`oci-layout`,
//! `index.json`, `blobs/<alg>/<hex>`), and the reference syntax is the
//! same, `:@N` included for sources.
//!
//! Reading does not extract: the tar is indexed ([`super::archive`]) and
//! blobs are streamed from their place in it. Manifests read by digest are
//! verified against it; other blobs are verified by the destination as
//! they stream.
//!
//! Writing builds an ordinary layout with [`OciDestination`] in a
//! temporary directory, and at commit streams it as a tar into a
//! temporary file beside `PATH`, renamed over `PATH` when complete. So the
//! archive appears whole or not at all, and, as with containers/image, it
//! holds exactly the one image copied: an existing archive at `PATH` is
//! replaced, not added to. The temporary directory (a locked
//! [`StagingDir`]) goes when the destination is dropped, whether or not
//! the copy got to commit; if ferry is killed, the next archive copy
//! sweeps it.

use std::path::Path;

use async_trait::async_trait;
use ferry_core::json::{self, Value};
use ferry_core::list::ListKind;
use ferry_core::manifest::MAX_MANIFEST_SIZE;
use ferry_core::{Digest, List};

use super::archive::{self, Limits, Member, TarArchive};
use super::oci::{LayoutReference, OciDestination};
use super::{
    BlobInfo, BlobStream, Capabilities, ImageDestination, ImageSource, Kind, ManifestToStore,
    TransportError, io_error,
};
use crate::fs::atomic::Durability;
use crate::fs::leftovers;
use crate::fs::staging::{self, StagingDir};

/// The blob's name inside the archive.
fn blob_name(digest: &Digest) -> String {
    format!("blobs/{}/{}", digest.algorithm().name(), digest.encoded())
}

/// Reads an image from an OCI archive.
#[derive(Debug)]
pub struct OciArchiveSource {
    reference: LayoutReference,
    archive: TarArchive,
    top: super::oci::TopEntry,
}

impl OciArchiveSource {
    pub async fn open(reference: &LayoutReference) -> Result<Self, TransportError> {
        Self::open_with_limits(reference, Limits::default()).await
    }

    /// As [`OciArchiveSource::open`], with other bounds on the archive.
    pub async fn open_with_limits(
        reference: &LayoutReference,
        limits: Limits,
    ) -> Result<Self, TransportError> {
        let location = format!("oci-archive:{reference}");
        let archive = TarArchive::open(&reference.path, limits).await?;
        let layout = archive
            .read_marker("oci-layout", 4096, "an OCI archive")
            .await?;
        let version = json::parse(&layout).ok().and_then(|v| {
            v.as_object()?
                .get_exact("imageLayoutVersion")?
                .as_str()
                .map(String::from)
        });
        if version.as_deref() != Some("1.0.0") {
            return Err(TransportError::Malformed {
                location: archive.location("oci-layout"),
                reason: "not an OCI layout version 1.0.0".into(),
            });
        }
        let index = archive.read("index.json", MAX_MANIFEST_SIZE).await?;
        let not_object = match json::parse(&index) {
            Ok(Value::Object(_)) => None,
            Ok(other) => Some(format!("a JSON {}, not an object", other.kind())),
            Err(e) => Some(format!("not JSON: {e}")),
        };
        if let Some(reason) = not_object {
            return Err(TransportError::Malformed {
                location: archive.location("index.json"),
                reason,
            });
        }
        let list = List::parse_kind(&index, ListKind::OciIndex).map_err(|error| {
            TransportError::Manifest {
                what: archive.location("index.json"),
                error,
            }
        })?;
        let top = super::oci::select_entry(
            &list.entries,
            reference,
            &location,
            &archive.location("index.json"),
        )?;
        Ok(OciArchiveSource {
            reference: reference.clone(),
            archive,
            top,
        })
    }

    async fn read_manifest_blob(&self, digest: &Digest) -> Result<Vec<u8>, TransportError> {
        let name = blob_name(digest);
        if self.archive.get(&name).is_none() {
            return Err(TransportError::NotFound {
                what: format!("manifest {digest}"),
                location: self.reference(),
            });
        }
        let bytes = self.archive.read(&name, MAX_MANIFEST_SIZE).await?;
        super::oci::verified_manifest(
            bytes,
            digest,
            format!("manifest {}", self.archive.location(&name)),
        )
    }
}

#[async_trait]
impl ImageSource for OciArchiveSource {
    fn reference(&self) -> String {
        format!("oci-archive:{}", self.reference)
    }

    async fn manifest(
        &self,
        instance: Option<&Digest>,
    ) -> Result<(Vec<u8>, Option<String>), TransportError> {
        let bytes = self
            .read_manifest_blob(instance.unwrap_or(&self.top.digest))
            .await?;
        self.top.answer(instance, bytes)
    }

    async fn blob(&self, info: &BlobInfo) -> Result<(BlobStream, Option<u64>), TransportError> {
        let name = blob_name(&info.digest);
        let name = Some(name.as_str()).filter(|n| self.archive.get(n).is_some());
        self.archive
            .blob(name, &info.digest, self.reference())
            .await
    }

    async fn signatures(&self, _instance: Option<&Digest>) -> Result<Vec<Vec<u8>>, TransportError> {
        // OCI archives carry no signatures.
        Ok(Vec::new())
    }
}

/// Writes an image into an OCI archive.
#[derive(Debug)]
pub struct OciArchiveDestination {
    reference: LayoutReference,
    /// Removed on drop, on every path.
    staging: StagingDir,
    layout: OciDestination,
}

impl OciArchiveDestination {
    pub async fn create(reference: &LayoutReference) -> Result<Self, TransportError> {
        let location = format!("oci-archive:{reference}");
        if reference.index.is_some() {
            return Err(TransportError::InvalidReference {
                reference: location,
                reason: "@N selects an existing entry and cannot be a destination".into(),
            });
        }
        archive::check_target(&reference.path, &location).await?;
        let staging = StagingDir::create(&staging::big_temp_dir()).await?;
        // The staged layout is deleted once the archive is built, so it is
        // not synced; the archive itself is.
        let layout = OciDestination::create_with(
            &LayoutReference {
                path: staging.path().to_path_buf(),
                name: reference.name.clone(),
                index: None,
            },
            Durability::Scratch,
        )
        .await?;
        Ok(OciArchiveDestination {
            reference: reference.clone(),
            staging,
            layout,
        })
    }
}

#[async_trait]
impl ImageDestination for OciArchiveDestination {
    fn reference(&self) -> String {
        format!("oci-archive:{}", self.reference)
    }

    fn capabilities(&self) -> Capabilities {
        Kind::OciArchive.capabilities()
    }

    async fn has_blob(&self, info: &BlobInfo) -> Result<Option<u64>, TransportError> {
        self.layout.has_blob(info).await
    }

    async fn put_blob(&self, stream: BlobStream, info: &BlobInfo) -> Result<(), TransportError> {
        self.layout.put_blob(stream, info).await
    }

    async fn store_manifest(&self, manifest: ManifestToStore<'_>) -> Result<(), TransportError> {
        self.layout.store_manifest(manifest).await
    }

    async fn commit(&self, top: &[u8], media_type: &str) -> Result<(), TransportError> {
        self.layout.commit(top, media_type).await?;
        let members = layout_members(self.staging.path()).await?;
        archive::write_archive(&self.reference.path, members).await
    }
}

/// The layout's files in archive order: `oci-layout`, `index.json`, then
/// the blob directories and blobs sorted by name, so the same image gives
/// the same archive.
async fn layout_members(root: &Path) -> Result<Vec<Member>, TransportError> {
    let mut members = vec![
        Member::File {
            name: "oci-layout".into(),
            source: root.join("oci-layout"),
        },
        Member::File {
            name: "index.json".into(),
            source: root.join("index.json"),
        },
        Member::Dir("blobs".into()),
    ];
    let blobs = root.join("blobs");
    for algorithm in sorted_names(&blobs).await? {
        let dir = blobs.join(&algorithm);
        if !tokio::fs::metadata(&dir)
            .await
            .map_err(io_error(&dir, "stat"))?
            .is_dir()
        {
            continue;
        }
        members.push(Member::Dir(format!("blobs/{algorithm}")));
        for blob in sorted_names(&dir).await? {
            members.push(Member::File {
                name: format!("blobs/{algorithm}/{blob}"),
                source: dir.join(&blob),
            });
        }
    }
    Ok(members)
}

/// A directory's entries, sorted, without ferry's own files (temporary
/// files, kept parts of broken-off downloads), which are no content of
/// the layout.
async fn sorted_names(dir: &Path) -> Result<Vec<String>, TransportError> {
    let mut names = Vec::new();
    let mut entries = tokio::fs::read_dir(dir)
        .await
        .map_err(io_error(dir, "list"))?;
    while let Some(entry) = entries.next_entry().await.map_err(io_error(dir, "list"))? {
        let name = entry.file_name().to_string_lossy().into_owned();
        if !leftovers::is_ferrys_own(&name) {
            names.push(name);
        }
    }
    names.sort();
    Ok(names)
}
