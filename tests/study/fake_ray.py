"""A fake of the part of Ray that the sweep driver (dsd_tui/study/sweep.py) uses, so that the driver's own logic
(the lock, the signals, skip/resume/restart/busy, a worker that dies, the task options) is tested in the fast
lane, in-process, without starting a Ray cluster (seconds per test; 10 s and more for a signal test).

Why a fake and not a mock: it keeps the contract the driver relies on, and runs each task's function for real.
- `init` installs a SIGTERM handler that exits with the signal number, as `ray.init` does in the main thread
  (ray/_private/worker.py); the driver must put its own back after connecting.
- `remote(**options)` checks the option names as Ray does (`validate_task_options`), and `.options()` refuses
  `max_calls` as Ray does; `cluster_resources()`, `nodes()` and submitting need `init` first.
- every task gets a worker of its own (a thread) at once; the functions run one at a time (a ladder seeds the
  process-wide RNGs); `wait(refs, num_returns, timeout)` returns what is finished, in the order given, and
  `get` returns the function's value or raises the task's error.
- `cancel(ref, force=True)` of a task whose function has not started ends it (`get` raises
  TaskCancelledError); a function already running cannot be killed in a thread: it runs to its end, and
  `get` raises all the same.
What a test can ask for: N CPUs and M GPUs (`cluster_resources`, `nodes`); ladders whose tasks are held
before their function starts until `release()` (so that a signal can come while they "run"); ladders whose
worker dies (`get` raises WorkerCrashedError, as for an OOM-killed worker); a cluster already running
(`initialized=True`, as for `--address`). It records what the driver did: `inits`, `tasks` (each with its
options and arguments), `cancels`, `waits`, `shutdowns`.
Not modelled: other processes (a task's `runtime_env` is recorded, not applied), scheduling by resources (all
tasks start at once), retries.
"""
from __future__ import annotations

import os
import signal
import sys
import threading
import time
from pathlib import Path

# Ray 2.x's keyword arguments of `ray.remote` for a function (ray/_common/ray_option_utils.task_options)
TASK_OPTIONS = frozenset({
    "label_selector", "fallback_strategy", "accelerator_type", "memory", "name", "num_cpus", "num_gpus",
    "object_store_memory", "placement_group", "placement_group_bundle_index", "placement_group_capture_child_tasks",
    "resources", "runtime_env", "scheduling_strategy", "enable_task_events", "_labels", "max_calls", "max_retries",
    "num_returns", "retry_exceptions", "_generator_backpressure_num_objects", "_metadata", "concurrency_group",
})
SAFETY_S = 30.0  # a held task, or `until`, waiting longer is a broken driver (a hang, not a timing): see `errors`


class WorkerCrashedError(Exception):
    """As ray.exceptions.WorkerCrashedError: the worker process died while it ran the task."""

    def __str__(self) -> str:
        return ("The worker died unexpectedly while executing this task. Check python-core-worker-*.log files for "
                "more information.")


class TaskCancelledError(Exception):
    """As ray.exceptions.TaskCancelledError."""


class FakeTask:
    """One submitted task; also its object ref (what `.remote()` returns and `wait`/`get`/`cancel` take)."""

    def __init__(self, fn, args: tuple, kwargs: dict, options: dict, held: bool, dies: bool):
        self.fn, self.args, self.kwargs, self.options = fn, args, kwargs, options
        self.dies = dies
        self.state = "held" if held else "pending"  # held | pending | running | done | cancelled | died
        self.result = None
        self.error: BaseException | None = None
        self.started = threading.Event()  # its worker picked it up
        self.gate = threading.Event()  # the function may start (a held task's worker waits here for `release`)
        if not held:
            self.gate.set()
        self.thread: threading.Thread | None = None

    @property
    def ladder(self) -> str:
        """The ladder's name: run_ladder's first argument is its run directory."""
        return Path(self.args[0]).name if self.args else "?"

    @property
    def finished(self) -> bool:
        return self.state in ("done", "cancelled", "died")

    def __repr__(self) -> str:
        return f"FakeTask({self.ladder}, {self.state})"


class FakeRemoteFunction:
    def __init__(self, ray: "FakeRay", fn, options: dict):
        self._ray, self._fn, self._options = ray, fn, options

    def remote(self, *args, **kwargs) -> FakeTask:
        return self._ray._submit(self._fn, args, kwargs, self._options)

    def options(self, **options) -> "FakeRemoteFunction":
        _check_options(options)
        if "max_calls" in options:
            raise ValueError("Setting 'max_calls' is not supported in '.options()'.")
        return FakeRemoteFunction(self._ray, self._fn, {**self._options, **options})


