//! OpenPGP verification of simple-signing signatures, in process, with
//! rPGP (the `pgp` crate, pure Rust).
//!
//! A simple-signing signature, as containers/image stores it, is an
//! OpenPGP *signed message*: what `gpg --sign` writes (a compressed data
//! packet holding a one-pass signature, the literal data and the
//! signature), not a detached signature. [`Keyring::verify`] reads one and
//! says what it signs and which key made it, with the rules
//! containers/image applies through gpgme (`signature/mechanism_gpgme.go`):
//!
//! - the message must carry exactly one signature (gpgme's count must be
//!   one), and a message without any is refused;
//! - the signing key must be in the keyring (the policy's `keyPath`,
//!   `keyPaths` or `keyData`), else the signature is "by an unknown key";
//! - the signature must verify over the literal data;
//! - the key must be neither revoked nor expired *now* (gpg reports a good
//!   signature by a key that has since expired as EXPKEYSIG, which
//!   containers/image refuses), the signature must not have expired, and
//!   the key may not be newer than its signature;
//! - the fingerprint reported is that of the key that signed, a subkey's
//!   when a subkey signed, upper-case hex (gpgme's `sig.Fingerprint`).
//!
//! Which fingerprints a policy accepts, and what the payload must say, are
//! ferry-core's decisions ([`ferry_core::trust`]). "Now" is a parameter,
//! so the decision is reproducible; the caller reads the clock.
//!
//! Hostile input is bounded: a signature larger than
//! [`MAX_SIGNATURE_SIZE`], a message that decompresses to more than
//! [`MAX_DECOMPRESSED_SIZE`], more than [`MAX_PACKETS`] packets or
//! compression nested deeper than [`MAX_NESTING`] is refused before more
//! work is done.

use std::fmt;
use std::io::Read;
use std::time::{SystemTime, UNIX_EPOCH};

use pgp::composed::{PublicOrSecret, SignedPublicKey};
use pgp::packet::{
    LiteralData, OnePassSignature, Packet, PacketParser, PublicKey, PublicSubkey, Signature,
    SignatureType, SubpacketData,
};
use pgp::types::{KeyDetails, Tag};

/// The largest signature read: containers/image's limit on a signature
/// body (`iolimits.MaxSignatureBodySize`, 4 MiB).
pub const MAX_SIGNATURE_SIZE: usize = 4 << 20;
/// The most bytes all compressed packets of one signature may expand to.
pub const MAX_DECOMPRESSED_SIZE: usize = 4 << 20;
/// The most packets one signature may hold, at all levels together. A
/// signature from gpg has three or four.
pub const MAX_PACKETS: usize = 64;
/// The deepest compressed packets may nest (gpg writes one level).
pub const MAX_NESTING: usize = 4;
/// The largest key file read (one `keyPath`, `keyPaths` entry or
/// `keyData`).
pub const MAX_KEY_FILE_SIZE: usize = 16 << 20;

/// Why key material could not be read.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum KeyError {
    /// The key file is larger than [`MAX_KEY_FILE_SIZE`].
    TooLarge { size: usize, limit: usize },
    /// The bytes are not OpenPGP keys (binary or armored).
    Malformed { reason: String },
}

impl fmt::Display for KeyError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            KeyError::TooLarge { size, limit } => write!(
                f,
                "the key file is {size} bytes, more than the {limit} bytes ferry reads"
            ),
            KeyError::Malformed { reason } => {
                write!(
                    f,
                    "the key file does not hold OpenPGP public keys: {reason}"
                )
            }
        }
    }
}

impl std::error::Error for KeyError {}

