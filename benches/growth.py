#!/usr/bin/env python3
"""Growth, big images and resumption (issue 20): ferry beside skopeo.

    python3 benches/growth.py growth     # platforms 1..64, layers 10..1000: registry -> registry, cold
    python3 benches/growth.py big        # a 2 GiB layer: pull, oci -> oci, push (+ curl, cp && sync)
    python3 benches/growth.py resume     # a pull cut at 90%: bytes fetched again

`growth` writes benches/growth.svg (hand-written SVG) and
target/bench/growth/growth.json; every mode prints Markdown tables, which
are pasted into benches/RESULTS.md by hand. Inputs are generated here,
deterministically (seeded Mersenne Twister bytes in a one-file tar, gzip
with no timestamp, or AES-CTR of zeros for the big layer). The registries
and measuring are run.py's.
"""

from __future__ import annotations

import argparse
import gzip
import hashlib
import http.client
import http.server
import io
import json
import math
import random
import shutil
import subprocess
import sys
import tarfile
import threading
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
import run as R  # noqa: E402

WORK = R.REPO / "target" / "bench" / "growth"
SVG = R.REPO / "benches" / "growth.svg"
SMALL = 8 * 1024  # bytes of content per small layer
TLS = ["--src-tls-verify=false", "--dest-tls-verify=false"]
OCI_GZIP = "application/vnd.oci.image.layer.v1.tar+gzip"


# --------------------------------------------------------------------------
# Inputs


class Layout:
    def __init__(self, root: Path):
        self.root = root
        shutil.rmtree(root, ignore_errors=True)
        (root / "blobs" / "sha256").mkdir(parents=True)
        (root / "oci-layout").write_text('{"imageLayoutVersion":"1.0.0"}')

    def blob(self, data: bytes, media_type: str) -> dict:
        hexd = hashlib.sha256(data).hexdigest()
        (self.root / "blobs" / "sha256" / hexd).write_bytes(data)
        return {"mediaType": media_type, "digest": f"sha256:{hexd}", "size": len(data)}

    def json_blob(self, doc: dict, media_type: str) -> dict:
        return self.blob(json.dumps(doc, separators=(",", ":")).encode(), media_type)

    def finish(self, top: dict) -> None:
        top = dict(top, annotations={"org.opencontainers.image.ref.name": "bench"})
        (self.root / "index.json").write_text(json.dumps(
            {"schemaVersion": 2, "mediaType": "application/vnd.oci.image.index.v1+json", "manifests": [top]}))


def small_layer(seed: int) -> tuple[bytes, str]:
    """A gzip'd tar of one file of SMALL seeded bytes; (blob, diff_id)."""
    content = random.Random(seed).randbytes(SMALL)
    raw = io.BytesIO()
    with tarfile.open(fileobj=raw, mode="w", format=tarfile.USTAR_FORMAT) as tar:
        info = tarfile.TarInfo(f"f{seed}")
        info.size = len(content)
        tar.addfile(info, io.BytesIO(content))
    tar_bytes = raw.getvalue()
    return gzip.compress(tar_bytes, mtime=0), "sha256:" + hashlib.sha256(tar_bytes).hexdigest()


def image(layout: Layout, seeds: list[int], arch: str = "amd64", variant: str | None = None) -> dict:
    layers, diffs = [], []
    for s in seeds:
        blob, diff = small_layer(s)
        layers.append(layout.blob(blob, OCI_GZIP))
        diffs.append(diff)
    platform = {"architecture": arch, "os": "linux"}
    if variant:
        platform["variant"] = variant
    config = layout.json_blob(dict(platform, rootfs={"type": "layers", "diff_ids": diffs}),
                              "application/vnd.oci.image.config.v1+json")
    manifest = layout.json_blob({"schemaVersion": 2, "mediaType": "application/vnd.oci.image.manifest.v1+json",
                                 "config": config, "layers": layers}, "application/vnd.oci.image.manifest.v1+json")
    return dict(manifest, platform=platform)


