"""pigmentmap: which pigments are where in a painting, from MA-XRF scans.

The package is organised as the pipeline: ``materials`` (pigment library, layers, stacks),
``instruments`` (tube, geometry, detector), ``physics`` (the batched fundamental-parameter engine),
``simulate`` (stacks + instrument -> spectra).

Examples
--------
>>> import pigmentmap
>>> pigmentmap.__version__
'0.1.0'
"""

__version__ = "0.1.0"
