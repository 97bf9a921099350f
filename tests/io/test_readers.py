"""Every reader: round trips of small generated files; the real files in ../shared/realdata."""

import json
from pathlib import Path

import h5py
import numpy as np
import pytest

from pigmentmap.cli import main
from pigmentmap.core import PigmentmapError
from pigmentmap.io import describe, open_cube

REAL = Path(__file__).resolve().parents[3] / "shared" / "realdata"
RNG = np.random.default_rng(0)
CUBE = RNG.poisson(5.0, size=(3, 4, 64)).astype(np.uint16)
SPEC = RNG.poisson(20.0, size=128).astype(float)


def test_npy_and_npz(tmp_path):
    np.save(tmp_path / "c.npy", CUBE)
    c = open_cube(tmp_path / "c.npy", calibration=(0.0, 0.02))
    np.testing.assert_array_equal(c.counts, CUBE)
    np.savez(
        tmp_path / "c.npz", counts=CUBE, energy_kev=0.5 + 0.01 * np.arange(64), live_time_s=2.0
    )
    c = open_cube(tmp_path / "c.npz")
    assert c.axis.offset_kev == pytest.approx(0.5) and c.axis.gain_kev == pytest.approx(0.01)
    assert c.meta["live_time_s"] == 2.0


@pytest.mark.parametrize("record_by,order", [("vector", "little-endian"), ("image", "big-endian")])
def test_raw_rpl_read_lazily(tmp_path, record_by, order):
    data = CUBE if record_by == "vector" else CUBE.transpose(2, 0, 1)
    dtype = ">u2" if order == "big-endian" else "<u2"
    (tmp_path / "s.raw").write_bytes(np.ascontiguousarray(data).astype(dtype).tobytes())
    (tmp_path / "s.rpl").write_text(
        f"key value\nwidth 4\nheight 3\ndepth 64\noffset 0\ndata-length 2\ndata-type unsigned\n"
        f"byte-order {order}\nrecord-by {record_by}\nev-per-chan 10\n"
    )
    c = open_cube(tmp_path / "s.rpl")
    np.testing.assert_array_equal(np.asarray(c.counts), CUBE)
    np.testing.assert_array_equal(c.counts[1:3], CUBE[1:3])
    np.testing.assert_array_equal(c.counts[2], CUBE[2])
    if record_by == "image":
        assert isinstance(c.counts.base, np.memmap)
    assert c.axis.gain_kev == pytest.approx(0.01)


def test_raw_shorter_than_its_rpl(tmp_path):
    (tmp_path / "s.raw").write_bytes(CUBE.tobytes()[:-10])
    (tmp_path / "s.rpl").write_text(
        "width 4\nheight 3\ndepth 64\ndata-length 2\ndata-type unsigned\nrecord-by vector\n"
    )
    with pytest.raises(PigmentmapError, match=r"bytes, its \.rpl says"):
        open_cube(tmp_path / "s.raw", calibration=(0, 0.01))


def test_hdf5_with_channel_axis_first_and_attrs(tmp_path):
    p = tmp_path / "c.h5"
    with h5py.File(p, "w") as f:
        f["entry/data/counts"] = CUBE.transpose(2, 0, 1)
        f["entry/data/energy_kev"] = 0.01 * np.arange(64)
        f["other"] = np.ones((5, 5))
    c = open_cube(p)
    np.testing.assert_array_equal(c.counts, CUBE)
    assert c.meta["dataset"] == "entry/data/counts" and c.axis.gain_kev == pytest.approx(0.01)
    c2 = open_cube(p, dataset="entry/data/counts", channel_axis=0)
    np.testing.assert_array_equal(c2.counts, CUBE)


def test_hdf5_without_cube(tmp_path):
    p = tmp_path / "flat.h5"
    with h5py.File(p, "w") as f:
        f["x"] = np.ones(10)
    with pytest.raises(PigmentmapError, match="no 3-D numeric dataset"):
        open_cube(p)


def test_spe_round_trip(tmp_path):
    values = "\n".join(" ".join(f"{v:.0f}" for v in SPEC[i : i + 8]) for i in range(0, 128, 8))
    (tmp_path / "s.spe").write_text(
        f"$SPEC_ID:\ntest\n$MEAS_TIM:\n100 120\n$DATA:\n0 127\n{values}\n$MCA_CAL:\n2\n0.1 0.02\n"
    )
    c = open_cube(tmp_path / "s.spe")
    np.testing.assert_array_equal(c.counts[0, 0], SPEC)
    assert (c.axis.offset_kev, c.axis.gain_kev, c.meta["live_time_s"]) == (0.1, 0.02, 100.0)


