"""pigmentmap: which pigments are where in a painting, from MA-XRF scans.

The package is organised as the pipeline: ``materials`` (pigment library, layers, stacks),
``instruments`` (tube, geometry, detector), ``physics`` (the batched fundamental-parameter engine),
``simulate`` (stacks + instrument -> spectra), ``io`` (readers), ``mapping`` (pigment and
element maps, evidence, identification), ``ml`` (models, training), ``report``.

What a notebook needs is here at the top, imported on first use (``import pigmentmap`` stays
fast): :func:`open_cube`, :func:`load_instrument`, :func:`default_library`, :func:`parse_stack`,
:class:`Simulator`, :func:`pigment_maps`, :func:`fit_elements`, :func:`identify`,
:func:`run_map`, :func:`read_results`, :func:`write_report`, :data:`DEFAULT_MODEL`.

Examples
--------
>>> import pigmentmap
>>> pigmentmap.__version__
'0.1.0'
>>> cube = pigmentmap.open_cube  # doctest: +ELLIPSIS
>>> cube
<function open_cube at ...>
"""

from typing import Any

__version__ = "0.1.0"

_API = {
    "open_cube": "pigmentmap.io.open",
    "load_instrument": "pigmentmap.instruments",
    "default_library": "pigmentmap.materials",
    "parse_stack": "pigmentmap.materials",
    "Simulator": "pigmentmap.simulate",
    "pigment_maps": "pigmentmap.mapping.pigments",
    "fit_elements": "pigmentmap.mapping.elements",
    "identify": "pigmentmap.mapping.identify",
    "run_map": "pigmentmap.mapping.run",
    "read_results": "pigmentmap.mapping.results",
    "write_report": "pigmentmap.report.html",
    "DEFAULT_MODEL": "pigmentmap.ml",
}
__all__ = ["__version__", *_API]


def __getattr__(name: str) -> Any:
    """The notebook API, imported on first use."""
    if name in _API:
        import importlib

        return getattr(importlib.import_module(_API[name]), name)
    raise AttributeError(f"module 'pigmentmap' has no attribute {name!r}")
