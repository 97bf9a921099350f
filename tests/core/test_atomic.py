"""--overwrite replaces only what pigmentmap wrote: never a user's file."""

import pytest

from pigmentmap.core.atomic import MANIFEST, atomic_dir, record_written
from pigmentmap.core.errors import PigmentmapError


def _write(target, *, overwrite, names=("card.json", "weights.bin")):
    with atomic_dir(target, overwrite=overwrite, marker="card.json") as tmp:
        for name in names:
            (tmp / name).write_text(name)


def test_a_folder_it_wrote_is_replaced(tmp_path):
    target = tmp_path / "model"
    _write(target, overwrite=False)
    _write(target, overwrite=True, names=("card.json",))
    assert sorted(p.name for p in target.iterdir()) == [MANIFEST, "card.json"]


def test_a_user_file_in_the_folder_stops_the_overwrite_and_survives(tmp_path):
    target = tmp_path / "model"
    _write(target, overwrite=False)
    (target / "notes.docx").write_text("the user's own work")
    with pytest.raises(PigmentmapError, match=r"did not write \(notes\.docx\)"):
        _write(target, overwrite=True)
    assert (target / "notes.docx").read_text() == "the user's own work"
    assert (target / "weights.bin").is_file()


def test_a_file_recorded_later_counts_as_ours(tmp_path):
    target = tmp_path / "results"
    _write(target, overwrite=False)
    (target / "report.html").write_text("<html>")
    record_written(target, "report.html")
    _write(target, overwrite=True)
    assert not (target / "report.html").exists()


def test_a_folder_without_the_list_is_not_replaced_beyond_its_marker(tmp_path):
    target = tmp_path / "old"
    target.mkdir()
    (target / "card.json").write_text("{}")
    (target / "mine.txt").write_text("keep")
    with pytest.raises(PigmentmapError, match=r"mine\.txt"):
        _write(target, overwrite=True)
    assert (target / "mine.txt").exists()


def test_a_killed_runs_temporary_folder_is_cleaned_by_the_next_run_and_a_live_one_kept(tmp_path):
    import os
    import subprocess
    import sys

    from pigmentmap.core.atomic import OWNER, atomic_dir

    gone = subprocess.run([sys.executable, "-c", "import os; print(os.getpid())"],
                          capture_output=True, text=True, check=True)  # fmt: skip
    stale = tmp_path / ".res.killed"
    stale.mkdir()
    (stale / OWNER).write_text(gone.stdout)
    (stale / "maps.h5").write_text("half written")
    live = tmp_path / ".res.running"
    live.mkdir()
    (live / OWNER).write_text(str(os.getpid()))
    foreign = tmp_path / ".res.mine"  # not ours (no owner file): never touched
    foreign.mkdir()
    with atomic_dir(tmp_path / "res", overwrite=False, marker="maps.h5") as tmp:
        (tmp / "maps.h5").write_text("done")
    assert not stale.exists() and live.exists() and foreign.exists()
    assert sorted(p.name for p in (tmp_path / "res").iterdir()) == [".pigmentmap-files", "maps.h5"]