def platforms_layout(root: Path, n: int) -> Layout:
    """A list of `n` images of 2 small layers each, all distinct."""
    layout = Layout(root)
    entries = [image(layout, [1_000_000 + 2 * i, 1_000_001 + 2 * i], "amd64", f"v{i}") for i in range(n)]
    index = layout.json_blob({"schemaVersion": 2, "mediaType": "application/vnd.oci.image.index.v1+json",
                              "manifests": entries}, "application/vnd.oci.image.index.v1+json")
    layout.finish(index)
    return layout


def layers_layout(root: Path, n: int) -> Layout:
    layout = Layout(root)
    m = image(layout, list(range(n)))
    m.pop("platform")
    layout.finish(m)
    return layout


def big_layout(root: Path, size: int) -> Layout:
    """One image, one layer: a tar of one file of `size` bytes of
    AES-128-CTR keystream (key and IV zero), so incompressible and
    deterministic, in a gzip of stored (level 0) deflate blocks, so the
    blob is a valid tar+gzip a little larger than `size`, written at copy
    speed, and no tool recompresses it on a push."""
    import zlib

    layout = Layout(root)
    tmp = root / "layer.tmp"
    info = tarfile.TarInfo("big")
    info.size = size
    diff, digest = hashlib.sha256(), hashlib.sha256()
    deflate = zlib.compressobj(0, zlib.DEFLATED, 31)
    with open(tmp, "wb") as out:
        def put(data: bytes) -> None:
            diff.update(data)
            packed = deflate.compress(data)
            digest.update(packed)
            out.write(packed)

        put(info.tobuf(format=tarfile.USTAR_FORMAT))
        gen = subprocess.Popen(["sh", "-c", f"openssl enc -aes-128-ctr -nosalt -K {'0' * 32} -iv {'0' * 32} "
                                f"< /dev/zero 2>/dev/null | head -c {size}"], stdout=subprocess.PIPE)
        while chunk := gen.stdout.read(1 << 20):
            put(chunk)
        gen.wait()
        put(b"\0" * ((-size) % 512 + 1024))
        packed = deflate.flush()
        digest.update(packed)
        out.write(packed)
    hexd = digest.hexdigest()
    tmp.rename(root / "blobs" / "sha256" / hexd)
    layer = {"mediaType": OCI_GZIP, "digest": f"sha256:{hexd}", "size": (root / "blobs/sha256" / hexd).stat().st_size}
    config = layout.json_blob({"architecture": "amd64", "os": "linux",
                               "rootfs": {"type": "layers", "diff_ids": ["sha256:" + diff.hexdigest()]}},
                              "application/vnd.oci.image.config.v1+json")
    manifest = layout.json_blob({"schemaVersion": 2, "mediaType": "application/vnd.oci.image.manifest.v1+json",
                                 "config": config, "layers": [layer]}, "application/vnd.oci.image.manifest.v1+json")
    layout.finish(manifest)
    return layout


def du(path: Path) -> int:
    return sum(p.stat().st_size for p in path.rglob("*") if p.is_file())


# --------------------------------------------------------------------------
# Running


def ferry(*args: str) -> list[str]:
    return [str(R.FERRY), "copy", "--progress", "none", *args]


def skopeo(*args: str) -> list[str]:
    return ["skopeo", "copy", "-q", *args]


def rounds(contenders: dict, n: int, setup=None) -> dict[str, list[R.Sample]]:
    out: dict[str, list[R.Sample]] = {k: [] for k in contenders}
    names = list(contenders)
    for r in range(n):
        for name in names[r % len(names):] + names[:r % len(names)]:
            if setup:
                setup()
            out[name].append(R.measure(contenders[name]))
    return out


def med(samples: list[R.Sample], attr: str = "wall") -> float:
    return R.statistics.median(getattr(s, attr) for s in samples)


def uptime() -> str:
    return subprocess.run(["uptime"], capture_output=True, text=True).stdout.strip()


# --------------------------------------------------------------------------
# 1. Growth


