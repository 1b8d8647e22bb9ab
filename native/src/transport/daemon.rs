//! `docker-daemon:NAME:TAG` (or, to read, `NAME@DIGEST` or an image ID
//! `sha256:<hex>`): images in a Docker daemon, or anything serving its
//! Engine API (`podman system service`).
//!
//! The daemon is reached at `--src-daemon-host`/`--dest-daemon-host`,
//! else `DOCKER_HOST`, else `unix:///var/run/docker.sock`
//! ([`ferry_core::daemon::Host`]): over a Unix socket, plain HTTP
//! (`http://`) or HTTPS (`tcp://`, `https://`), with `--*-cert-dir`'s
//! `ca.pem`, `cert.pem` and `key.pem` and `--*-tls-verify` as skopeo
//! uses them. The HTTP is reqwest's (hyper underneath), whose Unix-socket
//! connector carries the same requests as its TCP one.
//!
//! Images cross as `docker save` archives, through `docker-archive:`'s
//! code:
//!
//! - Reading saves the image (`GET /images/{name}/get`) into a temporary
//!   file, streamed, and reads that file with [`DockerArchiveSource`].
//!   The archive reader seeks to each layer, so the stream must land on
//!   disk first; containers/image does the same. The file goes when the
//!   source is dropped.
//! - Writing stages blobs as `docker-archive:` does ([`StagedImage`]);
//!   at commit the archive is written straight into the body of
//!   `POST /images/load`, a chunk at a time, never whole in memory, and
//!   the daemon's answer is read to the end, since a failed load is
//!   reported in it under status 200 ([`ferry_core::daemon::load_outcome`]).
//!   Nothing is sent before commit, so a copy that fails or is dropped
//!   leaves the daemon untouched.
//!
//! A daemon stores single images: a list is refused, and a copy from a
//! list sends the instance for the platform.

use std::io::Write;
use std::path::{Path, PathBuf};

use async_trait::async_trait;
use bytes::Bytes;
use ferry_core::Digest;
use ferry_core::daemon::{self, Host};
use ferry_core::reference::transport::DaemonReference;
use tokio::io::AsyncWriteExt;
use tokio::sync::mpsc;

use super::archive;
use super::docker_archive::{
    ArchiveReference, DockerArchiveSource, StagedDestination, StagedImage,
};
use super::registry::http::http_error;
use super::{BlobInfo, BlobStream, ImageDestination, ImageSource, Kind, TransportError, io_error};
use crate::fs::staging::{self, StagingDir};

/// How to reach a daemon: skopeo's `--*-daemon-host`, `--*-cert-dir`
/// and `--*-tls-verify`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DaemonOptions {
    /// The daemon's address; `None`: `DOCKER_HOST`, else
    /// [`daemon::DEFAULT_HOST`].
    pub host: Option<String>,
    /// Verify the daemon's certificate (HTTPS only).
    pub tls_verify: bool,
    /// A directory with `ca.pem`, `cert.pem` and `key.pem` (HTTPS only).
    pub cert_dir: Option<PathBuf>,
}

impl Default for DaemonOptions {
    fn default() -> Self {
        DaemonOptions {
            host: None,
            tls_verify: true,
            cert_dir: None,
        }
    }
}

/// Most bytes of an answer that is not an archive (an error, the load's
/// messages) that ferry reads.
const MAX_ANSWER: usize = 1 << 20;
/// Chunks in flight between the archive writer and the request body, of
/// up to 256 KiB each (the archive writer's buffer): about a megabyte,
/// whatever the image's size.
const CHUNKS_IN_FLIGHT: usize = 4;

/// An HTTP client for one daemon.
#[derive(Debug, Clone)]
struct Client {
    http: reqwest::Client,
    /// `http://localhost` (a socket) or `https://host:port[/base]`.
    base: String,
    /// The transport reference, for messages.
    location: String,
}

