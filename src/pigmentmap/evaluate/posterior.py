"""From a network's raw outputs to the probabilities a report shows: calibrated classes and
look-alike groups, as the model card describes them.

A card may hold ``"calibration"`` (:class:`~pigmentmap.evaluate.calibration.Calibration` of the
classes), ``"groups"`` (:class:`~pigmentmap.evaluate.groups.Group` list) and
``"group_calibration"``; all are written by ``pigmentmap calibrate``. A model made before them
still works: its probabilities are the raw ones, every class is its own group, and
:attr:`Posterior.missing` says what is missing, to be said once in the log and the report.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import numpy as np

from pigmentmap.core.errors import PigmentmapError
from pigmentmap.evaluate.calibration import Calibration
from pigmentmap.evaluate.groups import Group, group_probabilities


@dataclass(frozen=True)
class Posterior:
    """How a model card turns raw outputs into reported probabilities.

    Examples
    --------
    >>> import numpy as np
    >>> post = Posterior.from_card({"label_names": ["lead_white", "red_lead"]})
    >>> post.missing
    ('calibrated probabilities', 'look-alike groups', 'layer order')
    >>> post.classes(np.array([[0.7, 0.4]])).astype(float).round(3).tolist(), [g.name for g in post.groups]
    ([[0.7, 0.4]], ['lead_white', 'red_lead'])
    """

    names: tuple[str, ...]
    calibration: Calibration | None = None
    groups: list[Group] = field(default_factory=list)
    group_calibration: Calibration | None = None
    missing: tuple[str, ...] = ()

    @classmethod
    def from_card(cls, card: dict[str, Any]) -> Posterior:
        """Read the card's calibration and groups (see the module notes)."""
        names = tuple(str(n) for n in card["label_names"])
        missing = []
        calibration = None
        if isinstance(card.get("calibration"), dict):
            calibration = Calibration.from_dict(card["calibration"])
            if len(calibration.a) != len(names):
                raise PigmentmapError("the model card's calibration does not match its classes")
        else:
            missing.append("calibrated probabilities")
        if isinstance(card.get("groups"), list):
            groups = [Group.from_dict(g) for g in card["groups"]]
            covered = [m for g in groups for m in g.members]
            if sorted(covered) != sorted(names):
                raise PigmentmapError("the model card's look-alike groups do not cover its classes")
        else:
            groups = [Group((n,)) for n in names]
            missing.append("look-alike groups")
        group_cal = None
        if isinstance(card.get("group_calibration"), dict):
            group_cal = Calibration.from_dict(card["group_calibration"])
            if len(group_cal.a) != len(groups):
                raise PigmentmapError(
                    "the model card's group calibration does not match its groups"
                )
        if not isinstance(card.get("layers"), dict):
            missing.append("layer order")
        return cls(names, calibration, groups, group_cal, tuple(missing))

    def classes(self, raw: np.ndarray) -> np.ndarray:
        """Calibrated class probabilities (raw where the card has no calibration)."""
        if self.calibration is None:
            return np.asarray(raw, dtype=np.float32)
        return self.calibration.apply(raw)

    def group_probabilities(self, prob: np.ndarray) -> np.ndarray:
        """Group probabilities from (calibrated) class probabilities; the class axis is last."""
        g = group_probabilities(prob, self.groups, self.names)
        return g if self.group_calibration is None else self.group_calibration.apply(g)

    @property
    def multi_groups(self) -> list[Group]:
        """The look-alike groups of more than one class."""
        return [g for g in self.groups if len(g.members) > 1]