def growth(args) -> None:
    WORK.mkdir(parents=True, exist_ok=True)
    a, b = R.Registry(WORK, "a"), R.Registry(WORK, "b")
    pa, pb = R.DelayProxy(a, 0, None, "pa"), R.DelayProxy(b, 0, None, "pb")
    results = {"uptime_before": uptime(), "platforms": {}, "layers": {}}
    try:
        for axis, sizes, make in (("platforms", args.platforms, platforms_layout),
                                  ("layers", args.layers, layers_layout)):
            for n in sizes:
                layout = make(WORK / "data" / f"{axis}{n}", n)
                repo = f"{axis}{n}"
                R.run(ferry("--all", "--dest-tls-verify=false", f"oci:{layout.root}:bench", a.ref(repo)))
                src, dst = a.ref(repo), b.ref(repo)
                runs = 1 if n == max(sizes) else args.runs
                load = R.wait_idle(0.5, 10)
                s = rounds({"ferry": ferry("--all", *TLS, src, dst),
                            "skopeo": skopeo("--all", *TLS, src, dst)}, runs, b.wipe)
                # Requests, in a run of its own through the counting proxies.
                b.wipe()
                ma, mb = pa.mark(), pb.mark()
                R.run(ferry("--all", *TLS, pa.ref(repo), pb.ref(repo)))
                reqs = pa.since(ma) + pb.since(mb)
                b.wipe()
                ms, mbs = pa.mark(), pb.mark()
                R.run(skopeo("--all", *TLS, pa.ref(repo), pb.ref(repo)))
                sreqs = pa.since(ms) + pb.since(mbs)
                row = {"n": n, "runs": runs, "load": load, "blobs": len(R.blobs_of(layout.root)),
                       "bytes": du(layout.root / "blobs"),
                       "requests": reqs.total, "requests_text": reqs.text(),
                       "skopeo_requests": sreqs.total}
                for k, v in s.items():
                    row[k] = {"wall": med(v), "cpu": med(v, "cpu"), "rss_kib": max(x.rss_kib for x in v),
                              "min": min(x.wall for x in v), "max": max(x.wall for x in v)}
                results[axis][n] = row
                print(json.dumps(row), flush=True)
                a.drop_repository(repo)
                shutil.rmtree(layout.root)
    finally:
        for p in (pa, pb, a, b):
            p.stop()
    results["uptime_after"] = uptime()
    (WORK / "growth.json").write_text(json.dumps(results, indent=1))
    report_growth(results)


def report_growth(results: dict) -> None:
    SVG.write_text(svg(results))
    print(f"\nuptime before: {results['uptime_before']}\nuptime after: {results['uptime_after']}\n")
    for axis in ("platforms", "layers"):
        rows = sorted(results[axis].values(), key=lambda r: r["n"])
        print(f"| {axis} | blobs | runs | ferry wall | skopeo wall | ferry CPU | skopeo CPU | ferry RSS | skopeo RSS "
              f"| ferry requests | skopeo requests | ferry ms/item (step) | skopeo ms/item (step) |")
        print("|" + "---|" * 13)
        prev = None
        for r in rows:
            f, s = r["ferry"], r["skopeo"]
            step_f = step_s = "–"
            if prev:
                dn = r["n"] - prev["n"]
                step_f = f"{(f['wall'] - prev['ferry']['wall']) * 1000 / dn:.1f}"
                step_s = f"{(s['wall'] - prev['skopeo']['wall']) * 1000 / dn:.1f}"
            print(f"| {r['n']} | {r['blobs']} | {r['runs']} | {f['wall']:.2f} s | {s['wall']:.2f} s "
                  f"| {f['cpu']:.2f} s | {s['cpu']:.2f} s | {f['rss_kib'] / 1024:.0f} MiB | {s['rss_kib'] / 1024:.0f} MiB "
                  f"| {r['requests']} | {r['skopeo_requests']} | {step_f} | {step_s} |")
            prev = r
        for who in ("ferry", "skopeo"):
            xs = [r["n"] for r in rows]
            ys = [r[who]["wall"] for r in rows]
            slope, icpt = fit(xs, ys)
            k = math.log(ys[-1] / ys[-2]) / math.log(xs[-1] / xs[-2])
            print(f"\n{who} {axis}: least squares {icpt:.3f} s + {slope * 1000:.2f} ms × n; "
                  f"log-log slope of the last step {k:.2f}")
        print()


