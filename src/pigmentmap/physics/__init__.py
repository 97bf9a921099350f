"""The fundamental-parameter engine: pure functions on arrays.

``lines`` (the emission lines that are simulated), ``xraydata`` (xraylib tabulated on grids),
``tube`` (Ebel-type tube spectra), ``detector`` (efficiency, resolution, escape, response matrices),
``multilayer`` (batched primary + secondary fluorescence and scatter in layered samples).
"""
