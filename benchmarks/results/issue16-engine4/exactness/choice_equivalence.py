import numpy as np

rng = np.random.default_rng(5)
rng2 = np.random.default_rng(5)
bad = 0
for t in range(20000):
    n = int(rng.integers(1, 40)) if t % 2 else int(rng.integers(1, 3000))
    g = rng.integers(1, 1200, n).astype(float)
    rng2.bit_generator.state = rng.bit_generator.state
    a = int(rng.choice(n, p=g / g.sum()))
    p = g / g.sum()
    cdf = np.cumsum(p)
    cdf /= cdf[-1]
    b = int(np.searchsorted(cdf, rng2.random(), side="right"))
    if a != b or rng.bit_generator.state != rng2.bit_generator.state:
        bad += 1
print("bad", bad)