/// Why a signature was not accepted.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum VerifyError {
    /// The signature is larger than [`MAX_SIGNATURE_SIZE`], or its
    /// compressed packets expand to more than [`MAX_DECOMPRESSED_SIZE`].
    TooLarge { size: usize, limit: usize },
    /// The bytes are not an OpenPGP signed message ferry can read.
    Malformed { reason: String },
    /// An OpenPGP message, but not a signed one (literal data alone, or
    /// encrypted data).
    Unsigned { found: &'static str },
    /// More than one signature in the message; containers/image accepts
    /// exactly one.
    MultipleSignatures { count: usize },
    /// Signed by a key that is not in the keyring ("signature by unknown
    /// key"); `key_id` is the signature's issuer, 16 upper-case hex
    /// digits.
    UnknownKey { key_id: String },
    /// The signature does not verify with the key it names: the data or
    /// the signature was changed.
    BadSignature { fingerprint: String, reason: String },
    /// The key that signed (or its primary key) is revoked.
    KeyRevoked { fingerprint: String },
    /// The key that signed (or its primary key) expired at `at` (Unix
    /// seconds), before the time of verification.
    KeyExpired { fingerprint: String, at: u64 },
    /// The signature itself expired at `at` (Unix seconds).
    SignatureExpired { fingerprint: String, at: u64 },
    /// The key was created after the signature (`key_created`,
    /// `signature_created`, Unix seconds), or after the time of
    /// verification: gpg's time conflict.
    TimeConflict {
        fingerprint: String,
        key_created: u64,
        signature_created: u64,
    },
    /// The key that signed may not sign (its key flags say otherwise).
    NotASigningKey { fingerprint: String },
}

impl fmt::Display for VerifyError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            VerifyError::TooLarge { size, limit } => write!(
                f,
                "the signature is at least {size} bytes, more than the {limit} bytes ferry reads"
            ),
            VerifyError::Malformed { reason } => {
                write!(
                    f,
                    "the signature is not an OpenPGP signed message: {reason}"
                )
            }
            VerifyError::Unsigned { found } => {
                write!(f, "the signature is not signed: it holds {found}")
            }
            VerifyError::MultipleSignatures { count } => write!(
                f,
                "the signature holds {count} OpenPGP signatures; exactly one is accepted"
            ),
            VerifyError::UnknownKey { key_id } => write!(f, "signature by unknown key {key_id}"),
            VerifyError::BadSignature {
                fingerprint,
                reason,
            } => write!(f, "bad signature by key {fingerprint}: {reason}"),
            VerifyError::KeyRevoked { fingerprint } => {
                write!(f, "signature by key {fingerprint}, which is revoked")
            }
            VerifyError::KeyExpired { fingerprint, at } => write!(
                f,
                "signature by key {fingerprint}, which expired at Unix time {at}"
            ),
            VerifyError::SignatureExpired { fingerprint, at } => write!(
                f,
                "signature by key {fingerprint} expired at Unix time {at}"
            ),
            VerifyError::TimeConflict {
                fingerprint,
                key_created,
                signature_created,
            } => write!(
                f,
                "signature by key {fingerprint} made at Unix time {signature_created}, \
                 but the key was created at {key_created}"
            ),
            VerifyError::NotASigningKey { fingerprint } => {
                write!(f, "signature by key {fingerprint}, which may not sign")
            }
        }
    }
}

impl std::error::Error for VerifyError {}

/// What a verified signature says, and who said it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Verified {
    /// The signed bytes (the simple-signing JSON), exactly as signed.
    pub payload: Vec<u8>,
    /// The fingerprint of the key that made the signature (a subkey's when
    /// a subkey signed), upper-case hex: what containers/image compares
    /// with the policy's keys.
    pub signer_fingerprint: String,
    /// The fingerprint of that key's primary key (the same as
    /// `signer_fingerprint` when the primary key signed).
    pub primary_fingerprint: String,
    /// The signing key's key ID, 16 upper-case hex digits.
    pub key_id: String,
    /// When the signature says it was made, Unix seconds.
    pub created: u64,
}

/// What a signature claims, read without checking it: for error messages
/// only (containers/image's `UntrustedSignatureContents`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Unverified {
    /// The bytes the signature claims to sign. UNTRUSTED.
    pub payload: Vec<u8>,
    /// The key ID the signature names, 16 upper-case hex digits.
    pub key_id: String,
}

/// A key that could not be used, and why (gpg skips such keys on import,
/// and so does [`Keyring::add`]).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SkippedKey {
    pub fingerprint: String,
    pub reason: String,
}

/// The public keys a `signedBy` requirement trusts.
#[derive(Debug, Default)]
pub struct Keyring {
    certs: Vec<Cert>,
    skipped: Vec<SkippedKey>,
}

