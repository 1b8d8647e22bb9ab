//! ferry, the native side: everything that touches the outside world
//! (files, standard input, later the network) on behalf of ferry-core's
//! decisions.

pub mod copy;
pub mod credentials;
pub mod demo;
pub mod fs;
pub mod host;
pub mod input;
pub mod output;
pub mod serve;
pub mod sign;
pub mod sync;
pub mod task;
#[cfg(any(test, feature = "testing"))]
pub mod testing;
pub mod transport;
pub mod trust;
