#!/usr/bin/env python3
"""Whole-copy benchmarks: ferry beside skopeo and the physical floors.

Every scenario runs ferry, skopeo and the scenario's floors in turn, round
after round (the order rotates each round), on the same data in the same
run, so a noisy machine slows them alike. Before each scenario the runner
waits (bounded) until the CPUs are idle. Each command runs under
/usr/bin/time for CPU time and peak RSS; wall time is measured around it.

    python3 benches/run.py                 # everything, writes benches/RESULTS.md
    python3 benches/run.py --runs 3 --only local   # a quick look at one group
    python3 benches/run.py --baseline /tmp/ferry-before  # also time an older build
                                                         # in the same rounds

Needs: target/release/ferry and target/release/gen-images (the script
builds them), skopeo, Debian's docker-registry, curl, openssl, /usr/bin/time.
See benches/README.md.
"""

from __future__ import annotations

import argparse
import datetime
import gzip
import hashlib
import json
import os
import shutil
import socket
import ssl
import statistics
import subprocess
import sys
import tempfile
import time
import urllib.request
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable

REPO = Path(__file__).resolve().parent.parent
FERRY = REPO / "target" / "release" / "ferry"
GEN = REPO / "target" / "release" / "gen-images"
DIGEST_FILES = REPO / "target" / "release" / "digest-files"
RESULTS = REPO / "benches" / "RESULTS.md"
NOTES_MARKER = "<!-- notes: kept when the runner rewrites this file -->"
MIB = 1024 * 1024


# --------------------------------------------------------------------------
# Measuring


@dataclass
class Sample:
    wall: float  # seconds
    user: float
    sys: float
    rss_kib: int
    # Requests that crossed the delaying proxies (latency scenarios).
    requests: "RequestCount | None" = None

    @property
    def cpu(self) -> float:
        return self.user + self.sys


class CommandFailed(Exception):
    pass


