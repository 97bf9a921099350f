"""The pigment library: a TOML file of materials, looked up by name, alias or formula.

File form (one table per material)::

    [pigments.vermilion]
    formula = "HgS"                 # or: composition = { Hg = 0.862, S = 0.138 }
    density_g_cm3 = 8.1
    colour_srgb = [227, 66, 52]
    aliases = ["VM", "cinnabar"]
    kind = "pigment"                # pigment | ground | binder (default pigment)
    note = "Xu et al. 2022 Table 1; density: handbook value"
"""

from __future__ import annotations

import difflib
import hashlib
import json
import tomllib
from collections.abc import Iterator, Mapping
from functools import cache
from importlib import resources
from pathlib import Path
from typing import Any

from pigmentmap.core.errors import PigmentmapError
from pigmentmap.materials.formula import mass_fractions
from pigmentmap.materials.pigment import Pigment

_KEYS = {"formula", "composition", "density_g_cm3", "colour_srgb", "aliases", "kind", "note"}


def _key(name: str) -> str:
    return name.strip().lower().replace(" ", "_").replace("-", "_")


class PigmentLibrary(Mapping[str, Pigment]):
    """Materials by canonical name; ``lib[x]`` also accepts any alias or formula.

    Examples
    --------
    >>> lib = default_library()
    >>> lib["VM"].name
    'vermilion'
    >>> lib["2PbCO3.Pb(OH)2"].name
    'lead_white'
    >>> lib["lead white"].density_g_cm3
    6.7
    """

    def __init__(self, pigments: list[Pigment], *, source: str = "") -> None:
        self._by_name: dict[str, Pigment] = {}
        self._lookup: dict[str, str] = {}
        self._formulas: dict[str, list[str]] = {}
        self.source = source
        for p in pigments:
            self._add(p)

    def _add(self, p: Pigment) -> None:
        if p.name in self._by_name:
            raise PigmentmapError(f"pigment '{p.name}' is defined twice")
        self._by_name[p.name] = p
        for alias in (p.name, *p.aliases):
            k = _key(alias)
            owner = self._lookup.get(k)
            if owner is not None and owner != p.name:
                raise PigmentmapError(
                    f"name or alias '{alias}' of '{p.name}' is already used by '{owner}'"
                )
            self._lookup[k] = p.name
        if p.formula:
            self._formulas.setdefault(p.formula.replace(" ", ""), []).append(p.name)

    def merged(self, other: PigmentLibrary) -> PigmentLibrary:
        """This library plus ``other``; a material of ``other`` replaces one of the same name."""
        replaced = {p.name for p in other.values()}
        kept = [p for p in self.values() if p.name not in replaced]
        return PigmentLibrary([*kept, *other.values()], source=f"{self.source}+{other.source}")

    def __getitem__(self, name: str) -> Pigment:
        hit = self._lookup.get(_key(name))
        if hit is None:
            by_formula = self._formulas.get(name.replace(" ", ""), [])
            if len(by_formula) > 1:
                raise PigmentmapError(
                    f"formula '{name}' is ambiguous ({', '.join(by_formula)}): use a name"
                )
            hit = by_formula[0] if by_formula else None
        if hit is None:
            close = difflib.get_close_matches(_key(name), list(self._lookup), n=3)
            hint = f" (did you mean {', '.join(close)}?)" if close else ""
            raise PigmentmapError(f"unknown pigment or alias '{name}'{hint}")
        return self._by_name[hit]

    def __iter__(self) -> Iterator[str]:
        return iter(self._by_name)

    def __len__(self) -> int:
        return len(self._by_name)

    def __contains__(self, name: object) -> bool:
        if not isinstance(name, str):
            return False
        return _key(name) in self._lookup or name.replace(" ", "") in self._formulas

    @property
    def elements(self) -> set[str]:
        """Every element of every material."""
        return {el for p in self.values() for el in p.composition}

    @property
    def hash(self) -> str:
        """SHA-256 of the library's content (names, compositions, densities)."""
        content = [
            [p.name, sorted(p.composition.items()), p.density_g_cm3]
            for p in sorted(self.values(), key=lambda q: q.name)
        ]
        return hashlib.sha256(json.dumps(content).encode()).hexdigest()


