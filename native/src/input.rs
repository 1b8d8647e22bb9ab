//! Reading manifests from files or standard input, bounded.

use std::fmt;
use std::io::Read as _;
use std::path::PathBuf;

use ferry_core::manifest::MAX_MANIFEST_SIZE;

/// Why a manifest could not be read.
#[derive(Debug)]
#[non_exhaustive]
pub enum InputError {
    /// The file could not be opened or read.
    Io {
        source: String,
        error: std::io::Error,
    },
    /// The input is empty.
    Empty { source: String },
    /// The input is over the 4 MiB manifest limit.
    TooLarge { source: String, limit: usize },
}

impl fmt::Display for InputError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            InputError::Io { source, error } => write!(f, "{source}: cannot read: {error}"),
            InputError::Empty { source } => write!(f, "{source}: empty input, expected a manifest"),
            InputError::TooLarge { source, limit } => write!(
                f,
                "{source}: larger than {limit} bytes (4 MiB), the limit registries and containers/image apply to manifests"
            ),
        }
    }
}

impl std::error::Error for InputError {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        match self {
            InputError::Io { error, .. } => Some(error),
            _ => None,
        }
    }
}

/// Where a manifest comes from: a path, or `-` for standard input.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Source {
    Stdin,
    File(PathBuf),
}

impl Source {
    pub fn parse(arg: &str) -> Self {
        if arg == "-" {
            Source::Stdin
        } else {
            Source::File(PathBuf::from(arg))
        }
    }
}

impl fmt::Display for Source {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Source::Stdin => f.write_str("<stdin>"),
            Source::File(p) => write!(f, "{}", p.display()),
        }
    }
}

/// What was read: the bytes, or the fact that there were too many.
#[derive(Debug)]
pub enum Read {
    Bytes(Vec<u8>),
    /// Larger than the limit; reading stopped there, nothing was kept.
    TooLarge,
}

/// Reads at most `MAX_MANIFEST_SIZE` bytes; never buffers an oversized
/// input whole (a 100 MB file costs 4 MiB of memory, not 100).
pub fn read_bounded(source: &Source) -> Result<Read, InputError> {
    let name = source.to_string();
    let io = |error| InputError::Io {
        source: name.clone(),
        error,
    };
    let reader: Box<dyn std::io::Read + '_> = match source {
        Source::Stdin => Box::new(std::io::stdin().lock()),
        Source::File(path) => Box::new(std::fs::File::open(path).map_err(io)?),
    };
    let mut bytes = Vec::new();
    reader
        .take(MAX_MANIFEST_SIZE as u64 + 1)
        .read_to_end(&mut bytes)
        .map_err(io)?;
    if bytes.len() > MAX_MANIFEST_SIZE {
        return Ok(Read::TooLarge);
    }
    Ok(Read::Bytes(bytes))
}

/// Reads everything, however much there is, as skopeo reads a file it is
/// asked to digest.
pub fn read_all(source: &Source) -> Result<Vec<u8>, InputError> {
    let io = |error| InputError::Io {
        source: source.to_string(),
        error,
    };
    match source {
        Source::Stdin => {
            let mut bytes = Vec::new();
            std::io::stdin()
                .lock()
                .read_to_end(&mut bytes)
                .map_err(io)?;
            Ok(bytes)
        }
        Source::File(path) => std::fs::read(path).map_err(io),
    }
}

/// Reads a manifest, refusing empty and oversized input.
pub fn read_manifest(source: &Source) -> Result<Vec<u8>, InputError> {
    match read_bounded(source)? {
        Read::TooLarge => Err(InputError::TooLarge {
            source: source.to_string(),
            limit: MAX_MANIFEST_SIZE,
        }),
        Read::Bytes(b) if b.is_empty() => Err(InputError::Empty {
            source: source.to_string(),
        }),
        Read::Bytes(b) => Ok(b),
    }
}
