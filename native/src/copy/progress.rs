//! Progress events, and the ways they are shown.

use std::io::Write as _;
use std::pin::Pin;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::task::{Context, Poll};

use tokio::io::{AsyncRead, ReadBuf};

use crate::transport::BlobStream;

/// Something that happened during a copy.
#[derive(Debug, Clone, PartialEq, serde::Serialize)]
#[serde(tag = "event", rename_all = "lowercase")]
pub enum Event {
    /// A blob transfer began; `size` is -1 when unknown.
    Started { digest: String, size: i64 },
    /// More bytes of a blob arrived (`total` so far).
    Bytes { digest: String, total: u64 },
    /// A blob is stored and verified.
    Done { digest: String, size: u64 },
    /// The destination already had the blob.
    Skipped { digest: String, size: i64 },
    /// The destination mounted the blob from another repository.
    Mounted { digest: String, size: i64 },
    /// The registry would not mount the blob from repository `from`; it is
    /// copied instead.
    #[serde(rename = "mountRefused")]
    MountRefused {
        digest: String,
        from: String,
        reason: String,
    },
    /// A transfer broke off or arrived corrupt and starts again.
    Retried {
        digest: String,
        attempt: u32,
        reason: String,
    },
    /// A manifest was written.
    Manifest {
        digest: String,
        #[serde(rename = "mediaType")]
        media_type: String,
    },
    /// The copy is committed: the summary that text progress prints as
    /// `Copied N manifest(s), …`, with the report's names. The last event.
    Copied {
        /// The copied top-level manifest, as printed on stdout.
        digest: String,
        manifests: usize,
        /// Manifests the destination held already (not written).
        held: usize,
        #[serde(rename = "blobsCopied")]
        blobs_copied: usize,
        #[serde(rename = "bytesCopied")]
        bytes_copied: u64,
        #[serde(rename = "blobsSkipped")]
        blobs_skipped: usize,
        #[serde(rename = "bytesSkipped")]
        bytes_skipped: u64,
        #[serde(rename = "blobsMounted")]
        blobs_mounted: usize,
        #[serde(rename = "bytesRefetched")]
        bytes_refetched: u64,
        seconds: f64,
    },
    /// The command failed: the message text progress prints as
    /// `ferry: error: …`, without that prefix. The last event.
    Failed { error: String },
}

impl Event {
    /// The [`Event::Copied`] summary of a finished copy.
    pub fn copied(report: &super::Report) -> Self {
        Event::Copied {
            digest: report.digest.clone(),
            manifests: report.manifests.len(),
            held: report.held.len(),
            blobs_copied: report.blobs_copied,
            bytes_copied: report.bytes_copied,
            blobs_skipped: report.blobs_skipped,
            bytes_skipped: report.bytes_skipped,
            blobs_mounted: report.blobs_mounted,
            bytes_refetched: report.bytes_refetched,
            seconds: report.elapsed,
        }
    }
}

/// Receives events; must be cheap, it is called from transfer tasks.
pub trait Progress: Send + Sync {
    fn event(&self, event: Event);
}

/// Shows nothing.
#[derive(Debug, Default)]
pub struct NoProgress;

impl Progress for NoProgress {
    fn event(&self, _event: Event) {}
}

/// One JSON object per line on stderr (`--progress=json`).
#[derive(Debug, Default)]
pub struct JsonProgress;

impl Progress for JsonProgress {
    fn event(&self, event: Event) {
        if let Ok(line) = serde_json::to_string(&event) {
            let mut err = std::io::stderr().lock();
            let _ = writeln!(err, "{line}");
        }
    }
}

/// A line per finished step on stderr, as skopeo prints.
#[derive(Debug, Default)]
pub struct TextProgress;

impl Progress for TextProgress {
    fn event(&self, event: Event) {
        let line = match &event {
            Event::Started { digest, .. } => format!("Copying blob {}", short(digest)),
            Event::Done { digest, size } => {
                format!(
                    "Copied blob {} ({})",
                    short(digest),
                    crate::output::human_size(*size as i64)
                )
            }
            Event::Skipped { digest, .. } => {
                format!("Copying blob {} skipped: already exists", short(digest))
            }
            Event::Mounted { digest, .. } => {
                format!("Mounted blob {} from another repository", short(digest))
            }
            Event::MountRefused {
                digest,
                from,
                reason,
            } => mount_refused(digest, from, reason),
            Event::Retried {
                digest,
                attempt,
                reason,
                ..
            } => format!(
                "Retrying blob {} (attempt {}): {reason}",
                short(digest),
                attempt + 1
            ),
            Event::Manifest { digest, media_type } => {
                format!("Wrote manifest {} ({media_type})", short(digest))
            }
            // The summary and the error are the caller's to print.
            Event::Bytes { .. } | Event::Copied { .. } | Event::Failed { .. } => return,
        };
        let mut err = std::io::stderr().lock();
        let _ = writeln!(err, "{line}");
    }
}

fn short(digest: &str) -> &str {
    crate::output::short_digest(digest)
}

/// The line for a refused mount; the reason quotes the registry, so it
/// is kept to one harmless line.
fn mount_refused(digest: &str, from: &str, reason: &str) -> String {
    format!(
        "Mounting blob {} from {} refused ({}); copying it instead",
        short(digest),
        crate::output::line_safe(from),
        crate::output::line_safe(reason)
    )
}