/// One public key with what its self-signatures say.
#[derive(Debug)]
struct Cert {
    primary: Component,
    subkeys: Vec<Component>,
}

#[derive(Debug)]
enum ComponentKey {
    Primary(PublicKey),
    Sub(PublicSubkey),
}

/// A primary key or subkey, with its validity as its newest valid binding
/// (self-)signature states it.
#[derive(Debug)]
struct Component {
    key: ComponentKey,
    fingerprint: String,
    key_id: String,
    created: u64,
    /// When it expires, Unix seconds; `None`: never.
    expires: Option<u64>,
    can_sign: bool,
    revoked: bool,
}

impl Component {
    fn new(key: ComponentKey, binding: Option<&Signature>, revoked: bool) -> Self {
        let (fingerprint, key_id, created) = match &key {
            ComponentKey::Primary(k) => (k.fingerprint(), k.legacy_key_id(), k.created_at()),
            ComponentKey::Sub(k) => (k.fingerprint(), k.legacy_key_id(), k.created_at()),
        };
        let created = u64::from(created.as_secs());
        let expires = binding
            .and_then(Signature::key_expiration_time)
            .map(|d| u64::from(d.as_secs()))
            .filter(|secs| *secs != 0)
            .map(|secs| created.saturating_add(secs));
        let can_sign = binding.is_none_or(|sig| !has_key_flags(sig) || sig.key_flags().sign());
        Component {
            key,
            fingerprint: format!("{fingerprint:X}"),
            key_id: key_id_hex(key_id.as_ref()),
            created,
            expires,
            can_sign,
            revoked,
        }
    }

    fn verify(&self, sig: &Signature, data: &[u8]) -> pgp::errors::Result<()> {
        match &self.key {
            ComponentKey::Primary(k) => sig.verify(k, data),
            ComponentKey::Sub(k) => sig.verify(k, data),
        }
    }

    /// Whether `sig` names this key as its issuer.
    fn issued(&self, sig: &Signature) -> bool {
        let fingerprints = sig.issuer_fingerprint();
        if !fingerprints.is_empty() {
            return fingerprints
                .iter()
                .any(|f| format!("{f:X}") == self.fingerprint);
        }
        sig.issuer_key_id()
            .iter()
            .any(|id| key_id_hex(id.as_ref()) == self.key_id)
    }
}

fn has_key_flags(sig: &Signature) -> bool {
    sig.config().is_some_and(|c| {
        c.hashed_subpackets()
            .any(|p| matches!(p.data, SubpacketData::KeyFlags(_)))
    })
}

fn key_id_hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02X}")).collect()
}

fn created_secs(sig: &Signature) -> u64 {
    sig.created().map_or(0, |t| u64::from(t.as_secs()))
}

/// The newest of `sigs` (by creation time) that verifies.
fn newest_valid<'a>(
    sigs: impl Iterator<Item = &'a Signature>,
    valid: impl Fn(&Signature) -> bool,
) -> Option<&'a Signature> {
    sigs.filter(|s| valid(s)).max_by_key(|s| created_secs(s))
}

