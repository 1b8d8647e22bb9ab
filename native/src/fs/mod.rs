//! The file system, as transports use it: nothing is ever half-written,
//! and what a killed ferry leaves behind is found and removed by the next.
//!
//! - [`atomic`]: writing a file or a verified blob under a temporary name
//!   and renaming it into place, durably when the destination is kept;
//! - [`rollback`]: removing what an uncommitted destination created;
//! - [`staging`]: locked staging directories for archives, and sweeping
//!   the ones a dead process left;
//! - [`leftovers`]: locked temporary files, and sweeping a dead writer's;
//! - [`kept`]: the first part of a blob whose download broke off, kept
//!   for the next copy to continue;
//! - [`read`]: opening stored blobs and reading small files within a limit.
//!
//! These helpers name no transport: they are shared by `dir:`, `oci:`,
//! the archives and lookaside signature storage.

pub mod atomic;
pub mod kept;
pub mod leftovers;
pub mod read;
pub mod rollback;
pub mod staging;
