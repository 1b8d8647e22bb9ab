//! What each kind of destination accepts: one table, read by the copy
//! machine, `ferry copy --dry-run`, the native transports and the
//! WebAssembly facade alike.
//!
//! | kind | manifest types, preferred first | layers | signatures | digested references | referrers | tags beside the image |
//! |---|---|---|---|---|---|---|
//! | `dir` | any | as they are | yes | no | no | no |
//! | `oci` | OCI manifest, OCI index | compressed | no | no | yes | yes |
//! | `oci-archive` | OCI manifest, OCI index | compressed | no | no | no | no |
//! | `docker-archive`, `docker-daemon` | Docker schema 2 | uncompressed | no | no | no | no |
//! | `containers-storage` | OCI manifest, schema 2 | as they are | yes | no | no | no |
//! | `docker` | OCI, schema 2, OCI index, Docker list, schema 1 signed, schema 1 | compressed | simple: with lookaside storage or the signature extension; sigstore: with `use-sigstore-attachments` | yes | yes | yes |
//!
//! Referrers and tags are what `--referrers` and `--cosign-tags` write
//! beside an image ([`Capabilities::check_attached`]): a copy asking a
//! destination for what it cannot store is refused before anything moves.
//!
//! These are containers/image's answers to `SupportedManifestMIMETypes`,
//! `DesiredLayerCompression` and `SupportsSignatures` for the same
//! transports. A registry's signature support depends on the lookaside
//! configuration, which is data the caller has: it refines the table's
//! entry ([`Capabilities::with_signatures`]) rather than declaring its own.

use alloc::string::{String, ToString};
use alloc::vec::Vec;

use crate::media_type as mt;
use crate::plan::compression::Desired;

/// A kind of destination: a transport that can be written to.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    /// `dir:`, a directory of files named by digest.
    Dir,
    /// `oci:`, an OCI image layout.
    Oci,
    /// `oci-archive:`, an OCI image layout in a tar file.
    OciArchive,
    /// `docker-archive:`, `docker save`'s format.
    DockerArchive,
    /// `docker-daemon:`, a Docker daemon, written with `docker load`'s
    /// request and so in `docker-archive:`'s format.
    DockerDaemon,
    /// `docker://`, a registry.
    Docker,
    /// `containers-storage:`, podman's and CRI-O's local store.
    ContainersStorage,
}

impl Kind {
    /// Every kind, in the order the table lists them.
    pub const ALL: [Kind; 7] = [
        Kind::Dir,
        Kind::Oci,
        Kind::OciArchive,
        Kind::DockerArchive,
        Kind::DockerDaemon,
        Kind::Docker,
        Kind::ContainersStorage,
    ];

    /// The transport's name, as references spell it (`docker-archive`).
    pub fn name(self) -> &'static str {
        match self {
            Kind::Dir => "dir",
            Kind::Oci => "oci",
            Kind::OciArchive => "oci-archive",
            Kind::DockerArchive => "docker-archive",
            Kind::DockerDaemon => "docker-daemon",
            Kind::Docker => "docker",
            Kind::ContainersStorage => "containers-storage",
        }
    }

    /// The kind a transport name stands for.
    pub fn from_name(name: &str) -> Option<Kind> {
        Kind::ALL.into_iter().find(|k| k.name() == name)
    }

    /// What destinations of this kind accept.
    pub fn capabilities(self) -> Capabilities {
        let (types, layer_compression, signatures): (&[&str], Desired, bool) = match self {
            Kind::Dir => (&[], Desired::Preserve, true),
            Kind::Oci | Kind::OciArchive => {
                (&[mt::OCI_MANIFEST, mt::OCI_INDEX], Desired::Compress, false)
            }
            // containers/image's daemon destination preserves compression
            // (the daemon decompresses when it loads); ferry writes the
            // daemon the same archive as docker-archive:, whose layer
            // entries are uncompressed.
            Kind::DockerArchive | Kind::DockerDaemon => {
                (&[mt::DOCKER_V2S2], Desired::Decompress, false)
            }
            // containers/image also lists schema 1, which ferry converts
            // instead: a schema 1 image's ID is derived from its history,
            // and this destination computes IDs from configs only. Lists
            // are not stored: one image is chosen, and the list is kept
            // beside it.
            Kind::ContainersStorage => (
                &[mt::OCI_MANIFEST, mt::DOCKER_V2S2],
                Desired::Preserve,
                true,
            ),
            // Signatures only through lookaside storage: see
            // [`Capabilities::with_signatures`].
            Kind::Docker => (
                &[
                    mt::OCI_MANIFEST,
                    mt::DOCKER_V2S2,
                    mt::OCI_INDEX,
                    mt::DOCKER_LIST,
                    mt::DOCKER_V2S1_SIGNED,
                    mt::DOCKER_V2S1,
                ],
                Desired::Compress,
                false,
            ),
        };
        Capabilities {
            manifest_types: types.iter().map(|t| t.to_string()).collect(),
            layer_compression,
            signatures,
            sigstore_signatures: signatures,
            digested_references: self == Kind::Docker,
            referrers: matches!(self, Kind::Oci | Kind::Docker),
            tags: matches!(self, Kind::Oci | Kind::Docker),
        }
    }
}

