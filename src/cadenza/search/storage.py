"""Where a study lives, and heartbeats so that a killed worker's trial is retried.

- no storage: in memory (one process; nothing kept);
- a file path: an Optuna journal file, which several worker processes on one machine
  (or on machines sharing a file system with working locks) join;
- an RDB URL: ``sqlite:///study.db`` for one worker, ``postgresql://...`` for many
  machines.

A running trial beats every ``interval`` seconds. A trial whose last beat is older
than ``grace`` seconds belongs to a dead worker: it is marked failed and enqueued again
(Optuna's ``RetryHeartbeatStaleTrialCallback``, at most ``retries`` times). RDB storages do this
themselves (Optuna's heartbeat); the journal storage has no heartbeat of its own, so
:class:`Heartbeat` writes the beats as a system attribute and :func:`fail_stale`
reaps them when a worker starts a trial.
"""

from __future__ import annotations

import threading
import time
import warnings
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import optuna
from optuna.trial import TrialState

from cadenza.errors import ConfigError

BEAT = "cadenza:heartbeat"
RDB_SCHEMES = ("sqlite", "postgresql", "mysql")


@dataclass
class Liveness:
    """Heartbeat settings: beat ``interval`` s; a trial silent for ``grace`` s is dead."""

    interval: float = 10.0
    grace: float = 60.0
    retries: int = 2


def open_storage(url: str | None, live: Liveness) -> Any:
    """An Optuna storage for ``url`` (see the module docstring)."""
    if not url:
        return optuna.storages.InMemoryStorage()
    retry = retry_callback(live.retries)
    scheme = url.split(":", 1)[0].split("+", 1)[0]
    if "://" in url:
        if scheme not in RDB_SCHEMES:
            raise ConfigError(f"--storage {url}: expected a journal file path or a "
                              f"{'/'.join(RDB_SCHEMES)} URL")
        with warnings.catch_warnings():  # Optuna marks the heartbeat experimental
            warnings.simplefilter("ignore", optuna.exceptions.ExperimentalWarning)
            return optuna.storages.RDBStorage(
                url, heartbeat_interval=max(int(live.interval), 1),
                grace_period=max(int(live.grace), 1), heartbeat_stale_trial_callback=retry)
    path = Path(url)
    if path.is_dir() or not path.parent.is_dir():
        raise ConfigError(f"--storage {url}: not a file in an existing folder")
    from optuna.storages.journal import JournalFileBackend, JournalStorage

    return JournalStorage(JournalFileBackend(str(path)))


def retry_callback(retries: int) -> Any:
    """Optuna's callback that enqueues a stale trial again (marked experimental)."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", optuna.exceptions.ExperimentalWarning)
        return optuna.storages.RetryHeartbeatStaleTrialCallback(max_retry=retries)


def needs_own_heartbeat(storage: Any) -> bool:
    """Whether cadenza beats for the storage (a journal file), not Optuna."""
    from optuna.storages.journal import JournalStorage

    return isinstance(storage, JournalStorage)


def trial_id(storage: Any, study: optuna.Study, number: int) -> int:
    """The storage's id of trial ``number`` of ``study``."""
    study_id = storage.get_study_id_from_name(study.study_name)
    return storage.get_trial_id_from_study_id_trial_number(study_id, number)


class Heartbeat:
    """Beats for one running trial from a daemon thread until closed."""

    def __init__(self, storage: Any, trial_id: int, interval: float) -> None:
        self.storage, self.trial_id, self.interval = storage, trial_id, interval
        self._done = threading.Event()
        self._beat()
        self._thread = threading.Thread(target=self._run, daemon=True)
        self._thread.start()

    def _beat(self) -> None:
        self.storage.set_trial_system_attr(self.trial_id, BEAT, time.time())

    def _run(self) -> None:
        while not self._done.wait(self.interval):
            try:
                self._beat()
            except (RuntimeError, optuna.exceptions.UpdateFinishedTrialError):
                return  # the trial has ended (or was reaped)

    def close(self) -> None:
        self._done.set()
        self._thread.join()


def fail_stale(study: optuna.Study, storage: Any, live: Liveness) -> list[int]:
    """Mark the running trials that stopped beating as failed and enqueue each again;
    returns their numbers. Two workers reaping at once: the second finds the trial
    finished and leaves it."""
    now, reaped = time.time(), []
    retry = retry_callback(live.retries)
    for trial in study.get_trials(deepcopy=False, states=(TrialState.RUNNING,)):
        beat = trial.system_attrs.get(BEAT)  # a retry starts with its failed trial's beat
        started = trial.datetime_start.timestamp() if trial.datetime_start else None
        if beat is None or now - max(float(beat), started or 0.0) <= live.grace:
            continue
        ident = trial_id(storage, study, trial.number)
        try:
            if not storage.set_trial_state_values(ident, TrialState.FAIL):
                continue
        except optuna.exceptions.UpdateFinishedTrialError:
            continue
        retry(study, storage.get_trial(ident))
        reaped.append(trial.number)
    return reaped