def _check_options(options: dict) -> None:
    for key in options:
        if key not in TASK_OPTIONS:
            raise ValueError(f"Invalid option keyword {key} for remote functions. Valid ones are "
                             f"{sorted(TASK_OPTIONS)}.")


class FakeRay:
    """The `ray` module as sweep.py sees it. `hold` and `die`: ladder names (`hold=True`: every task)."""

    def __init__(self, cpus: float = 2, gpus: float = 0, hold=(), die=(), initialized: bool = False):
        self.cpus, self.gpus = float(cpus), float(gpus)
        self.hold = hold
        self.die = set(die)
        self._initialized = initialized
        self.inits: list[dict] = []  # the keyword arguments of every init
        self.shutdowns = 0
        self.tasks: list[FakeTask] = []  # every task submitted, in order
        self.cancels: list[tuple[FakeTask, bool]] = []  # (task, force)
        self.waits: list[int] = []  # how many refs each `wait` was given
        self.errors: list[BaseException] = []  # what went wrong in the fake's own threads (a test asserts none)
        self._cond = threading.Condition()
        self._one_at_a_time = threading.Lock()

    # ---------------------------------------------------------------- the cluster

    def is_initialized(self) -> bool:
        return self._initialized

    def init(self, address=None, **kwargs) -> None:
        if self._initialized:
            raise RuntimeError("Maybe you called ray.init twice by accident?")
        self.inits.append({"address": address, **kwargs})
        self._initialized = True
        if address in (None, "local"):  # a cluster this call starts has what it was given
            self.cpus = float(kwargs.get("num_cpus") or self.cpus)
            self.gpus = float(kwargs["num_gpus"]) if kwargs.get("num_gpus") is not None else self.gpus
        if threading.current_thread() is threading.main_thread():  # what ray.init does to a driver

            def ray_sigterm(signum, _frame):
                sys.exit(signum)
            signal.signal(signal.SIGTERM, ray_sigterm)

    def shutdown(self) -> None:
        self._initialized = False
        self.shutdowns += 1

    def _connected(self) -> None:
        if not self._initialized:
            raise RuntimeError("fake ray: the driver used the cluster before connecting (init)")

    def cluster_resources(self) -> dict:
        self._connected()
        res = {"CPU": self.cpus, "memory": 8e9, "object_store_memory": 2e9, "node:127.0.0.1": 1.0}
        if self.gpus:  # Ray lists no GPU key on a cluster without GPUs
            res["GPU"] = self.gpus
        return res

    def nodes(self) -> list[dict]:
        self._connected()
        return [{"NodeID": "fa4e" * 14, "Alive": True, "NodeManagerAddress": "127.0.0.1",
                 "NodeManagerHostname": "fake-node", "Resources": self.cluster_resources()}]

    # ---------------------------------------------------------------- tasks

    def remote(self, *args, **options):
        """`ray.remote(fn)` or `ray.remote(**options)(fn)`."""
        if len(args) == 1 and callable(args[0]) and not options:
            return FakeRemoteFunction(self, args[0], {})
        _check_options(options)
        return lambda fn: FakeRemoteFunction(self, fn, dict(options))

    def _submit(self, fn, args, kwargs, options) -> FakeTask:
        self._connected()
        ladder = Path(args[0]).name if args else "?"
        task = FakeTask(fn, args, kwargs, options, held=self.hold is True or ladder in set(self.hold or ()),
                        dies=ladder in self.die)
        task.thread = threading.Thread(target=self._work, args=(task,), name=f"fake-ray-{task.ladder}", daemon=True)
        with self._cond:
            self.tasks.append(task)
        task.thread.start()
        return task

    def _work(self, task: FakeTask) -> None:
        with self._cond:
            task.started.set()
            self._cond.notify_all()
        if not task.gate.wait(SAFETY_S):  # neither released nor cancelled: let it run, so the driver ends
            self.errors.append(AssertionError(f"fake ray: {task} held for {SAFETY_S:g} s, never released nor "
                                              f"cancelled"))
            self.release()
        with self._cond:
            if task.state == "cancelled":
                return
            if task.dies:
                task.state, task.error = "died", WorkerCrashedError()
                self._cond.notify_all()
                return
            task.state = "running"
        with self._one_at_a_time:
            try:
                result, error = task.fn(*task.args, **task.kwargs), None
            except BaseException as e:  # noqa: BLE001 - a task's exception is raised by `get`, as in Ray
                result, error = None, e
        with self._cond:
            task.result = result
            task.error = task.error or error  # cancelled while it ran: get raises TaskCancelledError
            task.state = "cancelled" if isinstance(task.error, TaskCancelledError) else "done"
            self._cond.notify_all()

    def wait(self, refs, num_returns: int = 1, timeout: float | None = None, fetch_local: bool = True):
        refs = list(refs)
        deadline = None if timeout is None else time.monotonic() + timeout
        with self._cond:
            self.waits.append(len(refs))
            self._cond.notify_all()
            while True:
                ready = [r for r in refs if r.finished][:num_returns]
                left = None if deadline is None else deadline - time.monotonic()
                if len(ready) >= num_returns or (left is not None and left <= 0):
                    return ready, [r for r in refs if r not in ready]
                # short slices: a signal handled by another thread must not wait for the whole timeout here
                self._cond.wait(0.05 if left is None else min(0.05, left))

    def get(self, ref, timeout: float | None = None):
        if isinstance(ref, list):
            return [self.get(r, timeout) for r in ref]
        self.wait([ref], 1, timeout)
        if not ref.finished:
            raise TimeoutError(f"fake ray: {ref} not ready within {timeout} s")
        if ref.error is not None:
            raise ref.error
        return ref.result

    def cancel(self, ref: FakeTask, force: bool = False, recursive: bool = True) -> None:
        with self._cond:
            self.cancels.append((ref, force))
            if ref.state in ("held", "pending"):
                ref.state, ref.error = "cancelled", TaskCancelledError(f"Task: {ref.ladder} was cancelled.")
            elif ref.state == "running":
                ref.error = TaskCancelledError(f"Task: {ref.ladder} was cancelled.")
            ref.gate.set()
            self._cond.notify_all()

    # ---------------------------------------------------------------- for the tests

    def task(self, ladder: str) -> FakeTask:
        return next(t for t in self.tasks if t.ladder == ladder)

    def submitted(self) -> list[str]:
        return [t.ladder for t in self.tasks]

    def release(self) -> None:
        """Let every held task run."""
        with self._cond:
            for t in self.tasks:
                if t.state == "held":
                    t.state = "pending"
                t.gate.set()
            self._cond.notify_all()

    def until(self, ready, what: str = "") -> None:
        """Block until `ready(self)` holds (checked whenever a task or the driver moves). Fails after SAFETY_S."""
        deadline = time.monotonic() + SAFETY_S
        with self._cond:
            while not ready(self):
                left = deadline - time.monotonic()
                if left <= 0:
                    raise AssertionError(f"fake ray: never {what or ready}; tasks {self.tasks}, waits {self.waits}")
                self._cond.wait(min(0.1, left))

    def driver_waits_on_held_tasks(self) -> bool:
        """The driver is in its collect loop and every unfinished task is held, its worker started."""
        with self._cond:
            unfinished = [t for t in self.tasks if not t.finished]
            return (bool(unfinished) and all(t.state == "held" and t.started.is_set() for t in unfinished)
                    and bool(self.waits) and self.waits[-1] == len(unfinished))

    def signal_when(self, ready, sig: int) -> threading.Thread:
        """From another thread: once `ready(self)`, send `sig` to this process (os.kill, as `kill` would), then
        wait for every task to end (the driver cancels the held ones). If either never happens, release the held
        tasks so that the driver ends, and keep the error (`errors`)."""
        name = signal.Signals(sig).name

        def send():
            try:
                self.until(ready, f"ready for {name}")
                os.kill(os.getpid(), sig)
                self.until(lambda f: all(t.finished for t in f.tasks), f"cancelling its held tasks after {name}")
            except BaseException as e:  # noqa: BLE001 - reported by the test through `errors`
                self.errors.append(e)
                self.release()
        thread = threading.Thread(target=send, name="fake-ray-signal", daemon=True)
        thread.start()
        return thread

    def close(self) -> list[FakeTask]:
        """The driver is gone: end the tasks it left held (without running their function), join the workers,
        and return the tasks so ended (a driver that stops cancels its own: none)."""
        with self._cond:
            left = [t for t in self.tasks if t.state == "held"]
            for t in left:
                t.state, t.error = "cancelled", TaskCancelledError("fake ray closed")
            for t in self.tasks:
                t.gate.set()
            self._cond.notify_all()
        for t in self.tasks:
            if t.thread is not None:
                t.thread.join(SAFETY_S)
        return left
