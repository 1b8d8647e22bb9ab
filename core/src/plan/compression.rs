//! Whether a layer is stored as it is, compressed, decompressed or
//! recompressed on the way to the destination: containers/image's
//! `blobPipelineCompressionStep` (copy/compression.go), decided in two
//! moments.
//!
//! - Planning ([`blob_operation`]) predicts the operation from the
//!   layer's media type, so that `--dry-run` and `planCopy` can show it
//!   and the copy knows which manifest types can carry the result.
//! - Copying ([`step`]) decides for real from the compression the engine
//!   detects in the blob's first bytes ([`Compression::detect`]): a media
//!   type can lie, the bytes cannot. The engine peeks, the core decides.
//!
//! What the destination wants is a [`Wish`]: the destination kind's
//! [`Desired`] (as `--dest-compress`, `--dest-decompress` and
//! `--dest-oci-accept-uncompressed-layers` adjust it,
//! [`Requested::desired_for`]), the format asked with
//! `--dest-compress-format` and the level of `--dest-compress-level`.
//! As in containers/image 5.23, a compressed layer is recompressed only
//! when a format was asked for explicitly and the destination wants
//! compressed layers; uncompressed layers get the asked format, gzip by
//! default. Diff IDs never change: every operation keeps the tar.

use alloc::string::String;

use crate::destination::Kind;
use crate::media_type as mt;
use crate::tar::Compression;

/// What the destination would like layers to be.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub enum Desired {
    #[default]
    Preserve,
    Compress,
    Decompress,
}

/// A compression ferry writes.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Format {
    Gzip,
    Zstd,
}

/// A set of formats: those `--add-compression` asks for.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Formats {
    gzip: bool,
    zstd: bool,
}

impl Formats {
    pub fn insert(&mut self, format: Format) {
        match format {
            Format::Gzip => self.gzip = true,
            Format::Zstd => self.zstd = true,
        }
    }

    pub fn contains(self, format: Format) -> bool {
        match format {
            Format::Gzip => self.gzip,
            Format::Zstd => self.zstd,
        }
    }

    /// The formats in the set, gzip first.
    pub fn iter(self) -> impl Iterator<Item = Format> {
        [Format::Gzip, Format::Zstd]
            .into_iter()
            .filter(move |f| self.contains(*f))
    }

    pub fn is_empty(self) -> bool {
        !self.gzip && !self.zstd
    }
}

impl FromIterator<Format> for Formats {
    fn from_iter<I: IntoIterator<Item = Format>>(iter: I) -> Self {
        let mut set = Formats::default();
        for f in iter {
            set.insert(f);
        }
        set
    }
}

impl Format {
    /// As `--dest-compress-format` spells it.
    pub fn name(self) -> &'static str {
        match self {
            Format::Gzip => "gzip",
            Format::Zstd => "zstd",
        }
    }

    /// `--dest-compress-format`'s value. `zstd:chunked` is refused by name:
    /// its table of contents is not written by ferry.
    pub fn parse(name: &str) -> Result<Format, CompressionError> {
        match name {
            "gzip" => Ok(Format::Gzip),
            "zstd" => Ok(Format::Zstd),
            "zstd:chunked" => Err(CompressionError::ZstdChunked),
            other => Err(CompressionError::UnknownFormat(other.into())),
        }
    }

    /// The compression detected for this format's bytes.
    pub fn compression(self) -> Compression {
        match self {
            Format::Gzip => Compression::Gzip,
            Format::Zstd => Compression::Zstd,
        }
    }

    /// The levels its encoder takes (flate2's 0..=9; libzstd's 1..=22),
    /// and the one used when none is asked (6: Go's and zlib's default;
    /// 3: libzstd's, and what containers/image's zstd encoder defaults to).
    pub fn levels(self) -> (i32, i32, i32) {
        match self {
            Format::Gzip => (0, 9, 6),
            Format::Zstd => (1, 22, 3),
        }
    }

    /// The format of a detected compression, if ferry reads and writes
    /// it (xz and bzip2 it only recognises).
    pub fn of(compression: Compression) -> Option<Format> {
        match compression {
            Compression::Gzip => Some(Format::Gzip),
            Compression::Zstd => Some(Format::Zstd),
            Compression::Xz | Compression::Bzip2 => None,
        }
    }
}

