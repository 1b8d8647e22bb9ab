//! The `ferry` command line.

mod cli;

use std::process::ExitCode;

use clap::Parser;

fn main() -> ExitCode {
    let args = cli::Cli::parse();
    match cli::run(args) {
        Ok(code) => code,
        Err(error) => {
            // One line: what failed, on which input, and why.
            eprintln!("ferry: error: {error:#}");
            ExitCode::from(1)
        }
    }
}