impl Cert {
    /// Reads what `key`'s self-signatures say; `Err` (with the reason)
    /// when it has no valid self-signature, as gpg refuses to import it.
    fn from_signed(key: SignedPublicKey) -> Result<Self, SkippedKey> {
        let SignedPublicKey {
            primary_key,
            details,
            public_subkeys,
        } = key;
        let fingerprint = format!("{:X}", primary_key.fingerprint());
        let primary = &primary_key;
        let certifications = details.users.iter().flat_map(|user| {
            user.signatures.iter().filter(move |sig| {
                sig.is_certification()
                    && sig.typ() != Some(SignatureType::CertRevocation)
                    && sig
                        .verify_certification(primary, Tag::UserId, &user.id)
                        .is_ok()
            })
        });
        let direct = details
            .direct_signatures
            .iter()
            .filter(|sig| sig.verify_key(&primary_key).is_ok());
        let Some(binding) = newest_valid(certifications.chain(direct), |_| true) else {
            return Err(SkippedKey {
                fingerprint,
                reason: "no valid self-signature".into(),
            });
        };
        let binding = binding.clone();
        let revoked = details.revocation_signatures.iter().any(|sig| {
            sig.typ() == Some(SignatureType::KeyRevocation) && sig.verify_key(&primary_key).is_ok()
        });
        let subkeys = public_subkeys
            .into_iter()
            .filter_map(|sub| {
                let bound = newest_valid(
                    sub.signatures
                        .iter()
                        .filter(|s| s.typ() == Some(SignatureType::SubkeyBinding)),
                    |sig| {
                        sig.verify_subkey_binding(&primary_key, &sub.key).is_ok()
                            && (!sig.key_flags().sign()
                                || sig.embedded_signature().is_some_and(|back| {
                                    back.verify_primary_key_binding(&sub.key, &primary_key)
                                        .is_ok()
                                }))
                    },
                )?
                .clone();
                let revoked = sub.signatures.iter().any(|sig| {
                    sig.typ() == Some(SignatureType::SubkeyRevocation)
                        && sig.verify_subkey_binding(&primary_key, &sub.key).is_ok()
                });
                Some(Component::new(
                    ComponentKey::Sub(sub.key),
                    Some(&bound),
                    revoked,
                ))
            })
            .collect();
        Ok(Cert {
            primary: Component::new(ComponentKey::Primary(primary_key), Some(&binding), revoked),
            subkeys,
        })
    }
}

impl Keyring {
    /// An empty keyring: every signature is by an unknown key.
    pub fn new() -> Self {
        Keyring::default()
    }

    /// Reads one key file: armored or binary OpenPGP public keys (one or
    /// many; secret keys contribute their public part, as on `gpg
    /// --import`). Empty input gives an empty keyring, as gpg imports
    /// nothing from it.
    pub fn from_bytes(bytes: &[u8]) -> Result<Self, KeyError> {
        let mut keyring = Keyring::new();
        keyring.add(bytes)?;
        Ok(keyring)
    }

    /// Adds the keys of one key file (see [`Keyring::from_bytes`]) and
    /// returns their primary fingerprints, upper-case hex, in file order:
    /// containers/image's "trusted identities". Keys without a valid
    /// self-signature are skipped and listed in [`Keyring::skipped`].
    pub fn add(&mut self, bytes: &[u8]) -> Result<Vec<String>, KeyError> {
        if bytes.len() > MAX_KEY_FILE_SIZE {
            return Err(KeyError::TooLarge {
                size: bytes.len(),
                limit: MAX_KEY_FILE_SIZE,
            });
        }
        if bytes.iter().all(u8::is_ascii_whitespace) {
            return Ok(Vec::new());
        }
        let malformed = |e: pgp::errors::Error| KeyError::Malformed {
            reason: e.to_string(),
        };
        // An armored file may hold several armored blocks one after
        // another (gpg imports them all); a binary one is one sequence of
        // keys.
        let blocks: Vec<&[u8]> = if is_armored(bytes) {
            armor_blocks(bytes)
        } else {
            vec![bytes]
        };
        let mut keys = Vec::new();
        for block in blocks {
            let (parsed, _) = PublicOrSecret::from_reader_many_buf(block).map_err(malformed)?;
            for key in parsed {
                keys.push(match key.map_err(malformed)? {
                    PublicOrSecret::Public(k) => k,
                    PublicOrSecret::Secret(k) => k.to_public_key(),
                });
            }
        }
        if keys.is_empty() {
            return Err(KeyError::Malformed {
                reason: "no public key found".into(),
            });
        }
        let mut added = Vec::new();
        for key in keys {
            match Cert::from_signed(key) {
                Ok(cert) => {
                    added.push(cert.primary.fingerprint.clone());
                    self.certs.push(cert);
                }
                Err(skipped) => self.skipped.push(skipped),
            }
        }
        Ok(added)
    }

    /// The primary fingerprints of the usable keys, upper-case hex.
    pub fn fingerprints(&self) -> Vec<String> {
        self.certs
            .iter()
            .map(|c| c.primary.fingerprint.clone())
            .collect()
    }