impl Client {
    fn connect(options: &DaemonOptions, location: &str) -> Result<Self, TransportError> {
        let text = match &options.host {
            Some(host) => host.clone(),
            None => std::env::var("DOCKER_HOST")
                .ok()
                .filter(|h| !h.is_empty())
                .unwrap_or_else(|| daemon::DEFAULT_HOST.to_string()),
        };
        let host = Host::parse(&text).map_err(|e| TransportError::InvalidReference {
            reference: location.to_string(),
            reason: e.to_string(),
        })?;
        let mut builder =
            reqwest::Client::builder().user_agent(concat!("ferry/", env!("CARGO_PKG_VERSION")));
        match &host {
            Host::Unix { path } => builder = builder.unix_socket(Path::new(path)),
            Host::Tcp { tls: false, .. } => {}
            Host::Tcp { tls: true, .. } => {
                builder = builder
                    .danger_accept_invalid_certs(!options.tls_verify)
                    .tls_built_in_root_certs(options.tls_verify);
                if let Some(dir) = &options.cert_dir {
                    let read = |name: &str| {
                        let path = dir.join(name);
                        std::fs::read(&path).map_err(io_error(path, "read"))
                    };
                    let malformed = |name: &str, e: reqwest::Error| TransportError::Malformed {
                        location: dir.join(name).display().to_string(),
                        reason: format!("not PEM: {e}"),
                    };
                    let ca = reqwest::Certificate::from_pem(&read("ca.pem")?)
                        .map_err(|e| malformed("ca.pem", e))?;
                    let mut identity = read("cert.pem")?;
                    identity.push(b'\n');
                    identity.extend_from_slice(&read("key.pem")?);
                    let identity = reqwest::Identity::from_pem(&identity)
                        .map_err(|e| malformed("cert.pem", e))?;
                    builder = builder.add_root_certificate(ca).identity(identity);
                }
            }
        }
        let http = builder
            .build()
            .map_err(|e| http_error("cannot set up HTTP", location, e))?;
        Ok(Client {
            http,
            base: host.base_url(),
            location: location.to_string(),
        })
    }

    fn url(&self, path: &str) -> String {
        format!("{}{path}", self.base)
    }

    /// The response unless its status is unsuccessful; then the daemon's
    /// message.
    async fn check(
        &self,
        response: reqwest::Response,
    ) -> Result<reqwest::Response, TransportError> {
        let status = response.status();
        if status.is_success() {
            return Ok(response);
        }
        let body = self.answer(response).await.unwrap_or_default();
        let reason = daemon::error_message(status.as_u16(), &body);
        Err(TransportError::Status {
            location: self.location.clone(),
            reason,
            status: status.as_u16(),
            codes: Vec::new(),
        })
    }

    /// A short answer's body, at most [`MAX_ANSWER`] bytes of it.
    async fn answer(&self, mut response: reqwest::Response) -> Result<Vec<u8>, TransportError> {
        let mut body = Vec::new();
        while let Some(chunk) = response
            .chunk()
            .await
            .map_err(|e| http_error("reading the daemon's answer", &self.location, e))?
        {
            let room = MAX_ANSWER - body.len();
            body.extend_from_slice(&chunk[..chunk.len().min(room)]);
            if body.len() == MAX_ANSWER {
                break;
            }
        }
        Ok(body)
    }
}

/// Reads an image out of a daemon.
#[derive(Debug)]
pub struct DaemonSource {
    reference: DaemonReference,
    archive: DockerArchiveSource,
    /// Holds the saved archive; removed on drop.
    _spill: StagingDir,
}

impl DaemonSource {
    pub async fn open(
        reference: &DaemonReference,
        options: &DaemonOptions,
    ) -> Result<Self, TransportError> {
        let location = format!("docker-daemon:{reference}");
        let client = Client::connect(options, &location)?;
        let response = client
            .http
            .get(client.url(&daemon::save_path(reference)))
            .send()
            .await
            .map_err(|e| http_error("cannot reach the daemon", &location, e))?;
        let mut response = client.check(response).await?;
        let spill = StagingDir::create(&staging::big_temp_dir()).await?;
        let path = spill.path().join("saved.tar");
        let mut file = tokio::fs::File::create(&path)
            .await
            .map_err(io_error(&path, "create"))?;
        while let Some(chunk) = response
            .chunk()
            .await
            .map_err(|e| http_error("receiving the image from the daemon", &location, e))?
        {
            file.write_all(&chunk)
                .await
                .map_err(io_error(&path, "write"))?;
        }
        file.flush().await.map_err(io_error(&path, "write"))?;
        drop(file);
        // The daemon's archive holds the one image asked for.
        let archive = DockerArchiveSource::open(&ArchiveReference {
            path,
            name: None,
            index: None,
        })
        .await?;
        Ok(DaemonSource {
            reference: reference.clone(),
            archive,
            _spill: spill,
        })
    }
}

#[async_trait]
impl ImageSource for DaemonSource {
    fn reference(&self) -> String {
        format!("docker-daemon:{}", self.reference)
    }

