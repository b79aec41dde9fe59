"""Resource assignment: the GPUs and cores the machine offers, split so that no two workers
share one, and the environment and command prefix that confine a worker to its share."""

import os
import shutil
import stat
import subprocess
import sys

import pytest

from overnight.config import ResourcesConfig
from overnight.engine.resources import Slot, assign, cpu_cores, visible_gpus
from overnight.errors import UsageError


def fake_dev(tmp_path, *names):
    dev = tmp_path / "dev"
    dev.mkdir()
    for name in names:
        (dev / name).touch()
    return dev


def test_gpus_are_the_nvidia_device_files_counted_as_cuda_indices(tmp_path):
    dev = fake_dev(
        tmp_path, "nvidia0", "nvidia1", "nvidia10", "nvidiactl", "nvidia-uvm", "nvidia-modeset"
    )

    assert visible_gpus({}, dev) == ["0", "1", "2"]


def test_a_container_given_one_high_numbered_gpu_sees_it_as_device_0(tmp_path):
    dev = fake_dev(tmp_path, "nvidia3", "nvidiactl", "nvidia-uvm")

    assert visible_gpus({}, dev) == ["0"]


def test_no_nvidia_device_files_means_no_gpu(tmp_path):
    assert visible_gpus({}, fake_dev(tmp_path, "nvidiactl", "nvidia-uvm", "null")) == []
    assert visible_gpus({}, tmp_path / "missing") == []


@pytest.mark.parametrize(
    ("listed", "expected"),
    [
        ("2,0", ["2", "0"]),
        (" 1 , 3 ", ["1", "3"]),
        ("", []),
        ("-1", []),
        ("0,-1,1", ["0"]),
        (
            "GPU-8e3f2b1a-0000-1111-2222-333344445555,MIG-5c1d9e77-aaaa-bbbb-cccc-ddddeeeeffff",
            [
                "GPU-8e3f2b1a-0000-1111-2222-333344445555",
                "MIG-5c1d9e77-aaaa-bbbb-cccc-ddddeeeeffff",
            ],
        ),
    ],
)
def test_cuda_visible_devices_wins_over_the_device_files(tmp_path, listed, expected):
    dev = fake_dev(tmp_path, "nvidia0", "nvidia1", "nvidia2", "nvidia3")

    assert visible_gpus({"CUDA_VISIBLE_DEVICES": listed}, dev) == expected


def test_visible_gpus_reads_the_process_environment_by_default(tmp_path, monkeypatch):
    monkeypatch.setenv("CUDA_VISIBLE_DEVICES", "5,7")

    assert visible_gpus(dev=fake_dev(tmp_path)) == ["5", "7"]


def test_cpu_cores_are_the_process_affinity():
    cores = cpu_cores()

    assert cores == sorted(set(cores))
    if hasattr(os, "sched_getaffinity"):
        assert set(cores) == os.sched_getaffinity(0)


def test_cpu_cores_without_affinity_fall_back_to_every_core(monkeypatch):
    monkeypatch.delattr(os, "sched_getaffinity", raising=False)
    monkeypatch.setattr(os, "cpu_count", lambda: 4)

    assert cpu_cores() == [0, 1, 2, 3]


def test_four_workers_get_disjoint_gpus_and_cores():
    gpus = [f"GPU-{i}" for i in range(8)]
    cores = list(range(16))

    slots = assign(4, ResourcesConfig(gpus=2, cpus=3), gpus, cores)

    assert [slot.worker for slot in slots] == [0, 1, 2, 3]
    assert [slot.gpus for slot in slots] == [
        ("GPU-0", "GPU-1"),
        ("GPU-2", "GPU-3"),
        ("GPU-4", "GPU-5"),
        ("GPU-6", "GPU-7"),
    ]
    assert [slot.cores for slot in slots] == [(0, 1, 2), (3, 4, 5), (6, 7, 8), (9, 10, 11)]
    all_gpus = [gpu for slot in slots for gpu in slot.gpus]
    all_cores = [core for slot in slots for core in slot.cores]
    assert len(set(all_gpus)) == len(all_gpus)
    assert len(set(all_cores)) == len(all_cores)


def test_by_default_workers_get_no_gpu_and_are_not_pinned():
    slots = assign(3, ResourcesConfig(), ["0", "1"], [0, 1])

    assert [(slot.gpus, slot.cores) for slot in slots] == [((), ())] * 3
    assert all(slot.env() == {} for slot in slots)
    assert all(slot.pin(["python", "train.py"]) == ["python", "train.py"] for slot in slots)


