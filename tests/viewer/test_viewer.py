"""The local viewer: its JSON API, and the page in a real headless browser (Debian's chromium
driven by Playwright; skipped where either is missing: ``make browser`` installs them)."""

import shutil
import threading

import h5py
import numpy as np
import pytest

from pigmentmap.cli import main
from pigmentmap.core.errors import PigmentmapError
from pigmentmap.viewer.server import ResultsView, serve


@pytest.fixture(scope="module")
def results(tmp_path_factory):
    d = tmp_path_factory.mktemp("view")
    rng = np.random.default_rng(0)
    e = 0.0293 * np.arange(1024)
    lead = 400 * np.exp(-0.5 * ((e - 10.55) / 0.08) ** 2) + 300 * np.exp(
        -0.5 * ((e - 12.61) / 0.09) ** 2
    )
    counts = rng.poisson(np.broadcast_to(5 + lead, (6, 8, 1024))).astype(np.float32)
    counts[:3, :4] = rng.poisson(5 + 0 * lead, (3, 4, 1024))  # a corner without lead
    scan = d / "scan.h5"
    with h5py.File(scan, "w") as f:
        f["counts"] = counts
        f.attrs["offset_kev"], f.attrs["gain_kev"] = 0.0, 0.0293
    assert main(["map", str(scan), "--instrument", "lab-ag", "--out", str(d / "res")]) == 0
    return d / "res"


def test_api_gives_maps_pixels_and_regions(results):
    view = ResultsView(results)
    meta = view.meta()
    assert meta["spectra"] and meta["height"] == 6 and "lead_white" in meta["kinds"]["pigments"]
    assert view.map_png("elements", 0)[:8] == b"\x89PNG\r\n\x1a\n"
    pixel = view.region(5, 7, 5, 7)
    assert pixel["pixels"] == 1 and "Pb" in pixel["detected"]
    assert len(pixel["spectrum"]["counts"]) == 1024
    assert any(
        ln["element"] == "Pb" and abs(ln["energy_kev"] - 10.55) < 0.05 for ln in pixel["lines"]
    )
    corner = view.region(0, 0, 2, 3)
    assert corner["pixels"] == 12 and "Pb" not in corner["detected"]
    with pytest.raises(PigmentmapError, match="outside the 6 x 8 map"):
        view.region(0, 0, 6, 0)
    with pytest.raises(PigmentmapError, match="no maps of kind"):
        view.map_png("nothing", 0)
    # where each element is detected and no pigment holding it is claimed
    loose = view.res["unaccounted"]
    assert meta["kinds"]["unaccounted"] == list(loose["elements"]) and "Pb" in loose["elements"]
    assert view.map_png("unaccounted", loose["elements"].index("Pb"))[:8] == b"\x89PNG\r\n\x1a\n"


def test_a_port_in_use_is_one_line(results, capsys):
    server = serve(results, port=0)
    try:
        port = server.server_address[1]
        assert main(["view", str(results), "--port", str(port)]) == 2
        assert "cannot serve on 127.0.0.1" in capsys.readouterr().err
    finally:
        server.server_close()


def test_the_server_binds_to_this_machine_only(results):
    server = serve(results, port=0)
    try:
        assert server.server_address[0] == "127.0.0.1"
    finally:
        server.server_close()


def test_an_old_results_folder_is_one_line(tmp_path, capsys):
    old = tmp_path / "old"
    old.mkdir()
    with h5py.File(old / "maps.h5", "w") as f:
        f["pigment_maps"] = np.zeros((2, 2, 1))
    assert main(["view", str(old)]) == 2
    assert "not a pigmentmap results file of this version" in capsys.readouterr().err


CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser")


@pytest.mark.skipif(CHROMIUM is None, reason="no chromium (make browser installs it)")
def test_the_page_in_a_real_browser(results):
    sync_api = pytest.importorskip("playwright.sync_api")
    server = serve(results, port=0)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    url = f"http://127.0.0.1:{server.server_address[1]}/"
    try:
        with sync_api.sync_playwright() as pw:
            browser = pw.chromium.launch(executable_path=CHROMIUM, args=["--no-sandbox"])
            page = browser.new_page()
            requests = []
            page.on("request", lambda r: requests.append(r.url))
            page.goto(url)
            page.wait_for_selector("body[data-ready=yes]")
            page.select_option("#kind", "elements")
            page.wait_for_function("document.getElementById('map').complete")
            box = page.locator("#map").bounding_box()
            # a click on the bottom-right pixel (lead): its probabilities and detected elements
            x, y = box["x"] + box["width"] * 0.95, box["y"] + box["height"] * 0.95
            page.mouse.move(x, y)
            page.mouse.down()
            page.mouse.up()
            page.wait_for_selector("#pigments tbody tr")
            assert "Pb" in page.inner_text("#lines")
            assert "pixel (5, 7)" in page.inner_text("#where")
            # a rectangle over the corner without lead
            page.mouse.move(box["x"] + 2, box["y"] + 2)
            page.mouse.down()
            page.mouse.move(box["x"] + box["width"] * 0.4, box["y"] + box["height"] * 0.4)
            page.mouse.up()
            page.wait_for_function(
                "document.getElementById('where').textContent.includes('region')"
            )
            assert "12 pixels" in page.inner_text("#where")
            browser.close()
        assert all(r.startswith(url) for r in requests)  # nothing from the internet
    finally:
        server.shutdown()
        server.server_close()
