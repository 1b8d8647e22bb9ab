#!/usr/bin/env bash
# install-deps.sh — install the Debian packages ferry's builds and tests need.
#
# Usage: scripts/install-deps.sh GROUP [GROUP...]        (default: all)
#        scripts/install-deps.sh --check GROUP [GROUP...] (exit 1 if anything is missing)
#
# Groups:
#   wasm      rustc-web cargo-web rust-web-src lld-22 wabt
#             Debian's second Rust toolchain (rustc/cargo 1.96 at /usr/bin, with std
#             source at /usr/lib/rustlib/src/rust) + wasm-ld + wasm-objdump.
#             Used by scripts/build-core-wasm.sh with -Zbuild-std, because rustup
#             here cannot fetch the wasm32 target.
#   services  skopeo docker-registry strace gnupg podman time zstd gzip
#             (strace stops a copy at an exact system call in native/tests/staging.rs;
#             gnupg signs for --sign-by and makes the trust tests' signatures;
#             podman 4.3 serves the Docker Engine API for the docker-daemon: tests,
#             `podman system service` on a socket and a vfs store of their own,
#             tests/src/daemon.rs; the package's podman.socket is never used;
#             /usr/bin/time measures the docker-daemon memory test's peak RSS;
#             podman, zstd and gzip read what ferry recompresses in
#             tests/tests/compression_peers.rs; podman and a vfs store per test
#             check what ferry writes to containers-storage:, tests/src/storage.rs)
#   browser   chromium (+ fonts-liberation so headless screenshots have real text)
#   all       all of the above
#
# Idempotent and fast when everything is present: one dpkg-query, no apt-get
# update. apt-get update runs at most once per invocation, and only if something
# has to be installed. Needs root (the machines here run everything as root).
#
# Where packages come from (Debian 12 "bookworm", apt sources already configured):
#   rustc-web/cargo-web/rust-web-src 1.96.0+dfsg1-1~deb12u2 and lld-22 1:22.1.8-1~deb12u1
#   come from bookworm-security (rustc-web is also in bookworm main). A stale apt
#   list may only offer rustc-web 1.85 and no lld-22 at all — that is why we
#   always `apt-get update` before installing.
#
# ---------------------------------------------------------------------------
# docker-registry (Debian's build of distribution/distribution v2.8.2)
# ---------------------------------------------------------------------------
# The package ships a systemd unit and a SysV init script that would run
# `docker-registry serve /etc/docker/registry/config.yml` as user
# docker-registry on :5000 (all interfaces). We never want that: tests start
# their own registry on 127.0.0.1 with their own config. So this script
#   * installs it under a temporary policy-rc.d that forbids service starts
#     (unless a policy-rc.d already exists, e.g. in containers, where it is kept),
#   * disables the unit / init links afterwards (systemctl disable, update-rc.d),
#   * stops an instance the package may have started (by its own pidfile only).
#
# Starting one by hand (what tests should do):
#   binary:  /usr/bin/docker-registry      (`docker-registry --version`)
#   command: /usr/bin/docker-registry serve /path/to/config.yml
#            (runs in the foreground, logs to stderr; kill it by its PID)
#   config:  YAML, distribution "version: 0.1" format, e.g.
#            version: 0.1
#            log:
#              level: warn
#            storage:
#              filesystem:
#                rootdirectory: /tmp/ferry-registry/data
#              delete:
#                enabled: true
#            http:
#              addr: 127.0.0.1:5000        # pick a free port per test run
#              secret: any-fixed-string     # avoids a warning; needed for multi-instance
#            # no "auth:" section => anonymous push/pull. The package's default
#            # /etc/docker/registry/config.yml has an htpasswd auth section that
#            # points at a directory and is not usable as-is.
#   Ready check: `curl -fsS http://127.0.0.1:5000/v2/` returns `{}` with HTTP 200.
#   skopeo against it: skopeo copy --dest-tls-verify=false ... docker://127.0.0.1:5000/name:tag
#   Environment overrides also work: REGISTRY_HTTP_ADDR=127.0.0.1:5001,
#   REGISTRY_STORAGE_FILESYSTEM_ROOTDIRECTORY=/tmp/x (REGISTRY_<SECTION>_<KEY>).
# ---------------------------------------------------------------------------

set -euo pipefail
export DEBIAN_FRONTEND=noninteractive

WASM_PKGS=(rustc-web cargo-web rust-web-src lld-22 wabt)
SERVICES_PKGS=(skopeo docker-registry strace gnupg podman time zstd gzip)
BROWSER_PKGS=(chromium fonts-liberation)

log() { printf '[install-deps] %s\n' "$*" >&2; }
die() { printf '[install-deps] ERROR: %s\n' "$*" >&2; exit 1; }

usage() {
    sed -n '2,20p' "$0" | sed 's/^# \{0,1\}//' >&2
    exit "${1:-2}"
}

check_only=0
groups=()
for arg in "$@"; do
    case "$arg" in
        --check) check_only=1 ;;
        -h|--help) usage 0 ;;
        wasm|services|browser|all) groups+=("$arg") ;;
        *) log "unknown group: $arg"; usage 2 ;;
    esac
done
[ "${#groups[@]}" -gt 0 ] || groups=(all)

want=()
want_services=0
for g in "${groups[@]}"; do
    case "$g" in
        wasm)     want+=("${WASM_PKGS[@]}") ;;
        services) want+=("${SERVICES_PKGS[@]}"); want_services=1 ;;
        browser)  want+=("${BROWSER_PKGS[@]}") ;;
        all)      want+=("${WASM_PKGS[@]}" "${SERVICES_PKGS[@]}" "${BROWSER_PKGS[@]}"); want_services=1 ;;
    esac
