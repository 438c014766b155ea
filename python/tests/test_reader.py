"""The Python package against opusfile's linear decode (tests/tools/opusref,
op_read_float from each file's start, no seeking): every range read through
opusarc.open(...).read must equal it bit for bit. Needs $OPUSARC, $MKOPUS
and $OPUSREF (set by ctest) and the package importable (see
tests/integration/python.sh)."""

import multiprocessing
import os
import subprocess

import numpy as np
import pytest

import opusarc

TOOLS = {k: os.environ.get(k) for k in ("OPUSARC", "MKOPUS", "OPUSREF", "MKPCM")}
pytestmark = pytest.mark.skipif(not all(TOOLS.values()), reason="needs $OPUSARC, $MKOPUS, $OPUSREF and $MKPCM")

FILES = {  # name: mkopus options (SILK, CELT with short frames, 5.1, chained, stereo music)
    "speech/silk.opus": "--channels 1 --mode silk --bitrate 16000 --signal speech --frame-ms 20 --seconds 12 --seed 1",
    "music/celt_5ms.opus": "--channels 2 --mode celt --bitrate 64000 --frame-ms 5 --seconds 9 --seed 2",
    "music/stereo.opus": "--channels 2 --bitrate 64000 --seconds 10 --seed 3",
    "multi/surround51.opus": "--channels 6 --family 1 --bitrate 160000 --seconds 6 --seed 4",
    "multi/chained.opus": "--channels 2 --bitrate 48000 --seconds 5 --links 3 --trim 211 --seed 5",
}


@pytest.fixture(scope="session")
def corpus(tmp_path_factory):
    root = tmp_path_factory.mktemp("corpus")
    for name, opts in FILES.items():
        (root / name).parent.mkdir(parents=True, exist_ok=True)
        subprocess.run([TOOLS["MKOPUS"], *opts.split(), str(root / name)], check=True, stdout=subprocess.DEVNULL)
    (root / "bats").mkdir()  # 2 s at 96 kHz, kept time-expanded: 4 s at 48 kHz as stored
    subprocess.run([TOOLS["MKPCM"], str(root / "bats" / "te.wav"), "96000", "1", "2"], check=True,
                   stdout=subprocess.DEVNULL)
    (root / "bad").mkdir()
    (root / "bad" / "not_opus.opus").write_bytes(b"OggS" + b"\0" * 60)
    archive = tmp_path_factory.mktemp("archive") / "a.h5"
    rc = subprocess.run([TOOLS["OPUSARC"], "index", "-q", "--checkpoint-every", "1", "--high-rate", "time-expand",
                         "-o", str(archive), str(root)],
                        stdout=subprocess.DEVNULL).returncode
    assert rc in (0, 3), f"index exit {rc}"  # 3: written, one recording failed (bad/not_opus.opus)
    return root, archive


def reference(root, name, start, end):
    """opusfile's linear decode of [start, end), shape (frames, channels)."""
    out = str(root) + ".ref.f32"
    r = subprocess.run([TOOLS["OPUSREF"], str(root / name), str(start), str(end), out], check=True,
                       capture_output=True, text=True)
    channels = int(r.stdout.split()[0])
    return np.fromfile(out, dtype=np.float32).reshape(-1, channels)


def same_bits(a, b):
    return a.shape == b.shape and np.array_equal(a.view(np.uint32), b.view(np.uint32))


def test_recordings_listed(corpus):
    _, archive = corpus
    with opusarc.open(archive) as a:
        names = [r.name for r in a.recordings]
        assert sorted(FILES) == sorted(n for n in names if not n.startswith(("bad/", "bats/")))
        bad = a.recording("bad/not_opus.opus")
        assert bad.status == "failed" and bad.error and bad.frames == 0
        stereo = a.recording("music/stereo.opus")
        assert stereo.status == "ok" and stereo.channels == 2
        assert abs(stereo.seconds - 10) < 0.1
        assert a.recording("multi/surround51.opus").channels == 6
        assert a.recording(stereo.index) == stereo


def test_random_ranges_exact(corpus):
    root, archive = corpus
    rng = np.random.default_rng(17)
    with opusarc.open(archive) as a:
        for name in FILES:
            r = a.recording(name)
            for _ in range(6):
                length = int(rng.integers(1, 3 * opusarc.RATE))
                start = int(rng.integers(0, max(r.frames - length, 1)))
                end = min(start + length, r.frames)
                got = a.read(name, start, end)
                assert got.dtype == np.float32 and got.shape == (end - start, r.channels)
                assert same_bits(got, reference(root, name, start, end)), f"{name} [{start}, {end})"
            whole = a.read(name, 0, r.frames)
            assert same_bits(whole, reference(root, name, 0, r.frames)), f"{name} whole"


