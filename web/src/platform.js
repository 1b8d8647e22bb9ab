// Platforms: the one this browser's machine would run, and how an entry's
// platform reads. `nav` is a navigator (or anything shaped like one).

export const COMMON_PLATFORMS = [
  "linux/amd64", "linux/arm64", "linux/arm64/v8", "linux/arm/v7", "linux/arm/v6", "linux/arm/v5",
  "linux/386", "linux/ppc64le", "linux/s390x", "linux/riscv64", "linux/amd64/v3", "windows/amd64", "windows/arm64",
];

/** The platform a container on this machine would run, from the user agent. */
export function guessPlatform(nav) {
  const ua = nav.userAgent || "";
  const plat = (nav.userAgentData && nav.userAgentData.platform) || nav.platform || "";
  let arch = "amd64";
  if (/aarch64|arm64/i.test(ua + " " + plat)) arch = "arm64";
  else if (/armv7/i.test(ua + " " + plat)) return "linux/arm/v7";
  else if (/armv6/i.test(ua + " " + plat)) return "linux/arm/v6";
  else if (/i[3-6]86/i.test(plat) && !/x86_64|win64|wow64/i.test(ua)) arch = "386";
  // Containers on macOS and Windows desktops run in a Linux VM by default.
  return `linux/${arch}`;
}

/** As guessPlatform, asking the browser's high-entropy client hints first where it has them. */
export async function guessPlatformPrecise(nav) {
  const uad = nav.userAgentData;
  if (!uad || !uad.getHighEntropyValues) return guessPlatform(nav);
  try {
    const v = await uad.getHighEntropyValues(["architecture", "bitness"]);
    if (v.architecture === "arm") return v.bitness === "32" ? "linux/arm/v7" : "linux/arm64";
    if (v.architecture === "x86") return v.bitness === "32" ? "linux/386" : "linux/amd64";
  } catch { /* fall through */ }
  return guessPlatform(nav);
}

/** `os/arch[/variant]`, with os.version and features when present; "(none)" without a platform. */
export function platformText(p) {
  if (!p) return "(none)";
  let s = `${p.os}/${p.architecture}${p.variant ? "/" + p.variant : ""}`;
  if (p["os.version"]) s += ` (os.version ${p["os.version"]})`;
  const feats = [...(p["os.features"] || []), ...(p.features || [])];
  if (feats.length) s += ` [${feats.join(", ")}]`;
  return s;
}

/** `os/arch[/variant]` only, as the platform box takes it. */
export function platformQuery(p) {
  return `${p.os}/${p.architecture}${p.variant ? "/" + p.variant : ""}`;
}