/// What a copy writes beside an image: its referrers (`--referrers`),
/// cosign's tags of it (`--cosign-tags`).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Attached {
    pub referrers: bool,
    pub cosign_tags: bool,
}

impl Attached {
    /// Whether anything at all.
    pub fn any(self) -> bool {
        self.referrers || self.cosign_tags
    }
}

/// What a destination cannot store of what a copy asks to write beside
/// the image.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Unstorable {
    /// `--referrers`, into a destination without referrers.
    Referrers,
    /// `--cosign-tags`, into a destination without tags beside the image.
    CosignTags,
}

impl core::fmt::Display for Unstorable {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        match self {
            Unstorable::Referrers => {
                write!(f, "the destination cannot store referrers (--referrers)")
            }
            Unstorable::CosignTags => write!(
                f,
                "the destination cannot hold tags beside the image (--cosign-tags)"
            ),
        }
    }
}

/// What a destination accepts.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Capabilities {
    /// Manifest and list types, preferred first; empty means any.
    pub manifest_types: Vec<String>,
    /// How it wants layers stored.
    pub layer_compression: Desired,
    /// Whether it can store signatures other than sigstore's (simple
    /// signing).
    pub signatures: bool,
    /// Whether it can store sigstore signatures.
    pub sigstore_signatures: bool,
    /// Whether its references can name a digest (`repo@sha256:…`), which
    /// what is written must then match.
    pub digested_references: bool,
    /// Whether it can store an image's referrers (`--referrers`).
    pub referrers: bool,
    /// Whether it can hold images tagged beside the image
    /// (`--cosign-tags`).
    pub tags: bool,
}

impl Capabilities {
    /// Whether it can store a list with its instances.
    pub fn accepts_lists(&self) -> bool {
        self.manifest_types.is_empty() || self.manifest_types.iter().any(|t| mt::is_list(t))
    }

    /// The same, storing signatures or not (a registry with or without a
    /// lookaside location to write them to).
    pub fn with_signatures(self, signatures: bool) -> Self {
        Capabilities { signatures, ..self }
    }

    /// The same, storing simple and sigstore signatures or not (a
    /// registry's configuration and the extension it advertises).
    pub fn with_signature_storage(self, simple: bool, sigstore: bool) -> Self {
        Capabilities {
            signatures: simple,
            sigstore_signatures: sigstore,
            ..self
        }
    }

    /// Whether it can store what `attached` asks to write beside the
    /// image: asked before a copy starts, so that nothing is written when
    /// it cannot.
    pub fn check_attached(&self, attached: Attached) -> Result<(), Unstorable> {
        if attached.referrers && !self.referrers {
            return Err(Unstorable::Referrers);
        }
        if attached.cosign_tags && !self.tags {
            return Err(Unstorable::CosignTags);
        }
        Ok(())
    }

    /// Which signatures it stores.
    pub fn signature_storage(&self) -> SignatureFormats {
        SignatureFormats {
            simple: self.signatures,
            sigstore: self.sigstore_signatures,
        }
    }

