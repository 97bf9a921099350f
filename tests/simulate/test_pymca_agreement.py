"""Agreement with PyMca5's physics (fisx), skipped cleanly when the optional extra is absent."""

import pytest

from pigmentmap.physics.detector import detection_efficiency
from pigmentmap.simulate.pymca_reference import (
    pymca_available,
    pymca_group_rates,
    relative_agreement,
)

pytestmark = pytest.mark.skipif(
    not pymca_available(), reason="PyMca5 (fisx) not installed: make pymca"
)

STACKS = [
    "VM:100/LW:120/CaCO3:175",
    "LW:120/CaCO3:175",
    "CaCO3:175",
    "CrY:50/PB:100/CaCO3:175",
    "ZW:200/RL:150/CaCO3:175",
    "EG:80/IO:120/CaCO3:175",
    "IO:50/CrG:100/CaCO3:175",
]


def test_relative_group_intensities_within_5_percent(library, elio, elio_sim):
    from pigmentmap.materials import parse_stack

    stacks = [parse_stack(s, library=library) for s in STACKS]
    ref = pymca_group_rates(
        stacks, instrument=elio, excitation=elio_sim.excitation, min_energy_kev=2.8
    )
    res = elio_sim.simulate(stacks)
    emitted = res.line_counts / detection_efficiency(elio, res.lines.energies_kev)
    ours = []
    for i in range(len(stacks)):
        groups: dict[str, float] = {}
        for j, line in enumerate(res.lines.lines):
            if line.energy_kev >= 2.8:
                groups[line.group] = groups.get(line.group, 0.0) + emitted[i, j]
        ours.append(groups)
    rows = relative_agreement(ours, ref)
    assert len(rows) >= 15
    worst = max(rows, key=lambda r: abs(r["rel_diff"]))
    assert abs(worst["rel_diff"]) < 0.05, worst