/// Why the requested compression cannot be used.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum CompressionError {
    /// `--dest-compress-format` names a format ferry does not know.
    UnknownFormat(String),
    /// `--dest-compress-format zstd:chunked`.
    ZstdChunked,
    /// `--dest-compress` and `--dest-decompress` together.
    CompressAndDecompress,
    /// `--dest-force-compress-format` without a format to force.
    ForceWithoutFormat,
    /// `--dest-compress-level` outside what the format's encoder takes.
    Level { format: Format, level: i32 },
}

impl core::fmt::Display for CompressionError {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        match self {
            CompressionError::UnknownFormat(name) => write!(
                f,
                "unsupported compression format {name}: ferry writes \"gzip\" and \"zstd\"",
                name = crate::Quoted(name)
            ),
            CompressionError::ZstdChunked => f.write_str(
                "compression format \"zstd:chunked\" is not supported: ferry does not write its table of contents; use \"zstd\"",
            ),
            CompressionError::CompressAndDecompress => {
                f.write_str("cannot compress and decompress at the same time")
            }
            CompressionError::ForceWithoutFormat => f.write_str(
                "--dest-force-compress-format needs the format to force (--dest-compress-format)",
            ),
            CompressionError::Level { format, level } => {
                let (low, high, _) = format.levels();
                write!(
                    f,
                    "compression level {level} is out of range for {}: {low} to {high}",
                    format.name()
                )
            }
        }
    }
}

impl core::error::Error for CompressionError {}

/// What the user asked of the layers' compression (skopeo's
/// `--dest-compress…` options); the default asks nothing.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Requested {
    /// The destination's wish instead of the one its kind declares
    /// ([`Requested::desired_for`]).
    pub desired: Option<Desired>,
    /// `--dest-compress-format`.
    pub format: Option<Format>,
    /// `--dest-compress-level`.
    pub level: Option<i32>,
    /// `--dest-force-compress-format`: every layer the copy may change is
    /// read and its compression checked, none skipped because the
    /// destination holds it as the source names it.
    pub force: bool,
}

/// The options that change what a destination wants, as skopeo spells
/// them.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct DestinationFlags {
    /// `--dest-compress`.
    pub compress: bool,
    /// `--dest-decompress`.
    pub decompress: bool,
    /// `--dest-oci-accept-uncompressed-layers`.
    pub oci_accept_uncompressed: bool,
}

impl Requested {
    /// The request for a copy to a destination of `kind` (`None`: a kind
    /// not in [`Kind`]'s table, which the flags leave alone). As in
    /// containers/image, `--dest-compress` and `--dest-decompress` speak to
    /// `dir:` (the one kind that keeps layers as they come), and
    /// `--dest-oci-accept-uncompressed-layers` to `oci:` and `oci-archive:`
    /// (which otherwise compress what is not); elsewhere they change
    /// nothing.
    pub fn new(
        kind: Option<Kind>,
        flags: DestinationFlags,
        format: Option<Format>,
        level: Option<i32>,
        force: bool,
    ) -> Result<Requested, CompressionError> {
        if flags.compress && flags.decompress {
            return Err(CompressionError::CompressAndDecompress);
        }
        if force && format.is_none() {
            return Err(CompressionError::ForceWithoutFormat);
        }
        if let Some(level) = level {
            let format = format.unwrap_or(Format::Gzip);
            let (low, high, _) = format.levels();
            if !(low..=high).contains(&level) {
                return Err(CompressionError::Level { format, level });
            }
        }
        let desired = match kind {
            Some(Kind::Dir) if flags.compress => Some(Desired::Compress),
            Some(Kind::Dir) if flags.decompress => Some(Desired::Decompress),
            Some(Kind::Oci | Kind::OciArchive) if flags.oci_accept_uncompressed => {
                Some(Desired::Preserve)
            }
            _ => None,
        };
        Ok(Requested {
            desired,
            format,
            level,
            force,
        })
    }

    /// What a destination declaring `declared` is asked for.
    pub fn wish(&self, declared: Desired) -> Wish {
        Wish {
            desired: self.desired.unwrap_or(declared),
            format: self.format,
            level: self.level,
            force: self.force,
        }
    }
}

