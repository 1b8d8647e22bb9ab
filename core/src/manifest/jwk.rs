//! The public key in a signed schema 1 signature (`header.jwk`), checked
//! as libtrust checks it while it recovers the signed payload.
//!
//! Nothing here verifies a signature, and neither does containers/image.
//! But libtrust reads each signature's key while it parses the document,
//! and a key it cannot read fails the whole parse, so containers/image
//! (`manifest.Digest`, `skopeo manifest-digest`) has no digest for such a
//! manifest. ferry makes the same checks so that it has a digest exactly
//! when containers/image has one:
//!
//! - the key is a JSON object (`null` counts as an object with no members)
//!   with a string `kty` of `EC` or `RSA`; members are matched exactly, the
//!   last of duplicates winning, as Go reads a `map[string]interface{}`;
//! - an EC key names `P-256`, `P-384` or `P-521` in `crv` and has `x` and
//!   `y`, base64url strings of exactly the curve's byte length;
//! - an RSA key has base64url `n` and `e` (`e` at most 4 bytes: libtrust
//!   crashes on a longer one) and no private exponent `d`;
//! - a `kid`, if present, is a string equal to libtrust's key ID: the
//!   sha256 of the key's DER `SubjectPublicKeyInfo`, its first 240 bits in
//!   base32, in groups of four. An EC point that is not on its curve has no
//!   DER form; Go then computes the empty ID, so such a key passes with
//!   `"kid": ""` and fails with any other `kid`.
//!
//! The curve check needs arithmetic modulo the curve's prime. Speed does
//! not matter (one check per signature), so multiplication is
//! double-and-add over 64-bit limbs: short, and obviously correct.

use alloc::string::String;
use alloc::vec::Vec;
use core::cmp::Ordering;
use core::fmt;

use crate::json::Value;

/// Why libtrust would not read a signature's public key.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum JwkError {
    /// The key is a JSON string, number, array or boolean.
    NotAnObject { found: &'static str },
    /// A member the key type needs is absent.
    Missing { member: &'static str },
    /// A member that must be a string is not one.
    NotAString { member: &'static str },
    /// `kty` is neither `EC` nor `RSA`.
    UnsupportedKeyType { kty: String },
    /// `crv` is not `P-256`, `P-384` or `P-521`.
    UnsupportedCurve { crv: String },
    /// A member is not base64url.
    Base64 { member: &'static str },
    /// An EC coordinate has the wrong number of bytes for its curve.
    CoordinateLength {
        member: &'static str,
        found: usize,
        expected: usize,
    },
    /// The RSA exponent `e` is longer than 4 bytes (libtrust panics).
    ExponentTooLong { found: usize },
    /// An RSA public key carries a private exponent `d`.
    PrivateExponent,
    /// `kid` is not the key's ID (empty when an EC point is off its curve).
    KeyIdMismatch { kid: String, computed: String },
}

impl fmt::Display for JwkError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            JwkError::NotAnObject { found } => write!(f, "the key is a JSON {found}"),
            JwkError::Missing { member } => write!(f, "\"{member}\" value not specified"),
            JwkError::NotAString { member } => write!(f, "\"{member}\" value must be a string"),
            JwkError::UnsupportedKeyType { kty: name }
            | JwkError::UnsupportedCurve { crv: name } => {
                write!(
                    f,
                    "{name} is not supported (EC P-256, P-384, P-521 or RSA)",
                    name = crate::Quoted(name)
                )
            }
            JwkError::Base64 { member } => write!(f, "\"{member}\" is not base64url"),
            JwkError::CoordinateLength {
                member,
                found,
                expected,
            } => write!(f, "\"{member}\" has {found} bytes, not {expected}"),
            JwkError::ExponentTooLong { found } => {
                write!(f, "\"e\" has {found} bytes, more than 4 (skopeo crashes)")
            }
            JwkError::PrivateExponent => f.write_str("a public key with a private exponent \"d\""),
            JwkError::KeyIdMismatch { kid, computed } => {
                // Empty for a point off its curve.
                write!(
                    f,
                    "\"kid\" {kid} is not the key's ID {computed}",
                    kid = crate::Quoted(kid),
                    computed = crate::Quoted(computed)
                )
            }
        }
    }
}

impl core::error::Error for JwkError {}

/// Checks a signature's `jwk` as libtrust's `UnmarshalPublicKeyJWK` does.
pub fn check(jwk: &Value) -> Result<(), JwkError> {
    let members = match jwk {
        Value::Object(o) => &o.members[..],
        // Go decodes `null` into a nil map: every member is then absent.
        Value::Null => &[],
        other => {
            return Err(JwkError::NotAnObject {
                found: other.kind(),
            });
        }
    };
    let key = Key(members);
    match key.string("kty")? {
        "EC" => check_ec(&key),
        "RSA" => check_rsa(&key),
        other => Err(JwkError::UnsupportedKeyType { kty: other.into() }),
    }
}

