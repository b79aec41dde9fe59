"""A Ray cluster of two nodes on loopback, for the tests of the Ray executor.

``ray start`` turns ``--node-ip-address 127.0.0.1`` into the machine's outward address (it
expects nodes on other machines); tests must stay on loopback, so each node is started through
this module, which keeps the address as given. Both nodes then listen on 127.0.0.1 only.

    python ray_cluster.py start --head --node-ip-address 127.0.0.1 ...
"""

from __future__ import annotations

import contextlib
import os
import signal
import socket
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path

# the driver (the harness under test) reads this at import: a Linux process then keeps
# 127.0.0.1 as its own address instead of looking for an outward one
DRIVER_ENV = {"RAY_ENABLE_WINDOWS_OR_OSX_CLUSTER": "0", "RAY_USAGE_STATS_ENABLED": "0"}
# a dead node is noticed within about two seconds, not thirty
HEAD_ENV = {
    "RAY_health_check_initial_delay_ms": "0",
    "RAY_health_check_period_ms": "500",
    "RAY_health_check_timeout_ms": "500",
    "RAY_health_check_failure_threshold": "3",
}
MEMORY = str(100 * 1024 * 1024)  # each node's object store: the least Ray accepts


@dataclass
class Cluster:
    address: str
    head: subprocess.Popen[bytes]  # each node in a process group of its own
    second: subprocess.Popen[bytes]

    def kill_second_node(self) -> None:
        """The second node dies at once, as a machine that loses power would."""
        _kill(self.second)


def start(log_dir: Path, head_cpus: int, second_cpus: int) -> Cluster:
    port = _free_port()
    address = f"127.0.0.1:{port}"
    env = {k: v for k, v in os.environ.items() if k not in DRIVER_ENV}  # for drivers only
    env["RAY_USAGE_STATS_ENABLED"] = "0"
    common = ["--block", "--node-ip-address", "127.0.0.1", "--object-store-memory", MEMORY]
    head = [
        *("--head", "--port", str(port), "--include-dashboard", "false"),
        *("--disable-usage-stats", "--num-cpus", str(head_cpus)),
    ]
    cluster = Cluster(
        address,
        _node([*head, *common], {**env, **HEAD_ENV}, log_dir / "head.log"),
        _node(
            ["--address", address, "--num-cpus", str(second_cpus), *common],
            env,
            log_dir / "second.log",
        ),
    )
    try:
        _wait_for_nodes(address, 2)
    except TimeoutError:
        stop(cluster)
        logs = "".join((log_dir / n).read_text()[-2000:] for n in ("head.log", "second.log"))
        raise TimeoutError(f"the Ray cluster at {address} did not start:\n{logs}") from None
    return cluster


def stop(cluster: Cluster) -> None:
    """Both nodes end with everything they started; other Ray clusters on the machine stay."""
    _kill(cluster.second)
    _kill(cluster.head)


def _node(args: list[str], env: dict[str, str], log: Path) -> subprocess.Popen[bytes]:
    with log.open("wb") as out:
        return subprocess.Popen(
            [sys.executable, __file__, "start", *args],
            env=env,
            stdout=out,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )


def _kill(node: subprocess.Popen[bytes]) -> None:
    if node.poll() is None:
        with contextlib.suppress(ProcessLookupError):
            os.killpg(node.pid, signal.SIGKILL)
        node.wait()


def _wait_for_nodes(address: str, count: int, timeout_s: float = 90.0) -> None:
    probe = (
        "import ray, sys\n"
        f"ray.init(address={address!r}, log_to_driver=False)\n"
        "sys.exit(0 if sum(n['Alive'] for n in ray.nodes()) >= int(sys.argv[1]) else 1)\n"
    )
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        done = subprocess.run(
            [sys.executable, "-c", probe, str(count)],
            env={**os.environ, **DRIVER_ENV},
            capture_output=True,
            timeout=60,
        )
        if done.returncode == 0:
            return
        time.sleep(1)
    raise TimeoutError(f"the Ray cluster at {address} did not reach {count} nodes")


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


if __name__ == "__main__":
    import ray._private.services as services
    from ray.scripts.scripts import main

    services.resolve_ip_for_localhost = lambda host: host  # keep 127.0.0.1
    sys.argv = ["ray", *sys.argv[1:]]
    main()
