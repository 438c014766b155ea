"""Exact random reads from opusarc archives.

    import opusarc
    with opusarc.open("corpus.h5") as a:
        for r in a.recordings:
            print(r.name, r.channels, r.frames, r.start_utc)
        x = a.read("site1/20240501_0600.opus", 10.0, 13.0, units="seconds")  # float32, (frames, channels)

The samples equal a straight decode of the recording from its start, bit for
bit, as the opusarc command writes them. This is a thin ctypes layer over
libopusarc's read-only API (opusarc/reader.h): no MPI start-up. A handle
belongs to the process that opened it; after a fork (PyTorch DataLoader
workers) the child opens its own on first use, so one Archive object can be
handed to workers.

The shared library is found through $OPUSARC_LIBRARY (a path), then the
system's loader paths (after `cmake --install`), as libopusarc.so.0.
"""

import ctypes
import ctypes.util
import datetime
import math
import os
import threading
from typing import List, NamedTuple, Optional, Union

import numpy as np

__all__ = ["open", "Archive", "Recording", "OpusarcError", "RATE", "library_version"]

RATE = 48000
_ERRMSG_MAX = 1024
_DECODE_FROM_START = 1
_NO_SNAPSHOTS = 4
_STATUS = {0: "ok", 1: "failed", 2: "damaged"}


class OpusarcError(Exception):
    """An error from libopusarc: `code` is its negative oa_code, the message
    names the thing and the reason."""

    def __init__(self, code: int, message: str):
        super().__init__(message)
        self.code = code


class _Err(ctypes.Structure):
    _fields_ = [("code", ctypes.c_int), ("msg", ctypes.c_char * _ERRMSG_MAX)]


class _Info(ctypes.Structure):
    _fields_ = [
        ("name", ctypes.c_char_p),
        ("status", ctypes.c_int),
        ("error", ctypes.c_char_p),
        ("channels", ctypes.c_int),
        ("frames", ctypes.c_int64),
        ("start_zone", ctypes.c_int),
        ("start_us", ctypes.c_int64),
        ("start_text", ctypes.c_char_p),
        ("time_base", ctypes.c_double),
    ]


def _load():
    path = os.environ.get("OPUSARC_LIBRARY") or ctypes.util.find_library("opusarc") or "libopusarc.so.0"
    try:
        lib = ctypes.CDLL(path)
    except OSError as e:
        raise ImportError(
            f"opusarc: cannot load libopusarc ({path}): {e}; install it (cmake --install BUILD) "
            "or set OPUSARC_LIBRARY to libopusarc.so"
        ) from e
    P, E = ctypes.c_void_p, ctypes.POINTER(_Err)
    lib.oa_reader_version.restype = ctypes.c_char_p
    lib.oa_reader_version.argtypes = []
    lib.oa_reader_open.argtypes = [ctypes.c_char_p, ctypes.c_int, ctypes.POINTER(P), E]
    lib.oa_reader_close.argtypes = [P]
    lib.oa_reader_close.restype = None
    lib.oa_reader_count.argtypes = [P]
    lib.oa_reader_count.restype = ctypes.c_uint64
    lib.oa_reader_info.argtypes = [P, ctypes.c_uint64, ctypes.POINTER(_Info), E]
    lib.oa_reader_find.argtypes = [P, ctypes.c_char_p, ctypes.POINTER(ctypes.c_uint64), E]
    lib.oa_reader_read.argtypes = [P, ctypes.c_uint64, ctypes.c_int64, ctypes.c_int64, ctypes.c_void_p,
                                   ctypes.c_size_t, E]
    for f in (lib.oa_reader_open, lib.oa_reader_info, lib.oa_reader_find, lib.oa_reader_read):
        f.restype = ctypes.c_int
    return lib


_lib = _load()


def library_version() -> str:
    return _lib.oa_reader_version().decode()


_EBUILD = -6  # the archive's checkpoints need another libopus build


def _nearest(x: float) -> int:
    return int(math.copysign(math.floor(abs(x) + 0.5), x))


def _check(rc: int, err: _Err) -> None:
    if rc != 0:
        msg = err.msg.decode("utf-8", "replace")
        if rc == _EBUILD:  # libopusarc names no option: the hint is this package's
            msg += " (opusarc.open(path, decode_from_start=True) decodes every range from its recording start instead)"
        raise OpusarcError(rc, msg)


class Recording(NamedTuple):
    index: int
    name: str
    channels: int
    frames: int  # sample frames (at 48 kHz as stored)
    status: str  # "ok", "failed" (no audio) or "damaged" (what the file still held)
    error: str
    start_utc: Optional[datetime.datetime]  # None if unknown or its zone is unknown
    start_local: Optional[datetime.datetime]  # wall-clock start of an unknown zone (naive), else None
    start_text: str
    time_base: float  # frames per real second: 48000, or a time-expanded source's rate

    @property
    def seconds(self) -> float:
        """Real duration (a time-expanded recording: at its source's rate)."""
        return self.frames / self.time_base