    /// Whether no key is usable.
    pub fn is_empty(&self) -> bool {
        self.certs.is_empty()
    }

    /// Keys that were read but cannot be used.
    pub fn skipped(&self) -> &[SkippedKey] {
        &self.skipped
    }

    /// Verifies a simple-signing signature (an OpenPGP signed message) at
    /// time `now`, and returns what it signs and who signed it.
    pub fn verify(&self, signature: &[u8], now: SystemTime) -> Result<Verified, VerifyError> {
        let message = SignedMessage::read(signature)?;
        let sig = message.only_signature()?;
        let key_id = issuer_key_id(sig)?;
        let now = now.duration_since(UNIX_EPOCH).map_or(0, |d| d.as_secs());

        let candidates = self.certs.iter().flat_map(|cert| {
            std::iter::once((cert, &cert.primary))
                .chain(cert.subkeys.iter().map(move |sub| (cert, sub)))
        });
        let mut bad = None;
        for (cert, component) in candidates.filter(|(_, c)| c.issued(sig)) {
            match component.verify(sig, &message.literal) {
                Ok(()) => return accept(cert, component, sig, message.literal.clone(), now),
                Err(e) => {
                    bad.get_or_insert(VerifyError::BadSignature {
                        fingerprint: component.fingerprint.clone(),
                        reason: e.to_string(),
                    });
                }
            }
        }
        Err(bad.unwrap_or(VerifyError::UnknownKey { key_id }))
    }
}

/// After the signature verified with `component`: gpg's validity checks.
fn accept(
    cert: &Cert,
    component: &Component,
    sig: &Signature,
    payload: Vec<u8>,
    now: u64,
) -> Result<Verified, VerifyError> {
    let fingerprint = component.fingerprint.clone();
    match sig.typ() {
        Some(SignatureType::Binary | SignatureType::Text) => {}
        other => {
            return Err(VerifyError::Malformed {
                reason: format!("a signature of type {other:?}, not over data"),
            });
        }
    }
    if cert.primary.revoked || component.revoked {
        return Err(VerifyError::KeyRevoked { fingerprint });
    }
    for part in [&cert.primary, component] {
        if let Some(at) = part.expires.filter(|at| *at <= now) {
            return Err(VerifyError::KeyExpired { fingerprint, at });
        }
    }
    let created = created_secs(sig);
    if let Some(at) = sig
        .signature_expiration_time()
        .map(|d| u64::from(d.as_secs()))
        .filter(|secs| *secs != 0)
        .map(|secs| created.saturating_add(secs))
        .filter(|at| *at <= now)
    {
        return Err(VerifyError::SignatureExpired { fingerprint, at });
    }
    if component.created > created || component.created > now {
        return Err(VerifyError::TimeConflict {
            fingerprint,
            key_created: component.created,
            signature_created: created,
        });
    }
    if !component.can_sign {
        return Err(VerifyError::NotASigningKey { fingerprint });
    }
    Ok(Verified {
        payload,
        signer_fingerprint: fingerprint,
        primary_fingerprint: cert.primary.fingerprint.clone(),
        key_id: component.key_id.clone(),
        created,
    })
}

fn issuer_key_id(sig: &Signature) -> Result<String, VerifyError> {
    if let Some(id) = sig.issuer_key_id().first() {
        return Ok(key_id_hex(id.as_ref()));
    }
    if let Some(fpr) = sig.issuer_fingerprint().first() {
        // A v4 key ID is the fingerprint's last 8 bytes.
        let bytes = fpr.as_bytes();
        return Ok(key_id_hex(&bytes[bytes.len().saturating_sub(8)..]));
    }
    Err(VerifyError::Malformed {
        reason: "the signature names no issuer".into(),
    })
}

/// Reads what `signature` claims to sign and who claims to have signed
/// it, WITHOUT checking anything: for messages about signatures that did
/// not verify.
pub fn read_unverified(signature: &[u8]) -> Result<Unverified, VerifyError> {
    let message = SignedMessage::read(signature)?;
    let sig = message.only_signature()?;
    Ok(Unverified {
        key_id: issuer_key_id(sig)?,
        payload: message.literal,
    })
}

