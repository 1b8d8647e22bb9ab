//! The browser inspector's layer module: what the page needs to read an
//! image's layers that is not in the npm package's .wasm, behind a C ABI
//! (no JavaScript glue, nothing imported from the host).
//!
//! - [`zstd`]: a streaming zstd decoder (ruzstd), for zstd layers;
//! - [`stack`]: ferry-core's layer stacking ([`ferry_core::tar::stack`]),
//!   for the image's filesystem, and each side of a comparison;
//! - [`compare`]: ferry-core's comparison of two stacked filesystems
//!   ([`ferry_core::tar::compare`]): shared layers, paths that differ.
//!
//! Both pass bytes the same way: the host asks for room in the module's
//! memory, writes there, calls, and reads the answer where the module says
//! it is; no pointer is ever handed from the host to Rust.

mod abi;
pub mod compare;
pub mod stack;
pub mod zstd;