    /// The planner's view of it, for a reference naming `reference_digest`.
    pub fn plan_destination(&self, reference_digest: Option<String>) -> crate::plan::Destination {
        crate::plan::Destination {
            supported_types: self.manifest_types.clone(),
            reference_digest,
            layer_compression: self.layer_compression,
        }
    }
}

impl core::error::Error for Unstorable {}

/// Signature formats: which ones a destination stores, which ones a copy
/// makes.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct SignatureFormats {
    /// Simple signing, and anything not sigstore's.
    pub simple: bool,
    pub sigstore: bool,
}

impl SignatureFormats {
    /// Whether any format at all.
    pub fn any(&self) -> bool {
        self.simple || self.sigstore
    }

    /// Whether every format of `other` is one of these.
    pub fn covers(&self, other: SignatureFormats) -> bool {
        (self.simple || !other.simple) && (self.sigstore || !other.sigstore)
    }

    /// Whether it can store every one of these stored signatures, by
    /// their format.
    pub fn accepts(&self, signatures: &[Vec<u8>]) -> bool {
        signatures.iter().all(|s| {
            if crate::trust::blob::is_sigstore(s) {
                self.sigstore
            } else {
                self.simple
            }
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_kind_is_found_by_its_name() {
        for kind in Kind::ALL {
            assert_eq!(Kind::from_name(kind.name()), Some(kind));
        }
        assert_eq!(Kind::from_name("demo"), None);
    }

    #[test]
    fn only_dir_and_docker_accept_lists_of_docker_type() {
        let accepts = |k: Kind, t: &str| {
            let c = k.capabilities();
            c.manifest_types.is_empty() || c.manifest_types.iter().any(|m| m == t)
        };
        assert!(accepts(Kind::Dir, mt::DOCKER_LIST));
        assert!(accepts(Kind::Docker, mt::DOCKER_LIST));
        assert!(!accepts(Kind::Oci, mt::DOCKER_LIST));
        assert!(!Kind::DockerArchive.capabilities().accepts_lists());
        assert!(!Kind::DockerDaemon.capabilities().accepts_lists());
    }

    #[test]
    fn a_registry_stores_signatures_only_when_told_it_can() {
        let registry = Kind::Docker.capabilities();
        assert!(!registry.signatures);
        assert!(registry.with_signatures(true).signatures);
    }

    #[test]
    fn a_registry_without_attachments_refuses_sigstore_signatures_only() {
        let sigstore = crate::trust::blob::Sigstore {
            media_type: crate::trust::blob::SIGSTORE_MEDIA_TYPE.into(),
            payload: b"{}".to_vec(),
            annotations: Vec::new(),
        }
        .to_blob();
        let simple = alloc::vec![0x89, 1];
        let lookaside_only = Kind::Docker
            .capabilities()
            .with_signature_storage(true, false)
            .signature_storage();
        assert!(lookaside_only.accepts(core::slice::from_ref(&simple)));
        assert!(!lookaside_only.accepts(&[simple.clone(), sigstore.clone()]));
        let dir = Kind::Dir.capabilities().signature_storage();
        assert!(dir.accepts(&[simple, sigstore]));
    }

    #[test]
    fn only_layouts_and_registries_store_referrers_and_cosign_tags() {
        let both = Attached {
            referrers: true,
            cosign_tags: true,
        };
        for kind in Kind::ALL {
            let stores = matches!(kind, Kind::Oci | Kind::Docker);
            assert_eq!(kind.capabilities().check_attached(both).is_ok(), stores);
            assert_eq!(
                kind.capabilities().check_attached(Attached::default()),
                Ok(())
            );
        }
        let dir = Kind::Dir.capabilities();
        let tags_only = Attached {
            referrers: false,
            cosign_tags: true,
        };
        assert_eq!(dir.check_attached(both), Err(Unstorable::Referrers));
        assert_eq!(dir.check_attached(tags_only), Err(Unstorable::CosignTags));
    }

    #[test]
    fn only_registry_references_name_digests() {
        for kind in Kind::ALL {
            assert_eq!(
                kind.capabilities().digested_references,
                kind == Kind::Docker
            );
        }
    }
}