def _pigment_from_table(name: str, table: dict[str, Any], where: str) -> Pigment:
    if not isinstance(table, dict):
        raise PigmentmapError(f"{where}: [pigments.{name}] must be a table")
    unknown = set(table) - _KEYS
    if unknown:
        raise PigmentmapError(f"{where}: pigment '{name}' has unknown key(s) {sorted(unknown)}")
    if "density_g_cm3" not in table:
        raise PigmentmapError(f"{where}: pigment '{name}' has no density_g_cm3")
    formula = table.get("formula")
    composition = table.get("composition")
    if (formula is None) == (composition is None):
        raise PigmentmapError(
            f"{where}: pigment '{name}' needs exactly one of formula, composition"
        )
    try:
        if formula is not None:
            comp = mass_fractions(str(formula))
        else:
            if not isinstance(composition, dict):
                raise PigmentmapError(f"pigment '{name}': composition must be a table")
            comp = {str(k): float(v) for k, v in composition.items()}
        density = float(table["density_g_cm3"])
        colour = tuple(int(c) for c in table.get("colour_srgb", (128, 128, 128)))
        aliases = tuple(str(a) for a in table.get("aliases", ()))
        return Pigment(
            name=name,
            composition=comp,
            density_g_cm3=density,
            colour_srgb=colour,  # type: ignore[arg-type]
            aliases=aliases,
            formula=str(formula) if formula is not None else None,
            kind=str(table.get("kind", "pigment")),
            note=str(table.get("note", "")),
        )
    except PigmentmapError as err:
        raise PigmentmapError(f"{where}: {err}") from None
    except (TypeError, ValueError) as err:
        raise PigmentmapError(f"{where}: pigment '{name}': {err}") from None


def parse_library_text(text: str, *, source: str = "<string>") -> PigmentLibrary:
    """Read a library from TOML text (see the module docstring for the form).

    Examples
    --------
    >>> lib = parse_library_text('''
    ... [pigments.my_blue]
    ... formula = "CoAl2O4"
    ... density_g_cm3 = 4.4
    ... ''')
    >>> lib["CoAl2O4"].name
    'my_blue'
    """
    try:
        data = tomllib.loads(text)
    except tomllib.TOMLDecodeError as err:
        raise PigmentmapError(f"{source}: not valid TOML ({err})") from None
    tables = data.get("pigments")
    if not isinstance(tables, dict) or not tables:
        raise PigmentmapError(f"{source}: no [pigments.NAME] tables found")
    pigments = [_pigment_from_table(n, t, source) for n, t in tables.items()]
    return PigmentLibrary(pigments, source=source)


def load_library(path: str | Path, *, extend_default: bool = True) -> PigmentLibrary:
    """Read a user library file, checked on load; by default it extends the shipped one.

    Examples
    --------
    >>> import tempfile, pathlib
    >>> f = pathlib.Path(tempfile.mkdtemp()) / "mine.toml"
    >>> _ = f.write_text('[pigments.my_white]\\nformula = "TiO2"\\ndensity_g_cm3 = 4.2\\n')
    >>> "my_white" in load_library(f)
    True
    """
    p = Path(path)
    if not p.is_file():
        raise PigmentmapError(f"library file '{p}' does not exist")
    user = parse_library_text(p.read_text(encoding="utf-8"), source=str(p))
    return default_library().merged(user) if extend_default else user


@cache
def default_library() -> PigmentLibrary:
    """The shipped library ``materials/data/pigments.toml``."""
    text = resources.files("pigmentmap.materials").joinpath("data/pigments.toml").read_text("utf-8")
    return parse_library_text(text, source="pigments.toml")
