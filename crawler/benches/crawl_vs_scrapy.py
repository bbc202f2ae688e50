#!/usr/bin/env python3
"""Crawl throughput benchmark: patroli against Scrapy, same crawl, same run.

Starts `patroli sample-web --jobs N` (the bundled sample web with N extra job ads), then
alternately runs, ROUNDS times each, one `jobposting` source with politeness unlimited for
127.0.0.1:
  - `patroli crawl --once --dry-run`: the crawler alone (fetch, robots.txt, extract JSON-LD,
    posts written as JSON Lines) — the like-for-like comparison with Scrapy;
  - `patroli crawl --once`: the whole pipeline (also evidence snapshots and posts in SQLite,
    classification, full-text indexing);
  - `scrapy runspider scrapy_sample_web.py`, the same crawl (robots.txt, listing pages, detail
    pages, JSON-LD), items written as JSON Lines.
Each run's wall time and peak RSS (from wait4) are recorded; medians are printed as a table.

Usage (from the repository root, after `cargo build --release` and `pip install scrapy`):
  python3 crawler/benches/crawl_vs_scrapy.py [--jobs 3000] [--rounds 3] [--scrapy scrapy]
"""
import argparse
import os
import re
import statistics
import subprocess
import sys
import tempfile
import time

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(os.path.dirname(HERE))
PATROLI = os.path.join(ROOT, "target", "release", "patroli")


def timed(cmd, **kwargs):
    """Runs cmd under /usr/bin/time; returns (wall seconds, peak RSS in MiB, stdout, stderr)."""
    start = time.monotonic()
    proc = subprocess.run(["/usr/bin/time", "-f", "MAXRSS_KB=%M"] + cmd, capture_output=True, text=True, **kwargs)
    wall = time.monotonic() - start
    if proc.returncode != 0:
        sys.exit(f"{cmd[0]} failed ({proc.returncode}):\n{proc.stderr[-2000:]}")
    rss = int(re.search(r"MAXRSS_KB=(\d+)", proc.stderr).group(1)) / 1024
    return wall, rss, proc.stdout, proc.stderr


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--jobs", type=int, default=3000)
    ap.add_argument("--rounds", type=int, default=3)
    ap.add_argument("--scrapy", default="scrapy")
    args = ap.parse_args()

    web = subprocess.Popen([PATROLI, "sample-web", "--jobs", str(args.jobs)], stdout=subprocess.PIPE, text=True)
    try:
        line = web.stdout.readline()
        base = re.search(r"(http://127\.0\.0\.1:\d+)", line).group(1)
        rows = {"patroli crawler (--dry-run)": [], "patroli pipeline": [], "scrapy": []}
        for r in range(args.rounds):
            with tempfile.TemporaryDirectory() as tmp:
                sources = os.path.join(tmp, "bench.toml")
                with open(sources, "w") as f:
                    f.write(
                        "[[source]]\n"
                        'id = "bench"\nkind = "jobposting"\n'
                        f'start_urls = ["{base}/lowongan"]\n'
                        "rate_per_minute = 60000000\nburst = 100000\nconcurrency = 16\n"
                        f"max_pages = {args.jobs + 10_000}\nmax_depth = 5\nallow_private = true\n"
                        'legal_basis = "benchmark"\n'
                        "[source.selectors]\n"
                        'link = "a.job-link"\nnext = "a[rel=next]"\n'
                    )
                crawl = [PATROLI, "--data-dir", os.path.join(tmp, "data"), "crawl", "--once", "--sources", sources]
                wall, rss, out, err = timed(crawl + ["--dry-run"])
                pages = int(re.search(r"bench: (\d+) pages", err).group(1))
                rows["patroli crawler (--dry-run)"].append((pages / wall, rss, pages, wall))
                wall, rss, out, _ = timed(crawl)
                pages = int(re.search(r"bench: (\d+) pages", out).group(1))
                rows["patroli pipeline"].append((pages / wall, rss, pages, wall))
                items = os.path.join(tmp, "items.jsonl")
                wall, rss, _, err = timed(
                    [args.scrapy, "runspider", os.path.join(HERE, "scrapy_sample_web.py"), "-a", f"start={base}/lowongan",
                     "-O", items, "-s", "LOG_LEVEL=INFO"],
                    cwd=tmp,
                )
                pages = int(re.search(r"'downloader/request_count': (\d+)", err).group(1))
                rows["scrapy"].append((pages / wall, rss, pages, wall))
            print(f"round {r + 1}: " + "; ".join(f"{k} {v[-1][0]:.0f} pages/s, {v[-1][1]:.0f} MiB" for k, v in rows.items()),
                  file=sys.stderr)
    finally:
        web.terminate()
        web.wait()

    med = {k: (statistics.median(v[0] for v in vs), statistics.median(v[1] for v in vs), vs[0][2]) for k, vs in rows.items()}
    print(f"\n{args.jobs} extra job ads, {args.rounds} rounds, medians\n")
    print("| crawler | pages | pages/s | peak RSS (MiB) |")
    print("|---|---|---|---|")
    for k, (pps, rss, pages) in med.items():
        print(f"| {k} | {pages} | {pps:.0f} | {rss:.0f} |")
    for k in ("patroli crawler (--dry-run)", "patroli pipeline"):
        print(f"\n{k} vs scrapy: throughput {med[k][0] / med['scrapy'][0]:.2f}x, memory {med[k][1] / med['scrapy'][1]:.2f}x")


if __name__ == "__main__":
    main()
