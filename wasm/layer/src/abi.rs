//! What [`stack`](crate::stack) and [`compare`](crate::compare) share of
//! the C ABI: the buffers a call's bytes cross in, and the encoding's
//! writers.

/// One export's bytes: the host asks for room ([`Buffers::room`]) and
/// writes its input there, calls, and reads the answer from `output`.
#[derive(Debug, Default)]
pub(crate) struct Buffers {
    pub(crate) input: Vec<u8>,
    pub(crate) output: Vec<u8>,
}

impl Buffers {
    /// Empties the input and makes room in it for `len` bytes: where the
    /// host writes them.
    pub(crate) fn room(&mut self, len: u32) -> *mut u8 {
        self.input.clear();
        self.input.resize(len as usize, 0);
        self.input.as_mut_ptr()
    }

    /// The first `len` bytes the host wrote; `None` if it asked for less
    /// room.
    pub(crate) fn written(&self, len: u32) -> Option<&[u8]> {
        self.input.get(..len as usize)
    }

    /// In tests, what the host does with the room it was given at `at`:
    /// checks that it is this input, and writes `bytes` there.
    #[cfg(test)]
    pub(crate) fn host_writes(&mut self, at: *mut u8, bytes: &[u8]) {
        assert_eq!(at, self.input.as_mut_ptr());
        self.input.copy_from_slice(bytes);
    }
}

/// Writes `n` little-endian.
pub(crate) fn put_u32(out: &mut Vec<u8>, n: u32) {
    out.extend_from_slice(&n.to_le_bytes());
}

/// Writes a string: its byte length (a u32), then its UTF-8 bytes.
pub(crate) fn put_str(out: &mut Vec<u8>, s: &str) {
    put_u32(out, s.len() as u32);
    out.extend_from_slice(s.as_bytes());
}
