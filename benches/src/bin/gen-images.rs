//! Writes the benchmark images: deterministic OCI layouts whose layers are
//! genuine gzip-compressed tar archives of pseudo-random bytes.
//!
//! ```text
//! gen-images OUT_DIR
//!   OUT_DIR/oci4     4 platforms x 5 layers, about 64 MiB of layers per
//!                    platform, one base layer shared by all; OCI index
//!   OUT_DIR/docker4  the same layers under a Docker manifest list and
//!                    Docker schema 2 manifests
//!   OUT_DIR/small    one image of 200 layers of 50 KiB
//! ```
//!
//! Every byte comes from a seeded PRNG and gzip headers carry no time, so
//! two runs write identical files: results from different days compare.
//! The payload is random (incompressible), so compressed sizes stay close
//! to the stated sizes, and gzip runs at its fastest level, where deflate
//! stores incompressible input almost verbatim.

use std::fs;
use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::ExitCode;

use ferry_benches::images::{ImageSpec, Layout, LayoutError, Shape};

fn main() -> ExitCode {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let [out] = args.as_slice() else {
        eprintln!("usage: gen-images OUT_DIR");
        return ExitCode::from(2);
    };
    match generate(Path::new(out)) {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("gen-images: error: {e}");
            ExitCode::from(1)
        }
    }
}

fn generate(out: &Path) -> Result<(), LayoutError> {
    let shapes: [(&str, Shape); 3] = [
        ("oci4", Shape::multi_platform(false)),
        ("docker4", Shape::multi_platform(true)),
        ("small", Shape::many_small()),
    ];
    for (name, shape) in shapes {
        let dir: PathBuf = out.join(name);
        let stamp = dir.join(".complete");
        if stamp.is_file() {
            eprintln!("{} exists", dir.display());
            continue;
        }
        if dir.exists() {
            fs::remove_dir_all(&dir).map_err(LayoutError::io(&dir, "remove"))?;
        }
        let spec = ImageSpec {
            shape,
            name: "bench",
        };
        let summary = Layout::write(&dir, &spec)?;
        let mut f = fs::File::create(&stamp).map_err(LayoutError::io(&stamp, "create"))?;
        writeln!(f, "{summary}").map_err(LayoutError::io(&stamp, "write"))?;
        eprintln!("{}: {summary}", dir.display());
    }
    Ok(())
}