/// The key's members, read as Go reads a `map[string]interface{}`.
struct Key<'a>(&'a [crate::json::Member]);

impl Key<'_> {
    fn get(&self, member: &str) -> Option<&Value> {
        self.0
            .iter()
            .rev()
            .find(|m| m.key == member)
            .map(|m| &m.value)
    }

    fn string(&self, member: &'static str) -> Result<&str, JwkError> {
        match self.get(member) {
            None => Err(JwkError::Missing { member }),
            Some(Value::String(s)) => Ok(s),
            Some(_) => Err(JwkError::NotAString { member }),
        }
    }

    fn bytes(&self, member: &'static str) -> Result<Vec<u8>, JwkError> {
        super::jws::decode_jose_text(self.string(member)?).map_err(|_| JwkError::Base64 { member })
    }

    /// Compares `kid`, when there is one, with the key's ID.
    fn check_kid(&self, computed: impl FnOnce() -> String) -> Result<(), JwkError> {
        if self.get("kid").is_none() {
            return Ok(());
        }
        let kid = self.string("kid")?;
        let computed = computed();
        if kid == computed {
            Ok(())
        } else {
            Err(JwkError::KeyIdMismatch {
                kid: kid.into(),
                computed,
            })
        }
    }
}

fn check_ec(key: &Key<'_>) -> Result<(), JwkError> {
    let crv = key.string("crv")?;
    let Some(curve) = CURVES.iter().find(|c| c.name == crv) else {
        return Err(JwkError::UnsupportedCurve { crv: crv.into() });
    };
    let coordinate = |member| {
        let bytes = key.bytes(member)?;
        if bytes.len() != curve.byte_len {
            return Err(JwkError::CoordinateLength {
                member,
                found: bytes.len(),
                expected: curve.byte_len,
            });
        }
        Ok(bytes)
    };
    let x = coordinate("x")?;
    let y = coordinate("y")?;
    key.check_kid(|| {
        if !curve.contains(&x, &y) {
            return String::new();
        }
        let mut point = Vec::with_capacity(2 + 2 * curve.byte_len);
        point.extend_from_slice(&[0x00, 0x04]);
        point.extend_from_slice(&x);
        point.extend_from_slice(&y);
        let mut algorithm = der(TAG_OID, OID_EC_PUBLIC_KEY);
        algorithm.extend(der(TAG_OID, curve.oid));
        key_id(&algorithm, &point)
    })
}

fn check_rsa(key: &Key<'_>) -> Result<(), JwkError> {
    let n = key.bytes("n")?;
    let e = key.bytes("e")?;
    if e.len() > 4 {
        return Err(JwkError::ExponentTooLong { found: e.len() });
    }
    key.check_kid(|| {
        let mut numbers = der_unsigned(&n);
        numbers.extend(der_unsigned(&e));
        let mut bits = alloc::vec![0x00];
        bits.extend(der(TAG_SEQUENCE, &numbers));
        let mut algorithm = der(TAG_OID, OID_RSA_ENCRYPTION);
        algorithm.extend(der(TAG_NULL, &[]));
        key_id(&algorithm, &bits)
    })?;
    if key.get("d").is_some() {
        return Err(JwkError::PrivateExponent);
    }
    Ok(())
}

/// libtrust's key ID of a `SubjectPublicKeyInfo` with this algorithm
/// identifier's content and this bit string's content (unused-bits byte
/// first).
fn key_id(algorithm: &[u8], bit_string: &[u8]) -> String {
    let mut info = der(TAG_SEQUENCE, algorithm);
    info.extend(der(TAG_BIT_STRING, bit_string));
    // The core's one sha256 (a second use of sha2's API would cost the
    // .wasm its own copy of the hashing code).
    let hash = crate::Digest::sha256_of(&der(TAG_SEQUENCE, &info));
    let encoded = base32_of_hex(&hash.encoded()[..60]);
    let mut id = String::with_capacity(encoded.len() + encoded.len() / 4);
    for (i, group) in encoded.as_bytes().chunks(4).enumerate() {
        if i > 0 {
            id.push(':');
        }
        id.extend(group.iter().map(|&b| char::from(b)));
    }
    id
}

/// RFC 4648 base32 (unpadded) of the bits that lowercase hex spells.
fn base32_of_hex(hex: &str) -> String {
    const ALPHABET: &[u8; 32] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZ234567";
    let mut out = String::with_capacity(hex.len() * 4 / 5);
    let (mut bits, mut held) = (0u32, 0);
    for c in hex.bytes() {
        bits = bits << 4 | u32::from(nibble(c));
        held += 4;
        if held >= 5 {
            held -= 5;
            out.push(char::from(ALPHABET[(bits >> held & 31) as usize]));
        }
    }
    out
}