/// A signed message taken apart: its literal data and its signatures.
#[derive(Debug)]
struct SignedMessage {
    literal: Vec<u8>,
    signatures: Vec<Signature>,
}

/// Walks packets, expanding compressed ones in place, within the limits.
#[derive(Debug, Default)]
struct Flattener {
    packets: Vec<Packet>,
    /// Packets seen, skipped ones included.
    seen: usize,
    decompressed: usize,
}

impl Flattener {
    fn walk(&mut self, bytes: &[u8], depth: usize) -> Result<(), VerifyError> {
        for packet in PacketParser::new(bytes) {
            let packet = packet.map_err(|e| VerifyError::Malformed {
                reason: e.to_string(),
            })?;
            self.seen += 1;
            if self.seen > MAX_PACKETS {
                return Err(VerifyError::Malformed {
                    reason: format!("more than {MAX_PACKETS} packets"),
                });
            }
            match packet {
                Packet::CompressedData(compressed) => {
                    if depth >= MAX_NESTING {
                        return Err(VerifyError::Malformed {
                            reason: format!("compressed data nested deeper than {MAX_NESTING}"),
                        });
                    }
                    let budget = MAX_DECOMPRESSED_SIZE - self.decompressed;
                    let mut inner = Vec::new();
                    compressed
                        .decompress()
                        .and_then(|d| {
                            d.take(budget as u64 + 1)
                                .read_to_end(&mut inner)
                                .map_err(Into::into)
                        })
                        .map_err(|e| VerifyError::Malformed {
                            reason: format!("compressed data: {e}"),
                        })?;
                    if inner.len() > budget {
                        return Err(VerifyError::TooLarge {
                            size: self.decompressed + inner.len(),
                            limit: MAX_DECOMPRESSED_SIZE,
                        });
                    }
                    self.decompressed += inner.len();
                    self.walk(&inner, depth + 1)?;
                }
                Packet::Marker(_) | Packet::Padding(_) => {}
                other => self.packets.push(other),
            }
        }
        Ok(())
    }
}

fn tag_name(packet: &Packet) -> &'static str {
    match packet {
        Packet::PublicKeyEncryptedSessionKey(_)
        | Packet::SymKeyEncryptedSessionKey(_)
        | Packet::SymEncryptedData(_)
        | Packet::SymEncryptedProtectedData(_)
        | Packet::GnupgAeadData(_) => "encrypted data",
        Packet::LiteralData(_) => "literal data",
        Packet::Signature(_) => "a signature packet",
        Packet::OnePassSignature(_) => "a one-pass signature packet",
        Packet::CompressedData(_) => "compressed data",
        Packet::PublicKey(_) | Packet::PublicSubkey(_) => "a public key",
        Packet::SecretKey(_) | Packet::SecretSubkey(_) => "a secret key",
        _ => "an unexpected packet",
    }
}