def fit(xs: list[float], ys: list[float]) -> tuple[float, float]:
    n = len(xs)
    mx, my = sum(xs) / n, sum(ys) / n
    sxx = sum((x - mx) ** 2 for x in xs)
    slope = sum((x - mx) * (y - my) for x, y in zip(xs, ys)) / sxx
    return slope, my - slope * mx


# --------------------------------------------------------------------------
# The plot: hand-written SVG, four panels, log x.


COLOURS = {"ferry": "#d9480f", "skopeo": "#1971c2"}


def svg(results: dict) -> str:
    w, h, pw, ph = 900, 640, 360, 220
    parts = [f'<svg xmlns="http://www.w3.org/2000/svg" width="{w}" height="{h}" viewBox="0 0 {w} {h}" '
             'font-family="sans-serif" font-size="12">',
             f'<rect width="{w}" height="{h}" fill="white"/>',
             '<text x="450" y="22" text-anchor="middle" font-size="15">ferry vs skopeo: registry → registry, cold, '
             'loopback (2 loaded cores)</text>']
    panels = [("platforms", "wall", "time (s), log", True, 70, 50),
              ("platforms", "rss_kib", "peak RSS (MiB)", False, 520, 50),
              ("layers", "wall", "time (s), log", True, 70, 350),
              ("layers", "rss_kib", "peak RSS (MiB)", False, 520, 350)]
    for axis, key, label, ylog, x0, y0 in panels:
        rows = sorted(results[axis].values(), key=lambda r: r["n"])
        xs = [r["n"] for r in rows]
        series = {who: [r[who][key] / (1024 if key == "rss_kib" else 1) for r in rows] for who in COLOURS}
        allv = [v for ys in series.values() for v in ys]
        if ylog:
            lo, hi = 10 ** math.floor(math.log10(min(allv))), 10 ** math.ceil(math.log10(max(allv)))
            ty = lambda v: y0 + ph - (math.log10(v) - math.log10(lo)) / (math.log10(hi) - math.log10(lo)) * ph  # noqa
            ticks = [10 ** e for e in range(round(math.log10(lo)), round(math.log10(hi)) + 1)]
        else:
            lo, hi = 0, max(allv) * 1.15
            ty = lambda v: y0 + ph - v / hi * ph  # noqa
            step = 10 ** math.floor(math.log10(hi / 2))
            ticks = [i * step for i in range(int(hi / step) + 1)]
        lx0, lx1 = math.log10(xs[0]), math.log10(xs[-1])
        tx = lambda n: x0 + (math.log10(n) - lx0) / (lx1 - lx0) * pw  # noqa
        parts.append(f'<rect x="{x0}" y="{y0}" width="{pw}" height="{ph}" fill="none" stroke="#888"/>')
        parts.append(f'<text x="{x0 + pw / 2}" y="{y0 + ph + 34}" text-anchor="middle">{axis} (log)</text>')
        parts.append(f'<text x="{x0 - 48}" y="{y0 + ph / 2}" text-anchor="middle" '
                     f'transform="rotate(-90 {x0 - 48} {y0 + ph / 2})">{label}</text>')
        for t in ticks:
            y = ty(t)
            parts.append(f'<line x1="{x0}" x2="{x0 + pw}" y1="{y:.1f}" y2="{y:.1f}" stroke="#eee"/>')
            parts.append(f'<text x="{x0 - 6}" y="{y + 4:.1f}" text-anchor="end">{t:g}</text>')
        for n in xs:
            parts.append(f'<text x="{tx(n):.1f}" y="{y0 + ph + 16}" text-anchor="middle">{n}</text>')
        for i, (who, ys) in enumerate(series.items()):
            pts = " ".join(f"{tx(n):.1f},{ty(v):.1f}" for n, v in zip(xs, ys))
            parts.append(f'<polyline points="{pts}" fill="none" stroke="{COLOURS[who]}" stroke-width="2"/>')
            for n, v in zip(xs, ys):
                parts.append(f'<circle cx="{tx(n):.1f}" cy="{ty(v):.1f}" r="3" fill="{COLOURS[who]}"/>')
            parts.append(f'<text x="{x0 + 10}" y="{y0 + 16 + 14 * i}" fill="{COLOURS[who]}">{who}</text>')
    parts.append(f'<text x="450" y="{h - 10}" text-anchor="middle" fill="#555">{results["uptime_before"]}</text>')
    parts.append("</svg>\n")
    return "\n".join(parts)


