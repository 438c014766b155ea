#!/usr/bin/python3
"""oggcut: damages an Ogg Opus file the way storage does, and says what was
lost, from the original's own page headers (independent of opusarc).

  oggcut.py drop IN OUT PAGE[-LAST] ...   remove whole pages (numbered from 0)
  oggcut.py cut IN OUT BYTES              keep the first BYTES bytes

`drop` prints one line per removed run, "START LENGTH": the recording
samples (after pre-skip) the run held, from the granule positions of the
page before it and of its last page. It refuses runs it cannot measure
that way: a packet continued across a removed page's edge, the headers,
a page without a granule position, or the last page."""
import struct
import sys


def pages(data):
    """(offset, length, granule, continued, last lacing value) of each page."""
    out, at = [], 0
    while at < len(data):
        if data[at:at + 4] != b"OggS":
            sys.exit("oggcut: no page at byte %d" % at)
        flags = data[at + 5]
        granule = struct.unpack_from("<q", data, at + 6)[0]
        nseg = data[at + 26]
        lacing = data[at + 27:at + 27 + nseg]
        length = 27 + nseg + sum(lacing)
        out.append((at, length, granule, flags & 1, lacing[-1] if nseg else 0))
        at += length
    return out


def pre_skip(data, first):
    head = data[first[0] + 27 + data[first[0] + 26]:]
    if head[:8] != b"OpusHead":
        sys.exit("oggcut: first page is not OpusHead")
    return struct.unpack_from("<H", head, 10)[0]


def drop(src, dst, specs):
    data = open(src, "rb").read()
    pg = pages(data)
    skip = pre_skip(data, pg[0])
    gone, runs = set(), []
    for spec in specs:
        a, _, b = spec.partition("-")
        a, b = int(a), int(b or a)
        if a < 3 or b >= len(pg) - 1 or a > b:
            sys.exit("oggcut: pages %s: only audio pages before the last can be dropped" % spec)
        edges = [pg[a - 1], pg[b]]
        if any(p[2] < 0 or p[4] == 255 for p in edges) or pg[a][3] or pg[b + 1][3]:
            sys.exit("oggcut: pages %s: a packet crosses the edge, or a granule is missing" % spec)
        runs.append((pg[a - 1][2] - skip, pg[b][2] - pg[a - 1][2]))
        gone.update(range(a, b + 1))
    with open(dst, "wb") as f:
        for i, p in enumerate(pg):
            if i not in gone:
                f.write(data[p[0]:p[0] + p[1]])
    for start, length in runs:
        print(start, length)


def main():
    if len(sys.argv) >= 5 and sys.argv[1] == "drop":
        drop(sys.argv[2], sys.argv[3], sys.argv[4:])
    elif len(sys.argv) == 5 and sys.argv[1] == "cut":
        open(sys.argv[3], "wb").write(open(sys.argv[2], "rb").read()[:int(sys.argv[4])])
    else:
        sys.exit(__doc__)


main()
