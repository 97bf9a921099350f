"""``pigmentmap view RESULTS``: a local page to look at a results folder, pixel by pixel.

Served on 127.0.0.1 only (never beyond the machine), with no file from the internet: the page,
its script and its images all come from this server. Pick any map (pigment probabilities, element
maps, significance, look-alike groups, where an element is detected and no pigment holding it is
claimed); click a pixel to see its spectrum (read from the source scan, when it is still where
``map`` found it), the lines of the elements detected there and its pigment probabilities; drag a
rectangle to see the mean spectrum and probabilities of a region.

Routes: ``/`` (the page), ``/api/meta`` (names, shape, what is available), ``/api/map.png?kind=
&index=`` (one map as a PNG, colour map cividis, scaled to its 99th percentile or to 0-1 for
probabilities), ``/api/pixel?y=&x=`` and ``/api/region?y0=&x0=&y1=&x1=`` (JSON).
"""

from __future__ import annotations

import io
import json
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from importlib import resources
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlparse

import numpy as np

from pigmentmap.core.errors import PigmentmapError

HOST = "127.0.0.1"
DEFAULT_PORT = 8765
#: Map kinds the page offers: (results key, names key, probability-like).
KINDS = {
    "pigments": ("prob", "names", True),
    "elements": ("elements", "element_names", False),
    "significance": ("significance", "element_names", False),
    "groups": ("groups", "group_names", True),
    "unaccounted": ("unaccounted_flags", "unaccounted_elements", True),
}


class ResultsView:
    """What the server shows: a results folder and, if it can be opened, its source scan."""

    def __init__(self, folder: str | Path) -> None:
        from pigmentmap.mapping.results import read_results

        self.folder = Path(folder)
        self.res = read_results(folder)
        loose = self.res.get("unaccounted")
        if loose:  # where each element is detected and no pigment holding it is claimed
            self.res["unaccounted_flags"] = np.asarray(loose["flags"], dtype=np.float32)
            self.res["unaccounted_elements"] = tuple(loose["elements"])
        self.cube: Any = None
        self.note = ""
        source = self.res["attrs"].get("source")
        binning = int(self.res["attrs"].get("binning", 1))
        if binning > 1:
            self.note = "the maps are binned: pixel spectra are not shown"
        elif source and Path(source).exists():
            try:
                from pigmentmap.io.open import open_cube

                cube = open_cube(source)
                if cube.shape[:2] == self.res["prob"].shape[:2]:
                    self.cube = cube
                else:
                    self.note = f"the source scan '{source}' no longer matches the maps"
            except PigmentmapError as err:
                self.note = f"the source scan cannot be read ({err}): spectra are not shown"
        else:
            self.note = f"the source scan '{source}' is not there: spectra are not shown"

    def meta(self) -> dict[str, Any]:
        """Names of every map kind, the shape, and whether spectra are available."""
        h, w = self.res["prob"].shape[:2]
        kinds = {k: list(self.res[n]) for k, (a, n, _) in KINDS.items() if a in self.res}
        return {"height": h, "width": w, "kinds": kinds, "spectra": self.cube is not None,
                "note": self.note, "source": self.res["attrs"].get("source", "")}  # fmt: skip

    def map_png(self, kind: str, index: int) -> bytes:
        """One map as a PNG (cividis)."""
        import matplotlib
        from PIL import Image

        if kind not in KINDS or KINDS[kind][0] not in self.res:
            raise PigmentmapError(f"no maps of kind '{kind}'")
        stack = self.res[KINDS[kind][0]]
        if not 0 <= index < stack.shape[-1]:
            raise PigmentmapError(f"no map {index} of kind '{kind}'")
        image = np.asarray(stack[..., index], dtype=np.float64)
        top = 1.0 if KINDS[kind][2] else float(np.percentile(image, 99)) or 1.0
        rgba = matplotlib.colormaps["cividis"](np.clip(image / top, 0.0, 1.0), bytes=True)
        buf = io.BytesIO()
        Image.fromarray(rgba, mode="RGBA").save(buf, format="PNG")
        return buf.getvalue()

    def _window(self, y0: int, x0: int, y1: int, x1: int) -> tuple[slice, slice]:
        h, w = self.res["prob"].shape[:2]
        ya, yb = sorted((y0, y1))
        xa, xb = sorted((x0, x1))
        if not (0 <= ya <= yb < h and 0 <= xa <= xb < w):
            raise PigmentmapError(f"pixels ({y0}, {x0})-({y1}, {x1}) are outside the {h} x {w} map")
        return slice(ya, yb + 1), slice(xa, xb + 1)

    def region(self, y0: int, x0: int, y1: int, x1: int) -> dict[str, Any]:
        """Mean probabilities, element values and (if available) spectrum of a rectangle."""
        from pigmentmap.physics.lines import line_table

        rows, cols = self._window(y0, x0, y1, x1)
        res = self.res
        prob = res["prob"][rows, cols].reshape(-1, len(res["names"])).mean(axis=0)
        sig = res["significance"][rows, cols].reshape(-1, len(res["element_names"])).mean(axis=0)
        out: dict[str, Any] = {
            "pixels": int((rows.stop - rows.start) * (cols.stop - cols.start)),
            "pigments": sorted(
                ({"name": n, "p": round(float(p), 4)} for n, p in zip(res["names"], prob, strict=True)),
                key=lambda r: -r["p"],
            ),
            "detected": [e for e, s in zip(res["element_names"], sig, strict=True) if s >= 3],
            "spectrum": None,
            "lines": [],
        }  # fmt: skip
        if self.cube is not None:
            counts = np.asarray(self.cube.counts[rows, cols], dtype=np.float64)
            out["spectrum"] = {
                "energy_kev": np.round(self.cube.axis.energies, 4).tolist(),
                "counts": np.round(counts.reshape(-1, counts.shape[-1]).mean(axis=0), 3).tolist(),
            }
            hi = float(self.cube.axis.energies[-1])
            for el in out["detected"]:  # the two strongest lines of its principal family
                lines = [ln for ln in line_table([el]).lines if 1.0 <= ln.energy_kev <= hi]
                families = sorted({ln.shell[0] for ln in lines})  # K before L before M
                chosen = [ln for ln in lines if families and ln.shell[0] == families[0]]
                for ln in sorted(chosen, key=lambda ln: -ln.rate)[:2]:
                    out["lines"].append(
                        {
                            "element": el,
                            "line": ln.transition,
                            "energy_kev": round(ln.energy_kev, 3),
                        }
                    )
        return out


