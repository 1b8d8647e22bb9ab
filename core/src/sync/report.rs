//! `ferry sync --report FILE`: what a run did with each image, and the
//! merge of the reports of a run's shards into one.

use alloc::collections::BTreeMap;
use alloc::string::String;
use alloc::vec::Vec;
use core::fmt;

use super::Shard;

/// The report format's version, for readers.
pub const VERSION: u32 = 1;

/// What became of one image.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "camelCase")]
pub enum Status {
    /// Written to the destination.
    Copied,
    /// The destination already had it: nothing was written.
    Skipped,
    /// `--dry-run`: would be copied.
    Planned,
    /// Not copied; `error` says why.
    Failed,
}

/// One image's line in the report.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ImageReport {
    /// `docker://host/repo:tag` or `dir:PATH`.
    pub source: String,
    pub destination: String,
    /// The shard key ([`super::SourceImage::key`]).
    pub key: String,
    pub status: Status,
    /// The source's top-level manifest digest, when it was read.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub source_digest: Option<String>,
    /// The digest written (or found) at the destination.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub destination_digest: Option<String>,
    /// Blob bytes this run sent to the destination for this image.
    pub bytes_copied: u64,
    pub blobs_copied: usize,
    /// Blobs the destination had already, or that another image of the
    /// run had just written.
    pub blobs_skipped: usize,
    pub blobs_mounted: usize,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub error: Option<String>,
}

/// Totals over a report's images.
#[derive(Debug, Clone, Default, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Totals {
    pub images: usize,
    pub copied: usize,
    pub skipped: usize,
    pub planned: usize,
    pub failed: usize,
    pub bytes_copied: u64,
}

/// A run's report, or the merge of its shards' reports.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Report {
    pub version: u32,
    /// The shards it covers: one for a shard's report, all of them after
    /// a merge; empty for an unsharded run.
    #[serde(default)]
    pub shards: Vec<Shard>,
    pub images: Vec<ImageReport>,
    pub totals: Totals,
}

impl Report {
    /// A report of `images`, with its totals.
    pub fn new(shard: Option<Shard>, images: Vec<ImageReport>) -> Report {
        let totals = totals(&images);
        Report {
            version: VERSION,
            shards: shard.into_iter().collect(),
            images,
            totals,
        }
    }

    /// Whether any image failed: the run's exit status.
    pub fn failed(&self) -> bool {
        self.totals.failed > 0
    }
}

fn totals(images: &[ImageReport]) -> Totals {
    let mut t = Totals {
        images: images.len(),
        ..Totals::default()
    };
    for image in images {
        match image.status {
            Status::Copied => t.copied += 1,
            Status::Skipped => t.skipped += 1,
            Status::Planned => t.planned += 1,
            Status::Failed => t.failed += 1,
        }
        t.bytes_copied += image.bytes_copied;
    }
    t
}

/// Why reports do not merge.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum MergeError {
    /// A report of another format version.
    Version { found: u32 },
    /// Shards of different partitions (`0/4` and `1/3`), or a sharded
    /// report with an unsharded one.
    Partitions { first: String, second: String },
    /// The same shard twice.
    DuplicateShard { shard: Shard },
    /// Shards missing for a whole run.
    MissingShards { missing: Vec<u32>, count: u32 },
    /// One image in two reports: shards that overlap.
    Overlap { key: String },
    /// Nothing to merge.
    Empty,
}

impl fmt::Display for MergeError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            MergeError::Version { found } => write!(
                f,
                "report format version {found}, this ferry reads version {VERSION}"
            ),
            MergeError::Partitions { first, second } => {
                write!(f, "shards of different partitions: {first} and {second}")
            }
            MergeError::DuplicateShard { shard } => write!(f, "shard {shard} is given twice"),
            MergeError::MissingShards { missing, count } => {
                write!(f, "shards missing from the {count}:")?;
                for m in missing {
                    write!(f, " {m}/{count}")?;
                }
                Ok(())
            }
            MergeError::Overlap { key } => write!(f, "{key} is in two reports"),
            MergeError::Empty => f.write_str("no reports to merge"),
        }
    }
}

impl core::error::Error for MergeError {}

/// Merges the reports of every shard of one run (or of disjoint runs):
/// each shard once, all shards of its partition present, each image in
/// one report only. Images come out sorted by key, so the merge of the
/// same reports is the same bytes whatever their order.
pub fn merge(reports: Vec<Report>) -> Result<Report, MergeError> {
    if reports.is_empty() {
        return Err(MergeError::Empty);
    }
    let mut shards: Vec<Shard> = Vec::new();
    let mut count: Option<u32> = None;
    let mut images: BTreeMap<String, ImageReport> = BTreeMap::new();
    for report in reports {
        if report.version != VERSION {
            return Err(MergeError::Version {
                found: report.version,
            });
        }
        for shard in &report.shards {
            match count {
                None => count = Some(shard.count),
                Some(n) if n != shard.count => {
                    return Err(MergeError::Partitions {
                        first: alloc::format!("?/{n}"),
                        second: alloc::format!("{shard}"),
                    });
                }
                Some(_) => {}
            }
            if shards.contains(shard) {
                return Err(MergeError::DuplicateShard { shard: *shard });
            }
            shards.push(*shard);
        }
        for image in report.images {
            if images.contains_key(&image.key) {
                return Err(MergeError::Overlap { key: image.key });
            }
            images.insert(image.key.clone(), image);
        }
    }
    if let Some(count) = count {
        let missing: Vec<u32> = (0..count)
            .filter(|k| !shards.iter().any(|s| s.index == *k))
            .collect();
        if !missing.is_empty() {
            return Err(MergeError::MissingShards { missing, count });
        }
    }
    shards.sort_by_key(|s| s.index);
    let images: Vec<ImageReport> = images.into_values().collect();
    let totals = totals(&images);
    Ok(Report {
        version: VERSION,
        shards,
        images,
        totals,
    })
}