# --------------------------------------------------------------------------
# 2. Big images


def big(args) -> None:
    WORK.mkdir(parents=True, exist_ok=True)
    print("uptime:", uptime())
    a = R.Registry(WORK, "bigreg")
    work = WORK / "big"
    shutil.rmtree(work, ignore_errors=True)
    work.mkdir()
    try:
        for name, make in (("2GiB", lambda p: big_layout(p, args.big_mib * R.MIB)),
                           ("1000 layers", lambda p: layers_layout(p, 1000))):
            t = time.perf_counter()
            src = make(work / "src").root
            size = du(src / "blobs")
            print(f"\n{name}: {size / R.MIB:.0f} MiB generated in {time.perf_counter() - t:.0f} s", flush=True)
            dst = work / "dst"
            oci_src, oci_dst = f"oci:{src}:bench", f"oci:{dst}:bench"

            def clean():
                shutil.rmtree(dst, ignore_errors=True)
                R.run("sync")

            rows = []
            push = rounds({"ferry": ferry("--dest-tls-verify=false", oci_src, a.ref("big")),
                           "skopeo": skopeo("--dest-tls-verify=false", oci_src, a.ref("big"))},
                          args.runs, a.wipe)
            rows.append(("push (oci → registry, cold)", push))
            # Leave the image in the registry for the pulls.
            a.wipe()
            R.run(ferry("--dest-tls-verify=false", oci_src, a.ref("big")))
            urls = work / "urls"
            R.write_url_list(urls, a, "big", src)
            pull = rounds({"ferry": ferry("--src-tls-verify=false", a.ref("big"), oci_dst),
                           "skopeo": skopeo("--src-tls-verify=false", a.ref("big"), oci_dst),
                           "curl ×6 && sync": R.parallel_pull(urls, dst, 6, sync=True)},
                          args.runs, clean)
            rows.append(("pull (registry → oci)", pull))
            local = rounds({"ferry": ferry(oci_src, oci_dst), "skopeo": skopeo(oci_src, oci_dst),
                            "cp -r && sync": R.sh(f"cp -r {src} {dst} && sync")}, args.runs, clean)
            rows.append(("oci → oci", local))
            clean()
            a.wipe()
            print(f"\n| {name} ({size / R.MIB:.0f} MiB) | contender | wall (median) | MiB/s | CPU | peak RSS |")
            print("|---|---|---|---|---|---|")
            for what, s in rows:
                for who, v in s.items():
                    wall = med(v)
                    print(f"| {what} | {who} | {wall:.2f} s | {size / R.MIB / wall:.0f} | {med(v, 'cpu'):.2f} s "
                          f"| {max(x.rss_kib for x in v) / 1024:.0f} MiB |", flush=True)
            shutil.rmtree(src)
        print("uptime:", uptime())
    finally:
        a.stop()
        shutil.rmtree(work, ignore_errors=True)


# --------------------------------------------------------------------------
# 3. Resumption


class CutProxy(http.server.ThreadingHTTPServer):
    """Forwards GET/HEAD to the registry; the first GET of `blob` is cut
    (connection closed) after `cut` bytes of its body. Counts every byte of
    that blob's bodies it forwards, and the Range headers asked for."""

    daemon_threads = True

    def __init__(self, upstream: str, blob: str, cut: int):
        super().__init__(("127.0.0.1", 0), Handler)
        self.upstream, self.blob, self.cut = upstream, blob, cut
        self.sent = 0
        self.gets: list[str] = []
        self.lock = threading.Lock()