/// What the destination wants of a layer whose compression may change.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Wish {
    pub desired: Desired,
    /// Asked explicitly; uncompressed layers are gzipped without it.
    pub format: Option<Format>,
    pub level: Option<i32>,
    /// [`Requested::force`].
    pub force: bool,
}

/// What to do with one blob in transit, as planned from its media type.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize)]
#[serde(rename_all = "lowercase")]
pub enum BlobOperation {
    /// Copy the bytes as they are.
    Keep,
    /// Compress them (a new digest).
    Compress,
    /// Decompress them (a new digest, equal to the layer's diff ID).
    Decompress,
    /// Decompress and compress them in another format (a new digest).
    Recompress,
}

/// What to do with one layer's bytes, decided from their compression.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Step {
    /// Copy them as they are.
    Keep,
    Compress {
        to: Format,
        level: i32,
    },
    Decompress {
        from: Format,
    },
    Recompress {
        from: Format,
        to: Format,
        level: i32,
    },
}

impl BlobOperation {
    /// Whether the bytes are kept as they are.
    pub fn is_keep(&self) -> bool {
        *self == BlobOperation::Keep
    }
}

impl Step {
    /// The planned operation this step performs.
    pub fn operation(self) -> BlobOperation {
        match self {
            Step::Keep => BlobOperation::Keep,
            Step::Compress { .. } => BlobOperation::Compress,
            Step::Decompress { .. } => BlobOperation::Decompress,
            Step::Recompress { .. } => BlobOperation::Recompress,
        }
    }
}

/// Decides what happens to a layer whose bytes start as `detected`
/// says, for a destination that wishes `wish`: containers/image's order
/// (compress what is not compressed; recompress what is compressed
/// otherwise than the format asked; decompress for destinations that
/// want tars; else keep). ferry decodes gzip and zstd only: an xz or
/// bzip2 layer is kept as it is.
pub fn step(detected: Option<Compression>, wish: &Wish) -> Step {
    let level = |format: Format| wish.level.unwrap_or(format.levels().2);
    match (wish.desired, detected.map(Format::of)) {
        (Desired::Compress, None) => {
            let to = wish.format.unwrap_or(Format::Gzip);
            Step::Compress {
                to,
                level: level(to),
            }
        }
        (Desired::Compress, Some(Some(from))) => match wish.format {
            Some(to) if to != from => Step::Recompress {
                from,
                to,
                level: level(to),
            },
            _ => Step::Keep,
        },
        (Desired::Decompress, Some(Some(from))) => Step::Decompress { from },
        _ => Step::Keep,
    }
}

/// A layer type's compression, when the type is a known layer type:
/// `Some(None)` for an uncompressed layer.
pub fn layer_compression(media_type: &str) -> Option<Option<Compression>> {
    FAMILIES.iter().find_map(|family| {
        family
            .iter()
            .position(|t| !t.is_empty() && *t == media_type)
            .map(|i| [None, Some(Compression::Gzip), Some(Compression::Zstd)][i])
    })
}

/// The known layer types, with their counterparts: (uncompressed, gzip,
/// zstd or ""). Docker's types have no zstd form (containers/image's
/// `schema2CompressionMIMETypeSets`): a Docker layer made zstd takes the
/// OCI type of its kind, and its manifest must become OCI.
const FAMILIES: [[&str; 3]; 4] = [
    [mt::DOCKER_LAYER, mt::DOCKER_LAYER_GZIP, ""],
    [mt::DOCKER_FOREIGN_LAYER, mt::DOCKER_FOREIGN_LAYER_GZIP, ""],
    [mt::OCI_LAYER, mt::OCI_LAYER_GZIP, mt::OCI_LAYER_ZSTD],
    [
        mt::OCI_LAYER_NONDISTRIBUTABLE,
        mt::OCI_LAYER_NONDISTRIBUTABLE_GZIP,
        mt::OCI_LAYER_NONDISTRIBUTABLE_ZSTD,
    ],
];

/// Plans what happens to a blob from its media type.
///
/// Only layers of known types change, only when the manifest may be
/// modified, and never layers of OCI artifacts, whose "layers" are not
/// filesystem changes (`is_image_config` false).
pub fn blob_operation(
    media_type: &str,
    wish: &Wish,
    may_modify: bool,
    is_image_config: bool,
) -> BlobOperation {
    match may_change(media_type, may_modify, is_image_config) {
        Some(compression) => step(compression, wish).operation(),
        None => BlobOperation::Keep,
    }
}

