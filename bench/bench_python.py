#!/usr/bin/env python3
"""Random exact reads through the Python package against opusfile in C (issue 17).

    bench/bench_python.py ARCHIVE.h5 CORPUS_DIR [N] [SECONDS]     (defaults 1000, 3)

Picks N random ranges (seeded, uniform over the audio), times
opusarc.open(ARCHIVE).read(...) for each in this process (one handle,
after 50 warm-up reads), then runs bench/seek_bench on the same ranges
(CSV), which times opusfile's op_pcm_seek + op_read_float and opusarc's C
extraction in one C process. Prints median and p99 per read and the ratios
to opusfile. Needs OPUSARC_LIBRARY (or an installed libopusarc) and
BUILD_DIR (default build) for seek_bench."""

import os
import subprocess
import sys
import tempfile
import time

import numpy as np

import opusarc


def main():
    archive, corpus = sys.argv[1], sys.argv[2]
    n = int(sys.argv[3]) if len(sys.argv) > 3 else 1000
    length = int(float(sys.argv[4]) * opusarc.RATE) if len(sys.argv) > 4 else 3 * opusarc.RATE
    a = opusarc.open(archive)
    recs = [r for r in a.recordings if r.status != "failed" and r.frames > length]
    room = np.array([r.frames - length for r in recs], dtype=np.float64)
    rng = np.random.default_rng(7)
    picks = rng.choice(len(recs), size=n, p=room / room.sum())
    ranges = [(recs[i].name, int(rng.integers(0, recs[i].frames - length))) for i in picks]
    for name, start in ranges[:50]:
        a.read(name, start, start + length)
    ms = []
    for name, start in ranges:
        t0 = time.perf_counter()
        a.read(name, start, start + length)
        ms.append((time.perf_counter() - t0) * 1000)
    ms = np.array(ms)
    with tempfile.NamedTemporaryFile("w", suffix=".csv", delete=False) as f:
        f.write("id,recording,start,end\n")
        for i, (name, start) in enumerate(ranges):
            f.write(f"{i},{name},{start},{start + length}\n")
    build = os.environ.get("BUILD_DIR", "build")
    out = subprocess.run([f"{build}/bench/seek_bench", archive, corpus, f.name, "0", "0"], check=True,
                         capture_output=True, text=True).stdout
    os.unlink(f.name)
    c = {line.split()[0]: float(line.split()[2]) for line in out.splitlines() if "median" in line}
    p99 = float(np.percentile(ms, 99))
    print(f"| read | median ms | p99 ms | median vs opusfile |")
    print(f"|---|---:|---:|---:|")
    print(f"| Python opusarc.open(...).read | {np.median(ms):.2f} | {p99:.2f} | {np.median(ms) / c['opusfile']:.2f} |")
    print(f"| C oa_extract_range (seek_bench) | {c['opusarc']:.2f} | | {c['opusarc'] / c['opusfile']:.2f} |")
    print(f"| C opusfile seek + read (seek_bench) | {c['opusfile']:.2f} | | 1.00 |")
    print(f"\n{n} random {length / opusarc.RATE:g} s ranges of {archive}; seek_bench: exactness as it prints:")
    print(out.strip())


if __name__ == "__main__":
    main()