done
# de-duplicate, keep order
mapfile -t want < <(printf '%s\n' "${want[@]}" | awk '!seen[$0]++')

# One dpkg-query for all packages; anything not "install ok installed" is missing.
missing=()
while IFS=' ' read -r pkg status; do
    [ "$status" = "installed" ] || missing+=("$pkg")
done < <(
    for p in "${want[@]}"; do
        s=$(dpkg-query -W -f='${db:Status-Status}' "$p" 2>/dev/null || true)
        printf '%s %s\n' "$p" "${s:-not-installed}"
    done
)

if [ "$check_only" = 1 ]; then
    if [ "${#missing[@]}" -gt 0 ]; then
        log "missing: ${missing[*]}"
        exit 1
    fi
    log "all present: ${want[*]}"
    exit 0
fi

[ "$(id -u)" = 0 ] || { [ "${#missing[@]}" -eq 0 ] || die "need root to install: ${missing[*]}"; }

# Disable/stop the service Debian's docker-registry package sets up. Cheap and
# idempotent; only acts when something is actually enabled/running.
neutralize_docker_registry() {
    dpkg-query -W -f='${db:Status-Status}' docker-registry 2>/dev/null | grep -qx installed || return 0
    if [ -e /etc/systemd/system/multi-user.target.wants/docker-registry.service ]; then
        if [ -d /run/systemd/system ]; then
            systemctl disable --now docker-registry.service >/dev/null 2>&1 || true
        fi
        # Works without a running systemd too; falls back to removing the link.
        systemctl disable docker-registry.service >/dev/null 2>&1 \
            || deb-systemd-helper disable docker-registry.service >/dev/null 2>&1 || true
        rm -f /etc/systemd/system/multi-user.target.wants/docker-registry.service
        log "disabled docker-registry.service (systemd)"
    fi
    if ls /etc/rc[2-5].d/S*docker-registry >/dev/null 2>&1; then
        update-rc.d docker-registry disable >/dev/null 2>&1 || true
        log "disabled /etc/init.d/docker-registry (sysv rc links)"
    fi
    # An instance started by the package's init script (own pidfile only; never
    # touches registries that tests started themselves).
    if [ -s /var/run/docker-registry.pid ]; then
        start-stop-daemon --stop --quiet --oknodo --pidfile /var/run/docker-registry.pid \
            --exec /usr/bin/docker-registry || true
        rm -f /var/run/docker-registry.pid
        log "stopped the package's docker-registry instance"
    fi
    if [ -d /run/systemd/system ] && systemctl is-active --quiet docker-registry.service 2>/dev/null; then
        systemctl stop docker-registry.service || true
        log "stopped docker-registry.service"
    fi
}

if [ "${#missing[@]}" -gt 0 ]; then
    log "installing: ${missing[*]}"

    # Keep maintainer scripts from starting services (docker-registry) while we
    # install. If a policy-rc.d exists already (containers), leave it alone.
    tmp_policy=0
    if [ ! -e /usr/sbin/policy-rc.d ]; then
        printf '#!/bin/sh\n# temporary, from ferry scripts/install-deps.sh\nexit 101\n' > /usr/sbin/policy-rc.d
        chmod 755 /usr/sbin/policy-rc.d
        tmp_policy=1
        trap 'if [ "$tmp_policy" = 1 ]; then rm -f /usr/sbin/policy-rc.d; fi' EXIT
    fi

    # Once, and only now that something is missing. Lists may be stale (they
    # can offer rustc-web 1.85 and no lld-22 before an update).
    apt-get update -qq
    apt-get install -y -qq --no-install-recommends \
        -o Dpkg::Use-Pty=0 -o Dpkg::Options::=--force-confold "${missing[@]}" >/dev/null

    if [ "$tmp_policy" = 1 ]; then rm -f /usr/sbin/policy-rc.d; tmp_policy=0; fi
fi

if [ "$want_services" = 1 ]; then neutralize_docker_registry; fi

# Sanity checks for what the build scripts rely on.
for p in "${want[@]}"; do
    case "$p" in
        rustc-web)
            [ -x /usr/bin/rustc ] || die "/usr/bin/rustc missing after installing rustc-web"
            [ -f /usr/lib/rustlib/src/rust/library/Cargo.lock ] \
                || die "rust-web-src: /usr/lib/rustlib/src/rust/library/Cargo.lock missing (needed by -Zbuild-std)" ;;
        lld-22)  [ -x /usr/lib/llvm-22/bin/wasm-ld ] || die "/usr/lib/llvm-22/bin/wasm-ld missing" ;;
        wabt)    command -v wasm-objdump >/dev/null || die "wasm-objdump not on PATH" ;;
        skopeo)  command -v skopeo >/dev/null || die "skopeo not on PATH" ;;
        gnupg)   command -v gpg >/dev/null || die "gpg not on PATH" ;;
        docker-registry) [ -x /usr/bin/docker-registry ] || die "/usr/bin/docker-registry missing" ;;
        podman)  [ -x /usr/bin/podman ] || die "/usr/bin/podman missing" ;;
        chromium) command -v chromium >/dev/null || die "chromium not on PATH" ;;
    esac
done

if [ "${#missing[@]}" -gt 0 ]; then
    log "installed versions:"
    dpkg-query -W -f='  ${Package} ${Version}\n' "${want[@]}" >&2
else
    log "all present: ${want[*]}"
fi
