"""The fixed part of the faster example: the workload and how it is timed.

It counts the primes below LIMIT a few times and prints the best time (``seconds``, the metric:
CPU time, so that other work on the machine does not make a change look slower) and the peak
memory the count took (``peak_kb``, a secondary metric the config bounds).
"""

import time
import tracemalloc

from primes import count_primes

LIMIT = 60_000  # the workload: fixed here, where no agent can shrink it
ROUNDS = 3

best = float("inf")
for _ in range(ROUNDS):
    started = time.process_time()
    count_primes(LIMIT)
    best = min(best, time.process_time() - started)
tracemalloc.start()
count_primes(LIMIT)
peak = tracemalloc.get_traced_memory()[1]
tracemalloc.stop()
print(f"seconds: {best:.6f}")
print(f"peak_kb: {peak / 1024:.1f}")
