"""Which GPUs and cores each parallel worker gets: never a GPU shared by two workers, never a
core shared when cores are pinned, so experiments running side by side neither crash on a
full GPU nor slow each other down (their timings are compared)."""

from __future__ import annotations

import os
import re
import shutil
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

from overnight.errors import UsageError

if TYPE_CHECKING:
    from overnight.config import ResourcesConfig

_GPU_DEVICE = re.compile(r"nvidia(\d+)")  # not nvidiactl, nvidia-uvm, nvidia-modeset
_THREAD_VARIABLES = ("OMP_NUM_THREADS", "MKL_NUM_THREADS", "OPENBLAS_NUM_THREADS")


def visible_gpus(environ: Mapping[str, str] | None = None, dev: Path = Path("/dev")) -> list[str]:
    """The GPU ids this process may hand out, in the form ``CUDA_VISIBLE_DEVICES`` takes.

    ``CUDA_VISIBLE_DEVICES`` wins when set (ids kept as given: indices, ``GPU-…`` or ``MIG-…``
    UUIDs); like CUDA, the list ends at an empty or negative entry, so ``-1`` means none.
    Otherwise each ``/dev/nvidia<N>`` file is a GPU, named by CUDA's index 0…n-1 rather than
    by ``<N>``: a container given only ``/dev/nvidia3`` sees that GPU as device 0."""
    environ = os.environ if environ is None else environ
    listed = environ.get("CUDA_VISIBLE_DEVICES")
    if listed is not None:
        ids: list[str] = []
        for item in (part.strip() for part in listed.split(",")):
            if not item or item.startswith("-"):
                break
            ids.append(item)
        return ids
    try:
        names = [entry.name for entry in dev.iterdir()]
    except OSError:
        return []
    count = sum(1 for name in names if _GPU_DEVICE.fullmatch(name))
    return [str(index) for index in range(count)]


def cpu_cores() -> list[int]:
    """The cores this process may run on: its affinity (a container or ``taskset`` may have
    narrowed it), or every core where the platform cannot say."""
    try:
        return sorted(os.sched_getaffinity(0))
    except AttributeError:  # macOS has no sched_getaffinity
        return list(range(os.cpu_count() or 1))


@dataclass(frozen=True)
class Slot:
    """One worker's share of the machine; empty ``gpus`` or ``cores`` means not restricted."""

    worker: int = 0
    gpus: tuple[str, ...] = ()
    cores: tuple[int, ...] = ()

    def env(self) -> dict[str, str]:
        """Variables for the worker's processes: its GPUs, and thread pools sized to its cores
        (numerical libraries otherwise start one thread per core of the whole machine)."""
        env: dict[str, str] = {}
        if self.gpus:
            env["CUDA_VISIBLE_DEVICES"] = ",".join(self.gpus)
        if self.cores:
            env.update(dict.fromkeys(_THREAD_VARIABLES, str(len(self.cores))))
        return env

    def pin(self, argv: list[str]) -> list[str]:
        """``argv`` run on the worker's cores only, where ``taskset`` is installed."""
        if not self.cores or shutil.which("taskset") is None:
            return list(argv)
        return ["taskset", "-c", _cpu_list(self.cores), *argv]


def assign(
    workers: int, settings: ResourcesConfig, gpus: Sequence[str], cores: Sequence[int]
) -> list[Slot]:
    """Worker ``i`` gets ``gpus[i*g:(i+1)*g]`` and ``cores[i*c:(i+1)*c]``; fewer than the
    workers need is a UsageError before anything starts, not a crash mid-run."""
    per_gpu, per_core = settings.gpus, settings.cpus or 0
    if workers * per_gpu > len(gpus):
        raise UsageError(
            f"workers: {workers} with resources.gpus: {per_gpu} needs"
            f" {_count(workers * per_gpu, 'GPU')}; this machine offers"
            f" {_offer(len(gpus), ','.join(gpus))}: lower workers or resources.gpus"
        )
    if workers * per_core > len(cores):
        raise UsageError(
            f"workers: {workers} with resources.cpus: {per_core} needs"
            f" {_count(workers * per_core, 'core')}; this process may use"
            f" {_offer(len(cores), _cpu_list(cores))}: lower workers or resources.cpus"
        )
    return [
        Slot(
            worker=i,
            gpus=tuple(gpus[i * per_gpu : (i + 1) * per_gpu]),
            cores=tuple(cores[i * per_core : (i + 1) * per_core]),
        )
        for i in range(workers)
    ]


def _count(count: int, noun: str) -> str:
    return f"{count} {noun}{'' if count == 1 else 's'}"


def _offer(count: int, listed: str) -> str:
    return f"{count} ({listed})" if count else "none"


def _cpu_list(cores: Sequence[int]) -> str:
    """Cores as ``taskset -c`` writes them, runs shortened: ``0-3,8,10-11``."""
    runs: list[list[int]] = []
    for core in sorted(cores):
        if runs and core == runs[-1][1] + 1:
            runs[-1][1] = core
        else:
            runs.append([core, core])
    return ",".join(str(a) if a == b else f"{a}-{b}" for a, b in runs)
