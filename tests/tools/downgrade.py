#!/usr/bin/env python3
"""Rewrites an opusarc archive (format 7) in place into the layout of an
older format VERSION (3-6), as those versions wrote it, written apart from
the C code from docs/FORMAT.md: packets behind length prefixes in
/packets/data instead of /packets/heads (before 7), /links without
first_packet, /recordings without the fields later formats added.
    downgrade.py ARCHIVE.h5 VERSION"""
import sys

import h5py
import numpy as np

LATER_FIELDS = {  # /recordings fields each format added
    4: ["source_mtime_ns", "source_inode"],
    5: ["start_us", "utc_offset_s", "start_zone", "start_source", "recorder_len", "recorder_off"],
    6: ["lost_samples"],
}


def prefix(n):
    if n < 240:
        return bytes([n])
    if n < 4080:
        return bytes([0xF0 | (n - 240) >> 8, (n - 240) & 0xFF])
    return b"\xff" + int(n).to_bytes(4, "little")


def without(rows, drop):
    names = [n for n in rows.dtype.names if n not in drop]
    out = np.empty(rows.shape, dtype=[(n, rows.dtype[n]) for n in names])
    for n in names:
        out[n] = rows[n]
    return out


def prefixed(f):
    """The packets behind length prefixes, and every row's offsets moved."""
    heads = f["packets/heads"][...].astype(np.int64)
    data = f["packets/data"][...].tobytes()
    links = f["links"][...]
    ivs = f["intervals"][...]
    out = bytearray()
    where = {0: 0}  # new offset -> old offset, at link boundaries
    starts = []  # per link: old offset of each packet, and of its end
    for l in links:
        pos = int(l["data_offset"])
        where[pos] = len(out)
        fam, ch = int(l["mapping_family"]), int(l["channels"])
        matrix = 2 * ch * (int(l["streams"]) + int(l["coupled"])) if fam == 3 else 0
        out += data[pos:pos + matrix]
        pos += matrix
        at = []
        for h in heads[int(l["first_packet"]):int(l["first_packet"]) + int(l["packet_count"])]:
            n = int(h) >> 8
            at.append(len(out))
            out += prefix(n)
            if n:
                out += bytes([int(h) & 0xFF]) + data[pos:pos + n - 1]
                pos += n - 1
        at.append(len(out))
        assert pos == int(l["data_offset"]) + int(l["data_size"]), "link bytes do not match its heads"
        where[pos] = len(out)
        starts.append(at)
    for k in range(len(ivs)):
        at = starts[int(ivs["link"][k])]
        ivs["data_offset"][k] = at[int(ivs["packet"][k])]
        ivs["preroll_offset"][k] = at[int(ivs["packet"][k]) - int(ivs["preroll"][k])]
    return out, ivs, where


def main():
    path, version = sys.argv[1], int(sys.argv[2])
    assert 3 <= version <= 6
    with h5py.File(path, "r+") as f:
        assert int(f.attrs["format_version"]) == 7, "not a format-7 archive"
        links0 = f["links"][...]
        out, ivs, where = prefixed(f)
        recs = f["recordings"][...]
        links = links0.copy()
        for rows in (links, recs):
            for k in range(len(rows)):
                begin = where[int(rows["data_offset"][k])]
                end = where[int(rows["data_offset"][k]) + int(rows["data_size"][k])]
                rows["data_offset"][k], rows["data_size"][k] = begin, end - begin
        drop = [n for v, names in LATER_FIELDS.items() if v > version for n in names]
        for name in ("packets/data", "packets/heads", "links", "intervals", "recordings"):
            del f[name]
        f.create_dataset("packets/data", data=np.frombuffer(bytes(out), dtype=np.uint8), maxshape=(None,),
                         chunks=True)
        f.create_dataset("links", data=without(links, ["first_packet"]))
        f.create_dataset("intervals", data=ivs)
        f.create_dataset("recordings", data=without(recs, drop))
        f.attrs["format_version"] = np.int32(version)


if __name__ == "__main__":
    main()
