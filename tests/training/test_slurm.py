"""`zoo.training.slurm`: job ids and argument checks (the requeue itself: tests/distributed)."""

from __future__ import annotations

import pytest

from zoo.training.slurm import SlurmRequeue, slurm_job_id


def test_job_id_of_plain_and_array_jobs(monkeypatch: pytest.MonkeyPatch) -> None:
    for name in ("SLURM_JOB_ID", "SLURM_ARRAY_JOB_ID", "SLURM_ARRAY_TASK_ID"):
        monkeypatch.delenv(name, raising=False)
    assert slurm_job_id() is None
    monkeypatch.setenv("SLURM_JOB_ID", "1234")
    assert slurm_job_id() == "1234"
    monkeypatch.setenv("SLURM_ARRAY_JOB_ID", "77")
    monkeypatch.setenv("SLURM_ARRAY_TASK_ID", "3")
    assert slurm_job_id() == "77_3"


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [({"signal_name": "SIGNOPE"}, "unknown signal"), ({"check_every_n_steps": 0}, ">= 1")],
)
def test_bad_arguments(kwargs: dict, message: str) -> None:
    with pytest.raises(ValueError, match=message):
        SlurmRequeue(**kwargs)
