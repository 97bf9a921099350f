"""The local viewer of a results folder (``pigmentmap view``): :mod:`pigmentmap.viewer.server`
and its page, ``page.html`` (no file from the internet)."""