def _recording(i: int, info: _Info) -> Recording:
    start = None
    if info.start_zone:
        start = datetime.datetime(1970, 1, 1) + datetime.timedelta(microseconds=info.start_us)
    return Recording(
        index=i,
        name=info.name.decode("utf-8", "surrogateescape"),
        channels=info.channels,
        frames=info.frames,
        status=_STATUS.get(info.status, str(info.status)),
        error=(info.error or b"").decode("utf-8", "replace"),
        start_utc=start.replace(tzinfo=datetime.timezone.utc) if info.start_zone == 1 else None,
        start_local=start if info.start_zone == 2 else None,
        time_base=info.time_base or float(RATE),
        start_text=(info.start_text or b"").decode("utf-8", "replace"),
    )


class Archive:
    """An open archive. `recordings` lists them in archive order (read on
    first use: opening reads no row, and `read` or `recording` by name
    reads only the rows it needs); `read` returns exact samples. Not shared
    between threads (open one per thread)."""

    def __init__(self, path: Union[str, os.PathLike], no_snapshots: bool = False,
                 decode_from_start: bool = False):
        self.path = os.fspath(path)
        self._flags = (_NO_SNAPSHOTS if no_snapshots else 0) | (_DECODE_FROM_START if decode_from_start else 0)
        self._handle = None
        self._pid = None
        self._lock = threading.Lock()
        self._open()
        self._count = int(_lib.oa_reader_count(self._handle))
        self._list_cache: Optional[List[Recording]] = None
        self._one: dict = {}  # index -> Recording, for recordings looked up one by one
        self._index_of: dict = {}  # name -> index

    def _open(self) -> None:
        h, err = ctypes.c_void_p(), _Err()
        _check(_lib.oa_reader_open(os.fsencode(self.path), self._flags, ctypes.byref(h), ctypes.byref(err)), err)
        self._handle, self._pid = h, os.getpid()

    def _h(self):
        if self._handle is None:
            raise OpusarcError(-8, f"{self.path}: the archive is closed")
        if self._pid != os.getpid():
            # A forked child: the parent's handle (and its HDF5 state) is left
            # alone, never closed here; this process opens its own, with a lock
            # of its own (the parent's may have been held by another thread).
            self._lock = threading.Lock()
            self._open()
        return self._handle

    def _info(self, i: int) -> Recording:
        info, err = _Info(), _Err()
        _check(_lib.oa_reader_info(self._h(), i, ctypes.byref(info), ctypes.byref(err)), err)
        return _recording(i, info)

    @property
    def recordings(self) -> List[Recording]:
        """Every recording, in archive order (reads every row once)."""
        if self._list_cache is None:
            self._list_cache = [self._one.get(i) or self._info(i) for i in range(self._count)]
        return self._list_cache

    def recording(self, name: Union[str, int]) -> Recording:
        """One recording by index or name (a name is found by binary search)."""
        if isinstance(name, str):
            i = self._index_of.get(name)
            if i is None:
                idx, err = ctypes.c_uint64(), _Err()
                _check(_lib.oa_reader_find(self._h(), name.encode("utf-8", "surrogateescape"), ctypes.byref(idx),
                                           ctypes.byref(err)), err)
                i = self._index_of[name] = idx.value
            name = i
        if not 0 <= name < self._count:
            raise OpusarcError(-7, f"recording {name} does not exist (the archive holds {self._count})")
        if self._list_cache is not None:
            return self._list_cache[name]
        r = self._one.get(name)
        if r is None:
            r = self._one[name] = self._info(name)
        return r

    def read(self, name: Union[str, int], start, end, units: str = "samples") -> np.ndarray:
        """Samples [start, end) of a recording as float32 of shape (frames,
        channels), at 48 kHz as stored. units="seconds": real seconds of the
        recording (its time_base frames per second; 48000 unless it was
        time-expanded), each bound rounded to the nearest frame (halves away
        from zero), as the command line's --units seconds does."""
        r = self.recording(name)
        if units == "seconds":
            start, end = _nearest(float(start) * r.time_base), _nearest(float(end) * r.time_base)
        elif units != "samples":
            raise ValueError(f"units must be 'samples' or 'seconds', not {units!r}")
        start, end = int(start), int(end)
        frames = max(end - start, 0)
        out = np.empty((frames, max(r.channels, 1)), dtype=np.float32)
        err = _Err()
        handle = self._h()
        with self._lock:
            rc = _lib.oa_reader_read(handle, r.index, start, end, out.ctypes.data, frames, ctypes.byref(err))
        _check(rc, err)
        return out

    def close(self) -> None:
        if self._handle is not None and self._pid == os.getpid():
            _lib.oa_reader_close(self._handle)
        self._handle = None

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()

    def __del__(self):
        try:
            self.close()
        except Exception:
            pass

    def __getstate__(self):
        # Pickled for spawn-started workers: the path and flags, reopened there.
        return {"path": self.path, "flags": self._flags}

    def __setstate__(self, state):
        self.__init__(state["path"], no_snapshots=bool(state["flags"] & _NO_SNAPSHOTS),
                      decode_from_start=bool(state["flags"] & _DECODE_FROM_START))

    def __len__(self) -> int:
        return self._count

    def __repr__(self) -> str:
        return f"opusarc.Archive({self.path!r}, {self._count} recordings)"


def open(path: Union[str, os.PathLike], no_snapshots: bool = False, decode_from_start: bool = False) -> Archive:
    """Opens an archive written by `opusarc index` (or merge) for reading."""
    return Archive(path, no_snapshots=no_snapshots, decode_from_start=decode_from_start)
