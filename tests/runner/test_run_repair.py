"""Self-repairing result trees and configs that cannot silently diverge.

A finished run is skipped only when its files read back: a damaged one is rebuilt from its final
checkpoint (or trained again when that is damaged too), a damaged checkpoint of a killed run restarts it
with a warning, and a checkpoint trained under another config is never resumed (config.yaml or not).
"""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pandas as pd
import pytest

from harness import store
from harness.checkpoint import read_record
from harness.cli import main
from harness.config import ConfigError
from harness.runner import Job, existing_state, resolve_job, run_job
from tests.runner.runner_scripted import PLUGIN  # importing it registers the scripted methods

FRAMES = (store.TRAIN_FILE, store.EVAL_FILE, store.TRACES_FILE)


def job_for(out: Path, **kw: object) -> Job:
    base = dict(suite="point-goal-nonstat", method="scripted-linear", seed=0, out=str(out), profile="smoke",
                budget=400, eval_every=200, device="cpu", plugins=(PLUGIN,))
    base.update(kw)
    return Job(**base)  # type: ignore[arg-type]


def frames(run_dir: Path) -> dict[str, pd.DataFrame]:
    out = {}
    for name in FRAMES:
        df = pd.read_parquet(run_dir / name)
        out[name] = df.drop(columns=[c for c in store.TIMING_COLUMNS if c in df.columns])
    return out


def assert_frames_equal(a: dict[str, pd.DataFrame], b: dict[str, pd.DataFrame]) -> None:
    for name in FRAMES:
        pd.testing.assert_frame_equal(a[name], b[name], obj=name)


@pytest.fixture(scope="module")
def finished(tmp_path_factory: pytest.TempPathFactory) -> tuple[Job, dict[str, pd.DataFrame], Path]:
    """One finished run (point-goal-nonstat: it has traces), kept pristine; tests work on copies."""
    root = tmp_path_factory.mktemp("pristine")
    job = job_for(root)
    assert run_job(job).status == store.FINISHED
    return job, frames(job.run_dir), root


def copy_of(finished: tuple[Job, dict[str, pd.DataFrame], Path], tmp_path: Path) -> Job:
    shutil.copytree(finished[2], tmp_path / "exp")
    return job_for(tmp_path / "exp")