/// Counts bytes as they stream past, reporting progress now and then.
pub(crate) struct Counting {
    inner: BlobStream,
    digest: String,
    total: Arc<AtomicU64>,
    reported: u64,
    progress: Arc<dyn Progress>,
}

/// Report at most every this many bytes.
const REPORT_EVERY: u64 = 4 * 1024 * 1024;

impl Counting {
    /// Counts into `total`, which the caller can read even if the stream
    /// is dropped midway.
    pub(crate) fn with_counter(
        inner: BlobStream,
        digest: String,
        progress: Arc<dyn Progress>,
        total: Arc<AtomicU64>,
    ) -> Self {
        Counting {
            inner,
            digest,
            total,
            reported: 0,
            progress,
        }
    }

    pub(crate) fn counter(&self) -> Arc<AtomicU64> {
        self.total.clone()
    }
}

impl AsyncRead for Counting {
    fn poll_read(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<std::io::Result<()>> {
        let before = buf.filled().len();
        let poll = self.inner.as_mut().poll_read(cx, buf);
        if let Poll::Ready(Ok(())) = &poll {
            let n = (buf.filled().len() - before) as u64;
            let total = self.total.fetch_add(n, Ordering::Relaxed) + n;
            if total - self.reported >= REPORT_EVERY {
                self.reported = total;
                self.progress.event(Event::Bytes {
                    digest: self.digest.clone(),
                    total,
                });
            }
        }
        poll
    }
}

/// Bars on a terminal: one per blob in flight and one overall (bytes of
/// the blobs started so far against their total).
pub struct BarProgress {
    bars: indicatif::MultiProgress,
    overall: indicatif::ProgressBar,
    blobs: std::sync::Mutex<std::collections::HashMap<String, indicatif::ProgressBar>>,
}

impl std::fmt::Debug for BarProgress {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("BarProgress").finish_non_exhaustive()
    }
}

impl Default for BarProgress {
    fn default() -> Self {
        let bars =
            indicatif::MultiProgress::with_draw_target(indicatif::ProgressDrawTarget::stderr());
        let overall = bars.add(indicatif::ProgressBar::new(0));
        overall.set_style(
            indicatif::ProgressStyle::with_template(
                "{msg:>12} [{bar:30}] {bytes}/{total_bytes} {binary_bytes_per_sec}",
            )
            .unwrap_or_else(|_| indicatif::ProgressStyle::default_bar())
            .progress_chars("=> "),
        );
        overall.set_message("total");
        BarProgress {
            bars,
            overall,
            blobs: Default::default(),
        }
    }
}

impl Progress for BarProgress {
    fn event(&self, event: Event) {
        let Ok(mut blobs) = self.blobs.lock() else {
            return;
        };
        match event {
            Event::Started { digest, size } => {
                let bar = self
                    .bars
                    .add(indicatif::ProgressBar::new(size.max(0) as u64));
                bar.set_style(
                    indicatif::ProgressStyle::with_template(
                        "{msg:>12} [{bar:30}] {bytes}/{total_bytes}",
                    )
                    .unwrap_or_else(|_| indicatif::ProgressStyle::default_bar())
                    .progress_chars("=> "),
                );
                bar.set_message(short(&digest).trim_start_matches("sha256:").to_string());
                self.overall.inc_length(size.max(0) as u64);
                blobs.insert(digest, bar);
            }
            Event::Bytes { digest, total } => {
                if let Some(bar) = blobs.get(&digest) {
                    let delta = total.saturating_sub(bar.position());
                    bar.set_position(total);
                    self.overall.inc(delta);
                }
            }
            Event::Done { digest, size } => {
                if let Some(bar) = blobs.remove(&digest) {
                    self.overall.inc(size.saturating_sub(bar.position()));
                    bar.finish_and_clear();
                    self.bars.remove(&bar);
                }
                let _ = self.bars.println(format!(
                    "Copied blob {} ({})",
                    short(&digest),
                    crate::output::human_size(size as i64)
                ));
            }
            Event::Skipped { digest, .. } => {
                let _ = self.bars.println(format!(
                    "Copying blob {} skipped: already exists",
                    short(&digest)
                ));
            }
            Event::Retried {
                digest,
                attempt,
                reason,
                ..
            } => {
                let _ = self.bars.println(format!(
                    "Retrying blob {} (attempt {}): {reason}",
                    short(&digest),
                    attempt + 1
                ));
            }
            Event::Mounted { digest, .. } => {
                let _ = self.bars.println(format!(
                    "Mounted blob {} from another repository",
                    short(&digest)
                ));
            }
            Event::MountRefused {
                digest,
                from,
                reason,
            } => {
                let _ = self.bars.println(mount_refused(&digest, &from, &reason));
            }
            Event::Manifest { digest, media_type } => {
                let _ = self
                    .bars
                    .println(format!("Wrote manifest {} ({media_type})", short(&digest)));
                if media_type.contains("index") || media_type.contains("list") || blobs.is_empty() {
                    self.overall.finish_and_clear();
                }
            }
            Event::Copied { .. } | Event::Failed { .. } => self.overall.finish_and_clear(),
        }
    }
}
