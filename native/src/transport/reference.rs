//! skopeo's `transport:rest` references, and opening each as a source or
//! a destination: the one place that knows every transport.

use std::fmt;
use std::path::PathBuf;

use ferry_core::reference::ReferenceError;
use ferry_core::reference::transport::{Image, PathReference};

use super::{ImageDestination, ImageSource, Kind, TransportError};
use super::{daemon, dir, docker_archive, oci, oci_archive, registry, storage};

/// A parsed image reference, skopeo's `transport:rest`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Reference {
    /// `dir:PATH`.
    Dir(PathBuf),
    /// `oci:PATH[:REF]` or, as a source, `oci:PATH:@N`.
    Oci(oci::LayoutReference),
    /// `oci-archive:PATH[:REF]` or, as a source, `oci-archive:PATH:@N`.
    OciArchive(oci::LayoutReference),
    /// `docker-archive:PATH[:NAME[:TAG]]` or, as a source,
    /// `docker-archive:PATH:@N`.
    DockerArchive(docker_archive::ArchiveReference),
    /// `docker://[HOST/]REPOSITORY[:TAG|@DIGEST]`.
    Docker(ferry_core::reference::Named),
    /// `docker-daemon:NAME:TAG` or, as a source, `docker-daemon:NAME@DIGEST`
    /// or `docker-daemon:sha256:<image ID>`.
    DockerDaemon(ferry_core::reference::transport::DaemonReference),
    /// `containers-storage:[driver@graphroot+runroot:options]NAME[:TAG|@DIGEST]`.
    ContainersStorage(ferry_core::reference::storage::StorageReference),
    /// `demo:`, the built-in demo image (a source only).
    Demo,
}

impl Reference {
    /// The kind of destination it names (none for `demo:`, a source only).
    pub fn kind(&self) -> Option<Kind> {
        Some(match self {
            Reference::Dir(_) => Kind::Dir,
            Reference::Oci(_) => Kind::Oci,
            Reference::OciArchive(_) => Kind::OciArchive,
            Reference::DockerArchive(_) => Kind::DockerArchive,
            Reference::Docker(_) => Kind::Docker,
            Reference::DockerDaemon(_) => Kind::DockerDaemon,
            Reference::ContainersStorage(_) => Kind::ContainersStorage,
            Reference::Demo => return None,
        })
    }

    /// Parses `transport:rest`.
    pub fn parse(input: &str) -> Result<Self, TransportError> {
        let invalid = |reason: &str| TransportError::InvalidReference {
            reference: input.to_string(),
            reason: reason.to_string(),
        };
        let Some((transport, rest)) = input.split_once(':') else {
            return Err(invalid(
                "expected transport:reference, e.g. dir:/tmp/image or oci:/tmp/layout:tag",
            ));
        };
        if transport == "demo" {
            return if rest.is_empty() {
                Ok(Reference::Demo)
            } else {
                Err(invalid("demo: takes nothing after the colon"))
            };
        }
        if rest.is_empty() {
            return Err(invalid("empty path"));
        }
        match transport {
            "dir" => Ok(Reference::Dir(PathBuf::from(rest))),
            "oci" => oci::LayoutReference::parse(rest)
                .map(Reference::Oci)
                .map_err(|e| invalid(&e.to_string())),
            "docker" => {
                let Some(name) = rest.strip_prefix("//") else {
                    return Err(invalid("expected docker://HOST/REPOSITORY[:TAG]"));
                };
                ferry_core::reference::transport::docker(name)
                    .map(Reference::Docker)
                    .map_err(|e| invalid(&e.to_string()))
            }
            "oci-archive" => oci::LayoutReference::parse(rest)
                .map(Reference::OciArchive)
                .map_err(|e| invalid(&e.to_string())),
            "docker-archive" => docker_archive::ArchiveReference::parse(rest)
                .map(Reference::DockerArchive)
                .map_err(|e| invalid(&e.to_string())),
            "docker-daemon" => ferry_core::reference::transport::DaemonReference::parse(rest)
                .map(Reference::DockerDaemon)
                .map_err(|e| invalid(&e.to_string())),
            "containers-storage" => ferry_core::reference::storage::StorageReference::parse(rest)
                .map(Reference::ContainersStorage)
                .map_err(|e| invalid(&e.to_string())),
            other => Err(invalid(&format!(
                "unknown transport {other:?} (known: docker, dir, oci, oci-archive, docker-archive, docker-daemon, containers-storage, demo)"
            ))),
        }
    }

    /// Opens the image for reading; `registry` applies to `docker://`,
    /// and a daemon is found through `DOCKER_HOST`.
    pub async fn open_source(
        &self,
        registry: &registry::RegistryOptions,
    ) -> Result<Box<dyn ImageSource>, TransportError> {
        self.open_source_with(registry, &daemon::DaemonOptions::default())
            .await
    }