impl SignedMessage {
    /// Takes `bytes` apart: binary (or armored) OpenPGP, whose packets,
    /// once compressed data is expanded, read
    /// `Signature* OnePassSignature* LiteralData Signature*`, with one
    /// trailing signature for each one-pass signature.
    fn read(bytes: &[u8]) -> Result<Self, VerifyError> {
        if bytes.len() > MAX_SIGNATURE_SIZE {
            return Err(VerifyError::TooLarge {
                size: bytes.len(),
                limit: MAX_SIGNATURE_SIZE,
            });
        }
        if bytes.is_empty() {
            return Err(VerifyError::Malformed {
                reason: "no data".into(),
            });
        }
        let dearmored;
        let binary = if is_armored(bytes) {
            dearmored = dearmor(bytes)?;
            &dearmored[..]
        } else {
            bytes
        };
        let mut flat = Flattener::default();
        flat.walk(binary, 0)?;
        let mut packets = flat.packets.into_iter().peekable();

        let mut prefix = Vec::new();
        while let Some(Packet::Signature(_)) = packets.peek() {
            if let Some(Packet::Signature(sig)) = packets.next() {
                prefix.push(sig);
            }
        }
        let mut ops: Vec<OnePassSignature> = Vec::new();
        while let Some(Packet::OnePassSignature(_)) = packets.peek() {
            if let Some(Packet::OnePassSignature(op)) = packets.next() {
                ops.push(op);
            }
        }
        let literal = match packets.next() {
            Some(Packet::LiteralData(literal)) => literal,
            Some(other) if prefix.is_empty() && ops.is_empty() => {
                return Err(match tag_name(&other) {
                    found @ "encrypted data" => VerifyError::Unsigned { found },
                    found => VerifyError::Malformed {
                        reason: format!("it holds {found}, not a signed message"),
                    },
                });
            }
            Some(other) => {
                return Err(VerifyError::Malformed {
                    reason: format!("{} where literal data belongs", tag_name(&other)),
                });
            }
            None => {
                return Err(VerifyError::Malformed {
                    reason: "no literal data".into(),
                });
            }
        };
        let mut trailing = Vec::new();
        for packet in packets {
            match packet {
                Packet::Signature(sig) => trailing.push(sig),
                other => {
                    return Err(VerifyError::Malformed {
                        reason: format!("{} after the literal data", tag_name(&other)),
                    });
                }
            }
        }
        if trailing.len() != ops.len() {
            return Err(VerifyError::Malformed {
                reason: format!(
                    "{} one-pass signatures but {} signatures after the data",
                    ops.len(),
                    trailing.len()
                ),
            });
        }
        // The last signature closes the first one-pass signature, and
        // hashes as that announced. (rPGP's `OnePassSignature::matches`
        // also refuses version 3 signatures, which gpg accepts.)
        for (op, sig) in ops.iter().zip(trailing.iter().rev()) {
            if sig.typ() != Some(op.typ()) || sig.hash_alg() != Some(op.hash_algorithm()) {
                return Err(VerifyError::Malformed {
                    reason: "a signature does not match its one-pass signature".into(),
                });
            }
        }
        if prefix.is_empty() && trailing.is_empty() {
            return Err(VerifyError::Unsigned {
                found: "literal data",
            });
        }
        prefix.extend(trailing);
        Ok(SignedMessage {
            literal: literal_bytes(literal),
            signatures: prefix,
        })
    }

    /// The one signature containers/image accepts.
    fn only_signature(&self) -> Result<&Signature, VerifyError> {
        match self.signatures.as_slice() {
            [sig] => Ok(sig),
            many => Err(VerifyError::MultipleSignatures { count: many.len() }),
        }
    }
}

fn literal_bytes(literal: LiteralData) -> Vec<u8> {
    literal.into_bytes().to_vec()
}

fn is_armored(bytes: &[u8]) -> bool {
    let start = bytes
        .iter()
        .position(|b| !b.is_ascii_whitespace())
        .unwrap_or(bytes.len());
    bytes[start..].starts_with(b"-----BEGIN PGP ")
}

/// `bytes` cut before each armor header line after the first.
fn armor_blocks(bytes: &[u8]) -> Vec<&[u8]> {
    const BEGIN: &[u8] = b"\n-----BEGIN PGP ";
    let mut blocks = Vec::new();
    let mut start = 0;
    let mut at = 1;
    while let Some(found) = bytes
        .get(at..)
        .and_then(|rest| rest.windows(BEGIN.len()).position(|w| w == BEGIN))
    {
        let cut = at + found + 1;
        blocks.push(&bytes[start..cut]);
        start = cut;
        at = cut + 1;
    }
    blocks.push(&bytes[start..]);
    blocks
}

fn dearmor(bytes: &[u8]) -> Result<Vec<u8>, VerifyError> {
    let mut reader = pgp::armor::Dearmor::new(bytes);
    let mut out = Vec::new();
    reader
        .by_ref()
        .take(MAX_SIGNATURE_SIZE as u64)
        .read_to_end(&mut out)
        .map_err(|e| VerifyError::Malformed {
            reason: format!("armor: {e}"),
        })?;
    Ok(out)
}

/// Seconds since the epoch of an OpenPGP time, for tests and callers that
/// keep times as [`SystemTime`].
pub fn unix_time(secs: u64) -> SystemTime {
    UNIX_EPOCH + std::time::Duration::from_secs(secs)
}