def test_exactly_enough_gpus_and_cores_is_enough():
    slots = assign(2, ResourcesConfig(gpus=1, cpus=2), ["0", "1"], [4, 5, 6, 7])

    assert [(slot.gpus, slot.cores) for slot in slots] == [(("0",), (4, 5)), (("1",), (6, 7))]


def test_too_few_gpus_names_the_fields_and_what_the_machine_offers():
    with pytest.raises(UsageError) as caught:
        assign(4, ResourcesConfig(gpus=1), ["0", "1"], list(range(8)))

    assert str(caught.value) == (
        "workers: 4 with resources.gpus: 1 needs 4 GPUs; this machine offers 2 (0,1):"
        " lower workers or resources.gpus"
    )


def test_asking_for_gpus_on_a_machine_without_any():
    with pytest.raises(UsageError) as caught:
        assign(1, ResourcesConfig(gpus=1), [], [0])

    assert str(caught.value) == (
        "workers: 1 with resources.gpus: 1 needs 1 GPU; this machine offers none:"
        " lower workers or resources.gpus"
    )


def test_too_few_cores_names_the_fields_and_the_cores_in_ranges():
    with pytest.raises(UsageError) as caught:
        assign(4, ResourcesConfig(cpus=4), [], [0, 1, 2, 3, 8, 10, 11])

    assert str(caught.value) == (
        "workers: 4 with resources.cpus: 4 needs 16 cores; this process may use 7"
        " (0-3,8,10-11): lower workers or resources.cpus"
    )
    assert "\n" not in str(caught.value)


def test_env_sets_the_gpus_and_sizes_thread_pools_to_the_cores():
    slot = Slot(worker=1, gpus=("GPU-a", "MIG-b"), cores=(4, 5, 6))

    assert slot.env() == {
        "CUDA_VISIBLE_DEVICES": "GPU-a,MIG-b",
        "OMP_NUM_THREADS": "3",
        "MKL_NUM_THREADS": "3",
        "OPENBLAS_NUM_THREADS": "3",
    }


def test_env_without_gpus_leaves_cuda_visible_devices_alone():
    env = Slot(worker=0, gpus=(), cores=(0, 1)).env()

    assert "CUDA_VISIBLE_DEVICES" not in env
    assert env["OMP_NUM_THREADS"] == "2"


def put_taskset_on_path(tmp_path, monkeypatch):
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    taskset = bin_dir / "taskset"
    taskset.write_text("#!/bin/sh\nexit 0\n")
    taskset.chmod(taskset.stat().st_mode | stat.S_IXUSR)
    monkeypatch.setenv("PATH", str(bin_dir))


def test_pin_prefixes_taskset_with_the_cores(tmp_path, monkeypatch):
    put_taskset_on_path(tmp_path, monkeypatch)
    slot = Slot(worker=2, gpus=(), cores=(8, 9, 10, 11, 14))
    argv = ["python", "train.py", "--fast"]

    assert slot.pin(argv) == ["taskset", "-c", "8-11,14", "python", "train.py", "--fast"]
    assert argv == ["python", "train.py", "--fast"]


def test_pin_without_taskset_runs_the_command_unpinned(tmp_path, monkeypatch):
    monkeypatch.setenv("PATH", str(tmp_path))

    assert Slot(worker=0, gpus=(), cores=(0, 1)).pin(["make", "eval"]) == ["make", "eval"]


def test_pin_without_pinned_cores_leaves_the_command_alone(tmp_path, monkeypatch):
    put_taskset_on_path(tmp_path, monkeypatch)

    assert Slot(worker=0, gpus=("0",), cores=()).pin(["make", "eval"]) == ["make", "eval"]


@pytest.mark.skipif(shutil.which("taskset") is None, reason="taskset is not installed")
def test_a_pinned_command_really_runs_on_its_cores_only():
    core = cpu_cores()[-1]
    slot = Slot(worker=0, gpus=(), cores=(core,))
    argv = [sys.executable, "-c", "import os; print(sorted(os.sched_getaffinity(0)))"]

    result = subprocess.run(slot.pin(argv), capture_output=True, text=True, timeout=60)

    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == f"[{core}]"