    /// [`open_source`](Self::open_source), with `daemon` applying to
    /// `docker-daemon:`.
    pub async fn open_source_with(
        &self,
        registry: &registry::RegistryOptions,
        daemon: &daemon::DaemonOptions,
    ) -> Result<Box<dyn ImageSource>, TransportError> {
        match self {
            Reference::DockerDaemon(r) => {
                Ok(Box::new(daemon::DaemonSource::open(r, daemon).await?))
            }
            Reference::Docker(r) => Ok(Box::new(
                registry::Registry::connect(r, registry, false).await?,
            )),
            Reference::Dir(path) => Ok(Box::new(dir::DirSource::open(path).await?)),
            Reference::Oci(r) => Ok(Box::new(oci::OciSource::open(r).await?)),
            Reference::OciArchive(r) => Ok(Box::new(oci_archive::OciArchiveSource::open(r).await?)),
            Reference::DockerArchive(r) => Ok(Box::new(
                docker_archive::DockerArchiveSource::open(r).await?,
            )),
            Reference::ContainersStorage(r) => Ok(Box::new(storage::StorageSource::open(r).await?)),
            Reference::Demo => Ok(Box::new(crate::demo::Demo::build())),
        }
    }

    /// Opens the place for writing; `registry` applies to `docker://`,
    /// and a daemon is found through `DOCKER_HOST`.
    pub async fn open_destination(
        &self,
        registry: &registry::RegistryOptions,
    ) -> Result<Box<dyn ImageDestination>, TransportError> {
        self.open_destination_with(registry, &daemon::DaemonOptions::default())
            .await
    }

    /// [`open_destination`](Self::open_destination), with `daemon`
    /// applying to `docker-daemon:`.
    pub async fn open_destination_with(
        &self,
        registry: &registry::RegistryOptions,
        daemon: &daemon::DaemonOptions,
    ) -> Result<Box<dyn ImageDestination>, TransportError> {
        match self {
            Reference::DockerDaemon(r) => Ok(Box::new(
                daemon::DaemonDestination::create(r, daemon).await?,
            )),
            Reference::Docker(r) => Ok(Box::new(
                registry::Registry::connect(r, registry, true).await?,
            )),
            Reference::Dir(path) => Ok(Box::new(dir::DirDestination::create(path).await?)),
            Reference::Oci(r) => Ok(Box::new(oci::OciDestination::create(r).await?)),
            Reference::OciArchive(r) => Ok(Box::new(
                oci_archive::OciArchiveDestination::create(r).await?,
            )),
            Reference::DockerArchive(r) => Ok(Box::new(
                docker_archive::DockerArchiveDestination::create(r).await?,
            )),
            Reference::ContainersStorage(r) => {
                Ok(Box::new(storage::StorageDestination::create(r).await?))
            }
            Reference::Demo => Err(TransportError::Unsupported {
                location: "demo:".into(),
                reason: "the demo image can only be copied from, not to".into(),
            }),
        }
    }
}

impl fmt::Display for Reference {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Reference::Dir(p) => write!(f, "dir:{}", p.display()),
            Reference::Oci(r) => write!(f, "oci:{r}"),
            Reference::OciArchive(r) => write!(f, "oci-archive:{r}"),
            Reference::DockerArchive(r) => write!(f, "docker-archive:{r}"),
            Reference::Docker(r) => write!(f, "docker://{r}"),
            Reference::DockerDaemon(r) => write!(f, "docker-daemon:{r}"),
            Reference::ContainersStorage(r) => write!(f, "containers-storage:{r}"),
            Reference::Demo => f.write_str("demo:"),
        }
    }
}

/// A file transport's image reference, `PATH[:NAME]` or, for sources,
/// `PATH:@N`; each transport reads the name its own way
/// ([`oci::LayoutReference`], [`docker_archive::ArchiveReference`]).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PathImage<N> {
    pub path: PathBuf,
    /// The image's name, as the transport reads it.
    pub name: Option<N>,
    /// `@N`: the N-th image of the file's index (sources only).
    pub index: Option<usize>,
}

impl<N> PathImage<N> {
    /// Parses `rest` with ferry-core's rules for the path, reading a name
    /// with `name`.
    pub(crate) fn parse_with(
        rest: &str,
        name: impl FnOnce(&str) -> Result<N, ReferenceError>,
    ) -> Result<Self, ReferenceError> {
        let parsed = PathReference::parse(rest)?;
        let path = PathBuf::from(parsed.path);
        Ok(match parsed.image {
            None => PathImage {
                path,
                name: None,
                index: None,
            },
            Some(Image::Index(i)) => PathImage {
                path,
                name: None,
                index: Some(i),
            },
            Some(Image::Name(n)) => PathImage {
                path,
                name: Some(name(n)?),
                index: None,
            },
        })
    }
}

impl<N: fmt::Display> fmt::Display for PathImage<N> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}", self.path.display())?;
        if let Some(n) = &self.name {
            write!(f, ":{n}")?;
        }
        if let Some(i) = self.index {
            write!(f, ":@{i}")?;
        }
        Ok(())
    }
}