    async fn manifest(
        &self,
        instance: Option<&Digest>,
    ) -> Result<(Vec<u8>, Option<String>), TransportError> {
        self.archive.manifest(instance).await
    }

    async fn blob(&self, info: &BlobInfo) -> Result<(BlobStream, Option<u64>), TransportError> {
        self.archive.blob(info).await
    }

    async fn signatures(&self, _instance: Option<&Digest>) -> Result<Vec<Vec<u8>>, TransportError> {
        // A daemon keeps no signatures.
        Ok(Vec::new())
    }
}

/// Loads one image into a daemon.
#[derive(Debug)]
pub struct DaemonDestination {
    client: Client,
    image: StagedImage,
}

const LIST_REFUSED: &str =
    "a Docker daemon stores single images, not a manifest list; copy one platform";

impl DaemonDestination {
    pub async fn create(
        reference: &DaemonReference,
        options: &DaemonOptions,
    ) -> Result<Self, TransportError> {
        let location = format!("docker-daemon:{reference}");
        let tag = reference
            .destination_tag()
            .map_err(|e| TransportError::InvalidReference {
                reference: location.clone(),
                reason: e.to_string(),
            })?
            .clone();
        let client = Client::connect(options, &location)?;
        let image = StagedImage::create(location, Some(tag), LIST_REFUSED).await?;
        Ok(DaemonDestination { client, image })
    }

    /// Sends `members` as the body of a load, and reads the daemon's
    /// answer. The archive is written on a blocking thread into a bounded
    /// channel that the request body drains.
    async fn load(&self, members: Vec<archive::Member>) -> Result<(), TransportError> {
        let location = self.reference();
        let (sender, mut receiver) = mpsc::channel::<std::io::Result<Bytes>>(CHUNKS_IN_FLIGHT);
        let abort = sender.clone();
        let writer_location = PathBuf::from(&location);
        let writer = tokio::task::spawn_blocking(move || {
            let written = archive::write_members(ChannelWriter(sender), members, &writer_location)
                .and_then(|mut w| {
                    w.flush().map_err(io_error(&writer_location, "write"))?;
                    Ok(())
                });
            if let Err(e) = &written {
                // Ends the body with an error rather than cleanly, so the
                // daemon never takes a truncated archive for a whole one.
                let _ = abort.blocking_send(Err(std::io::Error::other(e.to_string())));
            }
            written
        });
        let body = futures_util::stream::poll_fn(move |cx| receiver.poll_recv(cx));
        let sent = self
            .client
            .http
            .post(self.client.url(daemon::LOAD_PATH))
            .header(reqwest::header::CONTENT_TYPE, "application/x-tar")
            .body(reqwest::Body::wrap_stream(body))
            .send()
            .await;
        let written = writer
            .await
            .map_err(|e| io_error(&location, "write the archive")(std::io::Error::other(e)))?;
        // The daemon's answer says most about what went wrong: it may
        // have stopped reading because it refused the archive.
        let response = match sent {
            Ok(response) => self.client.check(response).await?,
            Err(e) => {
                written?;
                return Err(http_error("sending the image to the daemon", &location, e));
            }
        };
        written?;
        let answer = self.client.answer(response).await?;
        daemon::load_outcome(&answer)
            .map(drop)
            .map_err(|message| TransportError::Status {
                location,
                reason: format!("the daemon did not load the image: {message}"),
                status: 200,
                codes: Vec::new(),
            })
    }
}

/// The archive writer's end of the request body: each write becomes a
/// chunk, waiting while [`CHUNKS_IN_FLIGHT`] are queued. A closed channel
/// (the request ended) is a broken pipe.
struct ChannelWriter(mpsc::Sender<std::io::Result<Bytes>>);

impl Write for ChannelWriter {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        self.0
            .blocking_send(Ok(Bytes::copy_from_slice(buf)))
            .map_err(|_| {
                std::io::Error::new(
                    std::io::ErrorKind::BrokenPipe,
                    "the daemon stopped reading the image",
                )
            })?;
        Ok(buf.len())
    }

    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

#[async_trait]
impl StagedDestination for DaemonDestination {
    const KIND: Kind = Kind::DockerDaemon;

    fn staged(&self) -> &StagedImage {
        &self.image
    }

    async fn deliver(&self, members: Vec<archive::Member>) -> Result<(), TransportError> {
        self.load(members).await
    }
}