def truncate(path: Path) -> None:
    data = path.read_bytes()
    path.write_bytes(data[: len(data) // 2])


@pytest.mark.parametrize("damage", [
    lambda rd: truncate(rd / store.EVAL_FILE),
    lambda rd: (rd / store.EVAL_FILE).unlink(),
    lambda rd: (rd / store.TRAIN_FILE).write_bytes(b"PAR1 garbled PAR1"),
    lambda rd: truncate(rd / store.TRACES_FILE),
    lambda rd: (rd / store.CONFIG_FILE).unlink(),
], ids=["eval-truncated", "eval-deleted", "train-garbled", "traces-truncated", "config-deleted"])
def test_damaged_finished_run_is_rebuilt_from_its_checkpoint(finished, tmp_path, damage) -> None:
    job = copy_of(finished, tmp_path)
    damage(job.run_dir)
    assert existing_state(resolve_job(job)) == "repair"
    result = run_job(job)
    assert result.status == store.FINISHED and result.warning.startswith("repaired:")
    assert_frames_equal(frames(job.run_dir), finished[1])
    assert existing_state(resolve_job(job)) == "finished"
    assert run_job(job).status == "skipped"
    assert store.scan_results(job.out)[0].ok


def test_damaged_checkpoint_of_a_finished_run_means_training_it_again(finished, tmp_path) -> None:
    job = copy_of(finished, tmp_path)
    truncate(job.run_dir / store.CHECKPOINT_FILE)
    truncate(job.run_dir / store.EVAL_FILE)
    result = run_job(job)
    assert result.status == store.FINISHED and "training it again from scratch" in result.warning
    assert_frames_equal(frames(job.run_dir), finished[1])  # same seed, same numbers
    assert run_job(job).status == "skipped"


def test_killed_run_with_a_damaged_checkpoint_restarts_with_a_warning(finished, tmp_path) -> None:
    job = copy_of(finished, tmp_path)
    store.write_json(job.run_dir / store.META_FILE, {"status": store.RUNNING})
    truncate(job.run_dir / store.CHECKPOINT_FILE)
    result = run_job(job)
    assert result.status == store.FINISHED, result.error
    assert "cannot be loaded safely" in result.warning and "from scratch" in result.warning
    assert_frames_equal(frames(job.run_dir), finished[1])


def test_resuming_under_another_config_is_refused_without_config_yaml(finished, tmp_path, capsys) -> None:
    job = copy_of(finished, tmp_path)
    (job.run_dir / store.CONFIG_FILE).unlink()
    other = job_for(tmp_path / "exp", sets=("lr=0.1",))
    with pytest.raises(ConfigError, match=r"different configuration \(config, config\.lr\) according to "
                                          r"its checkpoint\.pt"):
        existing_state(resolve_job(other))
    result = run_job(other)
    assert result.status == store.FAILED and "config.lr" in result.error
    assert not (job.run_dir / store.CONFIG_FILE).exists()  # nothing claims lr 0.1 for these results
    code = main(["run", "--plugin", PLUGIN, "--suite", "point-goal-nonstat", "--method",
                 "scripted-linear", "--profile", "smoke", "--budget", "400", "--eval-every", "200",
                 "--device", "cpu", "--out", str(tmp_path / "exp"), "--set", "lr=0.1"])
    assert code == 2 and "config.lr" in capsys.readouterr().err
    assert not (job.run_dir / store.CONFIG_FILE).exists()
    # --force starts it over under the new config
    assert run_job(job_for(tmp_path / "exp", sets=("lr=0.1",), force=True)).status == store.FINISHED
    assert read_record(job.run_dir / store.CHECKPOINT_FILE).record["config"]["lr"] == 0.1


def test_edited_config_yaml_cannot_smuggle_a_checkpoint_into_another_config(finished, tmp_path) -> None:
    job = copy_of(finished, tmp_path)
    other = job_for(tmp_path / "exp", sets=("lr=0.1",))
    store.write_yaml(job.run_dir / store.CONFIG_FILE, resolve_job(other).record())  # claims lr 0.1
    store.write_json(job.run_dir / store.META_FILE, {"status": store.RUNNING})
    result = run_job(other)
    assert result.status == store.FAILED
    assert "checkpoint trained with a different configuration (config, config.lr)" in result.error


def test_meta_and_checkpoint_record_the_config_hash_and_progress(finished, tmp_path) -> None:
    job = finished[0]
    meta = json.loads((job.run_dir / store.META_FILE).read_text())
    stored = read_record(job.run_dir / store.CHECKPOINT_FILE)
    assert meta["config_hash"] == stored.config_hash and len(meta["config_hash"]) == 64
    assert set(meta[store.MANIFEST_KEY]) == {store.CONFIG_FILE, *FRAMES, store.CHECKPOINT_FILE}
    assert meta["env_steps"] == 400

    class Stop(BaseException):  # like a kill: not caught by the runner
        pass

    def stop_at_eval_after(steps: int):
        def sink(event):
            if event.kind == "eval" and event.env_steps > steps:
                raise Stop
        return sink

    killed = job_for(tmp_path)
    with pytest.raises(Stop):
        run_job(killed, stop_at_eval_after(0))  # killed before its first checkpoint
    meta = json.loads((killed.run_dir / store.META_FILE).read_text())
    assert meta["status"] == store.RUNNING and meta["env_steps"] == 0
    with pytest.raises(Stop):
        run_job(killed, stop_at_eval_after(300))  # killed after the checkpoint at 300 env steps
    meta = json.loads((killed.run_dir / store.META_FILE).read_text())
    assert meta["status"] == store.RUNNING and meta["env_steps"] == 300 and "updated_at" in meta


def test_finished_run_shared_without_its_checkpoint_is_still_complete(finished, tmp_path) -> None:
    job = copy_of(finished, tmp_path)
    (job.run_dir / store.CHECKPOINT_FILE).unlink()  # reference results ship without checkpoints
    assert existing_state(resolve_job(job)) == "finished"
    assert run_job(job).status == "skipped"


def test_lost_meta_json_and_damaged_frames_are_rebuilt_from_the_final_checkpoint(finished, tmp_path) -> None:
    job = copy_of(finished, tmp_path)
    (job.run_dir / store.META_FILE).unlink()  # status unknown: the run resumes from its checkpoint
    truncate(job.run_dir / store.EVAL_FILE)
    (job.run_dir / store.TRACES_FILE).unlink()
    assert existing_state(resolve_job(job)) == "resume"
    assert run_job(job).status == store.FINISHED
    assert_frames_equal(frames(job.run_dir), finished[1])
    assert run_job(job).status == "skipped"


def test_a_run_written_before_sees_task_was_recorded_is_the_same_run(finished, tmp_path) -> None:
    """``sees_task`` (derived from the method class) is missing from older config.yaml files and
    checkpoints: such a run is still skipped when finished, and resumed from its checkpoint, not refused."""
    from harness.checkpoint import config_hash, load_run_checkpoint, save_run_checkpoint

    job = copy_of(finished, tmp_path)
    rd = job.run_dir
    config = store.read_yaml_file(rd / store.CONFIG_FILE)
    assert config is not None and config.pop("sees_task") is False
    store.write_yaml(rd / store.CONFIG_FILE, config)
    ckpt = load_run_checkpoint(rd / store.CHECKPOINT_FILE)
    assert ckpt.record is not None
    ckpt.record.pop("sees_task")
    ckpt.config_hash = config_hash(ckpt.record)
    save_run_checkpoint(rd / store.CHECKPOINT_FILE, ckpt)
    (rd / store.META_FILE).unlink()  # killed after its last checkpoint: resumes from it
    assert existing_state(resolve_job(job)) == "resume"
    result = run_job(job)
    assert result.status == store.FINISHED, result.error
    assert_frames_equal(frames(rd), finished[1])
    assert existing_state(resolve_job(job)) == "finished"
