import pytest

from pigmentmap.core import PigmentmapError
from pigmentmap.instruments import instrument_names, load_instrument


def test_shipped_profiles():
    names = instrument_names()
    assert {"elio", "m6-jetstream"} <= set(names)
    anodes = {load_instrument(n).tube.anode for n in names}
    assert anodes & {"W", "Ag"}


def test_elio_is_the_papers_setting():
    elio = load_instrument("elio")
    assert (elio.tube.voltage_kv, elio.tube.current_ua) == (40.0, 40.0)
    assert elio.axis.n_channels == 4096 and elio.axis.gain_kev == pytest.approx(0.010)
    assert elio.axis.channel_of(2.80) == 280
    assert elio.fwhm_kev(5.8951) == pytest.approx(0.135, abs=1e-6)


def test_m6_calibration_from_real_file():
    m6 = load_instrument("m6-jetstream")
    assert m6.axis.offset_kev == pytest.approx(-0.9555)
    assert (m6.tube.voltage_kv, m6.tube.current_ua) == (50.0, 600.0)


def test_resolution_grows_with_energy():
    elio = load_instrument("elio")
    assert elio.fwhm_kev(2.0) < elio.fwhm_kev(6.0) < elio.fwhm_kev(20.0)


def test_unknown_instrument():
    with pytest.raises(PigmentmapError, match="unknown instrument 'nope'"):
        load_instrument("nope")


def _profile(tmp_path, replace_from="", replace_to=""):
    from importlib import resources

    text = resources.files("pigmentmap.instruments").joinpath("profiles/elio.toml").read_text()
    if replace_from:
        assert replace_from in text
        text = text.replace(replace_from, replace_to)
    f = tmp_path / "mine.toml"
    f.write_text(text)
    return f


def test_user_profile_by_path(tmp_path):
    assert load_instrument(str(_profile(tmp_path))).tube.anode == "Rh"


@pytest.mark.parametrize(
    "old,new,match",
    [
        ("fwhm_mn_ka_ev = 135.0", "fwhm_mn_ka_ev = 90.0", "Fano limit"),
        ("voltage_kv = 40.0", "voltage_kv = -40.0", "must be > 0"),
        ('anode = "Rh"', 'anode = "Xx"', "unknown element"),
        ("incidence_deg = 45.0", "incidence_deg = 120.0", r"\(0, 90\]"),
        ("[detector]", "[detektor]", r"missing \[detector\]"),
        ("gain_kev = 0.010", 'gain_kev = "a"', "must be a number"),
        ("tail_fraction = 0.01", "tail_fraction = -0.01", "tail_fraction must be >= 0"),
        ("shelf_fraction = 0.003", "shelf_fraction = 0.6", "must be below 0.5"),
        ("tail_slope_fwhm = 1.0", "tail_slope_fwhm = 0.0", "tail_slope_fwhm must be > 0"),
        ("pileup_resolving_time_ns = 200.0", "pileup_resolving_time_ns = -1", "must be >= 0"),
    ],
)
def test_bad_profiles(tmp_path, old, new, match):
    with pytest.raises(PigmentmapError, match=match):
        load_instrument(str(_profile(tmp_path, old, new)))


def test_with_changes_and_hash():
    elio = load_instrument("elio")
    other = elio.with_changes(live_time_s=0.1, current_ua=80)
    assert other.live_time_s == 0.1 and other.tube.current_ua == 80
    assert other.hash != elio.hash
    with pytest.raises(PigmentmapError):
        elio.with_changes(live_time_s=0)


def test_line_shape_and_pileup_read_from_the_profile(tmp_path):
    from pigmentmap.instruments import Detector

    for name in ("elio", "m6-jetstream", "niton-xl3t"):
        det = load_instrument(name).detector
        assert det.pileup_resolving_time_ns == 200.0  # every shipped profile states it
        assert (det.shelf_fraction, det.tail_fraction, det.tail_slope_fwhm) == (0.003, 0.01, 1.0)
    changed = _profile(tmp_path, "pileup_resolving_time_ns = 200.0", "pileup_resolving_time_ns = 0")
    assert load_instrument(str(changed)).detector.pileup_resolving_time_ns == 0.0
    text = changed.read_text()
    for key in ("shelf_fraction", "tail_fraction", "tail_slope_fwhm", "pileup_resolving_time_ns"):
        text = "\n".join(line for line in text.splitlines() if not line.startswith(key))
    changed.write_text(text)
    det = load_instrument(str(changed)).detector  # older profiles: the documented defaults
    assert det.pileup_resolving_time_ns == Detector.pileup_resolving_time_ns > 0
    assert det.tail_fraction == Detector.tail_fraction and det.shelf_fraction > 0
