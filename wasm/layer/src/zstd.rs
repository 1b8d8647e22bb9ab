//! A streaming zstd decoder behind a C ABI.
//!
//! The page pushes compressed bytes and pulls decompressed ones; no pointer
//! is ever handed from the host to Rust. For a decoder `d` (from
//! `zstd_new`):
//!
//! 1. `zstd_input(d, len) -> ptr`: room for `len` more compressed bytes at
//!    the end of `d`'s pending input; the host writes them there;
//! 2. `zstd_decode(d, end) -> n`: decodes what it can into `d`'s output
//!    buffer (`zstd_output(d)`, at most [`OUTPUT`] bytes) and answers how
//!    many bytes are there: 0 means it needs more input (or, with `end`
//!    set once the input has ended, that everything was decoded);
//!    [`TRUNCATED`] that the input ended inside a frame, [`CORRUPT`] that
//!    it is not zstd data (or a checksum failed);
//! 3. `zstd_free(d)`.
//!
//! Several frames one after another are one stream, as `zstd -d` reads
//! them; skippable frames are skipped.

use std::cell::RefCell;

use ruzstd::FrameDecoder;
use ruzstd::frame::ReadFrameHeaderError;
use ruzstd::frame_decoder::FrameDecoderError;

/// The output buffer's size.
pub const OUTPUT: usize = 256 * 1024;
/// `zstd_decode`: the input ended inside a frame.
pub const TRUNCATED: i32 = -1;
/// `zstd_decode`: the input is not zstd data, or is corrupt.
pub const CORRUPT: i32 = -2;
/// A frame header is at most 18 bytes; a block at most 128 KiB and 3.
const ENOUGH: usize = 128 * 1024 + 3 + 18;

/// One stream being decoded.
#[derive(Default)]
pub struct Decoder {
    frame: Option<FrameDecoder>,
    input: Vec<u8>,
    output: Vec<u8>,
    failed: bool,
}

impl std::fmt::Debug for Decoder {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Decoder")
            .field("in_frame", &self.frame.is_some())
            .field("input", &self.input.len())
            .field("failed", &self.failed)
            .finish()
    }
}

impl Decoder {
    /// Decodes into `output`; see the module's `zstd_decode`.
    pub fn decode(&mut self, end: bool) -> i32 {
        if self.failed {
            return CORRUPT;
        }
        self.output.resize(OUTPUT, 0);
        loop {
            let frame_done = self
                .frame
                .as_ref()
                .is_none_or(|f| f.is_finished() && f.can_collect() == 0);
            if frame_done {
                // A finished frame that carried a checksum must match it.
                if let Some(f) = &self.frame {
                    if let Some(stored) = f.get_checksum_from_data()
                        && f.get_calculated_checksum() != Some(stored)
                    {
                        return self.fail(CORRUPT);
                    }
                    self.frame = None;
                }
                if self.input.is_empty() {
                    return 0;
                }
                if self.input.len() < 18 && !end {
                    return 0;
                }
                match self.start_frame() {
                    Ok(true) => continue,
                    Ok(false) => return if end { TRUNCATED } else { 0 },
                    Err(code) => return self.fail(code),
                }
            }
            let Some(frame) = self.frame.as_mut() else {
                return 0;
            };
            match frame.decode_from_to(&self.input, &mut self.output) {
                // ruzstd answers 4 read for a frame's checksum even when
                // fewer than 4 bytes were there (and used none of them).
                Ok((read, _)) if read > self.input.len() => {
                    return if end { TRUNCATED } else { 0 };
                }
                Ok((read, written)) => {
                    self.input.drain(..read);
                    if written > 0 {
                        return written as i32;
                    }
                    if read == 0 {
                        if frame.is_finished() {
                            continue;
                        }
                        if self.input.len() >= ENOUGH {
                            return self.fail(CORRUPT);
                        }
                        return if end { TRUNCATED } else { 0 };
                    }
                }
                Err(_) => return self.fail(CORRUPT),
            }
        }
    }

    /// Reads the next frame's header from the input: whether a frame
    /// started (false: too few bytes yet).
    fn start_frame(&mut self) -> Result<bool, i32> {
        let mut rest: &[u8] = &self.input;
        let mut frame = FrameDecoder::new();
        match frame.init(&mut rest) {
            Ok(()) => {
                let used = self.input.len() - rest.len();
                self.input.drain(..used);
                self.frame = Some(frame);
                Ok(true)
            }
            Err(FrameDecoderError::ReadFrameHeaderError(ReadFrameHeaderError::SkipFrame {
                length,
                ..
            })) => {
                let used = self.input.len() - rest.len() + length as usize;
                if used > self.input.len() {
                    return Ok(false);
                }
                self.input.drain(..used);
                self.frame = None;
                Ok(true)
            }
            Err(FrameDecoderError::ReadFrameHeaderError(ReadFrameHeaderError::BadMagicNumber(
                _,
            ))) => Err(CORRUPT),
            // Anything else while reading a header: too few bytes yet
            // (the caller says TRUNCATED at the end).
            Err(_) if self.input.len() < ENOUGH => Ok(false),
            Err(_) => Err(CORRUPT),
        }
    }

