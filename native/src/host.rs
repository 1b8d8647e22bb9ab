//! The platform of the machine ferry runs on, for choosing the system image
//! out of a list. ferry-core never looks at the host; this module does,
//! and hands the answer to it as data.

use ferry_core::Platform;

/// The host's OS and architecture in Go's spelling, with the CPU variant
/// for ARM, as containers/image detects it.
pub fn platform() -> Platform {
    let os = match std::env::consts::OS {
        "macos" => "darwin",
        other => other,
    };
    let architecture = go_arch(std::env::consts::ARCH);
    let variant = match architecture {
        "arm" | "arm64" => arm_variant().unwrap_or_default(),
        _ => String::new(),
    };
    Platform::new(os, architecture, &variant)
}

/// The platform to choose a list's image for: the host's, with skopeo's
/// `--override-os`, `--override-arch` and `--override-variant` applied as
/// containers/image applies them. A chosen architecture has no detected
/// variant (even when it is the host's own), so only `--override-variant`
/// can give it one.
pub fn wanted_platform(
    os: Option<&str>,
    architecture: Option<&str>,
    variant: Option<&str>,
) -> Platform {
    let mut wanted = platform();
    if let Some(os) = os {
        wanted.os = os.to_string();
    }
    if let Some(architecture) = architecture {
        wanted.architecture = architecture.to_string();
        wanted.variant.clear();
    }
    if let Some(variant) = variant {
        wanted.variant = variant.to_string();
    }
    wanted
}

/// Rust's architecture names mapped to Go's (`GOARCH`).
pub fn go_arch(rust: &str) -> &str {
    match rust {
        "x86_64" => "amd64",
        "x86" => "386",
        "aarch64" => "arm64",
        "powerpc64" if cfg!(target_endian = "little") => "ppc64le",
        "powerpc64" => "ppc64",
        "loongarch64" => "loong64",
        "mips64" if cfg!(target_endian = "little") => "mips64le",
        other => other,
    }
}

/// The ARM variant from /proc/cpuinfo's "CPU architecture" field, mapped as
/// containers/image maps it.
fn arm_variant() -> Option<String> {
    let cpuinfo = std::fs::read_to_string("/proc/cpuinfo").ok()?;
    let value = cpuinfo.lines().find_map(|line| {
        let (key, value) = line.split_once(':')?;
        key.trim()
            .eq_ignore_ascii_case("CPU architecture")
            .then(|| value.trim().to_string())
    })?;
    Some(arm_variant_for(&value).to_string())
}

/// containers/image's table from the "CPU architecture" value to a variant.
pub fn arm_variant_for(cpu_architecture: &str) -> &'static str {
    match cpu_architecture.to_ascii_lowercase().as_str() {
        "8" | "aarch64" => "v8",
        "7" | "7m" | "?(12)" | "?(13)" | "?(14)" | "?(15)" | "?(16)" | "?(17)" => "v7",
        "6" | "6tej" => "v6",
        "5" | "5t" | "5te" | "5tej" => "v5",
        "4" | "4t" => "v4",
        "3" => "v3",
        _ => "",
    }
}

/// The x86-64 micro-architecture level (v1–v4) of this CPU, from CPUID.
pub fn amd64_level() -> Option<&'static str> {
    #[cfg(target_arch = "x86_64")]
    {
        use std::arch::is_x86_feature_detected as has;
        let v2 = has!("sse3")
            && has!("ssse3")
            && has!("sse4.1")
            && has!("sse4.2")
            && has!("popcnt")
            && has!("cmpxchg16b");
        let v3 = v2
            && has!("avx")
            && has!("avx2")
            && has!("bmi1")
            && has!("bmi2")
            && has!("fma")
            && has!("lzcnt")
            && has!("movbe")
            && has!("f16c");
        let v4 = v3
            && has!("avx512f")
            && has!("avx512bw")
            && has!("avx512cd")
            && has!("avx512dq")
            && has!("avx512vl");
        Some(if v4 {
            "v4"
        } else if v3 {
            "v3"
        } else if v2 {
            "v2"
        } else {
            "v1"
        })
    }
    #[cfg(not(target_arch = "x86_64"))]
    {
        None
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn arm_cpu_architectures_map_to_variants() {
        assert_eq!(arm_variant_for("8"), "v8");
        assert_eq!(arm_variant_for("AArch64"), "v8");
        assert_eq!(arm_variant_for("7"), "v7");
        assert_eq!(arm_variant_for("6TEJ"), "v6");
        assert_eq!(arm_variant_for("5te"), "v5");
        assert_eq!(arm_variant_for("9"), "");
    }

    #[test]
    fn rust_architectures_get_go_names() {
        assert_eq!(go_arch("x86_64"), "amd64");
        assert_eq!(go_arch("aarch64"), "arm64");
        assert_eq!(go_arch("s390x"), "s390x");
    }

    #[test]
    fn the_host_platform_is_complete() {
        let p = platform();
        assert!(!p.os.is_empty() && !p.architecture.is_empty(), "{p:?}");
    }
}
