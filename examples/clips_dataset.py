"""Reads an opusarc clips file (opusarc extract ... --out CLIPS.h5) with h5py and numpy.

    python3 examples/clips_dataset.py CLIPS.h5 [OUT_DIR]

prints one line per written clip: its id, rate, shape and label columns (the extra columns of
the queries table, e.g. a Raven or BirdNET table's species and confidence). With OUT_DIR it
also saves each clip as OUT_DIR/<id>.npy.

ClipsDataset follows the map-style dataset protocol of PyTorch (__len__, __getitem__), so
torch.utils.data.DataLoader(ClipsDataset("clips.h5"), batch_size=32, shuffle=True) batches
it as it is when every clip has one shape (extract --windows ... --shape fixed); the file is
opened in each worker on first use.
"""
import os
import sys

import h5py
import numpy as np

# /queries fields written by opusarc itself; every other field is a label column.
BUILT_IN = {"id", "recording", "start", "end", "channels", "status", "offset", "length", "rate",
            "start_time", "start_utc", "start_utc_us", "start_zone", "parts", "gaps", "gap_frames"}


def text(value):
    return value.decode("utf-8") if isinstance(value, bytes) else str(value)


class ClipsDataset:
    """Item i: (samples as float32 [frames, channels], dict of the clip's /queries row)."""

    def __init__(self, path):
        self.path = path
        with h5py.File(path, "r") as f:
            self.rows = f["queries"][...]
        self.written = np.flatnonzero(self.rows["status"] == 0)  # failed queries hold no samples
        self.labels = [n for n in self.rows.dtype.names if n not in BUILT_IN]
        self._clips = None

    def __len__(self):
        return len(self.written)

    def __getitem__(self, i):
        if self._clips is None:  # opened lazily: one handle per DataLoader worker
            self._clips = h5py.File(self.path, "r")["clips"]
        k = self.written[i]
        row = self.rows[k]
        frames, channels = int(row["length"]), int(row["channels"])
        if self._clips.ndim == 1:  # flat: clips back to back
            start = int(row["offset"])
            x = self._clips[start:start + frames * channels]
        else:  # --shape fixed: row k of [n, frames(, channels)]
            x = self._clips[k]
        info = {n: (text(row[n]) if row.dtype[n].kind == "S" else row[n].item()) for n in row.dtype.names}
        return np.asarray(x, dtype=np.float32).reshape(frames, channels), info


def main(argv):
    if len(argv) not in (2, 3):
        print(__doc__.strip(), file=sys.stderr)
        return 2
    data = ClipsDataset(argv[1])
    out_dir = argv[2] if len(argv) == 3 else None
    for i in range(len(data)):
        x, info = data[i]
        labels = " ".join(f"{n}={info[n]}" for n in data.labels)
        print(f"{info['id']} rate={info['rate']} shape={x.shape[0]}x{x.shape[1]} {labels}".rstrip())
        if out_dir:
            np.save(os.path.join(out_dir, info["id"] + ".npy"), x)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
