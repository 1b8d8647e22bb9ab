//! Content digests: `algorithm:encoded`, as the OCI image spec defines them.
//!
//! A [`Digest`] is validated when it is made, so holding one proves that the
//! algorithm is one ferry can verify (sha256 or sha512) and that the encoded
//! part is lowercase hex of exactly the right length. That makes a `Digest`
//! safe to use as a file name (`blobs/sha256/<hex>`) without further checks:
//! it can never contain `/`, `..` or anything else a path could trip over.
//!
//! Manifests carry digests as plain strings, and containers/image accepts any
//! string while parsing; ferry keeps those strings as they came
//! ([`crate::manifest::Descriptor::digest`]) and validates them into a
//! `Digest` at the moment they are used.

use alloc::string::{String, ToString};
use core::fmt;
use core::str::FromStr;

use sha2::Digest as _;

/// A hash algorithm that ferry can verify content with.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Algorithm {
    /// SHA-256, the algorithm of every registry in practice.
    Sha256,
    /// SHA-512, registered by the OCI image spec.
    Sha512,
}

impl Algorithm {
    /// The name used before the colon.
    pub const fn name(self) -> &'static str {
        match self {
            Algorithm::Sha256 => "sha256",
            Algorithm::Sha512 => "sha512",
        }
    }

    /// Length of the hex-encoded hash.
    pub const fn hex_len(self) -> usize {
        match self {
            Algorithm::Sha256 => 64,
            Algorithm::Sha512 => 128,
        }
    }

    /// The algorithm called `name` before a digest's colon, if ferry knows it.
    pub fn from_name(name: &str) -> Option<Self> {
        match name {
            "sha256" => Some(Algorithm::Sha256),
            "sha512" => Some(Algorithm::Sha512),
            _ => None,
        }
    }
}

impl fmt::Display for Algorithm {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

/// A validated content digest such as `sha256:e3b0c442…`.
#[derive(Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct Digest {
    // Invariant: `text` is `<algorithm.name()>:<lowercase hex of algorithm.hex_len()>`.
    algorithm: Algorithm,
    text: String,
}

/// Why a string is not a digest ferry accepts.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum DigestError {
    /// No `:` separates the algorithm from the encoded hash.
    MissingSeparator { input: String },
    /// The algorithm is not sha256 or sha512.
    UnsupportedAlgorithm { input: String, algorithm: String },
    /// The encoded part has the wrong length for its algorithm.
    WrongLength {
        input: String,
        expected: usize,
        found: usize,
    },
    /// The encoded part has a character that is not lowercase hex.
    NotLowercaseHex { input: String, position: usize },
}

impl fmt::Display for DigestError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            DigestError::MissingSeparator { input } => {
                write!(
                    f,
                    "invalid digest {input}: expected algorithm:hex",
                    input = crate::Quoted(input)
                )
            }
            DigestError::UnsupportedAlgorithm { input, algorithm } => write!(
                f,
                "invalid digest {input}: unsupported algorithm {algorithm} (expected sha256 or sha512)",
                input = crate::Quoted(input),
                algorithm = crate::Quoted(algorithm)
            ),
            DigestError::WrongLength {
                input,
                expected,
                found,
            } => write!(
                f,
                "invalid digest {input}: encoded part has {found} characters, expected {expected}",
                input = crate::Quoted(input)
            ),
            DigestError::NotLowercaseHex { input, position } => write!(
                f,
                "invalid digest {input}: character {position} of the encoded part is not lowercase hex",
                input = crate::Quoted(input)
            ),
        }
    }
}

impl core::error::Error for DigestError {}