/// Whether a blob's compression may change at all, and if so what its
/// media type says it is.
pub fn may_change(
    media_type: &str,
    may_modify: bool,
    is_image_config: bool,
) -> Option<Option<Compression>> {
    if !may_modify || !is_image_config {
        return None;
    }
    layer_compression(media_type)
}

/// The media type a layer of `media_type` is written as after `step`,
/// when its bytes were detected as `detected`. Kept bytes keep their type,
/// except that the type of detected gzip or zstd bytes names that
/// compression (containers/image's `bpcPreserveOriginal` records the
/// detected algorithm, and the manifest update follows it). A Docker type
/// made zstd becomes the OCI zstd type of its kind.
pub fn written_media_type(media_type: &str, detected: Option<Compression>, step: Step) -> &str {
    let Some(family) = FAMILIES.iter().find(|f| f.contains(&media_type)) else {
        return media_type;
    };
    let result = match step {
        Step::Keep => match detected.and_then(Format::of) {
            Some(format) => Some(format),
            None => return media_type,
        },
        Step::Compress { to, .. } | Step::Recompress { to, .. } => Some(to),
        Step::Decompress { .. } => None,
    };
    match result {
        None => family[0],
        Some(Format::Gzip) => family[1],
        Some(Format::Zstd) if !family[2].is_empty() => family[2],
        Some(Format::Zstd) => {
            if family[0] == mt::DOCKER_FOREIGN_LAYER {
                mt::OCI_LAYER_NONDISTRIBUTABLE_ZSTD
            } else {
                mt::OCI_LAYER_ZSTD
            }
        }
    }
}

/// Whether a manifest naming a layer of this type must be OCI.
pub fn needs_oci(layer_media_type: &str) -> bool {
    matches!(
        layer_media_type,
        mt::OCI_LAYER_ZSTD | mt::OCI_LAYER_NONDISTRIBUTABLE_ZSTD
    )
}

/// How far decompressed bytes may outgrow the compressed bytes read: at
/// most [`MAX_EXPANSION`] times as many, plus [`EXPANSION_ALLOWANCE`].
/// gzip cannot expand past about 1,032 times, so this binds zstd only,
/// whose run-length blocks let 1 KiB stand for 32 MiB of zeros; a real
/// layer compresses a few times, a layer of mostly zeros a few hundred
/// times. A layer past the limit is refused as a decompression bomb.
pub const MAX_EXPANSION: u64 = 1024;
/// See [`MAX_EXPANSION`]: 16 MiB.
pub const EXPANSION_ALLOWANCE: u64 = 16 << 20;

/// Whether `decompressed` bytes out of `compressed` bytes read are within
/// the limit ([`MAX_EXPANSION`]).
pub fn within_expansion_limit(compressed: u64, decompressed: u64) -> bool {
    decompressed <= compressed.saturating_mul(MAX_EXPANSION) + EXPANSION_ALLOWANCE
}

#[cfg(test)]
mod tests {
    use super::*;
    use alloc::string::ToString;

    const GZIP: Option<Compression> = Some(Compression::Gzip);
    const ZSTD: Option<Compression> = Some(Compression::Zstd);

    fn wish(desired: Desired, format: Option<Format>) -> Wish {
        Wish {
            desired,
            format,
            ..Wish::default()
        }
    }

    #[test]
    fn uncompressed_layers_are_gzipped_unless_a_format_is_asked() {
        let to_gzip = step(None, &wish(Desired::Compress, None));
        assert_eq!(
            to_gzip,
            Step::Compress {
                to: Format::Gzip,
                level: 6
            }
        );
        let to_zstd = step(None, &wish(Desired::Compress, Some(Format::Zstd)));
        assert_eq!(
            to_zstd,
            Step::Compress {
                to: Format::Zstd,
                level: 3
            }
        );
    }