def test_mca_dialects(tmp_path):
    (tmp_path / "spec.mca").write_text(
        "#F x\n#@CALIB 0.5 0.01 0\n#@CTIME 10 9 10\n@A "
        + " ".join(f"{v:.0f}" for v in SPEC[:64])
        + "\\\n "
        + " ".join(f"{v:.0f}" for v in SPEC[64:])
        + "\n"
    )
    c = open_cube(tmp_path / "spec.mca")
    np.testing.assert_array_equal(c.counts[0, 0], SPEC)
    assert c.axis.offset_kev == 0.5 and c.meta["live_time_s"] == 9.0
    body = "\n".join(f"{v:.0f}" for v in SPEC)
    (tmp_path / "amp.mca").write_text(
        f"<<PMCA SPECTRUM>>\nLIVE_TIME - 12.5\n<<CALIBRATION>>\nLABEL - Channel\n10 1.0\n110 2.0\n<<DATA>>\n{body}\n<<END>>\n"
    )
    c = open_cube(tmp_path / "amp.mca")
    assert c.axis.gain_kev == pytest.approx(0.01) and c.axis.offset_kev == pytest.approx(0.9)
    assert c.meta["live_time_s"] == 12.5
    (tmp_path / "plain.mca").write_text("# comment\n" + body + "\n")
    c = open_cube(tmp_path / "plain.mca", calibration=(0.0, 0.01))
    np.testing.assert_array_equal(c.counts[0, 0], SPEC)


def test_msa_and_csv(tmp_path):
    rows = "\n".join(f"{0.2 + 0.01 * i:.3f}, {v:.0f}" for i, v in enumerate(SPEC))
    (tmp_path / "s.msa").write_text(
        f"#FORMAT : EMSA/MAS Spectral Data File\n#NPOINTS : 128\n#XUNITS : keV\n#XPERCHAN : 0.01\n#OFFSET : 0.2\n#LIVETIME : 3.5\n#SPECTRUM :\n{rows}\n#ENDOFDATA :\n"
    )
    c = open_cube(tmp_path / "s.msa")
    np.testing.assert_array_equal(c.counts[0, 0], SPEC)
    assert c.axis.offset_kev == pytest.approx(0.2) and c.meta["live_time_s"] == 3.5
    (tmp_path / "s.csv").write_text("energy_kev,counts\n" + rows.replace(", ", ",") + "\n")
    c = open_cube(tmp_path / "s.csv")
    np.testing.assert_array_equal(c.counts[0, 0], SPEC)
    assert c.axis.gain_kev == pytest.approx(0.01)


def test_folder_of_mca_files_in_row_and_column_order(tmp_path):
    for k in range(6):
        (tmp_path / f"px_{k}.mca").write_text(
            "#@CALIB 0 0.01 0\n@A " + " ".join(str(k * 10 + j) for j in range(8)) + "\n"
        )
    (tmp_path / "px_10.mca").unlink(missing_ok=True)
    row = open_cube(tmp_path, shape=(2, 3), order="row")
    col = open_cube(tmp_path, shape=(2, 3), order="column")
    assert row.counts[0, 2, 0] == 20 and row.counts[1, 0, 0] == 30
    assert col.counts[1, 0, 0] == 10 and col.counts[0, 1, 0] == 20
    with pytest.raises(PigmentmapError, match="needs 9"):
        open_cube(tmp_path, shape=(3, 3))


def test_edf(tmp_path):
    fabio = pytest.importorskip("fabio")
    from fabio.edfimage import EdfImage

    EdfImage(data=CUBE[0].astype(np.float32), header={"MCA a": "0.1", "MCA b": "0.02"}).write(
        str(tmp_path / "c.edf")
    )
    c = open_cube(tmp_path / "c.edf")
    np.testing.assert_array_equal(c.counts[0], CUBE[0])
    assert c.axis.gain_kev == pytest.approx(0.02)
    del fabio


def test_unknown_and_uncalibrated(tmp_path):
    (tmp_path / "x.xyz").write_text("hello")
    with pytest.raises(PigmentmapError, match="unknown file type"):
        open_cube(tmp_path / "x.xyz")
    np.save(tmp_path / "c.npy", CUBE)
    with pytest.raises(PigmentmapError, match="no energy calibration"):
        open_cube(tmp_path / "c.npy")