    fn fail(&mut self, code: i32) -> i32 {
        self.failed = true;
        code
    }
}

thread_local! {
    static DECODERS: RefCell<Vec<Option<Decoder>>> = const { RefCell::new(Vec::new()) };
}

/// A new decoder's handle.
#[allow(unsafe_code)] // an export name; no unsafe code
#[unsafe(no_mangle)]
pub extern "C" fn zstd_new() -> u32 {
    DECODERS.with_borrow_mut(|all| {
        let free = all.iter().position(Option::is_none);
        let slot = free.unwrap_or(all.len());
        if slot == all.len() {
            all.push(None);
        }
        all[slot] = Some(Decoder::default());
        slot as u32
    })
}

/// Room for `len` more compressed bytes of decoder `d`; null for no such decoder.
#[allow(unsafe_code)] // an export name; no unsafe code
#[unsafe(no_mangle)]
pub extern "C" fn zstd_input(d: u32, len: u32) -> *mut u8 {
    DECODERS.with_borrow_mut(|all| match all.get_mut(d as usize) {
        Some(Some(dec)) => {
            let at = dec.input.len();
            dec.input.resize(at + len as usize, 0);
            dec.input[at..].as_mut_ptr()
        }
        _ => std::ptr::null_mut(),
    })
}

/// Decodes what decoder `d` can: see the module's documentation.
#[allow(unsafe_code)] // an export name; no unsafe code
#[unsafe(no_mangle)]
pub extern "C" fn zstd_decode(d: u32, end: u32) -> i32 {
    DECODERS.with_borrow_mut(|all| match all.get_mut(d as usize) {
        Some(Some(dec)) => dec.decode(end != 0),
        _ => CORRUPT,
    })
}

/// Where decoder `d`'s decoded bytes are.
#[allow(unsafe_code)] // an export name; no unsafe code
#[unsafe(no_mangle)]
pub extern "C" fn zstd_output(d: u32) -> *const u8 {
    DECODERS.with_borrow(|all| match all.get(d as usize) {
        Some(Some(dec)) => dec.output.as_ptr(),
        _ => std::ptr::null(),
    })
}

/// Ends decoder `d`.
#[allow(unsafe_code)] // an export name; no unsafe code
#[unsafe(no_mangle)]
pub extern "C" fn zstd_free(d: u32) {
    DECODERS.with_borrow_mut(|all| {
        if let Some(slot) = all.get_mut(d as usize) {
            *slot = None;
        }
    });
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Decodes `input` fed in chunks of `chunk` bytes: the bytes, or the code.
    fn decode(input: &[u8], chunk: usize) -> Result<Vec<u8>, i32> {
        let mut d = Decoder::default();
        let mut out = Vec::new();
        let mut feed = |d: &mut Decoder, end: bool| loop {
            match d.decode(end) {
                0 => return Ok(()),
                n if n < 0 => return Err(n),
                n => out.extend_from_slice(&d.output[..n as usize]),
            }
        };
        for part in input.chunks(chunk) {
            d.input.extend_from_slice(part);
            feed(&mut d, false)?;
        }
        feed(&mut d, true)?;
        Ok(out)
    }

    const HELLO: &[u8] = include_bytes!("../tests/hello.zst");
    const TWO: &[u8] = include_bytes!("../tests/two-frames.zst");

    #[test]
    fn decodes_a_stream_fed_in_any_chunks() {
        for chunk in [1, 7, 4096, 1 << 20] {
            assert_eq!(
                decode(HELLO, chunk).unwrap(),
                b"hello, zstd\n".repeat(10_000),
                "{chunk}"
            );
        }
    }

    #[test]
    fn frames_one_after_another_are_one_stream() {
        assert_eq!(decode(TWO, 5).unwrap(), b"first\nsecond\n");
    }

    #[test]
    fn a_stream_cut_short_is_truncated() {
        assert_eq!(decode(&HELLO[..HELLO.len() / 2], 100), Err(TRUNCATED));
    }

    #[test]
    fn a_frame_whose_checksum_does_not_match_is_corrupt() {
        // The last four bytes of a frame with --check are its checksum.
        let mut bad = HELLO.to_vec();
        let last = bad.len() - 1;
        bad[last] ^= 0xff;
        assert_eq!(decode(&bad, 4096), Err(CORRUPT));
    }

    #[test]
    fn bytes_that_are_not_zstd_are_corrupt() {
        assert_eq!(
            decode(b"definitely not a zstd frame at all", 8),
            Err(CORRUPT)
        );
    }
}
