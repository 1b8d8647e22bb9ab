//! ferry-core's JSON facade ([`ferry_api::call`]) behind a C ABI.
//!
//! wasm-bindgen's output needs its JavaScript glue; hosts such as wasmtime
//! call plain exports over linear memory instead. The protocol, with no
//! pointer ever handed from the host to Rust:
//!
//! 1. `ferry_buffer(slot, len) -> ptr` sizes input buffer `slot` (0: the
//!    operation name, 1: the document bytes, 2: the arguments JSON) to
//!    `len` bytes and returns where the host writes them;
//! 2. `ferry_call() -> len` runs `call(op, bytes, args)` on the three
//!    buffers and keeps the answer;
//! 3. `ferry_answer() -> ptr` is where the answer's `len` bytes are, until
//!    the next call.
//!
//! The module imports nothing, so any wasm host can instantiate it. Like
//! ferry-wasm, it decides nothing: the answer is `call`'s text, the same
//! bytes as natively.

use std::cell::RefCell;

thread_local! {
    /// The operation, the document and the arguments, as the host wrote them.
    static INPUTS: RefCell<[Vec<u8>; 3]> = const { RefCell::new([Vec::new(), Vec::new(), Vec::new()]) };
    /// The last answer.
    static ANSWER: RefCell<String> = const { RefCell::new(String::new()) };
}

/// Sizes input buffer `slot` (0 op, 1 bytes, 2 args) to `len` zero bytes
/// and returns its address for the host to write to; null for a bad slot.
#[allow(unsafe_code)] // an export name; no unsafe code
#[unsafe(no_mangle)]
pub extern "C" fn ferry_buffer(slot: u32, len: u32) -> *mut u8 {
    INPUTS.with_borrow_mut(|inputs| match inputs.get_mut(slot as usize) {
        Some(buffer) => {
            buffer.clear();
            buffer.resize(len as usize, 0);
            buffer.as_mut_ptr()
        }
        None => std::ptr::null_mut(),
    })
}

/// Runs the call the buffers describe; returns the answer's length.
#[allow(unsafe_code)] // an export name; no unsafe code
#[unsafe(no_mangle)]
pub extern "C" fn ferry_call() -> u32 {
    let answer = INPUTS.with_borrow(|[op, bytes, args]| {
        ferry_api::call(
            &String::from_utf8_lossy(op),
            bytes,
            &String::from_utf8_lossy(args),
        )
    });
    let len = answer.len() as u32;
    ANSWER.set(answer);
    len
}

/// Where the last answer's bytes are.
#[allow(unsafe_code)] // an export name; no unsafe code
#[unsafe(no_mangle)]
pub extern "C" fn ferry_answer() -> *const u8 {
    ANSWER.with_borrow(|answer| answer.as_ptr())
}
