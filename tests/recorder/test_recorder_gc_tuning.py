"""While recording, gc's first threshold is raised; it is put back when the last recorder stops."""

from __future__ import annotations

import gc
from pathlib import Path

import recorder
from recorder.core import GC_THRESHOLD0


def test_threshold_raised_while_recording_and_restored_after(tmp_path: Path) -> None:
    before = gc.get_threshold()
    gc.set_threshold(700, before[1], before[2])
    try:
        first = recorder.Recorder(tmp_path / "a.gsplog").start()
        assert gc.get_threshold()[0] == GC_THRESHOLD0
        second = recorder.Recorder(tmp_path / "b.gsplog").start()
        first.stop()
        assert gc.get_threshold()[0] == GC_THRESHOLD0  # the second still records
        second.stop()
        assert gc.get_threshold()[0] == 700
        untuned = recorder.Recorder(tmp_path / "c.gsplog", tune_gc=False).start()
        assert gc.get_threshold()[0] == 700
        untuned.stop()
    finally:
        gc.set_threshold(*before)


def test_a_threshold_the_script_set_meanwhile_is_kept(tmp_path: Path) -> None:
    before = gc.get_threshold()
    gc.set_threshold(700, before[1], before[2])
    try:
        rec = recorder.Recorder(tmp_path / "a.gsplog").start()
        gc.set_threshold(1234)
        rec.stop()
        assert gc.get_threshold()[0] == 1234
    finally:
        gc.set_threshold(*before)
