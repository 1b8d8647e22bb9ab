//! Signatures as stored: the bytes of `signature-N` files, lookaside
//! files and registry signature extensions, in containers/image's
//! format.
//!
//! A simple signature is stored as its raw OpenPGP bytes, which begin
//! with a packet tag; any other format begins with a zero byte, its name
//! and a newline (`\0sigstore-json\n{…}`). Telling them apart needs no
//! cryptography, so it is decided here, once.

use alloc::string::{String, ToString};
use alloc::vec::Vec;
use core::fmt;

use super::strict::{self, FormatError, Members};

/// The media type of a sigstore signature attachment.
pub const SIGSTORE_MEDIA_TYPE: &str = "application/vnd.dev.cosign.simplesigning.v1+json";
/// The annotation that carries a sigstore signature (base64).
pub const SIGSTORE_SIGNATURE_ANNOTATION: &str = "dev.cosignproject.cosign/signature";

/// One stored signature, by format.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Signature<'a> {
    /// OpenPGP bytes of a simple signature.
    SimpleSigning(&'a [u8]),
    /// A sigstore signature: the signed payload and the annotations
    /// (the signature itself, and a certificate and bundle when made
    /// with Fulcio and Rekor).
    Sigstore(Sigstore),
}

/// The parts of a sigstore signature as containers/image stores them.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Sigstore {
    pub media_type: String,
    pub payload: Vec<u8>,
    /// In document order.
    pub annotations: Vec<(String, String)>,
}

impl Sigstore {
    /// The annotation `key`.
    pub fn annotation(&self, key: &str) -> Option<&str> {
        self.annotations
            .iter()
            .find(|(k, _)| k == key)
            .map(|(_, v)| v.as_str())
    }

    /// The stored form, `\0sigstore-json\n` and the JSON containers/image
    /// writes (Go's encoding: `payload` in base64, keys in struct order,
    /// annotations sorted).
    pub fn to_blob(&self) -> Vec<u8> {
        let mut annotations = self.annotations.clone();
        annotations.sort();
        let mut out = String::from("\0sigstore-json\n{\"mimeType\":");
        crate::json::write_string(&mut out, &self.media_type, true);
        out.push_str(",\"payload\":\"");
        out.push_str(&crate::base64::encode_padded(
            &self.payload,
            crate::base64::Alphabet::Standard,
        ));
        out.push_str("\",\"annotations\":{");
        for (i, (k, v)) in annotations.iter().enumerate() {
            if i > 0 {
                out.push(',');
            }
            crate::json::write_string(&mut out, k, true);
            out.push(':');
            crate::json::write_string(&mut out, v, true);
        }
        out.push_str("}}");
        out.into_bytes()
    }
}

/// Why stored bytes are not a signature ferry can read.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum BlobError {
    Empty,
    /// Neither an OpenPGP packet nor a zero byte.
    UnknownStart(u8),
    /// `\0` without a newline-terminated format name.
    MissingFormatName,
    /// A format name containers/image does not know.
    UnknownFormat(String),
    /// A sigstore signature whose JSON is not as stored.
    Sigstore(FormatError),
}

impl fmt::Display for BlobError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            BlobError::Empty => f.write_str("empty signature"),
            BlobError::UnknownStart(b) => write!(
                f,
                "not a signature: starts with byte {b:#04x}, neither an OpenPGP packet nor a format marker"
            ),
            BlobError::MissingFormatName => {
                f.write_str("invalid signature format, missing newline")
            }
            BlobError::UnknownFormat(name) => write!(
                f,
                "unsupported signature format {name}",
                name = crate::Quoted(name)
            ),
            BlobError::Sigstore(e) => write!(f, "invalid sigstore signature: {e}"),
        }
    }
}

impl core::error::Error for BlobError {}

/// The stored form's marker of a sigstore signature.
const SIGSTORE_MARKER: &[u8] = b"\0sigstore-json\n";

/// Whether stored bytes claim to be a sigstore signature: the format is
/// told by its marker alone, without reading the JSON (what a
/// destination can store is decided by this; whether the signature is
/// readable, when it is judged).
pub fn is_sigstore(blob: &[u8]) -> bool {
    blob.starts_with(SIGSTORE_MARKER)
}

impl<'a> Signature<'a> {
    /// Reads stored bytes.
    pub fn from_blob(blob: &'a [u8]) -> Result<Signature<'a>, BlobError> {
        let Some(&first) = blob.first() else {
            return Err(BlobError::Empty);
        };
        if is_openpgp_start(first) {
            return Ok(Signature::SimpleSigning(blob));
        }
        if first != 0 {
            return Err(BlobError::UnknownStart(first));
        }
        let rest = &blob[1..];
        let newline = rest
            .iter()
            .position(|b| *b == b'\n')
            .ok_or(BlobError::MissingFormatName)?;
        let (name, body) = (&rest[..newline], &rest[newline + 1..]);
        if name.iter().any(|b| !(32..0x7f).contains(b)) {
            return Err(BlobError::MissingFormatName);
        }
        match name {
            b"simple-signing" => Ok(Signature::SimpleSigning(body)),
            b"sigstore-json" => sigstore(body)
                .map(Signature::Sigstore)
                .map_err(BlobError::Sigstore),
            other => Err(BlobError::UnknownFormat(
                String::from_utf8_lossy(other).into_owned(),
            )),
        }
    }
}

/// The first bytes of the packets a simple signature can start with: a
/// compressed data packet, a one-pass signature or a signature packet,
/// in the old or new packet format.
fn is_openpgp_start(b: u8) -> bool {
    matches!(
        b,
        0xA0..=0xA3 | 0xC8 | 0x90..=0x92 | 0x3d | 0xC4 | 0x88..=0x8B | 0xC2
    )
}

fn sigstore(body: &[u8]) -> Result<Sigstore, FormatError> {
    let document = strict::parse(body)?;
    // Go's encoding/json, not the paranoid reader: unknown members are
    // ignored, as containers/image ignores them here.
    let mut m = Members::of(&document, "")?;
    let media_type = m.string("mimeType")?.unwrap_or_default().to_string();
    let payload = match m.string("payload")? {
        None => Vec::new(),
        Some(text) => crate::base64::decode_padded(text, crate::base64::Alphabet::Standard)
            .map_err(|_| FormatError::at("/payload", strict::Problem::InvalidBase64))?,
    };
    let mut annotations = Vec::new();
    if let Some(value) = m.take("annotations")
        && *value != crate::json::Value::Null
    {
        let mut a = Members::of(value, "/annotations")?;
        let pointer = a.pointer().to_string();
        for (key, value) in a.rest() {
            let text = strict::as_str(value, &crate::json::child_pointer(&pointer, key))?;
            annotations.push((key.to_string(), text.to_string()));
        }
    }
    Ok(Sigstore {
        media_type,
        payload,
        annotations,
    })
}
