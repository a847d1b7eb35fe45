"""lrkit.torch.record.Recorder: one row per real update, resumes that continue the file, a validated state."""

from __future__ import annotations

import csv
import json
import warnings
from pathlib import Path
from typing import Any

import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st

import lrkit as lk
from lrkit.torch import Scheduler
from lrkit.torch.record import STATE_VERSION, Recorder

UPDATES = 12
ACCUMULATE = 4


def _setup() -> tuple[torch.nn.Parameter, torch.optim.Optimizer, Scheduler]:
    w = torch.nn.Parameter(torch.tensor([2.0, -1.0]))
    opt = torch.optim.SGD([w], lr=0.1)
    return w, opt, Scheduler(opt, lk.cosine(UPDATES))


def _micro_batch_loss(w: torch.Tensor, update: int, micro: int) -> torch.Tensor:
    return ((w - 0.1 * (micro + 1)) ** 2).sum() * (1 + 0.01 * update)


def _train(path: Path, stop: int | None = None, resume: dict | None = None, **kwargs) -> dict:
    """Train UPDATES updates with ACCUMULATE micro-batches each; stop after `stop` updates (a crash) or
    resume from a checkpoint {'w', 'opt', 'sched', 'rec'} saved at some update."""
    w, opt, sched = _setup()
    start = 0
    if resume is not None:
        with torch.no_grad():
            w.copy_(resume["w"])
        opt.load_state_dict(resume["opt"])
        sched.load_state_dict(resume["sched"])
        start = sched.updates
    rec = Recorder(opt, path, **kwargs)
    if resume is not None and "rec" in resume:
        rec.load_state_dict(resume["rec"])
    ckpt: dict = {}
    for update in range(start, UPDATES if stop is None else stop):
        opt.zero_grad()
        for micro in range(ACCUMULATE):
            loss = _micro_batch_loss(w, update, micro)
            (loss / ACCUMULATE).backward()
            rec.log(loss)
        opt.step()
        sched.step()
        if update == 5:  # a checkpoint after 6 updates
            ckpt = {"w": w.detach().clone(), "opt": opt.state_dict(), "sched": sched.state_dict()}
            ckpt["rec"] = rec.state_dict()
    if stop is None:
        rec.close()
    else:
        rec._file.flush()  # a crash: the file holds what was written, nothing is closed
    return ckpt


def _rows(path: Path) -> list[list[str]]:
    with path.open(newline="") as f:
        return list(csv.reader(f))


def test_gradient_accumulation_writes_one_row_per_update(tmp_path: Path) -> None:
    path = tmp_path / "run.csv"
    _train(path)
    rows = _rows(path)
    assert rows[0] == ["update", "lr", "loss"]
    assert [int(r[0]) for r in rows[1:]] == list(range(UPDATES))
    w = _setup()[0]
    first = [float(_micro_batch_loss(w.detach(), 0, m)) for m in range(ACCUMULATE)]
    assert float(rows[1][2]) == pytest.approx(sum(first) / ACCUMULATE, rel=1e-12)
    assert float(rows[1][1]) == 0.1 and float(rows[7][1]) == pytest.approx(0.1 * lk.cosine(UPDATES)(6), rel=1e-15)


def test_a_resumed_run_continues_the_file_and_drops_the_rows_after_its_checkpoint(tmp_path: Path) -> None:
    whole = tmp_path / "whole.csv"
    _train(whole)
    path = tmp_path / "run.csv"
    ckpt = _train(path, stop=9)  # crashed after update 9; its checkpoint is at 6 updates
    assert [int(r[0]) for r in _rows(path)[1:]] == list(range(9))
    with pytest.raises(ValueError, match="exists; to continue it after a resume pass exists='append'"):
        Recorder(_setup()[1], path)
    _train(path, resume=ckpt, exists="append")
    assert path.read_bytes() == whole.read_bytes()


def test_append_with_start_instead_of_the_state(tmp_path: Path) -> None:
    whole = tmp_path / "whole.jsonl"
    _train(whole)
    path = tmp_path / "run.jsonl"
    ckpt = _train(path, stop=8)
    del ckpt["rec"]
    with pytest.raises(ValueError, match="from update 0; pass start="):
        _train(path, resume=ckpt, exists="append")
    _train(path, resume=ckpt, exists="append", start=6)
    assert [json.loads(line)["update"] for line in path.read_text().splitlines()] == list(range(UPDATES))
    assert path.read_bytes() == whole.read_bytes()


def test_overwrite_starts_the_file_again(tmp_path: Path) -> None:
    path = tmp_path / "run.csv"
    path.write_text("old\n")
    Recorder(_setup()[1], path, exists="overwrite").close()
    assert path.read_text().splitlines() == ["update,lr,loss"]


def test_bad_arguments_name_the_parameter(tmp_path: Path) -> None:
    opt = _setup()[1]
    for kwargs, match in [
        ({"exists": "keep"}, "exists must be one of"),
        ({"start": -1}, "start must be"),
        ({"start": 1.5}, "start must be"),
        ({"every": 0}, "every must be"),
        ({"group": True}, "group must index"),
    ]:
        with pytest.raises(ValueError, match=match):
            Recorder(opt, tmp_path / "r.csv", **kwargs)


def _garbled() -> st.SearchStrategy[object]:
    good = {"version": STATE_VERSION, "updates": 6, "rows": 6}
    bad_value = st.sampled_from([None, -1, 1.5, 2.0, float("nan"), float("inf"), True, "6", [6], {"n": 6}])
    return st.one_of(
        st.sampled_from(["version", "updates", "rows"]).map(lambda k: {x: v for x, v in good.items() if x != k}),
        st.tuples(st.sampled_from(["version", "updates", "rows"]), bad_value).map(lambda kv: {**good, kv[0]: kv[1]}),
        st.sampled_from([None, [], "state", 3, {**good, "extra": 1}, {**good, "version": 99}]),
    )


