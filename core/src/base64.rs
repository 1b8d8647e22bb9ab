//! Base64 as Go's `encoding/base64` reads it: the standard alphabet for
//! `[]byte` fields in JSON (`data` in OCI descriptors), the URL-safe one for
//! JWS in signed schema 1 manifests; and base64url without padding, as JOSE
//! writes it, for signing schema 1 manifests.

use alloc::vec::Vec;

/// Which alphabet.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Alphabet {
    Standard,
    UrlSafe,
}

/// Why a string is not base64.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Base64Error {
    /// Offset of the first offending character.
    pub offset: usize,
}

impl core::fmt::Display for Base64Error {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        write!(f, "illegal base64 data at input byte {}", self.offset)
    }
}

impl core::error::Error for Base64Error {}

fn value(alphabet: Alphabet, c: u8) -> Option<u8> {
    match c {
        b'A'..=b'Z' => Some(c - b'A'),
        b'a'..=b'z' => Some(c - b'a' + 26),
        b'0'..=b'9' => Some(c - b'0' + 52),
        b'+' if alphabet == Alphabet::Standard => Some(62),
        b'/' if alphabet == Alphabet::Standard => Some(63),
        b'-' if alphabet == Alphabet::UrlSafe => Some(62),
        b'_' if alphabet == Alphabet::UrlSafe => Some(63),
        _ => None,
    }
}

/// Decodes padded base64. Like Go, `\r` and `\n` anywhere are skipped.
pub fn decode_padded(input: &str, alphabet: Alphabet) -> Result<Vec<u8>, Base64Error> {
    let symbols: Vec<(usize, u8)> = input
        .bytes()
        .enumerate()
        .filter(|(_, b)| *b != b'\r' && *b != b'\n')
        .collect();
    if !symbols.len().is_multiple_of(4) {
        let offset = symbols.last().map_or(0, |(i, _)| *i);
        return Err(Base64Error { offset });
    }
    let mut out = Vec::with_capacity(symbols.len() / 4 * 3);
    let quads = symbols.len() / 4;
    for (q, chunk) in symbols.chunks(4).enumerate() {
        let last = q + 1 == quads;
        let mut acc = 0u32;
        let mut have = 0;
        for (k, &(offset, c)) in chunk.iter().enumerate() {
            if c == b'=' {
                // Padding only at the end of the last quad, after at least
                // two symbols, and all the way to its end.
                if !last || k < 2 || chunk[k..].iter().any(|(_, c)| *c != b'=') {
                    return Err(Base64Error { offset });
                }
                break;
            }
            let Some(v) = value(alphabet, c) else {
                return Err(Base64Error { offset });
            };
            acc = (acc << 6) | u32::from(v);
            have += 1;
        }
        match have {
            4 => out.extend_from_slice(&[(acc >> 16) as u8, (acc >> 8) as u8, acc as u8]),
            3 => out.extend_from_slice(&[(acc >> 10) as u8, (acc >> 2) as u8]),
            2 => out.push((acc >> 4) as u8),
            _ => unreachable!("padding rules leave 2 to 4 symbols"),
        }
    }
    Ok(out)
}

/// Decodes base64url without padding, as JOSE writes it (libtrust pads the
/// string and then decodes strictly, which is what this does).
pub fn decode_jose(input: &str) -> Result<Vec<u8>, Base64Error> {
    let mut padded = alloc::string::String::from(input);
    match input.len() % 4 {
        0 => {}
        2 => padded.push_str("=="),
        3 => padded.push('='),
        _ => {
            return Err(Base64Error {
                offset: input.len().saturating_sub(1),
            });
        }
    }
    decode_padded(&padded, Alphabet::UrlSafe)
}

/// Encodes base64url without padding, as libtrust writes every JWS part.
pub fn encode_jose(input: &[u8]) -> alloc::string::String {
    encode(input, Alphabet::UrlSafe, false)
}

/// Encodes padded base64, as Go's `base64.StdEncoding` (or `URLEncoding`)
/// writes it: `[]byte` fields in JSON, PEM bodies, cosign signatures.
pub fn encode_padded(input: &[u8], alphabet: Alphabet) -> alloc::string::String {
    encode(input, alphabet, true)
}

fn encode(input: &[u8], alphabet: Alphabet, pad: bool) -> alloc::string::String {
    const STANDARD: &[u8; 64] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
    const URL_SAFE: &[u8; 64] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";
    let symbols = match alphabet {
        Alphabet::Standard => STANDARD,
        Alphabet::UrlSafe => URL_SAFE,
    };
    let mut out = alloc::string::String::with_capacity(input.len().div_ceil(3) * 4);
    for chunk in input.chunks(3) {
        let b = [
            chunk[0],
            chunk.get(1).copied().unwrap_or(0),
            chunk.get(2).copied().unwrap_or(0),
        ];
        let n = (u32::from(b[0]) << 16) | (u32::from(b[1]) << 8) | u32::from(b[2]);
        // One input byte gives two symbols, two give three, three give four.
        for k in 0..=chunk.len() {
            out.push(char::from(symbols[((n >> (18 - 6 * k)) & 63) as usize]));
        }
        if pad {
            for _ in chunk.len()..3 {
                out.push('=');
            }
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn encodes_jose_unpadded_urlsafe_and_round_trips() {
        assert_eq!(encode_jose(b""), "");
        assert_eq!(encode_jose(b"hi"), "aGk");
        assert_eq!(encode_jose(b"}"), "fQ");
        assert_eq!(encode_jose(&[0xfb, 0xff]), "-_8");
        assert_eq!(encode_jose(b"hello!"), "aGVsbG8h");
        let all: Vec<u8> = (0..=255).collect();
        for len in 0..all.len() {
            assert_eq!(decode_jose(&encode_jose(&all[..len])).unwrap(), &all[..len]);
        }
    }

    #[test]
    fn encodes_standard_padded_and_round_trips() {
        assert_eq!(encode_padded(b"", Alphabet::Standard), "");
        assert_eq!(encode_padded(b"h", Alphabet::Standard), "aA==");
        assert_eq!(encode_padded(b"hi", Alphabet::Standard), "aGk=");
        assert_eq!(encode_padded(&[0xfb, 0xff], Alphabet::Standard), "+/8=");
        let all: Vec<u8> = (0..=255).collect();
        for len in 0..all.len() {
            let text = encode_padded(&all[..len], Alphabet::Standard);
            assert_eq!(
                decode_padded(&text, Alphabet::Standard).unwrap(),
                &all[..len]
            );
        }
    }

    #[test]
    fn decodes_standard_padded() {
        assert_eq!(decode_padded("aGk=", Alphabet::Standard).unwrap(), b"hi");
        assert_eq!(
            decode_padded("aGVsbG8=", Alphabet::Standard).unwrap(),
            b"hello"
        );
        assert_eq!(decode_padded("", Alphabet::Standard).unwrap(), b"");
        assert_eq!(decode_padded("aG\nk=", Alphabet::Standard).unwrap(), b"hi");
    }

    #[test]
    fn rejects_bad_padding_and_alphabet() {
        for bad in ["aGk", "a===", "aGk=aGk=", "aG-_", "!!!!"] {
            assert!(decode_padded(bad, Alphabet::Standard).is_err(), "{bad}");
        }
    }

    #[test]
    fn decodes_jose_unpadded_urlsafe() {
        assert_eq!(decode_jose("aGk").unwrap(), b"hi");
        assert_eq!(decode_jose("-_8").unwrap(), [0xfb, 0xff]);
        assert!(decode_jose("a").is_err());
    }
}
