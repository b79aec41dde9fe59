"""The editable part of the faster example: count the primes below a limit, in plain Python.

The search agent tries the constants below; an LLM or a coding agent may rewrite the function.
What must not change is the answer: test_primes.py (frozen) checks it for every winner, and
bench.py (frozen) fixes the workload, so a change can only win by doing the same job faster.
"""

import math

METHOD = "trial"  # trial: divide by every odd number up to the root; sieve: Eratosthenes
ROOT_FRACTION = 1.0  # how far to the square root divisors are tried: less is faster, and wrong


def count_primes(limit: int) -> int:
    """How many primes are below ``limit``."""
    if limit <= 2:
        return 0
    if METHOD == "sieve":
        return _sieve(limit)
    return 1 + sum(_is_odd_prime(n) for n in range(3, limit, 2))  # 1: the even prime, 2


def _largest_divisor_to_try(n: int) -> int:
    return int(math.isqrt(n) * ROOT_FRACTION)


def _is_odd_prime(n: int) -> bool:
    last = _largest_divisor_to_try(n)
    divisor = 3
    while divisor <= last:
        if n % divisor == 0:
            return False
        divisor += 2
    return True


def _sieve(limit: int) -> int:
    composite = bytearray(limit)
    for n in range(2, _largest_divisor_to_try(limit - 1) + 1):
        if not composite[n]:
            composite[n * n : limit : n] = b"\x01" * len(range(n * n, limit, n))
    return limit - 2 - sum(composite[2:])