/// A lowercase hex digit's value.
const fn nibble(c: u8) -> u8 {
    match c {
        b'0'..=b'9' => c - b'0',
        _ => c - b'a' + 10,
    }
}

/// Lowercase hex to bytes, at compile time.
const fn hex<const N: usize>(text: &str) -> [u8; N] {
    let text = text.as_bytes();
    let mut out = [0u8; N];
    let mut i = 0;
    while i < N {
        out[i] = nibble(text[2 * i]) << 4 | nibble(text[2 * i + 1]);
        i += 1;
    }
    out
}

const TAG_OID: u8 = 0x06;
const TAG_NULL: u8 = 0x05;
const TAG_INTEGER: u8 = 0x02;
const TAG_BIT_STRING: u8 = 0x03;
const TAG_SEQUENCE: u8 = 0x30;
/// 1.2.840.10045.2.1
const OID_EC_PUBLIC_KEY: &[u8] = &[0x2a, 0x86, 0x48, 0xce, 0x3d, 0x02, 0x01];
/// 1.2.840.113549.1.1.1
const OID_RSA_ENCRYPTION: &[u8] = &[0x2a, 0x86, 0x48, 0x86, 0xf7, 0x0d, 0x01, 0x01, 0x01];

/// One DER element: tag, minimal length, content.
fn der(tag: u8, content: &[u8]) -> Vec<u8> {
    let mut out = alloc::vec![tag];
    let len = content.len();
    if len < 0x80 {
        out.push(len as u8);
    } else {
        let bytes = len.to_be_bytes();
        let skip = bytes.iter().take_while(|b| **b == 0).count();
        out.push(0x80 | (bytes.len() - skip) as u8);
        out.extend_from_slice(&bytes[skip..]);
    }
    out.extend_from_slice(content);
    out
}

/// A DER INTEGER holding the big-endian unsigned number `magnitude`.
fn der_unsigned(magnitude: &[u8]) -> Vec<u8> {
    let digits = &magnitude[magnitude.iter().take_while(|b| **b == 0).count()..];
    let mut content = Vec::with_capacity(digits.len() + 1);
    if digits.first().is_none_or(|b| b & 0x80 != 0) {
        content.push(0);
    }
    content.extend_from_slice(digits);
    der(TAG_INTEGER, &content)
}

/// A NIST curve y² = x³ − 3x + b over the integers modulo p.
struct Curve {
    name: &'static str,
    byte_len: usize,
    p: &'static [u8],
    b: &'static [u8],
    oid: &'static [u8],
}

const CURVES: [Curve; 3] = [
    Curve {
        name: "P-256",
        byte_len: 32,
        p: &hex::<32>("ffffffff00000001000000000000000000000000ffffffffffffffffffffffff"),
        b: &hex::<32>("5ac635d8aa3a93e7b3ebbd55769886bc651d06b0cc53b0f63bce3c3e27d2604b"),
        // 1.2.840.10045.3.1.7
        oid: &[0x2a, 0x86, 0x48, 0xce, 0x3d, 0x03, 0x01, 0x07],
    },
    Curve {
        name: "P-384",
        byte_len: 48,
        p: &hex::<48>(
            "fffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffeffffffff0000000000000000ffffffff",
        ),
        b: &hex::<48>(
            "b3312fa7e23ee7e4988e056be3f82d19181d9c6efe8141120314088f5013875ac656398d8a2ed19d2a85c8edd3ec2aef",
        ),
        // 1.3.132.0.34
        oid: &[0x2b, 0x81, 0x04, 0x00, 0x22],
    },
    Curve {
        name: "P-521",
        byte_len: 66,
        p: &hex::<66>(
            "01ffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffff",
        ),
        b: &hex::<66>(
            "0051953eb9618e1c9a1f929a21a0b68540eea2da725b99b315f3b8b489918ef109e156193951ec7e937b1652c0bd3bb1bf073573df883d2c34f1ef451fd46b503f00",
        ),
        // 1.3.132.0.35
        oid: &[0x2b, 0x81, 0x04, 0x00, 0x23],
    },
];

impl Curve {
    /// Whether (x, y) is a point of the curve, as Go's `IsOnCurve` decides:
    /// both coordinates below p, not (0, 0), and the equation holds.
    fn contains(&self, x: &[u8], y: &[u8]) -> bool {
        let p = Uint::from_be(self.p);
        let (x, y) = (Uint::from_be(x), Uint::from_be(y));
        if x.is_zero() && y.is_zero() || x.cmp(&p) != Ordering::Less || y.cmp(&p) != Ordering::Less
        {
            return false;
        }
        let b = Uint::from_be(self.b);
        let x3 = x.mul_mod(&x, &p).mul_mod(&x, &p);
        let three_x = x.add_mod(&x, &p).add_mod(&x, &p);
        let right = x3.sub_mod(&three_x, &p).add_mod(&b, &p);
        y.mul_mod(&y, &p) == right
    }
}