impl Digest {
    /// Parses and validates `algorithm:hex`.
    pub fn parse(input: &str) -> Result<Self, DigestError> {
        let Some((name, encoded)) = input.split_once(':') else {
            return Err(DigestError::MissingSeparator {
                input: truncate_for_error(input),
            });
        };
        let Some(algorithm) = Algorithm::from_name(name) else {
            return Err(DigestError::UnsupportedAlgorithm {
                input: truncate_for_error(input),
                algorithm: truncate_for_error(name),
            });
        };
        if encoded.len() != algorithm.hex_len() {
            return Err(DigestError::WrongLength {
                input: truncate_for_error(input),
                expected: algorithm.hex_len(),
                found: encoded.chars().count(),
            });
        }
        if let Some(position) = encoded
            .bytes()
            .position(|b| !matches!(b, b'0'..=b'9' | b'a'..=b'f'))
        {
            return Err(DigestError::NotLowercaseHex {
                input: truncate_for_error(input),
                position,
            });
        }
        Ok(Digest {
            algorithm,
            text: input.to_string(),
        })
    }

    /// The sha256 digest of `bytes`, the algorithm registries use.
    pub fn sha256_of(bytes: &[u8]) -> Self {
        Self::of(Algorithm::Sha256, bytes)
    }

    /// The digest of `bytes` with `algorithm`.
    pub fn of(algorithm: Algorithm, bytes: &[u8]) -> Self {
        let mut hasher = Hasher::new(algorithm);
        hasher.update(bytes);
        hasher.finish()
    }

    /// The algorithm part.
    pub fn algorithm(&self) -> Algorithm {
        self.algorithm
    }

    /// The hex part after the colon.
    pub fn encoded(&self) -> &str {
        &self.text[self.algorithm.name().len() + 1..]
    }

    /// The whole `algorithm:hex` text.
    pub fn as_str(&self) -> &str {
        &self.text
    }

    /// Whether `bytes` hash to this digest, with this digest's algorithm.
    pub fn matches(&self, bytes: &[u8]) -> bool {
        Self::of(self.algorithm, bytes) == *self
    }

    /// A hasher with this digest's algorithm, for verifying a stream against it.
    pub fn verifier(&self) -> Hasher {
        Hasher::new(self.algorithm)
    }
}

/// Error inputs can be arbitrarily long (a hostile manifest's "digest" may be
/// megabytes); errors quote a bounded prefix.
pub(crate) fn truncate_for_error(input: &str) -> String {
    const MAX: usize = 200;
    if input.len() <= MAX {
        return input.to_string();
    }
    let mut end = MAX;
    while !input.is_char_boundary(end) {
        end -= 1;
    }
    let mut out = input[..end].to_string();
    out.push('…');
    out
}

impl fmt::Display for Digest {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.text)
    }
}

impl fmt::Debug for Digest {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "Digest({})", self.text)
    }
}

impl FromStr for Digest {
    type Err = DigestError;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Digest::parse(s)
    }
}

impl AsRef<str> for Digest {
    fn as_ref(&self) -> &str {
        &self.text
    }
}

impl serde::Serialize for Digest {
    fn serialize<S: serde::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.serialize_str(&self.text)
    }
}

impl<'de> serde::Deserialize<'de> for Digest {
    fn deserialize<D: serde::Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        let text = String::deserialize(deserializer)?;
        Digest::parse(&text).map_err(serde::de::Error::custom)
    }
}

/// An incremental hasher, for content that arrives as a stream.
///
/// Feed it every chunk with [`Hasher::update`]; [`Hasher::finish`] gives the
/// digest. The copy engine uses it to verify blobs while they stream, so no
/// blob is ever held whole in memory.
#[derive(Clone)]
pub struct Hasher {
    state: HasherState,
    bytes: u64,
}

#[derive(Clone)]
enum HasherState {
    Sha256(sha2::Sha256),
    Sha512(sha2::Sha512),
}

impl fmt::Debug for Hasher {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Hasher")
            .field("algorithm", &self.algorithm())
            .field("bytes", &self.bytes)
            .finish()
    }
}

