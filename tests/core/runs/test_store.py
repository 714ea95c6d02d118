import json
import multiprocessing
import time

import pytest

from iadbench.contract.errors import IADBenchError, RunConflictError
from iadbench.runs.writer import RunStore


def _record(i):
    return {
        "id": f"c/{i}.png",
        "category": "c",
        "label": "normal",
        "pred": "normal",
        "score": None,
        "text": None,
        "error": None,
    }


def test_appended_records_are_read_back_in_order(tmp_path):
    store = RunStore(tmp_path)
    store.append([_record(0), _record(1)])
    store.append([_record(2)])
    assert [r["id"] for r in store.iter_predictions()] == ["c/0.png", "c/1.png", "c/2.png"]


def test_torn_last_line_is_cut_and_not_counted_as_finished(tmp_path):
    store = RunStore(tmp_path)
    store.append([_record(0), _record(1)])
    with store.predictions_path.open("a") as handle:
        handle.write('{"id": "c/2.png", "categ')
    assert store.finished_ids() == {"c/0.png", "c/1.png"}
    assert store.predictions_path.read_text().endswith("\n")
    store.append([_record(2)])
    assert len(store.predictions_path.read_text().splitlines()) == 3


def test_file_that_is_one_torn_line_is_emptied(tmp_path):
    store = RunStore(tmp_path)
    store.predictions_path.write_text('{"id": "x"')
    assert store.finished_ids() == set()
    assert store.predictions_path.read_text() == ""


def test_duplicate_ids_are_read_once(tmp_path):
    store = RunStore(tmp_path)
    store.append([_record(0), _record(0)])
    assert len(list(store.iter_predictions())) == 1


def test_corrupt_middle_line_is_an_error_naming_the_line(tmp_path):
    store = RunStore(tmp_path)
    store.predictions_path.write_text(
        json.dumps(_record(0)) + "\nnot json\n" + json.dumps(_record(1)) + "\n"
    )
    with pytest.raises(IADBenchError, match="line 2"):
        list(store.iter_predictions())


def test_manifest_write_is_atomic_and_round_trips(tmp_path):
    store = RunStore(tmp_path)
    store.write_manifest({"status": "running"})
    assert store.read_manifest() == {"status": "running"}
    assert not list(tmp_path.glob("*.tmp"))


def _hold_lock(directory, ready, release):
    with RunStore(directory).locked():
        ready.set()
        release.wait(10)


def test_second_process_on_a_locked_run_dir_is_refused(tmp_path):
    ctx = multiprocessing.get_context("spawn")
    ready, release = ctx.Event(), ctx.Event()
    holder = ctx.Process(target=_hold_lock, args=(tmp_path, ready, release))
    holder.start()
    try:
        assert ready.wait(20)
        with (
            pytest.raises(RunConflictError, match="another iadbench process"),
            RunStore(tmp_path).locked(),
        ):
            pass
    finally:
        release.set()
        holder.join(20)
    time.sleep(0.05)
    with RunStore(tmp_path).locked():
        pass