def measure(cmd: list[str]) -> Sample:
    """Runs `cmd` under /usr/bin/time; wall time from a monotonic clock."""
    with tempfile.NamedTemporaryFile("r", suffix=".time") as out:
        argv = ["/usr/bin/time", "-f", "%e %U %S %M", "-o", out.name, *cmd]
        start = time.perf_counter()
        proc = subprocess.run(argv, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
        wall = time.perf_counter() - start
        if proc.returncode != 0:
            raise CommandFailed(
                f"{' '.join(cmd)} exited {proc.returncode}: {proc.stderr.decode(errors='replace')[-2000:]}"
            )
        fields = out.read().strip().splitlines()[-1].split()
        _, user, sys_, rss = fields
        return Sample(wall, float(user), float(sys_), int(rss))


def measure_direct(cmd: list[str]) -> Sample:
    """Wall and CPU time from wait4() on the command itself, for
    millisecond commands, where /usr/bin/time's own start-up would be most
    of what is measured. Peak RSS comes from a second run under
    /usr/bin/time: a child spawned by Python starts life in Python's
    address space, and Linux keeps that high-water mark in ru_maxrss
    across exec, so wait4() here reports Python's 25 MiB for `true`."""
    devnull = [(os.POSIX_SPAWN_OPEN, fd, "/dev/null", os.O_WRONLY, 0) for fd in (1, 2)]
    start = time.perf_counter()
    pid = os.posix_spawnp(cmd[0], cmd, os.environ, file_actions=devnull)
    _, status, usage = os.wait4(pid, 0)
    wall = time.perf_counter() - start
    code = os.waitstatus_to_exitcode(status)
    if code != 0:
        raise CommandFailed(f"{' '.join(cmd)} exited {code}")
    return Sample(wall, usage.ru_utime, usage.ru_stime, measure(cmd).rss_kib)


def sh(script: str) -> list[str]:
    return ["sh", "-c", script]


def run(cmd: list[str] | str, **kw) -> None:
    if isinstance(cmd, str):
        cmd = sh(cmd)
    subprocess.run(cmd, check=True, stdout=subprocess.DEVNULL, **kw)


def cpu_times() -> tuple[int, int]:
    with open("/proc/stat") as f:
        parts = [int(x) for x in f.readline().split()[1:]]
    idle = parts[3] + parts[4]  # idle + iowait
    return sum(parts), idle


def busy_fraction(interval: float = 0.5) -> float:
    t0, i0 = cpu_times()
    time.sleep(interval)
    t1, i1 = cpu_times()
    total = t1 - t0
    return 0.0 if total == 0 else 1.0 - (i1 - i0) / total


def wait_idle(threshold: float, limit: float) -> float:
    """Waits until the CPUs are less than `threshold` busy, at most
    `limit` seconds; returns the last load seen."""
    deadline = time.monotonic() + limit
    while True:
        load = busy_fraction()
        if load < threshold or time.monotonic() >= deadline:
            return load


# --------------------------------------------------------------------------
# Registries


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class Pki:
    """The TLS scenarios' test CA: a CA and a server certificate for
    127.0.0.1 and localhost, ECDSA P-256, made with openssl as
    tests/src/registry/tls.rs makes its own with rcgen.

        DIR/ca.pem, DIR/server.crt, DIR/server.key
        DIR/cert-dir/ca.crt    for --src-cert-dir / --dest-cert-dir
    """

    def __init__(self, dir: Path):
        shutil.rmtree(dir, ignore_errors=True)
        self.cert_dir = dir / "cert-dir"
        self.cert_dir.mkdir(parents=True)
        self.ca = dir / "ca.pem"
        self.cert, self.key = dir / "server.crt", dir / "server.key"
        ec = ["-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-256", "-nodes"]
        quiet = {"stdout": subprocess.DEVNULL, "stderr": subprocess.DEVNULL}
        subprocess.run(["openssl", "req", "-x509", *ec, "-keyout", dir / "ca.key", "-out", self.ca, "-days", "2",
                        "-subj", "/CN=ferry bench CA", "-addext", "basicConstraints=critical,CA:TRUE",
                        "-addext", "keyUsage=critical,keyCertSign"], check=True, **quiet)
        subprocess.run(["openssl", "req", *ec, "-keyout", self.key, "-out", dir / "server.csr",
                        "-subj", "/CN=ferry bench registry"], check=True, **quiet)
        (dir / "server.ext").write_text("subjectAltName=IP:127.0.0.1,DNS:localhost\n"
                                        "extendedKeyUsage=serverAuth\n")
        subprocess.run(["openssl", "x509", "-req", "-in", dir / "server.csr", "-CA", self.ca,
                        "-CAkey", dir / "ca.key", "-CAcreateserial", "-days", "2", "-out", self.cert,
                        "-extfile", dir / "server.ext"], check=True, **quiet)
        shutil.copy(self.ca, self.cert_dir / "ca.crt")


class Registry:
    """Debian's docker-registry on 127.0.0.1 with a storage dir of its own
    (same configuration as tests/src/registry/server.rs, no blob cache so a
    wiped storage dir is an empty registry); with `pki`, over TLS (which
    distribution offers HTTP/2 on)."""

    def __init__(self, root: Path, name: str, pki: Pki | None = None):
        self.dir = root / name
        shutil.rmtree(self.dir, ignore_errors=True)
        self.storage = self.dir / "storage"
        self.storage.mkdir(parents=True)
        self.port = free_port()
        self.host = f"127.0.0.1:{self.port}"
        self.pki = pki
        self.scheme = "https" if pki else "http"
        tls = (f"  tls:\n    certificate: {json.dumps(str(pki.cert))}\n    key: {json.dumps(str(pki.key))}\n"
               if pki else "")
        config = self.dir / "config.yml"
        config.write_text(
            "version: 0.1\n"
            "log:\n  level: error\n  formatter: text\n"
            f"storage:\n  filesystem:\n    rootdirectory: {json.dumps(str(self.storage))}\n"
            "  delete:\n    enabled: true\n"
            "  maintenance:\n    uploadpurging:\n      enabled: false\n"
            f"http:\n  addr: {self.host}\n  secret: ferry-bench\n{tls}"
        )
        self.log = open(self.dir / "registry.log", "wb")
        self.proc = subprocess.Popen(
            ["/usr/bin/docker-registry", "serve", str(config)],
            stdout=self.log,
            stderr=subprocess.STDOUT,
        )
        deadline = time.monotonic() + 20
        while True:
            try:
                context = ssl.create_default_context(cafile=str(pki.ca)) if pki else None
                urllib.request.urlopen(f"{self.scheme}://{self.host}/v2/", timeout=1, context=context).read()
                return
            except Exception:
                if self.proc.poll() is not None or time.monotonic() > deadline:
                    raise RuntimeError(f"registry {name} did not start; see {self.dir}/registry.log")
                time.sleep(0.1)

    def wipe(self) -> None:
        shutil.rmtree(self.storage / "docker", ignore_errors=True)

    def drop_repository(self, repo: str) -> None:
        shutil.rmtree(self.storage / "docker/registry/v2/repositories" / repo, ignore_errors=True)

    def ref(self, repo: str, tag: str = "latest") -> str:
        return f"docker://{self.host}/{repo}:{tag}"

    def flags(self, side: str) -> list[str]:
        """How ferry and skopeo reach it as `side` ("src", "dest" or "" for
        inspect): trusting the test CA, or plain HTTP."""
        prefix = f"--{side}-" if side else "--"
        return [f"{prefix}cert-dir={self.pki.cert_dir}" if self.pki else f"{prefix}tls-verify=false"]

    def curl(self) -> str:
        """curl's options to reach it (shell words)."""
        return f"--cacert {self.pki.ca}" if self.pki else ""

    def stop(self) -> None:
        self.proc.terminate()
        try:
            self.proc.wait(10)
        except subprocess.TimeoutExpired:
            self.proc.kill()
        self.log.close()


class RequestCount:
    """Requests a command made through delaying proxies: by method and
    kind of path, and the connections they used."""

    def __init__(self):
        self.kinds: dict[str, int] = {}
        self.connections = 0

    def __add__(self, other: "RequestCount") -> "RequestCount":
        out = RequestCount()
        for k in set(self.kinds) | set(other.kinds):
            out.kinds[k] = self.kinds.get(k, 0) + other.kinds.get(k, 0)
        out.connections = self.connections + other.connections
        return out

    @property
    def total(self) -> int:
        return sum(self.kinds.values())

    def text(self) -> str:
        order = sorted(self.kinds.items(), key=lambda kv: (-kv[1], kv[0]))
        return ", ".join(f"{n} {k}" for k, n in order)


def request_kind(method: str, path: str) -> str:
    if method == "TLS":
        return "TLS attempt"
    kind = ("manifest" if "/manifests/" in path else
            "upload" if "/blobs/uploads" in path else
            "blob" if "/blobs/" in path else
            "tags" if "/tags/" in path else
            "ping" if path in ("/v2/", "/v2") else "other")
    return f"{method} {kind}"


DELAY_PROXY = REPO / "benches" / "delay_proxy.py"


class DelayProxy:
    """benches/delay_proxy.py in front of a registry: `delay_ms` one way
    (a round trip of twice that), optionally `mbit` per direction; every
    request it forwards is logged, and counted per command."""

    def __init__(self, registry: Registry, delay_ms: float, mbit: float | None, name: str):
        self.registry = registry
        self.delay = delay_ms / 1000
        self.mbit = mbit
        self.port = free_port()
        self.host = f"127.0.0.1:{self.port}"
        self.log_path = registry.dir / f"{name}.requests"
        argv = [sys.executable, str(DELAY_PROXY), "--listen", self.host, "--upstream", registry.host,
                "--delay-ms", str(delay_ms), "--log", str(self.log_path)]
        if mbit:
            argv += ["--mbit", str(mbit)]
        self.proc = subprocess.Popen(argv, stdout=subprocess.PIPE)
        if self.proc.stdout.readline().strip() != b"ready":
            raise RuntimeError(f"delay proxy {name} did not start")

    @property
    def rtt(self) -> float:
        return 2 * self.delay

    def ref(self, repo: str, tag: str = "latest") -> str:
        return f"docker://{self.host}/{repo}:{tag}"

    def mark(self) -> int:
        return self.log_path.stat().st_size if self.log_path.exists() else 0

    def since(self, mark: int) -> RequestCount:
        """Requests logged after `mark`. A request is logged when it
        reaches the proxy, before it is forwarded, so a command's requests
        are all there when it exits."""
        count = RequestCount()
        conns = set()
        with open(self.log_path, "rb") as f:
            f.seek(mark)
            for line in f.read().decode(errors="replace").splitlines():
                parts = line.split()
                if len(parts) < 4:
                    continue
                _, conn, method, path = parts[:4]
                conns.add(conn)
                kind = request_kind(method, path)
                count.kinds[kind] = count.kinds.get(kind, 0) + 1
        count.connections = len(conns)
        return count

    def stop(self) -> None:
        self.proc.terminate()
        try:
            self.proc.wait(10)
        except subprocess.TimeoutExpired:
            self.proc.kill()


# --------------------------------------------------------------------------
# Scenarios


@dataclass
class Contender:
    label: str
    cmd: list[str]
    setup: Callable[[], None] | None = None
    kind: str = "tool"  # "tool" (ferry, skopeo) or "floor"
    # A floor computed rather than run (seconds), and how it was computed.
    computed: float | None = None
    how: str = ""


@dataclass
class Target:
    """What ferry's median must satisfy in a scenario."""

    text: str
    check: Callable[[dict[str, list[Sample]]], tuple[bool, str]]


@dataclass
class Scenario:
    group: str
    name: str
    contenders: list[Contender]
    prepare: Callable[[], None] | None = None
    targets: list[Target] = field(default_factory=list)
    runs: int | None = None
    # Millisecond commands: measured with wait4() rather than /usr/bin/time.
    latency: bool = False
    # Delaying proxies the commands go through: their requests are
    # counted per contender, and the round trip is reported.
    proxies: list = field(default_factory=list)
    rtt: float | None = None


def med(samples: list[Sample]) -> float:
    return statistics.median(s.wall for s in samples)


def faster_than_skopeo(times: float) -> Target:
    def check(r):
        ratio = med(r["skopeo"]) / med(r["ferry"])
        return ratio >= times, f"{ratio:.1f}x faster"

    return Target(f"≥ {times:g}x faster than skopeo", check)


def within_floor(floor: str, times: float) -> Target:
    def check(r):
        ratio = med(r["ferry"]) / med(r[floor])
        return ratio <= times, f"{ratio:.2f}x {floor}"

    return Target(f"≤ {times:g}x `{floor}`", check)


def throughput_vs(floor: str, share: float) -> Target:
    def check(r):
        got = med(r[floor]) / med(r["ferry"])
        return got >= share, f"{got * 100:.0f}% of {floor}'s throughput"

    return Target(f"throughput ≥ {share * 100:.0f}% of `{floor}`", check)


def under_ms(ms: float) -> Target:
    def check(r):
        m = med(r["ferry"]) * 1000
        return m < ms, f"{m:.1f} ms"

    return Target(f"< {ms:g} ms", check)


def rss_under(mib: int) -> Target:
    def check(r):
        peak = max(s.rss_kib for s in r["ferry"]) / 1024
        return peak < mib, f"{peak:.1f} MiB"

    return Target(f"peak RSS < {mib} MiB", check)


def blobs_of(layout: Path) -> list[Path]:
    """The configs and layers of every image in `layout` (what a registry
    serves from /blobs/; manifests live under /manifests/)."""
    root = layout / "blobs" / "sha256"

    def load(digest: str) -> dict:
        return json.loads((root / digest.split(":", 1)[1]).read_bytes())

    found: set[str] = set()
    pending = [m["digest"] for m in json.loads((layout / "index.json").read_text())["manifests"]]
    while pending:
        doc = load(pending.pop())
        pending += [m["digest"] for m in doc.get("manifests", [])]
        if "config" in doc:
            found.add(doc["config"]["digest"])
            found.update(layer["digest"] for layer in doc["layers"])
    return sorted(root / d.split(":", 1)[1] for d in found)


def write_url_list(path: Path, registry: Registry, repo: str, layout: Path) -> None:
    """`URL OUTFILE` lines for every blob of `layout`, for xargs + curl."""
    with open(path, "w") as f:
        for blob in blobs_of(layout):
            f.write(f"{registry.scheme}://{registry.host}/v2/{repo}/blobs/sha256:{blob.name} {blob.name}\n")


def write_push_list(path: Path, layout: Path) -> None:
    with open(path, "w") as f:
        for blob in blobs_of(layout):
            f.write(f"{blob} sha256:{blob.name}\n")


PUSH_BLOB = REPO / "benches" / "push-blob.sh"


def raw_push(host: str, repo: str, listing: Path, jobs: int, registry: "Registry | None" = None) -> list[str]:
    """POST + PUT per blob with curl, `jobs` at a time (over TLS if
    `registry` speaks it)."""
    scheme = registry.scheme if registry else "http"
    curl = registry.curl() if registry else ""
    return sh(
        f"SCHEME={scheme} CURL_OPTS='{curl}' HOST={host} REPO={repo} xargs -P {jobs} -n 2 {PUSH_BLOB} < {listing}"
    )


def parallel_pull(listing: Path, into: Path, jobs: int, sync: bool = False, curl: str = "") -> list[str]:
    """`jobs` curls at a time; with `sync`, then `sync`: a durable baseline,
    since ferry (like containers/image) fsyncs what it pulls. `curl`: more
    options (the CA of a TLS registry)."""
    then = " && sync" if sync else ""
    return sh(f"mkdir -p {into} && cd {into} && xargs -P {jobs} -n 2 sh -c 'curl -sf {curl} -o \"$2\" \"$1\"' pull < {listing}{then}")


# --------------------------------------------------------------------------
# Floors at a network's latency, computed from the image's structure


@dataclass
class Shape:
    """What the protocol must move for an image layout."""

    instances: int  # manifests under the top-level list (0: a single image)
    blobs: int  # distinct configs and layers
    blob_bytes: int
    manifest_bytes: int


def shape_of(layout: Path) -> Shape:
    root = layout / "blobs" / "sha256"
    top = json.loads((layout / "index.json").read_text())["manifests"][0]
    top_bytes = (root / top["digest"].split(":", 1)[1]).read_bytes()
    doc = json.loads(top_bytes)
    instances = [m["digest"] for m in doc.get("manifests", [])]
    manifest_bytes = len(top_bytes) + sum((root / d.split(":", 1)[1]).stat().st_size for d in instances)
    blobs = blobs_of(layout)
    return Shape(len(instances), len(blobs), sum(b.stat().st_size for b in blobs), manifest_bytes)


# The round trips each kind of copy cannot avoid, in order: each step
# waits for the one before (its input is the answer), and every request
# within a step is independent of the others, so a client may issue them
# all at once. Steps marked "list" exist only when the top level is a list.
# A blob upload is POST (open a session) then PUT (the bytes, and the
# digest to commit under); a registry→registry copy opens the session
# while the source's GET is on its way, so the GET costs no step of its
# own. The existence checks of a warm push (the repository has the
# layers, not the manifests) are the only way to learn the destination
# has the blobs; a cold copy may skip them (the destination is not known
# to be empty, but a skipped check only costs a re-upload). A repository
# whose tag names the manifest already holds everything it names.
FLOOR_STEPS = {
    "pull": ["connect", "GET top manifest", "list:GET instance manifests", "GET blobs"],
    "push-cold": ["connect", "POST blob uploads", "PUT blobs", "list:PUT instance manifests",
                  "PUT top manifest"],
    "push-warm": ["connect", "HEAD blobs", "list:PUT instance manifests", "PUT top manifest"],
    # The destination's tag names the image already: one question (asked
    # beside the source's read, for a copy) settles the copy.
    "push-unchanged": ["connect", "HEAD destination tag"],
    "copy-unchanged": ["connect", "GET top manifest, HEAD destination tag"],
    "copy-cold": ["connect", "GET top manifest", "list:GET instance manifests",
                  "POST blob uploads (with source GETs)", "PUT blobs", "list:PUT instance manifests",
                  "PUT top manifest"],
    "copy-warm": ["connect", "GET top manifest", "list:GET instance manifests", "HEAD blobs",
                  "list:PUT instance manifests", "PUT top manifest"],
    # A mirror of single-platform tags: every tag's manifest may be asked
    # for at once once the tag list is in.
    "sync-cold": ["connect", "GET tag list", "GET manifests", "POST blob uploads (with source GETs)",
                  "PUT blobs", "PUT manifests"],
    "inspect": ["connect", "GET top manifest", "list:GET the chosen instance", "GET config"],
    "inspect-raw": ["connect", "GET top manifest"],
}
# The steps that touch every blob: bounded by --jobs in the second floor.
BLOB_STEPS = {"POST blob uploads", "POST blob uploads (with source GETs)", "PUT blobs", "HEAD blobs",
              "GET blobs"}


def wan_floor(kind: str, shape: Shape, rtt: float, mbit: float | None,
              jobs: int | None = None, tls: bool = False) -> tuple[float, str]:
    """The critical path of `kind` for `shape` at round trip `rtt`, plus
    its bytes over the link's capacity; with `jobs`, blobs move at most
    `jobs` at a time, so each blob step is taken ceil(blobs / jobs) times.
    With `tls`, connecting takes TLS 1.3's one round trip more. Returns
    seconds and the computation, for the report."""
    steps = [st.removeprefix("list:") for st in FLOOR_STEPS[kind]
             if not st.startswith("list:") or shape.instances]
    if tls:
        steps.insert(1, "TLS handshake")
    waves = 1 if jobs is None else -(-shape.blobs // jobs)
    trips = sum(waves if st in BLOB_STEPS else 1 for st in steps)
    moves_blobs = kind not in ("inspect", "inspect-raw") and not kind.endswith(("warm", "unchanged"))
    nbytes = (shape.blob_bytes if moves_blobs else 0) + (
        shape.manifest_bytes if kind != "inspect-raw" else 0)
    wire = nbytes * 8 / (mbit * 1e6) if mbit else 0.0
    how = f"{trips} round trips ({' → '.join(steps)}" + (f"; blob steps × {waves}" if waves > 1 else "") + ")"
    how += f" × {rtt * 1000:.0f} ms" + (f" + {nbytes / MIB:.1f} MiB at {mbit:g} Mbit/s" if mbit and nbytes else "")
    return trips * rtt + wire, how


TRUST_FIXTURES = REPO / "native" / "tests" / "fixtures" / "trust"
SIGNED_IDENTITY = "example.invalid/bench/signed:v1"


def signed_by_scenario(f: str, b: Registry, oci4: Path, work: Path, copy_f: list[str],
                       dst_tls_f: str, rss: Target) -> Scenario:
    """What judging a copy by a signedBy policy costs: the same warm push
    of the 4-platform image, signed with the test key (fixtures), under a
    policy that accepts anything and under one that verifies every
    instance's and the list's signature. Signatures are read and judged,
    not pushed (--remove-signatures: the registry has no lookaside)."""
    gnupg = work / "gnupg"
    shutil.rmtree(gnupg, ignore_errors=True)
    gnupg.mkdir(mode=0o700)
    env = {**os.environ, "GNUPGHOME": str(gnupg)}
    subprocess.run(["gpg", "--batch", "--quiet", "--import", str(TRUST_FIXTURES / "main.sec.asc")],
                   env=env, check=True, capture_output=True)
    fingerprint = next(line.split()[1] for line in (TRUST_FIXTURES / "fingerprints").read_text().splitlines()
                       if line.startswith("main "))
    signed = work / "signed4"
    shutil.rmtree(signed, ignore_errors=True)
    subprocess.run([f, "--insecure-policy", "copy", "--progress", "none", "--all", "--sign-by", fingerprint,
                    "--sign-identity", SIGNED_IDENTITY, f"oci:{oci4}:bench", f"dir:{signed}"],
                   env=env, check=True, capture_output=True)
    subprocess.run(["gpgconf", "--kill", "all"], env=env, capture_output=True)
    insecure = work / "policy-insecure.json"
    insecure.write_text('{"default": [{"type": "insecureAcceptAnything"}]}')
    signed_by = work / "policy-signed-by.json"
    signed_by.write_text(json.dumps({"default": [{
        "type": "signedBy", "keyType": "GPGKeys", "keyPath": str(TRUST_FIXTURES / "main.pub.gpg"),
        "signedIdentity": {"type": "exactReference", "dockerReference": SIGNED_IDENTITY}}]}))
    push = ["copy", "--progress", "none", "--all", "--remove-signatures", dst_tls_f, f"dir:{signed}",
            b.ref("push/signed")]
    populate = [f, "--policy", str(insecure), *push]
    return Scenario(
        "registry", "dir→registry warm push judged by a signedBy policy (5 signatures verified)",
        [Contender("ferry", [f, "--policy", str(signed_by), *push]),
         Contender("ferry, insecureAcceptAnything", [f, "--policy", str(insecure), *push], None, "floor")],
        prepare=lambda: (b.wipe(), run(populate)),
        targets=[within_floor("ferry, insecureAcceptAnything", 1.05), rss],
    )


def image_layers(layout: Path, arch: str = "amd64") -> list[Path]:
    """The layer blobs of the `arch` image of `layout`'s list."""
    root = layout / "blobs" / "sha256"

    def load(digest: str) -> dict:
        return json.loads((root / digest.split(":", 1)[1]).read_bytes())

    entries = json.loads((layout / "index.json").read_text())["manifests"]
    while not any(e.get("platform", {}).get("architecture") == arch for e in entries):
        entries = load(entries[0]["digest"])["manifests"]
    entry = next(e for e in entries if e.get("platform", {}).get("architecture") == arch)
    return [root / layer["digest"].split(":", 1)[1] for layer in load(entry["digest"])["layers"]]


def recompression_scenario(f: str, oci4: Path, work: Path, copy_f: list[str], rss: Target) -> Scenario:
    """gzip -> zstd (level 3, zstd's default and ferry's) of the linux/amd64
    image (64 MiB of layers) between OCI layouts, beside skopeo and the
    command-line tools doing the same work over the same bytes, layer after
    layer: `zstd -dc | zstd -T0` (decompress, with zlib as zstd's CLI is
    built with, and recompress: the floor of the target; labelled without
    the pipe, which would split the report's table), the same with GNU
    gzip's slower inflate, `zstd -dc` alone (the inflate every tool must do
    on one core: a gzip stream cannot be split), and `zstd -T0` alone over
    the layers' tars (compression only, for scale: it skips the inflate,
    so on 2 cores no recompression can come near it)."""
    layers = image_layers(oci4)
    tars, out, dst = work / "tars", work / "zstd-floor", work / "dst"

    def prepare():
        tars.mkdir(exist_ok=True)
        for layer in layers:
            tar = tars / layer.name
            if not tar.exists():
                with open(tar, "wb") as t:
                    subprocess.run(["gzip", "-dc", str(layer)], stdout=t, check=True)

    def fresh(*paths: Path) -> Callable[[], None]:
        def go():
            for p in paths:
                shutil.rmtree(p, ignore_errors=True)
            out.mkdir(parents=True, exist_ok=True)
            os.sync()

        return go

    pipeline = " && ".join(f"gzip -dc {l} | zstd -T0 -3 -q -c > {out}/{l.name}" for l in layers)
    compress = " && ".join(f"zstd -T0 -3 -q -c {tars}/{l.name} > {out}/{l.name}" for l in layers)
    zpipeline = " && ".join(f"zstd -dcq {l} | zstd -T0 -3 -q -c > {out}/{l.name}" for l in layers)
    inflate = " && ".join(f"zstd -dcq {l} > /dev/null" for l in layers)
    args = ["--dest-compress-format", "zstd", f"oci:{oci4}:bench", f"oci:{dst}:bench"]
    return Scenario(
        "compression", "oci→oci gzip→zstd (linux/amd64, 64 MiB of layers)",
        [Contender("ferry", copy_f + args, fresh(dst)),
         Contender("skopeo", ["skopeo", "copy", "-q", *args], fresh(dst)),
         Contender("zstd -dc, then zstd -T0", sh(zpipeline), fresh(out), "floor"),
         Contender("gzip -dc, then zstd -T0", sh(pipeline), fresh(out), "floor"),
         Contender("zstd -dc (inflate only)", sh(inflate), None, "floor"),
         Contender("zstd -T0 (tars)", sh(compress), fresh(out), "floor")],
        prepare=prepare,
        targets=[faster_than_skopeo(2), within_floor("zstd -dc, then zstd -T0", 1.3), rss],
    )


def write_sync_images(root: Path, count: int) -> None:
    """`count` small single-platform dir: images under `root` (named
    `small:tN`), each a 1 KiB layer of its own and a config, made from a
    seed so every run has the same digests. `ferry sync --src dir` pushes
    them as `REPO/small:tN`."""
    if (root / f"small:t{count - 1}" / "manifest.json").exists() and root.with_name(root.name + ".gzip-layers").exists():
        return
    shutil.rmtree(root, ignore_errors=True)
    for i in range(count):
        image = root / f"small:t{i}"
        image.mkdir(parents=True)
        # A real gzip stream (fixed mtime, so digests never change): a
        # layer typed gzip whose bytes are not would be gzipped on the way
        # by both tools, each with its own encoder.
        content = b"".join(hashlib.sha256(f"sync-{i}-{k}".encode()).digest() for k in range(32))
        layer = gzip.compress(content, mtime=0)
        layer_digest = hashlib.sha256(layer).hexdigest()
        config = json.dumps({
            "architecture": "amd64", "os": "linux",
            "rootfs": {"type": "layers", "diff_ids": [f"sha256:{hashlib.sha256(content).hexdigest()}"]},
        }).encode()
        config_digest = hashlib.sha256(config).hexdigest()
        manifest = json.dumps({
            "schemaVersion": 2,
            "mediaType": "application/vnd.oci.image.manifest.v1+json",
            "config": {"mediaType": "application/vnd.oci.image.config.v1+json",
                       "digest": f"sha256:{config_digest}", "size": len(config)},
            "layers": [{"mediaType": "application/vnd.oci.image.layer.v1.tar+gzip",
                        "digest": f"sha256:{layer_digest}", "size": len(layer)}],
        }).encode()
        (image / layer_digest).write_bytes(layer)
        (image / config_digest).write_bytes(config)
        (image / "manifest.json").write_bytes(manifest)
        (image / "version").write_text("Directory Transport Version: 1.1\n")
    root.with_name(root.name + ".gzip-layers").touch()


def resync_floor(lists: Path, a: Registry, b: Registry) -> list[str]:
    """What a re-sync of the 200 tags cannot do without: list the source's
    tags, read each tag's manifest there, and ask the destination for
    each (HEAD), 32 at a time each side, as two curls at once. It measures
    the registries' own cost per request, which on loopback is the floor."""
    accept = "Accept: application/vnd.oci.image.manifest.v1+json"
    src_cfg, dst_cfg = lists / "resync-src.cfg", lists / "resync-dst.cfg"
    with open(src_cfg, "w") as f:
        f.write(f'url = "http://{a.host}/v2/sync/small/tags/list"\noutput = "/dev/null"\n')
        for i in range(200):
            f.write(f'url = "http://{a.host}/v2/sync/small/manifests/t{i}"\noutput = "/dev/null"\n')
    with open(dst_cfg, "w") as f:
        for i in range(200):
            f.write(f'url = "http://{b.host}/v2/mirror/small/manifests/t{i}"\noutput = "/dev/null"\n')
    curl = f"curl -sf --no-progress-meter -Z --parallel-max 32 -H '{accept}'"
    return sh(f"{curl} -K {src_cfg} & {curl} -I -K {dst_cfg} >/dev/null & wait")


SYNC_WAN_TAGS = 50


def shape_of_dirs(root: Path) -> Shape:
    """The shape of the `dir:` images under `root` taken together (what a
    sync of them moves): no list, every distinct blob and manifest."""
    blobs: dict[str, int] = {}
    manifest_bytes = 0
    for image in sorted(root.iterdir()):
        for entry in image.iterdir():
            if entry.name == "manifest.json":
                manifest_bytes += entry.stat().st_size
            elif entry.name != "version":
                blobs[entry.name] = entry.stat().st_size
    return Shape(0, len(blobs), sum(blobs.values()), manifest_bytes)


def storage_scenarios(f, work, oci_src, dst, copy_f, copy_s, clean_and_sync, local, rss) -> list[Scenario]:
    """containers-storage (vfs) in a store of the benchmark's own: the system
    instance of oci4 written into it from nothing, and read out of it."""
    store = work / "storage"
    ref = f"containers-storage:[vfs@{store / 'root'}+{store / 'run'}]bench:1"
    wipe = clean_and_sync(store)
    return [
        Scenario(
            "storage", "oci→containers-storage vfs, one platform (empty store)",
            [Contender("ferry", copy_f + [oci_src, ref], wipe),
             Contender("skopeo", copy_s + [oci_src, ref], wipe)],
            targets=[faster_than_skopeo(2), rss],
        ),
        # Read out to dir:, which keeps the layers as the store gives them
        # (uncompressed): to oci: both tools would gzip them, and the
        # scenario would time the compressors.
        Scenario(
            "storage", "containers-storage vfs→dir (reading out)",
            [Contender("ferry", copy_f + [ref, f"dir:{dst}"], local),
             Contender("skopeo", copy_s + [ref, f"dir:{dst}"], local)],
            prepare=lambda: (wipe(), run(copy_f + [oci_src, ref])),
            targets=[faster_than_skopeo(1), rss],
        ),
    ]


def tls_scenarios(ta: Registry, tb: Registry, oci4: Path, lists: Path, copy_f: list[str], copy_s: list[str], oci_dst: str,
                  pulled: Path, local, clean_and_sync, jobs: int, rss: Target) -> list[Scenario]:
    """The cold push and the pull of the 4-platform image against a
    registry speaking TLS (the test CA), which offers HTTP/2; ferry and
    skopeo 1.9.3 both speak HTTP/1.1 to it (skopeo opens a connection per
    request, RESULTS-wan.md); curl's floors trust the
    same CA. `ta` holds the image, `tb` is wiped before each push (a
    second registry, so that no blob info cache can mount from `ta`)."""
    write_url_list(lists / "oci4-urls-tls", ta, "src/oci4", oci4)
    oci_src = f"oci:{oci4}:bench"

    def pair(args: list[str], side: str, setup) -> list[Contender]:
        return [Contender("ferry", copy_f + ["--all", *ta.flags(side), *args], setup),
                Contender("skopeo", copy_s + ["--all", *ta.flags(side), *args], setup)]

    return [
        Scenario(
            "tls", "oci→registry over TLS, empty repository (cold push)",
            pair([oci_src, tb.ref("push/oci4")], "dest", tb.wipe)
            + [Contender("raw parallel push (curl, TLS)",
                         raw_push(tb.host, "push/oci4", lists / "oci4-push", jobs, tb), tb.wipe, "floor")],
            targets=[within_floor("raw parallel push (curl, TLS)", 1.2), rss],
        ),
        Scenario(
            "tls", "registry→oci over TLS (pull)",
            pair([ta.ref("src/oci4"), oci_dst], "src", local)
            + [Contender("parallel curl (TLS)", parallel_pull(lists / "oci4-urls-tls", pulled, jobs, curl=ta.curl()),
                         clean_and_sync(pulled), "floor")],
            targets=[within_floor("parallel curl (TLS)", 1.2), rss],
        ),
    ]


def build_scenarios(a: Registry, b: Registry, ta: Registry, tb: Registry, data: Path, work: Path, jobs: int) -> list[Scenario]:
    f = str(FERRY)
    oci4, docker4, small = data / "oci4", data / "docker4", data / "small"
    dst = work / "dst"
    pulled = work / "pulled"
    lists = work / "lists"
    lists.mkdir(exist_ok=True)
    write_url_list(lists / "oci4-urls", a, "src/oci4", oci4)
    write_url_list(lists / "small-urls", a, "src/small", small)
    write_push_list(lists / "oci4-push", oci4)
    write_push_list(lists / "small-push", small)
    write_url_list(lists / "docker4-urls", a, "src/docker4", docker4)
    write_push_list(lists / "docker4-push", docker4)

    def clean(*paths: Path) -> Callable[[], None]:
        def go():
            for p in paths:
                shutil.rmtree(p, ignore_errors=True)

        return go

    def clean_and_sync(*paths: Path) -> Callable[[], None]:
        # Dirty pages of the previous run must not be flushed on the next
        # run's clock (skopeo fsyncs, cp && sync syncs everything).
        def go():
            clean(*paths)()
            os.sync()

        return go

    local = clean_and_sync(dst)
    copy_f = [f, "copy", "--progress", "none"]
    copy_s = ["skopeo", "copy", "-q"]
    src_tls_f, dst_tls_f = "--src-tls-verify=false", "--dest-tls-verify=false"
    src_tls_s, dst_tls_s = "--src-tls-verify=false", "--dest-tls-verify=false"
    oci_src = f"oci:{oci4}:bench"
    oci_dst = f"oci:{dst}:bench"
    blob_glob = f"{oci4}/blobs/sha256/*"
    rss = rss_under(64)

    def pair(ferry_args, skopeo_args, setup) -> list[Contender]:
        return [
            Contender("ferry", copy_f + ferry_args, setup),
            Contender("skopeo", copy_s + skopeo_args, setup),
        ]

    def undurable(ferry_args) -> list[Contender]:
        """ferry with fsync made a no-op (eatmydata, if installed): what
        durability costs it, beside the floors that do not sync."""
        if not shutil.which("eatmydata"):
            return []
        return [Contender("ferry without fsync (eatmydata)", ["eatmydata", *copy_f, *ferry_args], local, "floor")]

    def populate(registry: Registry, repo: str, layout: Path) -> Callable[[], None]:
        return lambda: run(copy_f + ["--all", dst_tls_f, f"oci:{layout}:bench", registry.ref(repo)])

    def populate_layers(registry: Registry, repo: str, layout: Path) -> Callable[[], None]:
        # The same layers and configs under Docker manifests (another tag):
        # the repository has every blob, and none of the image's manifests.
        return lambda: run(copy_f + ["--all", "--format", "v2s2", dst_tls_f, f"oci:{layout}:bench",
                                     registry.ref(repo, "layers")])

    scenarios = [
        Scenario(
            "local", "oci→oci --all (142 MiB, 4 platforms)",
            pair(["--all", oci_src, oci_dst], ["--all", oci_src, oci_dst], local)
            + [
                Contender("cp -r", ["cp", "-r", str(oci4), str(dst)], local, "floor"),
                Contender("cp -r && sync", sh(f"cp -r {oci4} {dst} && sync"), local, "floor"),
                Contender("sha256sum", sh(f"sha256sum {blob_glob}"), None, "floor"),
                Contender("openssl dgst -sha256", sh(f"openssl dgst -sha256 {blob_glob}"), None, "floor"),
            ],
            targets=[faster_than_skopeo(3), within_floor("cp -r && sync", 2.2), rss],
        ),
        Scenario(
            "local", "oci→oci one platform (linux/amd64)",
            pair([oci_src, oci_dst], [oci_src, oci_dst], local),
            targets=[faster_than_skopeo(3), rss],
        ),
        Scenario(
            "local", "oci→dir --all",
            pair(["--all", oci_src, f"dir:{dst}"], ["--all", oci_src, f"dir:{dst}"], local)
            + [Contender("cp -r && sync", sh(f"cp -r {oci4} {dst} && sync"), local, "floor")],
            targets=[faster_than_skopeo(3), within_floor("cp -r && sync", 2.2), rss],
        ),
        Scenario(
            "registry", "oci→registry, empty repository (cold push)",
            pair(["--all", dst_tls_f, oci_src, b.ref("push/oci4")],
                 ["--all", dst_tls_s, oci_src, b.ref("push/oci4")], b.wipe)
            + [Contender("raw parallel push", raw_push(b.host, "push/oci4", lists / "oci4-push", jobs), b.wipe, "floor")],
            targets=[within_floor("raw parallel push", 1.2), rss],
        ),
        Scenario(
            "registry", "oci→registry, the repository has the layers (warm push)",
            # Each run writes the manifests: each starts from the layers alone.
            pair(["--all", dst_tls_f, oci_src, b.ref("push/oci4")],
                 ["--all", dst_tls_s, oci_src, b.ref("push/oci4")],
                 lambda: (b.wipe(), populate_layers(b, "push/oci4", oci4)())),
            targets=[faster_than_skopeo(1), rss],
        ),
        Scenario(
            "registry", "oci→registry, the tag names the image already (re-push)",
            pair(["--all", dst_tls_f, oci_src, b.ref("push/oci4")],
                 ["--all", dst_tls_s, oci_src, b.ref("push/oci4")], None),
            prepare=lambda: (b.wipe(), populate(b, "push/oci4", oci4)()),
            targets=[faster_than_skopeo(1), rss],
        ),
        Scenario(
            "registry", "registry→oci (pull)",
            pair(["--all", src_tls_f, a.ref("src/oci4"), oci_dst],
                 ["--all", src_tls_s, a.ref("src/oci4"), oci_dst], local)
            + [Contender("parallel curl", parallel_pull(lists / "oci4-urls", pulled, jobs), clean_and_sync(pulled), "floor"),
               Contender("parallel curl && sync", parallel_pull(lists / "oci4-urls", pulled, jobs, sync=True), clean_and_sync(pulled), "floor")]
            + undurable(["--all", src_tls_f, a.ref("src/oci4"), oci_dst]),
            targets=[within_floor("parallel curl", 1.2), rss],
        ),
        Scenario(
            "registry", "registry→registry, other registry (Docker types)",
            pair(["--all", src_tls_f, dst_tls_f, a.ref("src/docker4"), b.ref("copy/docker4")],
                 ["--all", src_tls_s, dst_tls_s, a.ref("src/docker4"), b.ref("copy/docker4")], b.wipe)
            + [Contender("raw parallel push", raw_push(b.host, "copy/docker4", lists / "docker4-push", jobs), b.wipe, "floor"),
               Contender("parallel curl", parallel_pull(lists / "docker4-urls", pulled, jobs), clean_and_sync(pulled), "floor")],
            targets=[within_floor("raw parallel push", 1.2), rss],
        ),
        Scenario(
            "registry", "registry→registry, other repository (cross-repository mounts)",
            pair(["--all", src_tls_f, dst_tls_f, a.ref("src/oci4"), a.ref("copy/oci4")],
                 ["--all", src_tls_s, dst_tls_s, a.ref("src/oci4"), a.ref("copy/oci4")],
                 lambda: a.drop_repository("copy")),
            targets=[faster_than_skopeo(1), rss],
        ),
        Scenario(
            "small", "many-small local copy (200 × 50 KiB)",
            pair([f"oci:{small}:bench", oci_dst], [f"oci:{small}:bench", oci_dst], local)
            + [Contender("cp -r && sync", sh(f"cp -r {small} {dst} && sync"), local, "floor")],
            targets=[faster_than_skopeo(10), within_floor("cp -r && sync", 2.2), rss],
        ),
        Scenario(
            "small", "many-small cold push",
            pair([dst_tls_f, f"oci:{small}:bench", b.ref("push/small")],
                 [dst_tls_s, f"oci:{small}:bench", b.ref("push/small")], b.wipe)
            + [Contender("raw parallel push", raw_push(b.host, "push/small", lists / "small-push", jobs), b.wipe, "floor")],
            targets=[within_floor("raw parallel push", 1.2), rss],
        ),
        Scenario(
            "small", "many-small warm push (the repository has the layers)",
            pair([dst_tls_f, f"oci:{small}:bench", b.ref("push/small")],
                 [dst_tls_s, f"oci:{small}:bench", b.ref("push/small")],
                 lambda: (b.wipe(), populate_layers(b, "push/small", small)())),
            targets=[faster_than_skopeo(10), rss],
        ),
        Scenario(
            "small", "many-small re-push (the tag names the image already)",
            pair([dst_tls_f, f"oci:{small}:bench", b.ref("push/small")],
                 [dst_tls_s, f"oci:{small}:bench", b.ref("push/small")], None),
            prepare=lambda: (b.wipe(), populate(b, "push/small", small)()),
            targets=[faster_than_skopeo(10), rss],
        ),
        Scenario(
            "small", "many-small pull",
            pair([src_tls_f, a.ref("src/small"), oci_dst], [src_tls_s, a.ref("src/small"), oci_dst], local)
            + [Contender("parallel curl", parallel_pull(lists / "small-urls", pulled, jobs), clean_and_sync(pulled), "floor"),
               Contender("parallel curl && sync", parallel_pull(lists / "small-urls", pulled, jobs, sync=True), clean_and_sync(pulled), "floor")],
            targets=[within_floor("parallel curl", 1.2), rss],
        ),
    ]
    # Mirroring: 200 small single-platform tags from registry a to b.
    sync_tls = [src_tls_f, dst_tls_f]
    sync_src, sync_dst = f"{a.host}/sync/small", f"{b.host}/mirror"
    sync_f = [f, "sync", "--src", "docker", "--dest", "docker", *sync_tls, sync_src, sync_dst]
    sync_s = ["skopeo", "sync", "--src", "docker", "--dest", "docker", *sync_tls, sync_src, sync_dst]
    scenarios += [
        Scenario(
            "mirror", "sync 200 small tags, empty destination",
            [Contender("ferry", sync_f, b.wipe), Contender("skopeo", sync_s, b.wipe)],
            targets=[faster_than_skopeo(5), rss],
        ),
        Scenario(
            "mirror", "re-sync 200 small tags, nothing changed",
            [Contender("ferry", sync_f), Contender("skopeo", sync_s),
             Contender("curl: the requests a re-sync needs", resync_floor(lists, a, b), None, "floor")],
            prepare=lambda: (b.wipe(), run(sync_f)),
            targets=[faster_than_skopeo(20), within_floor("curl: the requests a re-sync needs", 1.3), rss],
        ),
    ]
    # The memory bound for a big mirror: 1,000 images in one run.
    # Seeded only when the scenario runs (pushing them takes a while).
    many_src = f"{a.host}/sync1k/small"
    many_f = [f, "sync", "--src", "docker", "--dest", "docker", *sync_tls, many_src, sync_dst]
    many_s = ["skopeo", "sync", "--src", "docker", "--dest", "docker", *sync_tls, many_src, sync_dst]

    def seed_many() -> None:
        write_sync_images(data / "sync1000", 1000)
        run([f, "sync", "--src", "dir", "--dest", "docker", dst_tls_f,
             str(data / "sync1000"), f"{a.host}/sync1k"])

    scenarios.append(
        Scenario(
            "mirror", "sync 1,000 small tags, empty destination",
            [Contender("ferry", many_f, b.wipe), Contender("skopeo", many_s, b.wipe)],
            prepare=seed_many,
            targets=[rss],
        )
    )
    scenarios += tls_scenarios(ta, tb, oci4, lists, copy_f, copy_s, oci_dst, pulled, local, clean_and_sync, jobs, rss)

    scenarios += storage_scenarios(f, work, oci_src, dst, copy_f, copy_s, clean_and_sync, local, rss)
    scenarios.append(signed_by_scenario(f, b, oci4, work, copy_f, dst_tls_f, rss))
    scenarios.append(recompression_scenario(f, oci4, work, copy_f, rss))
    all_blobs = [str(p) for p in sorted((oci4 / "blobs" / "sha256").iterdir())]
    scenarios.append(
        Scenario(
            "digest", "sha256 of every oci4 blob (142 MiB, page cache)",
            [Contender("ferry", [str(DIGEST_FILES), *all_blobs]),
             Contender("openssl dgst -sha256", ["openssl", "dgst", "-sha256", *all_blobs], None, "floor"),
             Contender("sha256sum", ["sha256sum", *all_blobs], None, "floor")],
            targets=[throughput_vs("openssl dgst -sha256", 0.9)],
        )
    )
    top = json.loads((oci4 / "index.json").read_text())["manifests"][0]["digest"]
    index_blob = oci4 / "blobs" / "sha256" / top.split(":", 1)[1]
    scenarios += [
        Scenario(
            "latency", "manifest digest (the index)",
            [Contender("ferry", [f, "manifest", "digest", str(index_blob)]),
             Contender("skopeo", ["skopeo", "manifest-digest", str(index_blob)]),
             Contender("sha256sum", ["sha256sum", str(index_blob)], None, "floor"),
             Contender("true (spawn)", ["true"], None, "floor")],
            targets=[under_ms(5), rss], runs=30, latency=True,
        ),
        Scenario(
            "latency", "inspect --raw oci:",
            [Contender("ferry", [f, "inspect", "--raw", oci_src]),
             Contender("skopeo", ["skopeo", "inspect", "--raw", oci_src]),
             Contender("cat", ["cat", str(oci4 / "index.json"), str(index_blob)], None, "floor")],
            targets=[under_ms(5), rss], runs=30, latency=True,
        ),
        Scenario(
            "latency", "inspect --raw docker:// (local registry)",
            [Contender("ferry", [f, "inspect", "--tls-verify=false", "--raw", a.ref("src/oci4")]),
             Contender("skopeo", ["skopeo", "inspect", "--tls-verify=false", "--raw", a.ref("src/oci4")]),
             Contender("curl", ["curl", "-sf", "-H", "Accept: application/vnd.oci.image.index.v1+json",
                                f"http://{a.host}/v2/src/oci4/manifests/latest"], None, "floor")],
            # Not < 5 ms: the registry's answer and a client's start-up are
            # most of it, and curl (one request) measures those in the same
            # rounds (benches/RESULTS-wan.md, notes).
            targets=[within_floor("curl", 1.2), rss], runs=30, latency=True,
        ),
    ]
    return scenarios


def within_round_trips(per_manifest: int, manifests: int, rtt: float, tls: bool = False) -> Target:
    """ferry's median in round trips: at most `per_manifest` per manifest
    written, and one to connect (two over TLS: the handshake)."""
    limit = per_manifest * manifests + (2 if tls else 1)

    def check(r):
        trips = med(r["ferry"]) / rtt
        return trips <= limit, f"{trips:.1f} round trips"

    connect = "connect and TLS handshake" if tls else "connect"
    return Target(f"≤ {limit} round trips ({per_manifest} per manifest × {manifests}, + {connect})", check)


def wan_scenarios(a: Registry, b: Registry, ta: Registry, tb: Registry, data: Path, work: Path, delay_ms: float,
                  mbit: float | None, jobs: int, runs: int) -> tuple[list[Scenario], list]:
    """The copies users make across a network: the same registries behind
    delaying proxies (`delay_ms` each way), ferry and skopeo alternating,
    beside floors computed from each image's structure. Returns the
    scenarios and the proxies (for stopping)."""
    f = str(FERRY)
    oci4, small = data / "oci4", data / "small"
    s4, ss = shape_of(oci4), shape_of(small)
    pa = DelayProxy(a, delay_ms, mbit, f"delay-{delay_ms:g}")
    pb = DelayProxy(b, delay_ms, mbit, f"delay-{delay_ms:g}")
    pta = DelayProxy(ta, delay_ms, mbit, f"delay-{delay_ms:g}")
    ptb = DelayProxy(tb, delay_ms, mbit, f"delay-{delay_ms:g}")
    rtt = pa.rtt
    dst = work / "dst"
    copy_f = [f, "copy", "--progress", "none"]
    copy_s = ["skopeo", "copy", "-q"]
    stf, dtf = "--src-tls-verify=false", "--dest-tls-verify=false"
    oci_src, oci_dst = f"oci:{oci4}:bench", f"oci:{dst}:bench"
    small_src = f"oci:{small}:bench"
    urls = work / "lists" / f"oci4-urls-{delay_ms:g}"
    urls.parent.mkdir(exist_ok=True)
    with open(urls, "w") as out:
        for blob in blobs_of(oci4):
            out.write(f"http://{pa.host}/v2/src/oci4/blobs/sha256:{blob.name} {blob.name}\n")

    def local():
        shutil.rmtree(dst, ignore_errors=True)
        os.sync()

    def populate(repo: str, layout: Path) -> Callable[[], None]:
        # Straight to the registry: preparation is not measured.
        return lambda: (b.wipe(), run(copy_f + ["--all", dtf, f"oci:{layout}:bench", b.ref(repo)]))

    def populate_layers(repo: str, layout: Path, into: Registry = b) -> Callable[[], None]:
        # The same layers and configs under Docker manifests (another tag):
        # every blob is there, none of the image's manifests. Before each
        # run: a run writes the manifests, and the next would find them.
        return lambda: (into.wipe(), run(copy_f + ["--all", "--format", "v2s2", *into.flags("dest"),
                                                   f"oci:{layout}:bench", into.ref(repo, "layers")]))

    def pair(args: list[str], setup) -> list[Contender]:
        return [Contender("ferry", copy_f + args, setup), Contender("skopeo", copy_s + args, setup)]

    def floors(kind: str, shape: Shape, tls: bool = False) -> list[Contender]:
        out = []
        value, how = wan_floor(kind, shape, rtt, mbit, tls=tls)
        out.append(Contender("protocol", [], None, "floor", value, how))
        if shape.blobs > jobs and kind not in ("inspect", "inspect-raw"):
            value, how = wan_floor(kind, shape, rtt, mbit, jobs, tls)
            out.append(Contender(f"protocol, {jobs} blobs at a time", [], None, "floor", value, how))
        return out

    def targets(multi: bool, warm_manifests: int = 0, tls: bool = False) -> list[Target]:
        if delay_ms != 100:
            return []
        out = [faster_than_skopeo(4), within_floor("protocol", 1.5)] if multi else []
        if warm_manifests:
            out.append(within_round_trips(2, warm_manifests, rtt, tls))
        return out

    group = f"wan: {delay_ms:g} ms each way ({rtt * 1000:.0f} ms round trip" + (
        f", {mbit:g} Mbit/s" if mbit else "") + ")"
    manifests4 = s4.instances + 1

    def sc(name, contenders, prepare=None, tgts=(), n=runs):
        return Scenario(group, f"{name} @ {rtt * 1000:.0f} ms", contenders, prepare, list(tgts), n,
                        proxies=[pa, pb, pta, ptb], rtt=rtt)

    def tls_pair(args: list[str], side: str, setup) -> list[Contender]:
        return [Contender("ferry", copy_f + ["--all", *ta.flags(side), *args], setup),
                Contender("skopeo", copy_s + ["--all", *ta.flags(side), *args], setup)]

    scenarios = [
        sc("registry→registry --all, 4 platforms, cold",
           pair(["--all", stf, dtf, pa.ref("src/oci4"), pb.ref("copy/oci4")], b.wipe) + floors("copy-cold", s4),
           tgts=targets(True)),
        sc("registry→registry --all, 4 platforms, warm (the repository has the layers)",
           pair(["--all", stf, dtf, pa.ref("src/oci4"), pb.ref("copy/oci4")], populate_layers("copy/oci4", oci4))
           + floors("copy-warm", s4), tgts=targets(True, manifests4)),
        sc("registry→registry --all, 4 platforms, unchanged (the tag names it)",
           pair(["--all", stf, dtf, pa.ref("src/oci4"), pb.ref("copy/oci4")], None) + floors("copy-unchanged", s4),
           prepare=populate("copy/oci4", oci4), tgts=targets(True)),
        # What the emulated link really carries (the proxy is Python, and
        # shares the machine): every blob by curl, `jobs` at a time.
        sc("registry→oci --all, 4 platforms",
           pair(["--all", stf, pa.ref("src/oci4"), oci_dst], local) + floors("pull", s4)
           + [Contender("parallel curl through the link",
                        parallel_pull(urls, work / "pulled", jobs),
                        lambda: (shutil.rmtree(work / "pulled", ignore_errors=True), os.sync()), "floor")],
           tgts=targets(True)),
        sc("oci→registry --all, 4 platforms, cold",
           pair(["--all", dtf, oci_src, pb.ref("push/oci4")], b.wipe) + floors("push-cold", s4),
           tgts=targets(True)),
        sc("oci→registry --all, 4 platforms, warm (the repository has the layers)",
           pair(["--all", dtf, oci_src, pb.ref("push/oci4")], populate_layers("push/oci4", oci4))
           + floors("push-warm", s4), tgts=targets(True, manifests4)),
        sc("oci→registry --all, 4 platforms, unchanged (the tag names it)",
           pair(["--all", dtf, oci_src, pb.ref("push/oci4")], None) + floors("push-unchanged", s4),
           prepare=populate("push/oci4", oci4), tgts=targets(True)),
        # skopeo opens a connection per request and checks, opens, sends
        # and closes each of the 201 blobs in turn: minutes at 100 ms, so
        # one round there.
        sc("oci→registry 200 small layers, cold",
           pair([dtf, small_src, pb.ref("push/small")], b.wipe) + floors("push-cold", ss),
           n=1 if delay_ms >= 100 else runs),
        sc("oci→registry 200 small layers, warm (the repository has the layers)",
           pair([dtf, small_src, pb.ref("push/small")], populate_layers("push/small", small))
           + floors("push-warm", ss), tgts=targets(False, 1), n=1 if delay_ms >= 100 else runs),
        sc("oci→registry 200 small layers, unchanged (the tag names it)",
           pair([dtf, small_src, pb.ref("push/small")], None) + floors("push-unchanged", ss),
           prepare=populate("push/small", small), n=1 if delay_ms >= 100 else runs),
        # skopeo syncs one tag after another, each blob in turn: one round
        # at 100 ms.
        sc(f"sync {SYNC_WAN_TAGS} tags registry→registry, cold",
           [Contender("ferry", [f, "sync", "--src", "docker", "--dest", "docker", stf, dtf,
                                f"{pa.host}/wan/small", f"{pb.host}/mirror"], b.wipe),
            Contender("skopeo", ["skopeo", "sync", "--src", "docker", "--dest", "docker", stf, dtf,
                                 f"{pa.host}/wan/small", f"{pb.host}/mirror"], b.wipe)]
           + floors("sync-cold", shape_of_dirs(data / "sync50")),
           n=1 if delay_ms >= 100 else runs),
        sc("inspect docker:// (4-platform list)",
           [Contender("ferry", [f, "inspect", "--tls-verify=false", pa.ref("src/oci4")]),
            Contender("skopeo", ["skopeo", "inspect", "--no-tags", "--tls-verify=false", pa.ref("src/oci4")])]
           + floors("inspect", s4), tgts=targets(True), n=max(runs, 5)),
        sc("inspect --raw docker://",
           [Contender("ferry", [f, "inspect", "--raw", "--tls-verify=false", pa.ref("src/oci4")]),
            Contender("skopeo", ["skopeo", "inspect", "--raw", "--tls-verify=false", pa.ref("src/oci4")])]
           + floors("inspect-raw", s4), n=max(runs, 5)),
        # Over TLS (the test CA): each new connection costs a handshake
        # more. distribution offers HTTP/2: ferry asks its questions over
        # it and moves blobs over HTTP/1.1; skopeo speaks HTTP/1.1.
        sc("registry→oci --all over TLS, 4 platforms",
           tls_pair([pta.ref("src/oci4"), oci_dst], "src", local) + floors("pull", s4, tls=True),
           tgts=targets(True)),
        sc("oci→registry --all over TLS, 4 platforms, cold",
           tls_pair([oci_src, ptb.ref("push/oci4")], "dest", tb.wipe)
           + floors("push-cold", s4, tls=True),
           tgts=targets(True)),
        # The checks of a warm push share one HTTP/2 connection here.
        sc("oci→registry --all over TLS, 4 platforms, warm (the repository has the layers)",
           tls_pair([oci_src, ptb.ref("push/oci4")], "dest", populate_layers("push/oci4", oci4, tb))
           + floors("push-warm", s4, tls=True), tgts=targets(True, manifests4, tls=True)),
        sc("oci→registry 200 small layers over TLS, warm (the repository has the layers)",
           tls_pair([small_src, ptb.ref("push/small")], "dest", populate_layers("push/small", small, tb))
           + floors("push-warm", ss, tls=True), tgts=targets(False, 1, tls=True), n=1 if delay_ms >= 100 else runs),
    ]
    return scenarios, [pa, pb, pta, ptb]


# --------------------------------------------------------------------------
# Running and reporting


def run_scenario(sc: Scenario, runs: int, idle: float, idle_limit: float) -> tuple[dict, float]:
    if sc.prepare:
        sc.prepare()
    load = wait_idle(idle, idle_limit)
    results: dict[str, list[Sample]] = {c.label: [] for c in sc.contenders}
    n = sc.runs or runs
    for i in range(n):
        k = i % len(sc.contenders)
        order = sc.contenders[k:] + sc.contenders[:k]
        for c in order:
            if c.computed is not None:
                results[c.label].append(Sample(c.computed, 0.0, 0.0, 0))
                continue
            if c.setup:
                c.setup()
            marks = [p.mark() for p in sc.proxies]
            results[c.label].append((measure_direct if sc.latency else measure)(c.cmd))
            if sc.proxies:
                results[c.label][-1].requests = sum((p.since(m) for p, m in zip(sc.proxies, marks)),
                                                    RequestCount())
    return results, load


def fmt_t(s: float) -> str:
    return f"{s * 1000:.1f} ms" if s < 1 else f"{s:.2f} s"


CURL_VERSION = "curl --version | head -1 | cut -d' ' -f1-2"


def machine() -> list[str]:
    def out(cmd: str) -> str:
        try:
            return subprocess.run(sh(cmd), capture_output=True, text=True).stdout.strip()
        except Exception as e:  # noqa: BLE001 - reported, not fatal
            return f"({e})"

    cpu = out("grep -m1 'model name' /proc/cpuinfo | cut -d: -f2").strip()
    flags = "sha_ni" if "sha_ni" in Path("/proc/cpuinfo").read_text() else "no sha_ni"
    mem = out("awk '/MemTotal/ {printf \"%.1f GiB\", $2/1048576}' /proc/meminfo")
    fs = out(f"df -T {REPO} | awk 'NR==2 {{print $2}}'")
    return [
        f"- Date: {datetime.datetime.now(datetime.timezone.utc).strftime('%Y-%m-%d %H:%M UTC')}",
        f"- Machine: {cpu} ({flags}), {os.cpu_count()} CPUs, {mem}, {fs}, kernel {os.uname().release}",
        f"- ferry: {out(f'{FERRY} --version')} (git {out(f'git -C {REPO} describe --always --dirty')}), release build",
        f"- skopeo: {out('skopeo --version')}",
        f"- docker-registry: {out('/usr/bin/docker-registry --version')}",
        f"- {out('openssl version')}; {out(CURL_VERSION)}; {out('sha256sum --version | head -1')}",
    ]


def openssl_speed() -> str:
    proc = subprocess.run(
        ["openssl", "speed", "-seconds", "2", "-bytes", str(1 << 20), "-evp", "sha256"],
        capture_output=True, text=True,
    )
    for line in proc.stdout.splitlines():
        if line.startswith("sha256") or line.startswith("SHA256"):
            kbytes = float(line.split()[-1].rstrip("k"))
            return f"{kbytes * 1000 / MIB:.0f} MiB/s"
    return "(unavailable)"


BASELINE = "ferry (baseline)"


def add_baseline(scenarios: list[Scenario], binary: Path) -> None:
    """Runs `binary` beside ferry in every scenario ferry's binary runs in,
    with the same arguments and setup: a before/after comparison whose
    rounds share the machine's noise."""
    for sc in scenarios:
        for c in list(sc.contenders):
            # Options an older build may not have (the trust scenario's
            # --policy) are left out of the comparison.
            if "--policy" in c.cmd:
                continue
            if c.label == "ferry" and c.cmd and c.cmd[0] == str(FERRY):
                sc.contenders.append(Contender(BASELINE, [str(binary), *c.cmd[1:]], c.setup))


def baseline_lines(all_results) -> list[str]:
    """ferry's median against the baseline's, scenario by scenario."""
    rows = [(sc, r) for sc, r in all_results if BASELINE in r]
    if not rows:
        return []
    lines = ["## Against the baseline build", "",
             "| scenario | ferry | baseline | ferry / baseline |", "|---|---:|---:|---:|"]
    for sc, r in rows:
        now, before = med(r["ferry"]), med(r[BASELINE])
        ratio = now / before
        mark = " **slower by more than 5%**" if ratio > 1.05 else ""
        lines.append(f"| {sc.name} | {fmt_t(now)} | {fmt_t(before)} | {ratio:.2f}×{mark} |")
    return lines + [""]


def report(all_results, loads, runs: int, wan_runs: int, jobs: int, extra: list[str]) -> str:
    lines = ["# ferry benchmark results", "", *machine(),
             f"- Runs per scenario: {runs} (latency: 30; wan: {wan_runs}), contenders alternating round by round; "
             f"floors use {jobs} parallel transfers; registry wiped before every cold run", *extra, ""]
    missed = []
    group = None
    for sc, results in all_results:
        if sc.group != group:
            group = sc.group
            lines += [f"## {group}", ""]
        lines += [f"### {sc.name}", "",
                  f"CPU busy before start: {loads[sc.name][0] * 100:.0f}%; load average "
                  f"{' '.join(f'{x:.2f}' for x in loads[sc.name][1])} after the last round", "",
                  "| contender | median | min–max | CPU (user+sys) | peak RSS | vs ferry |",
                  "|---|---:|---:|---:|---:|---:|"]
        if sc.proxies:
            lines[-2] = lines[-2] + " round trips | requests (connections) |"
            lines[-1] = lines[-1] + "---:|---|"
        base = med(results["ferry"])
        for c in sc.contenders:
            s = results[c.label]
            ws = [x.wall for x in s]
            cpu = statistics.median(x.cpu for x in s)
            peak = max(x.rss_kib for x in s) / 1024
            ratio = "1.00×" if c.label == "ferry" else f"{med(s) / base:.2f}×"
            name = f"**{c.label}**" if c.label == "ferry" else (c.label if c.kind == "tool" else f"floor: {c.label}")
            if c.computed is not None:
                row = f"| {name} | {fmt_t(c.computed)} | computed | — | — | {ratio} |"
            else:
                row = (f"| {name} | {fmt_t(med(s))} | {fmt_t(min(ws))}–{fmt_t(max(ws))} | "
                       f"{fmt_t(cpu)} | {peak:.1f} MiB | {ratio} |")
            if sc.proxies:
                row += f" {med(s) / sc.rtt:.1f} |"
                counted = [x.requests for x in s if x.requests is not None]
                if counted:
                    mid = sorted(counted, key=lambda q: q.total)[len(counted) // 2]
                    row += f" {mid.total} ({mid.connections}): {mid.text()} |"
                else:
                    row += " — |"
            lines.append(row)
        lines.append("")
        for c in sc.contenders:
            if c.computed is not None:
                lines.append(f"- floor {c.label}: {c.how}")
        for t in sc.targets:
            ok, got = t.check(results)
            mark = "met" if ok else "**missed**"
            lines.append(f"- Target {t.text}: {got} — {mark}")
            if not ok:
                missed.append(f"{sc.name}: {t.text} ({got})")
        lines.append("")
    lines += baseline_lines(all_results)
    lines += ["## Targets missed in this run", ""]
    lines += [f"- {m}" for m in missed] or ["- none"]
    lines.append("")
    return "\n".join(lines)


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--runs", type=int, default=7)
    ap.add_argument("--jobs", type=int, default=6, help="parallel transfers of the curl floors")
    ap.add_argument("--data", type=Path, default=REPO / "target" / "bench" / "data")
    ap.add_argument("--work", type=Path, default=REPO / "target" / "bench" / "work")
    ap.add_argument("--only", help="run only scenarios whose group or name contains this")
    ap.add_argument("--idle", type=float, default=0.25, help="CPU busy fraction counted as idle")
    ap.add_argument("--idle-limit", type=float, default=60, help="longest wait for idle, seconds")
    ap.add_argument("--no-build", action="store_true")
    ap.add_argument("--delays", default="25,100",
                    help="one-way delays (ms) of the wan scenarios, comma-separated; empty for none")
    ap.add_argument("--mbit", type=float, default=1000,
                    help="capacity of each direction of the wan links, Mbit/s (0: no cap)")
    ap.add_argument("--wan-runs", type=int, default=3, help="rounds of each wan scenario")
    ap.add_argument("--output", type=Path, default=RESULTS)
    ap.add_argument("--baseline", type=Path,
                    help="another ferry binary (e.g. a release build of an older commit), run beside "
                         "ferry in the same rounds; the report says where ferry is more than 5%% slower")
    args = ap.parse_args()

    if not args.no_build:
        run(["cargo", "build", "--release", "-p", "ferry", "-p", "ferry-benches", "--bin", "ferry", "--bin", "gen-images", "--bin", "digest-files"], cwd=REPO)
    subprocess.run([str(GEN), str(args.data)], check=True)
    shutil.rmtree(args.work, ignore_errors=True)
    args.work.mkdir(parents=True)
    a = Registry(args.work, "registry-a")
    b = Registry(args.work, "registry-b")
    pki = Pki(args.work / "pki")
    ta = Registry(args.work, "registry-tls-a", pki)
    tb = Registry(args.work, "registry-tls-b", pki)
    proxies: list[DelayProxy] = []
    try:
        dst_tls = "--dest-tls-verify=false"
        for repo, layout in [("src/oci4", "oci4"), ("src/docker4", "docker4"), ("src/small", "small")]:
            run([str(FERRY), "copy", "--progress", "none", "--all", dst_tls,
                 f"oci:{args.data / layout}:bench", a.ref(repo)])
        run([str(FERRY), "copy", "--progress", "none", "--all", *ta.flags("dest"),
             f"oci:{args.data / 'oci4'}:bench", ta.ref("src/oci4")])
        write_sync_images(args.data / "sync200", 200)
        run([str(FERRY), "sync", "--src", "dir", "--dest", "docker", dst_tls,
             str(args.data / "sync200"), f"{a.host}/sync"])
        # The wan sync's source: its own repository of fewer tags.
        write_sync_images(args.data / "sync50", SYNC_WAN_TAGS)
        run([str(FERRY), "sync", "--src", "dir", "--dest", "docker", dst_tls,
             str(args.data / "sync50"), f"{a.host}/wan"])
        scenarios = build_scenarios(a, b, ta, tb, args.data, args.work, args.jobs)
        for delay in [float(d) for d in args.delays.split(",") if d]:
            more, started = wan_scenarios(a, b, ta, tb, args.data, args.work, delay, args.mbit or None,
                                          args.jobs, args.wan_runs)
            scenarios += more
            proxies += started
        if args.only:
            scenarios = [s for s in scenarios if args.only in s.group or args.only in s.name]
        if args.baseline:
            add_baseline(scenarios, args.baseline)
        all_results, loads = [], {}
        for sc in scenarios:
            print(f"== {sc.name}", file=sys.stderr, flush=True)
            results, load = run_scenario(sc, args.runs, args.idle, args.idle_limit)
            loads[sc.name] = (load, os.getloadavg())
            all_results.append((sc, results))
            for c in sc.contenders:
                s = results[c.label]
                print(f"   {c.label:24} median {fmt_t(med(s)):>10}  cpu {fmt_t(statistics.median(x.cpu for x in s)):>10}"
                      f"  rss {max(x.rss_kib for x in s) / 1024:6.1f} MiB", file=sys.stderr, flush=True)
        extra = [f"- SHA-256 on this CPU: `openssl speed -evp sha256` (1 MiB blocks) {openssl_speed()}"]
        text = report(all_results, loads, args.runs, args.wan_runs, args.jobs, extra)
        notes = ""
        if args.output.exists():
            old = args.output.read_text()
            if NOTES_MARKER in old:
                notes = old[old.index(NOTES_MARKER):]
        args.output.write_text(text + "\n" + (notes or NOTES_MARKER + "\n"))
        print(f"wrote {args.output}", file=sys.stderr)
    finally:
        for proxy in proxies:
            proxy.stop()
        a.stop()
        b.stop()
        ta.stop()
        tb.stop()
    return 0


if __name__ == "__main__":
    sys.exit(main())