impl Hasher {
    /// A hasher for `algorithm`.
    pub fn new(algorithm: Algorithm) -> Self {
        let state = match algorithm {
            Algorithm::Sha256 => HasherState::Sha256(sha2::Sha256::new()),
            Algorithm::Sha512 => HasherState::Sha512(sha2::Sha512::new()),
        };
        Hasher { state, bytes: 0 }
    }

    /// The algorithm this hasher computes.
    pub fn algorithm(&self) -> Algorithm {
        match self.state {
            HasherState::Sha256(_) => Algorithm::Sha256,
            HasherState::Sha512(_) => Algorithm::Sha512,
        }
    }

    /// Adds a chunk.
    pub fn update(&mut self, chunk: &[u8]) {
        self.bytes += chunk.len() as u64;
        match &mut self.state {
            HasherState::Sha256(h) => h.update(chunk),
            HasherState::Sha512(h) => h.update(chunk),
        }
    }

    /// How many bytes have been fed so far.
    pub fn bytes(&self) -> u64 {
        self.bytes
    }

    /// The digest of everything fed.
    pub fn finish(self) -> Digest {
        let algorithm = self.algorithm();
        let mut text = String::with_capacity(algorithm.name().len() + 1 + algorithm.hex_len());
        text.push_str(algorithm.name());
        text.push(':');
        match self.state {
            HasherState::Sha256(h) => push_hex(&mut text, &h.finalize()),
            HasherState::Sha512(h) => push_hex(&mut text, &h.finalize()),
        }
        Digest { algorithm, text }
    }
}

fn push_hex(out: &mut String, bytes: &[u8]) {
    const HEX: &[u8; 16] = b"0123456789abcdef";
    for b in bytes {
        out.push(HEX[usize::from(b >> 4)] as char);
        out.push(HEX[usize::from(b & 0xf)] as char);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const EMPTY_SHA256: &str =
        "sha256:e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855";

    #[test]
    fn sha256_of_empty_input_is_the_well_known_value() {
        assert_eq!(Digest::sha256_of(b"").as_str(), EMPTY_SHA256);
    }

    #[test]
    fn sha512_digest_has_128_hex_characters() {
        let d = Digest::of(Algorithm::Sha512, b"abc");
        assert_eq!(d.encoded().len(), 128);
        assert!(d.as_str().starts_with("sha512:ddaf35a1"));
    }

    #[test]
    fn parse_accepts_what_it_prints() {
        let d = Digest::parse(EMPTY_SHA256).unwrap();
        assert_eq!(d.to_string(), EMPTY_SHA256);
        assert_eq!(d.algorithm(), Algorithm::Sha256);
    }

    #[test]
    fn parse_rejects_path_like_encodings() {
        for bad in [
            "sha256:../../etc/passwd",
            "sha256:",
            "sha256",
            "md5:d41d8cd98f00b204e9800998ecf8427e",
            "SHA256:e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855",
            "sha256:E3B0C44298FC1C149AFBF4C8996FB92427AE41E4649B934CA495991B7852B855",
            "sha256:e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b85/",
            "sha256:e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b8550",
        ] {
            assert!(Digest::parse(bad).is_err(), "{bad} must be rejected");
        }
    }

    #[test]
    fn errors_name_the_input() {
        let err = Digest::parse("sha256:xyz").unwrap_err();
        assert!(err.to_string().contains("sha256:xyz"), "{err}");
    }

    #[test]
    fn incremental_hashing_equals_one_shot() {
        let mut h = Hasher::new(Algorithm::Sha256);
        h.update(b"hello ");
        h.update(b"world");
        assert_eq!(h.bytes(), 11);
        assert_eq!(h.finish(), Digest::sha256_of(b"hello world"));
    }

    #[test]
    fn matches_checks_content_with_the_digests_algorithm() {
        let d = Digest::of(Algorithm::Sha512, b"x");
        assert!(d.matches(b"x"));
        assert!(!d.matches(b"y"));
    }
}