class Handler(http.server.BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"

    def log_message(self, *a):
        pass

    def do_HEAD(self):
        self.forward(body=False)

    def do_GET(self):
        self.forward(body=True)

    def forward(self, body: bool):
        srv: CutProxy = self.server
        conn = http.client.HTTPConnection(srv.upstream)
        conn.putrequest(self.command, self.path, skip_accept_encoding=True)
        for k, v in self.headers.items():
            if k.lower() not in ("host", "connection"):
                conn.putheader(k, v)
        conn.endheaders()
        resp = conn.getresponse()
        target = body and srv.blob in self.path
        first = False
        if target:
            with srv.lock:
                first = not srv.gets
                srv.gets.append(self.headers.get("Range") or "whole")
        self.send_response(resp.status)
        for k, v in resp.getheaders():
            if k.lower() not in ("connection", "transfer-encoding"):
                self.send_header(k, v)
        if not body:
            self.end_headers()
            conn.close()
            return
        self.end_headers()
        budget = srv.cut if first else None
        while chunk := resp.read(1 << 16):
            if budget is not None:
                chunk = chunk[:budget]
                budget -= len(chunk)
            self.wfile.write(chunk)
            if target:
                with srv.lock:
                    srv.sent += len(chunk)
            if budget == 0:
                self.close_connection = True
                self.wfile.flush()
                self.connection.shutdown(2)
                break
        conn.close()


def resume(args) -> None:
    WORK.mkdir(parents=True, exist_ok=True)
    a = R.Registry(WORK, "resreg")
    work = WORK / "resume"
    shutil.rmtree(work, ignore_errors=True)
    try:
        src = big_layout(work / "src", args.resume_mib * R.MIB).root
        R.run(ferry("--dest-tls-verify=false", f"oci:{src}:bench", a.ref("r")))
        layer = json.loads((src / "blobs/sha256" / json.loads((src / "index.json").read_text())
                            ["manifests"][0]["digest"][7:]).read_text())["layers"][0]
        print("\nThe first GET of the layer is cut after 90% of its bytes.\n")
        print("| tool | layer | GETs of the layer | layer bytes served | beyond one copy | runs |")
        print("|---|---|---|---|---|---|")
        cases = (("ferry (one run, its own retries)", [ferry]),
                 ("ferry --retry-times 0, then run again", [lambda *a: ferry("--retry-times", "0", *a), ferry]),
                 ("skopeo (one run)", [skopeo]),
                 ("skopeo, then run again", [skopeo, skopeo]))
        for who, cmds in cases:
            proxy = CutProxy(a.host, layer["digest"], layer["size"] * 9 // 10)
            threading.Thread(target=proxy.serve_forever, daemon=True).start()
            host = f"127.0.0.1:{proxy.server_address[1]}"
            # Run again into the same place, as a user would: what the
            # first run kept there is the next run's to use.
            dst = work / "dst"
            shutil.rmtree(dst, ignore_errors=True)
            results = []
            for cmd in cmds:
                proc = subprocess.run(cmd("--src-tls-verify=false", f"docker://{host}/r:latest", f"oci:{dst}:bench"),
                                      capture_output=True, text=True)
                results.append("ok" if proc.returncode == 0 else
                               "failed (" + proc.stderr.strip().splitlines()[-1][-70:] + ")")
            proxy.shutdown()
            again = proxy.sent - layer["size"]
            print(f"| {who} | {layer['size'] / R.MIB:.0f} MiB | {len(proxy.gets)} ({', '.join(proxy.gets)}) "
                  f"| {proxy.sent / R.MIB:.1f} MiB | {again / R.MIB:+.1f} MiB | {'; '.join(results)} |", flush=True)
    finally:
        a.stop()
        shutil.rmtree(work, ignore_errors=True)


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("mode", choices=["growth", "big", "resume", "plot"])
    ap.add_argument("--runs", type=int, default=3, help="rounds per size (the largest size: 1)")
    ap.add_argument("--platforms", type=int, nargs="+", default=[1, 4, 16, 64])
    ap.add_argument("--layers", type=int, nargs="+", default=[10, 100, 1000])
    ap.add_argument("--big-mib", type=int, default=2048)
    ap.add_argument("--resume-mib", type=int, default=256)
    args = ap.parse_args()
    if args.mode == "plot":
        results = json.loads((WORK / "growth.json").read_text())
        for axis in ("platforms", "layers"):
            results[axis] = {int(k): v for k, v in results[axis].items()}
        report_growth(results)
    else:
        {"growth": growth, "big": big, "resume": resume}[args.mode](args)
    return 0


if __name__ == "__main__":
    sys.exit(main())