@settings(max_examples=40, deadline=None)
@given(state=_garbled())
def test_a_garbled_state_is_refused_and_changes_nothing(tmp_path_factory: pytest.TempPathFactory, state: Any) -> None:
    folder = tmp_path_factory.mktemp("rec")
    opt = _setup()[1]
    twin_opt = _setup()[1]
    rec = Recorder(opt, folder / "a.csv", start=6)
    twin = Recorder(twin_opt, folder / "b.csv", start=6)
    with pytest.raises(ValueError, match=r"Recorder\.load_state_dict: .*('version'|'updates'|'rows'|key|dict)"):
        rec.load_state_dict(state)
    assert (rec.updates, rec.rows) == (twin.updates, twin.rows) == (6, 0)
    for r in (rec, twin):
        r.log(1.5)
        r.close()
    assert (folder / "a.csv").read_text() == (folder / "b.csv").read_text()


def test_a_step_skipped_by_a_gradient_scaler_records_the_rate_the_next_update_is_made_with(tmp_path: Path) -> None:
    # the AMP recipe steps a torch scheduler every iteration; the rate was taken at the first log() of an update's
    # row, so after a skipped step the next update's row held the rate of the iteration before (0.0875 for 0.085)
    from lrkit.curves import read_run

    w = torch.nn.Parameter(torch.tensor(10.0))
    opt = torch.optim.SGD([w], lr=0.1)
    sched = torch.optim.lr_scheduler.LambdaLR(opt, lambda i: 1.0 - i / 40)
    scaler = torch.amp.GradScaler("cpu")
    used = []
    path = tmp_path / "amp.csv"
    with Recorder(opt, path) as rec:
        for it in range(10):
            loss = w * 1.0
            opt.zero_grad()
            scaler.scale(loss).backward()
            if it == 5:
                w.grad.fill_(float("inf"))  # an overflow: the scaler skips this update
            rec.log(loss)
            before, rate = rec.updates, opt.param_groups[0]["lr"]
            with warnings.catch_warnings():
                warnings.simplefilter("ignore")  # torch: the scheduler stepped after a skipped optimizer step
                scaler.step(opt)
            scaler.update()
            if rec.updates > before:
                used.append(rate)
            sched.step()
    run = read_run(path)
    assert len(used) == 9
    assert run.lrs.tolist() == pytest.approx(used[: run.lrs.size], rel=1e-12)


def test_an_update_a_gradient_scaler_skips_inside_a_fused_optimizer_gives_no_row(tmp_path: Path) -> None:
    # a fused optimizer is stepped by the scaler with found_inf set and skips the update in its kernel, but its step
    # hooks run: the skipped update was counted and written as a row
    w = torch.nn.Parameter(torch.tensor([10.0]))
    opt = torch.optim.AdamW([w], lr=0.1, fused=True)
    scaler = torch.amp.GradScaler("cpu")
    with Recorder(opt, tmp_path / "fused.csv") as rec:
        for it in range(6):
            loss = (w * 1.0).sum()
            opt.zero_grad()
            scaler.scale(loss).backward()
            if it in (2, 3):
                w.grad.fill_(float("inf"))
            rec.log(loss)
            scaler.step(opt)
            scaler.update()
    assert rec.updates == 4
    rows = (tmp_path / "fused.csv").read_text().splitlines()
    assert [row.split(",")[0] for row in rows] == ["update", "0", "1", "2", "3"]


def test_log_refuses_a_loss_that_is_not_one_number(tmp_path: Path) -> None:
    opt = _setup()[1]
    with Recorder(opt, tmp_path / "r.csv") as rec:
        for bad, match in [
            (torch.ones(3), r"one number.*shape \(3,\).*loss\.mean\(\)"),
            (None, "one number"),
            ("3.5", "one number"),
            (True, "one number"),
        ]:
            with pytest.raises(ValueError, match=match):
                rec.log(bad)
        rec.log(torch.tensor([2.5]))  # one element: fine


def test_a_folder_as_the_path_is_refused_naming_it(tmp_path: Path) -> None:
    folder = tmp_path / "run.csv"
    folder.mkdir()
    for exists in ("error", "overwrite", "append"):
        with pytest.raises(ValueError, match=r"is a folder; give a file"):
            Recorder(_setup()[1], folder, exists=exists)


@pytest.mark.parametrize("suffix", [".csv", ".jsonl"])
def test_append_after_a_crash_leaves_out_the_torn_last_line(tmp_path: Path, suffix: str) -> None:
    # a crash mid-write leaves half a row at the end: JSON lines refused the resume until the file was edited by
    # hand, and CSV kept the fragment '1' as a row of update 1 between rows 9 and 10
    path = tmp_path / f"run{suffix}"
    w, opt, sched = _setup()
    with Recorder(opt, path) as rec:
        for _ in range(8):
            loss = (w**2).sum()
            opt.zero_grad()
            loss.backward()
            rec.log(loss)
            opt.step()
            sched.step()
    with path.open("a") as f:
        f.write('{"update": 1' if suffix == ".jsonl" else "1")
    with pytest.warns(UserWarning, match=r"torn by the interrupted run's last write; left out"):
        with Recorder(opt, path, exists="append", start=6) as rec:
            rec.log(1.0)
            opt.step()
    from lrkit.curves import read_log

    assert read_log(path).series["loss"].steps.tolist() == [0, 1, 2, 3, 4, 5, 6]
