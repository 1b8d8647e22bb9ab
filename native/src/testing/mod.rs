//! Test doubles for the transport contract, and the suite every
//! [`ImageDestination`](crate::transport::ImageDestination) passes.
//!
//! Compiled for this crate's tests and with the `testing` feature (on for
//! this crate's integration tests and for ferry-tests), never into the
//! binary.
//!
//! - [`Recording`] wraps any destination and records every call, in the
//!   order the calls finished, with their arguments and outcomes;
//!   [`Recording::strict`] also refuses, and lists, every call the
//!   [`Contract`] forbids at that point, so the copy engine can be run
//!   against the contract itself.
//! - [`contract`] is one suite of properties (write order, refusals,
//!   atomicity, rollback), run against a [`contract::Place`] whose
//!   promises are data; [`destination_contract_tests!`](crate::destination_contract_tests)
//!   makes one `#[test]` per property for a place.

pub mod contract;
mod recording;

pub use recording::{Call, Contract, Recording, Violation, check};