    #[test]
    fn compressed_layers_are_recompressed_only_into_an_asked_format() {
        assert_eq!(step(GZIP, &wish(Desired::Compress, None)), Step::Keep);
        assert_eq!(
            step(GZIP, &wish(Desired::Compress, Some(Format::Gzip))),
            Step::Keep
        );
        let asked = Wish {
            level: Some(19),
            ..wish(Desired::Compress, Some(Format::Zstd))
        };
        assert_eq!(
            step(GZIP, &asked),
            Step::Recompress {
                from: Format::Gzip,
                to: Format::Zstd,
                level: 19
            }
        );
        assert_eq!(
            step(ZSTD, &wish(Desired::Compress, Some(Format::Gzip))),
            Step::Recompress {
                from: Format::Zstd,
                to: Format::Gzip,
                level: 6
            }
        );
    }

    #[test]
    fn destinations_that_want_tars_get_gzip_and_zstd_decompressed() {
        let tars = wish(Desired::Decompress, None);
        assert_eq!(step(GZIP, &tars), Step::Decompress { from: Format::Gzip });
        assert_eq!(step(ZSTD, &tars), Step::Decompress { from: Format::Zstd });
        assert_eq!(step(None, &tars), Step::Keep);
    }

    #[test]
    fn destinations_that_preserve_keep_every_layer_whatever_the_format() {
        let preserve = wish(Desired::Preserve, Some(Format::Zstd));
        assert_eq!(step(None, &preserve), Step::Keep);
        assert_eq!(step(GZIP, &preserve), Step::Keep);
    }

    #[test]
    fn xz_and_bzip2_layers_are_kept_as_ferry_cannot_decode_them() {
        let asked = wish(Desired::Compress, Some(Format::Zstd));
        assert_eq!(step(Some(Compression::Xz), &asked), Step::Keep);
        let tars = wish(Desired::Decompress, None);
        assert_eq!(step(Some(Compression::Bzip2), &tars), Step::Keep);
    }

    #[test]
    fn the_plan_predicts_from_media_types_and_keeps_what_may_not_change() {
        let asked = wish(Desired::Compress, Some(Format::Zstd));
        let op = |t: &str| blob_operation(t, &asked, true, true);
        assert_eq!(op(mt::OCI_LAYER), BlobOperation::Compress);
        assert_eq!(op(mt::DOCKER_LAYER_GZIP), BlobOperation::Recompress);
        assert_eq!(op(mt::OCI_LAYER_ZSTD), BlobOperation::Keep);
        assert_eq!(op(mt::OCI_CONFIG), BlobOperation::Keep);
        assert_eq!(op("application/x-custom"), BlobOperation::Keep);
        let signed = blob_operation(mt::OCI_LAYER_GZIP, &asked, false, true);
        assert_eq!(signed, BlobOperation::Keep);
        let artifact = blob_operation(mt::OCI_LAYER_GZIP, &asked, true, false);
        assert_eq!(artifact, BlobOperation::Keep);
    }

    #[test]
    fn written_types_name_the_new_compression_in_the_same_family() {
        let zstd = Step::Recompress {
            from: Format::Gzip,
            to: Format::Zstd,
            level: 3,
        };
        assert_eq!(
            written_media_type(mt::OCI_LAYER_GZIP, GZIP, zstd),
            mt::OCI_LAYER_ZSTD
        );
        assert_eq!(
            written_media_type(mt::OCI_LAYER_NONDISTRIBUTABLE_GZIP, GZIP, zstd),
            mt::OCI_LAYER_NONDISTRIBUTABLE_ZSTD
        );
        let gzip = Step::Recompress {
            from: Format::Zstd,
            to: Format::Gzip,
            level: 6,
        };
        assert_eq!(
            written_media_type(mt::OCI_LAYER_ZSTD, ZSTD, gzip),
            mt::OCI_LAYER_GZIP
        );
        let tar = Step::Decompress { from: Format::Zstd };
        assert_eq!(
            written_media_type(mt::OCI_LAYER_ZSTD, ZSTD, tar),
            mt::OCI_LAYER
        );
    }

    #[test]
    fn docker_layers_made_zstd_take_the_oci_type_and_need_an_oci_manifest() {
        let zstd = Step::Compress {
            to: Format::Zstd,
            level: 3,
        };
        let written = written_media_type(mt::DOCKER_LAYER, None, zstd);
        assert_eq!(written, mt::OCI_LAYER_ZSTD);
        assert!(needs_oci(written));
        assert_eq!(
            written_media_type(mt::DOCKER_FOREIGN_LAYER, None, zstd),
            mt::OCI_LAYER_NONDISTRIBUTABLE_ZSTD
        );
        assert!(!needs_oci(mt::OCI_LAYER_GZIP));
    }