def _page() -> bytes:
    return resources.files("pigmentmap.viewer").joinpath("page.html").read_bytes()


def make_handler(view: ResultsView) -> type[BaseHTTPRequestHandler]:
    """The request handler class serving ``view``."""

    class Handler(BaseHTTPRequestHandler):
        def log_message(self, format: str, *args: Any) -> None:
            return

        def _send(self, body: bytes, kind: str, status: int = 200) -> None:
            self.send_response(status)
            self.send_header("Content-Type", kind)
            self.send_header("Content-Length", str(len(body)))
            self.send_header("Cache-Control", "no-store")
            self.end_headers()
            self.wfile.write(body)

        def _json(self, data: Any, status: int = 200) -> None:
            self._send(json.dumps(data).encode(), "application/json", status)

        def do_GET(self) -> None:
            url = urlparse(self.path)
            q = {k: v[-1] for k, v in parse_qs(url.query).items()}
            try:
                if url.path in ("/", "/index.html"):
                    self._send(_page(), "text/html; charset=utf-8")
                elif url.path == "/api/meta":
                    self._json(view.meta())
                elif url.path == "/api/map.png":
                    self._send(view.map_png(q.get("kind", "pigments"), int(q.get("index", 0))),
                               "image/png")  # fmt: skip
                elif url.path == "/api/pixel":
                    y, x = int(q["y"]), int(q["x"])
                    self._json(view.region(y, x, y, x))
                elif url.path == "/api/region":
                    self._json(view.region(int(q["y0"]), int(q["x0"]), int(q["y1"]), int(q["x1"])))
                else:
                    self._json({"error": f"no page {url.path}"}, 404)
            except (PigmentmapError, KeyError, ValueError) as err:
                self._json({"error": str(err)}, 400)

    return Handler


def serve(
    folder: str | Path, *, port: int = DEFAULT_PORT, ready: threading.Event | None = None
) -> ThreadingHTTPServer:
    """Create the server for ``folder`` on 127.0.0.1:``port`` (not started: call
    ``serve_forever``). A port in use is one line.

    Examples
    --------
    >>> serve  # doctest: +ELLIPSIS
    <function serve at ...>
    """
    view = ResultsView(folder)
    try:
        server = ThreadingHTTPServer((HOST, port), make_handler(view))
    except OSError as err:
        raise PigmentmapError(
            f"cannot serve on {HOST}:{port} ({err.strerror or err}): try --port"
        ) from None
    server.daemon_threads = True
    if ready is not None:
        ready.set()
    return server