/// An unsigned number of up to 576 bits (P-521's 66-byte coordinates fit),
/// least significant limb first.
#[derive(Clone, Copy, PartialEq, Eq)]
struct Uint([u64; 9]);

impl Uint {
    fn from_be(bytes: &[u8]) -> Self {
        let mut limbs = [0u64; 9];
        for (i, byte) in bytes.iter().rev().enumerate() {
            limbs[i / 8] |= u64::from(*byte) << (8 * (i % 8));
        }
        Uint(limbs)
    }

    fn is_zero(&self) -> bool {
        self.0.iter().all(|l| *l == 0)
    }

    fn cmp(&self, other: &Self) -> Ordering {
        self.0.iter().rev().cmp(other.0.iter().rev())
    }

    fn bit(&self, i: usize) -> bool {
        self.0[i / 64] >> (i % 64) & 1 == 1
    }

    /// self + other; the moduli leave the top limb room, so nothing carries
    /// out of it.
    fn add(&self, other: &Self) -> Self {
        let mut out = [0u64; 9];
        let mut carry = false;
        for (i, limb) in out.iter_mut().enumerate() {
            let (s, c1) = self.0[i].overflowing_add(other.0[i]);
            let (s, c2) = s.overflowing_add(u64::from(carry));
            *limb = s;
            carry = c1 || c2;
        }
        Uint(out)
    }

    /// self − other, for self ≥ other.
    fn sub(&self, other: &Self) -> Self {
        let mut out = [0u64; 9];
        let mut borrow = false;
        for (i, limb) in out.iter_mut().enumerate() {
            let (d, b1) = self.0[i].overflowing_sub(other.0[i]);
            let (d, b2) = d.overflowing_sub(u64::from(borrow));
            *limb = d;
            borrow = b1 || b2;
        }
        Uint(out)
    }

    /// (self + other) mod p, for self, other < p.
    fn add_mod(&self, other: &Self, p: &Self) -> Self {
        let sum = self.add(other);
        if sum.cmp(p) == Ordering::Less {
            sum
        } else {
            sum.sub(p)
        }
    }

    /// (self − other) mod p, for self, other < p.
    fn sub_mod(&self, other: &Self, p: &Self) -> Self {
        if self.cmp(other) == Ordering::Less {
            self.add(p).sub(other)
        } else {
            self.sub(other)
        }
    }

    /// (self × other) mod p, for self, other < p: double and add, from the
    /// top bit of `other` down.
    fn mul_mod(&self, other: &Self, p: &Self) -> Self {
        let mut acc = Uint([0; 9]);
        for i in (0..9 * 64).rev() {
            acc = acc.add_mod(&acc, p);
            if other.bit(i) {
                acc = acc.add_mod(self, p);
            }
        }
        acc
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn base32_of_five_bytes_is_eight_symbols() {
        // RFC 4648's test vector "fooba" (66 6f 6f 62 61).
        assert_eq!(base32_of_hex("666f6f6261"), "MZXW6YTB");
    }

    #[test]
    fn der_lengths_are_minimal() {
        assert_eq!(der(TAG_NULL, &[]), [0x05, 0x00]);
        assert_eq!(&der(TAG_SEQUENCE, &[0; 200])[..3], [0x30, 0x81, 200]);
        assert_eq!(&der(TAG_SEQUENCE, &[0; 300])[..4], [0x30, 0x82, 0x01, 0x2c]);
    }

    #[test]
    fn der_integers_are_positive_and_minimal() {
        assert_eq!(der_unsigned(&[]), [0x02, 0x01, 0x00]);
        assert_eq!(der_unsigned(&[0, 0, 1]), [0x02, 0x01, 0x01]);
        assert_eq!(der_unsigned(&[0x80]), [0x02, 0x02, 0x00, 0x80]);
        assert_eq!(der_unsigned(&[1, 0, 1]), [0x02, 0x03, 1, 0, 1]);
    }

    #[test]
    fn the_p256_generator_is_on_the_curve_and_a_neighbour_is_not() {
        let x = hex::<32>("6b17d1f2e12c4247f8bce6e563a440f277037d812deb33a0f4a13945d898c296");
        let mut y = hex::<32>("4fe342e2fe1a7f9b8ee7eb4a7c0f9e162bce33576b315ececbb6406837bf51f5");
        let curve = &CURVES[0];
        assert!(curve.contains(&x, &y));
        y[31] ^= 1;
        assert!(!curve.contains(&x, &y));
        assert!(!curve.contains(&[0; 32], &[0; 32]), "(0, 0) is not a point");
    }
}