def test_seconds_units(corpus):
    root, archive = corpus
    with opusarc.open(archive) as a:
        got = a.read("music/stereo.opus", 2.5, 4.25, units="seconds")
        assert same_bits(got, reference(root, "music/stereo.opus", 120000, 204000))
        with pytest.raises(ValueError):
            a.read("music/stereo.opus", 0, 1, units="minutes")


def test_seconds_of_a_time_expanded_recording(corpus):
    """Seconds count at the source's rate, as the command line's --units
    seconds does: checked against `opusarc extract --units seconds`."""
    _, archive = corpus
    with opusarc.open(archive) as a:
        bat = a.recording("bats/te.wav")
        assert bat.time_base == 96000 and bat.frames == 192000 and abs(bat.seconds - 2) < 1e-9
        got = a.read("bats/te.wav", 0.25, 1.125, units="seconds")
        assert same_bits(got, a.read("bats/te.wav", 24000, 108000))
        out = str(archive) + ".bat.f32"
        subprocess.run([TOOLS["OPUSARC"], "extract", str(archive), "--recording", "bats/te.wav", "--units", "seconds",
                        "--start", "0.25", "--end", "1.125", "--format", "f32", "-o", out, "-q", "--force"],
                       check=True)
        assert same_bits(got, np.fromfile(out, dtype=np.float32).reshape(-1, 1))
        assert a.recording("music/stereo.opus").time_base == opusarc.RATE


def test_no_snapshots_same_samples(corpus):
    root, archive = corpus
    with opusarc.open(archive, no_snapshots=True) as a:
        got = a.read("speech/silk.opus", 300000, 400000)
        assert same_bits(got, reference(root, "speech/silk.opus", 300000, 400000))


def test_errors_carry_the_message(corpus):
    _, archive = corpus
    with opusarc.open(archive) as a:
        with pytest.raises(opusarc.OpusarcError, match="not within"):
            a.read("music/stereo.opus", 0, a.recording("music/stereo.opus").frames + 1)
        with pytest.raises(opusarc.OpusarcError) as e:
            a.read("music/stero.opus", 0, 10)
        assert "music/stero.opus" in str(e.value) and e.value.code < 0
        with pytest.raises(opusarc.OpusarcError, match="failed"):
            a.read("bad/not_opus.opus", 0, 1)
    with pytest.raises(opusarc.OpusarcError, match="nothere.h5"):
        opusarc.open(str(archive) + ".nothere.h5")
    closed = opusarc.open(archive)
    closed.close()
    with pytest.raises(opusarc.OpusarcError, match="closed"):
        closed.read("music/stereo.opus", 0, 10)


def _child_read(args):
    archive, name, start, end = args
    return opusarc.open(archive).read(name, start, end).tobytes()


def _inherited_read(args):
    name, start, end = args
    return _SHARED.read(name, start, end).tobytes()


_SHARED = None


def test_forked_workers(corpus):
    """Like PyTorch DataLoader workers: an Archive opened in the parent is used
    in forked children (each opens its own handle), and children open their own."""
    global _SHARED
    root, archive = corpus
    _SHARED = opusarc.open(archive)
    _SHARED.read("music/stereo.opus", 0, 1000)  # the parent's handle is in use before the fork
    jobs = [("music/stereo.opus", 48000 * k, 48000 * k + 20000) for k in range(8)]
    ctx = multiprocessing.get_context("fork")
    with ctx.Pool(3) as pool:
        inherited = pool.map(_inherited_read, jobs)
        own = pool.map(_child_read, [(str(archive), *j) for j in jobs])
    for (name, s, e), x, y in zip(jobs, inherited, own):
        want = reference(root, name, s, e).tobytes()
        assert x == want and y == want
    # The parent's handle still works after its children used theirs.
    assert same_bits(_SHARED.read("music/stereo.opus", 5000, 9000), reference(root, "music/stereo.opus", 5000, 9000))
    _SHARED.close()


def test_pickled_for_spawn(corpus):
    import pickle
    _, archive = corpus
    a = opusarc.open(archive)
    b = pickle.loads(pickle.dumps(a))
    assert b.read("music/stereo.opus", 100, 600).tobytes() == a.read("music/stereo.opus", 100, 600).tobytes()


def test_version():
    assert opusarc.library_version().count(".") == 2
