"""Palette models made on demand and kept: ``pigmentmap map SCAN --palette 'a,b,c'``.

A palette model (:func:`pigmentmap.ml.palette.palette_model`) takes 2-4 minutes to make. Mapping
several scans of one painting with the same palette should pay that once, so :func:`palette_for`
keeps each model in a cache folder named by what made it:

* the base model's weights (their SHA-256 from its card) and its layer head's,
* the palette's pigments (canonical names, sorted: the order the user typed does not matter),
* the settings (stacks, epochs, seed) and the pigment library's hash.

Any change of these makes a new model; the same palette again reuses the kept one (its card is
checked to hold the same key). The cache lives in ``$PIGMENTMAP_CACHE`` if set, else
``$XDG_CACHE_HOME/pigmentmap`` (``~/.cache/pigmentmap``), under ``palettes/``; deleting it is
always safe.
"""

from __future__ import annotations

import hashlib
import json
import os
from collections.abc import Callable, Sequence
from dataclasses import asdict
from pathlib import Path
from typing import Any

from pigmentmap.core.errors import PigmentmapError
from pigmentmap.materials.library import PigmentLibrary
from pigmentmap.ml.palette import PaletteSettings, palette_model, palette_names


def cache_dir() -> Path:
    """Where kept palette models live: ``$PIGMENTMAP_CACHE/palettes``, else
    ``$XDG_CACHE_HOME/pigmentmap/palettes``, else ``~/.cache/pigmentmap/palettes``.

    Examples
    --------
    >>> import os
    >>> os.environ["PIGMENTMAP_CACHE"] = "/tmp/pm-cache"
    >>> str(cache_dir())
    '/tmp/pm-cache/palettes'
    >>> del os.environ["PIGMENTMAP_CACHE"]
    """
    root = os.environ.get("PIGMENTMAP_CACHE")
    if not root:
        xdg = os.environ.get("XDG_CACHE_HOME") or str(Path.home() / ".cache")
        root = str(Path(xdg) / "pigmentmap")
    return Path(root) / "palettes"


#: What the code makes of a palette: bumped when a palette model made by the same inputs would
#: now differ, so that a kept one is made again (2: look-alike groups join the pigments with the
#: same key elements; 3: labels count a pigment by its own lines).
RECIPE = 3


def palette_key(
    base_card: dict[str, Any],
    names: Sequence[str],
    settings: PaletteSettings,
    library: PigmentLibrary,
) -> str:
    """A short hash of what makes a palette model: the base model's weights and layer head,
    the sorted pigment names, the settings, the library and the :data:`RECIPE`.

    Examples
    --------
    >>> from pigmentmap.materials import default_library
    >>> card = {"weights": {"sha256": "ab"}}
    >>> lib = default_library()
    >>> a = palette_key(card, ["vermilion", "lead_white"], PaletteSettings(), lib)
    >>> a == palette_key(card, ["lead_white", "vermilion"], PaletteSettings(), lib)
    True
    >>> a == palette_key(card, ["lead_white", "vermilion"], PaletteSettings(seed=1), lib)
    False
    """
    layers = base_card.get("layers")
    made_of = {
        "base_weights": (base_card.get("weights") or {}).get("sha256"),
        "base_layers": (layers.get("weights") or {}).get("sha256")
        if isinstance(layers, dict)
        else None,
        "pigments": sorted(names),
        "settings": asdict(settings),
        "library": library.hash,
        "recipe": RECIPE,
    }
    return hashlib.sha256(json.dumps(made_of, sort_keys=True).encode()).hexdigest()[:16]


def palette_for(
    base: str | Path,
    pigments: Sequence[str],
    *,
    settings: PaletteSettings | None = None,
    cache: str | Path | None = None,
    progress: bool = True,
    log: Callable[[str], None] | None = None,
) -> Path:
    """The folder of a palette model of ``base`` for ``pigments``: the kept one when the same
    palette was made before (same key, see :func:`palette_key`), else a new one made now and
    kept (written at once when complete, so an interrupted run leaves nothing half-made).

    Examples
    --------
    >>> import tempfile
    >>> cache = tempfile.mkdtemp()
    >>> quick = PaletteSettings(n_stacks=120, epochs=1)
    >>> first = palette_for("universal", ["vermilion", "lead white"], settings=quick,
    ...                     cache=cache, progress=False)
    >>> again = palette_for("universal", ["lead_white", "VM"], settings=quick, cache=cache,
    ...                     progress=False)
    >>> first == again
    True
    """
    from pigmentmap.materials import default_library
    from pigmentmap.ml.checkpoint import read_card, resolve_model

    say = log or (lambda _line: None)
    settings = settings if settings is not None else PaletteSettings()
    library = default_library()
    names = palette_names(pigments, library)
    base_card = read_card(resolve_model(base))
    key = palette_key(base_card, names, settings, library)
    root = Path(cache) if cache is not None else cache_dir()
    label = "-".join(n.split("_")[0][:6] for n in sorted(names))[:40]
    folder = root / f"{label}-{key}"
    if (folder / "card.json").is_file():
        card = read_card(folder)
        if (card.get("palette") or {}).get("key") == key:
            say(f"using the palette model kept at {folder}")
            return folder
        raise PigmentmapError(
            f"'{folder}' is not the palette model it should be (delete it and run again)"
        )
    try:
        root.mkdir(parents=True, exist_ok=True)
    except OSError as err:
        raise PigmentmapError(
            f"cannot keep palette models in '{root}' ({err.strerror}); set PIGMENTMAP_CACHE"
        ) from None
    say(f"making a palette model of {len(names)} pigments (a few minutes; kept at {folder})")
    palette_model(base, list(names), out=folder, settings=settings, progress=progress, log=log,
                  extra={"key": key})  # fmt: skip
    return folder
