"""The correctness check of the faster example: the count must be right, at every size."""

from primes import count_primes

KNOWN = {0: 0, 2: 0, 3: 1, 10: 4, 100: 25, 1_000: 168, 10_000: 1_229, 60_000: 6_057}

for limit, expected in KNOWN.items():
    found = count_primes(limit)
    assert found == expected, f"count_primes({limit}) is {found}, expected {expected}"
print("all counts right")