    #[test]
    fn kept_bytes_get_the_type_of_the_compression_detected_in_them() {
        // A layer typed gzip whose bytes are zstd.
        assert_eq!(
            written_media_type(mt::OCI_LAYER_GZIP, ZSTD, Step::Keep),
            mt::OCI_LAYER_ZSTD
        );
        // Uncompressed bytes keep their type, as in containers/image.
        assert_eq!(
            written_media_type(mt::OCI_LAYER_GZIP, None, Step::Keep),
            mt::OCI_LAYER_GZIP
        );
        assert_eq!(
            written_media_type("application/x-custom", GZIP, Step::Keep),
            "application/x-custom"
        );
    }

    #[test]
    fn compress_format_names_gzip_and_zstd_and_refuses_zstd_chunked_by_name() {
        assert_eq!(Format::parse("zstd"), Ok(Format::Zstd));
        assert_eq!(Format::parse("gzip"), Ok(Format::Gzip));
        let chunked = Format::parse("zstd:chunked").unwrap_err();
        assert_eq!(chunked, CompressionError::ZstdChunked);
        assert!(chunked.to_string().contains("\"zstd:chunked\""));
        assert_eq!(
            Format::parse("xz"),
            Err(CompressionError::UnknownFormat("xz".into()))
        );
    }

    #[test]
    fn dest_compress_and_decompress_speak_to_dir_only() {
        let flags = DestinationFlags {
            compress: true,
            ..DestinationFlags::default()
        };
        let dir = Requested::new(Some(Kind::Dir), flags, None, None, false).unwrap();
        assert_eq!(dir.wish(Desired::Preserve).desired, Desired::Compress);
        let archive = Requested::new(Some(Kind::DockerArchive), flags, None, None, false).unwrap();
        assert_eq!(
            archive.wish(Desired::Decompress).desired,
            Desired::Decompress
        );
        let decompress = DestinationFlags {
            decompress: true,
            ..DestinationFlags::default()
        };
        let dir = Requested::new(Some(Kind::Dir), decompress, None, None, false).unwrap();
        assert_eq!(dir.wish(Desired::Preserve).desired, Desired::Decompress);
    }

    #[test]
    fn oci_destinations_keep_uncompressed_layers_when_told_to_accept_them() {
        let flags = DestinationFlags {
            oci_accept_uncompressed: true,
            ..DestinationFlags::default()
        };
        for kind in [Kind::Oci, Kind::OciArchive] {
            let r = Requested::new(Some(kind), flags, None, None, false).unwrap();
            assert_eq!(r.wish(Desired::Compress).desired, Desired::Preserve);
        }
        let registry = Requested::new(Some(Kind::Docker), flags, None, None, false).unwrap();
        assert_eq!(registry.wish(Desired::Compress).desired, Desired::Compress);
    }

    #[test]
    fn contradictory_or_incomplete_requests_are_refused() {
        let both = DestinationFlags {
            compress: true,
            decompress: true,
            ..DestinationFlags::default()
        };
        assert_eq!(
            Requested::new(Some(Kind::Dir), both, None, None, false),
            Err(CompressionError::CompressAndDecompress)
        );
        let none = DestinationFlags::default();
        assert_eq!(
            Requested::new(None, none, None, None, true),
            Err(CompressionError::ForceWithoutFormat)
        );
        assert_eq!(
            Requested::new(None, none, Some(Format::Zstd), Some(23), false),
            Err(CompressionError::Level {
                format: Format::Zstd,
                level: 23
            })
        );
        assert_eq!(
            Requested::new(None, none, None, Some(10), false),
            Err(CompressionError::Level {
                format: Format::Gzip,
                level: 10
            })
        );
    }

    #[test]
    fn one_kib_expanding_to_32_mib_is_past_the_limit_and_a_real_layer_is_not() {
        assert!(!within_expansion_limit(1024, 32 << 20));
        // A layer compressed 50 times, and the limit's edge.
        assert!(within_expansion_limit(10 << 20, 500 << 20));
        assert!(within_expansion_limit(1024, 1024 * 1024 + (16 << 20)));
        assert!(!within_expansion_limit(1024, 1024 * 1024 + (16 << 20) + 1));
    }
}