def test_info_command(tmp_path, capsys):
    np.savez(tmp_path / "c.npz", counts=CUBE, calibration=np.array([0.0, 0.01]))
    assert main(["info", str(tmp_path / "c.npz")]) == 0
    out = capsys.readouterr().out
    assert "3 x 4 pixels x 64 channels" in out and "E = 0 + 0.01 * ch keV" in out
    assert main(["info", str(tmp_path / "nothing.h5")]) == 2


needs_real = pytest.mark.skipif(not REAL.is_dir(), reason="../shared/realdata not present")


@needs_real
@pytest.mark.parametrize(
    "name,kw,shape,offset,gain",
    [
        (
            "pymca/Steel.spe",
            {"calibration": (-0.00612, 0.011928)},
            (1, 1, 2048),
            -0.00612,
            0.011928,
        ),
        ("pymca/XRFSpectrum.mca", {"calibration": (0.0, 0.01)}, (1, 1, 4096), 0.0, 0.01),
        ("larch/srm1832.mca", {}, (1, 1, 2048), None, None),
        ("bruker_m6/bruker_m6_jetstream_file_example.spx", {}, (1, 1, 4096), -0.9555, 0.009999),
        (
            "aps_xrfmaps/2xfm_0011_2xfm3__0.h5",
            {"calibration": (-0.00418, 0.0095216)},
            (11, 9, 2048),
            -0.00418,
            0.0095216,
        ),
    ],
)
def test_real_files(name, kw, shape, offset, gain):
    c = open_cube(REAL / name, **kw)
    assert c.shape == shape
    assert np.asarray(c.counts).sum() > 0
    if offset is not None:
        assert c.axis.offset_kev == pytest.approx(offset, abs=1e-4)
        assert c.axis.gain_kev == pytest.approx(gain, rel=1e-4)
    assert "reader:" in describe(c)


@needs_real
def test_gsecars_calibration_from_the_header():
    c = open_cube(REAL / "larch/srm1832.mca")
    header = (REAL / "larch/srm1832.mca").read_text().splitlines()
    slopes = [
        float(v) for v in next(h for h in header if h.startswith("CAL_SLOPE")).split(":")[1].split()
    ]
    assert c.axis.gain_kev == pytest.approx(np.mean(slopes))
    assert c.meta["live_time_s"] == pytest.approx(
        np.mean([96.360748, 96.160698, 87.729240, 77.401505])
    )


@needs_real
def test_bruker_live_time_and_ca_peak():
    c = open_cube(REAL / "bruker_m6/bruker_m6_jetstream_file_example.spx")
    assert c.meta["live_time_s"] == pytest.approx(28.046)
    spectrum = np.asarray(c.counts[0, 0], dtype=float)
    peak = c.axis.energies[
        np.argmax(spectrum[c.axis.channel_of(3.0) : c.axis.channel_of(4.5)])
        + c.axis.channel_of(3.0)
    ]
    assert peak == pytest.approx(3.69, abs=0.03)  # Ca K-alpha: the file's major element
    json.dumps(c.meta, default=str)


def test_hdf5_prefers_the_nxdata_signal_and_a_detector_sum(tmp_path):
    import h5py

    from pigmentmap.io.open import open_cube

    p = tmp_path / "pyxrf.h5"
    with h5py.File(p, "w") as f:
        f["xrfmap/det1/counts"] = np.ones((2, 3, 300))
        f["xrfmap/detsum/counts"] = np.full((2, 3, 300), 3.0)
    cube = open_cube(p, calibration=(0.0, 0.01))
    assert cube.meta["dataset"] == "xrfmap/detsum/counts" and float(cube.counts[0, 0, 0]) == 3.0
    q = tmp_path / "nexus.h5"
    with h5py.File(q, "w") as f:
        f["counts"] = np.ones((2, 3, 300))
        g = f.create_group("entry/xrf")
        g.attrs["NX_class"] = "NXdata"
        g.attrs["signal"] = "spectra"
        g["spectra"] = np.full((2, 3, 300), 5.0)
    cube = open_cube(q, calibration=(0.0, 0.01))
    assert cube.meta["dataset"] == "entry/xrf/spectra" and float(cube.counts[0, 0, 0]) == 5.0
