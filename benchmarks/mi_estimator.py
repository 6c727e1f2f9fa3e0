#!/usr/bin/env python
"""How fast is chapter 02's MI indicator (Algorithm 3-1, corrected and vectorised), and what does the sharper
Monte-Carlo estimate cost?

Input: posteriors of M data points over H factors, as an encoder returns them (float32 means μ and log-variances),
drawn at random with a fixed seed: half the factors "used" (μ ~ N(0, 1), log σ ~ U(−4, −1)), half at the prior.

* vectorised: `drl_notes.mi.mi_indicator(mu, logvar)` on the whole (M, H) array (float64 inside);
* streamed:   `MIAccumulator` fed batches of 500, as `vae_mi` does over a DataLoader (O(H) memory);
* per-sample loop: the algorithm as printed — a first pass over the data points for σ*, a second one summing each
              point's KL(q(z|x^m) ‖ q*) — with one NumPy operation over the H factors per data point;
* nested loop: the same with a Python loop over the factors too (the printed algorithm's double loop, plain floats);
              both loops' results are checked against the vectorised one;
* Monte Carlo: `drl_notes.vae.kl_decomposition(mu, logvar, n_samples=1)` (the exact finite mixture q_M, O(M²H)) at
              a few sizes M, each also given per (M² H) so other sizes can be estimated (sizes above 2,000 are timed
              once, without a warm-up).

Each timing is the median of `--reps` repetitions after one warm-up. Target: the indicator on 10,000 × 128 posteriors
in milliseconds. Run from the repository root:
    python benchmarks/mi_estimator.py [--m 10000] [--h 128] [--reps 5] [--mc-points 500 1000 2000] [--threads 1]
"""
import argparse, json, statistics, sys, time, warnings
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))    # use this checkout's drl_notes
warnings.filterwarnings('ignore', message='`torch.jit.script` is deprecated')


def parse_args(argv=None):
    p = argparse.ArgumentParser(description="Time chapter 02's MI indicator (vectorised, streamed) against a per-sample loop, "
                                            "and the Monte-Carlo MI with the exact finite mixture.")
    p.add_argument('--m', type=int, default=10_000, help='data points M (default 10,000)')
    p.add_argument('--h', type=int, default=128, help='factors H (default 128)')
    p.add_argument('--reps', type=int, default=5, help='timed repetitions of the fast estimators (default 5; the loop and Monte Carlo: min(reps, 3))')
    p.add_argument('--mc-points', type=int, nargs='*', default=[500, 1000, 2000],
                   help='sizes M for the Monte-Carlo estimate (default 500 1000 2000; 10000 takes about a minute); none skips it')
    p.add_argument('--threads', type=int, default=1, help="PyTorch CPU threads (default 1; 0 keeps PyTorch's default)")
    a = p.parse_args(argv)
    for k in ('m', 'h', 'reps'):
        if getattr(a, k) < 1: p.error(f'--{k} must be at least 1')
    if a.threads < 0: p.error('--threads must be 0 or more')
    if any(n < 2 for n in a.mc_points): p.error('--mc-points must be at least 2 each')
    return a


def median_time(fn, reps:int, warmup:bool=True)->float:
    "Median wall time of fn() in seconds over `reps` runs, after one warm-up run (unless `warmup` is False)."
    if warmup: fn()
    ts = []
    for _ in range(reps):
        t = time.perf_counter(); fn(); ts.append(time.perf_counter() - t)
    return statistics.median(ts)


def main(argv=None):
    a = parse_args(argv)
    import numpy as np, torch
    if a.threads: torch.set_num_threads(a.threads)
    from drl_notes.mi import MIAccumulator, mi_indicator
    from drl_notes.vae import kl_decomposition

    g = torch.Generator().manual_seed(0)
    used = torch.arange(a.h) < a.h//2
    mu = torch.where(used, torch.randn(a.m, a.h, generator=g), 0.05*torch.randn(a.m, a.h, generator=g)).float()
    lv = torch.where(used, -1 - 3*torch.rand(a.m, a.h, generator=g), 0.02*torch.randn(a.m, a.h, generator=g)).float()

    def streamed():
        acc = MIAccumulator()
        for i in range(0, a.m, 500): acc.update(mu[i:i+500], lv[i:i+500])
        return acc.mi

    def loop():
        m, v = mu.numpy().astype(np.float64), np.exp(lv.numpy().astype(np.float64))
        s = np.zeros(a.h)
        for i in range(a.m): s += v[i] + m[i]**2
        s /= a.m
        out = np.zeros(a.h)
        for i in range(a.m): out += 0.5*(np.log(s/v[i]) + (v[i] + m[i]**2)/s - 1)
        return out/a.m

    def nested():
        import math
        m, v = mu.double().tolist(), lv.double().exp().tolist()
        s = [sum(v[i][h] + m[i][h]**2 for i in range(a.m))/a.m for h in range(a.h)]
        return np.array([sum(0.5*(math.log(s[h]/v[i][h]) + (v[i][h] + m[i][h]**2)/s[h] - 1) for i in range(a.m))/a.m for h in range(a.h)])

    ref = mi_indicator(mu, lv).numpy()
    err = max(np.abs(streamed().numpy() - ref).max(), np.abs(loop() - ref).max(), np.abs(nested() - ref).max())
    t_vec, t_stream, t_loop = median_time(lambda: mi_indicator(mu, lv), a.reps), median_time(streamed, a.reps), median_time(loop, min(a.reps, 3))
    t_nested = median_time(nested, 1, warmup=False)
    print(f'posteriors: M = {a.m:,} data points × H = {a.h} factors (float32), torch threads {torch.get_num_threads()}')
    print(f'vectorised mi_indicator : {1e3*t_vec:9.2f} ms')
    print(f'streamed (batches of 500): {1e3*t_stream:9.2f} ms')
    print(f'per-sample loop (NumPy)  : {1e3*t_loop:9.2f} ms   ({t_loop/t_vec:.0f}× the vectorised time)')
    print(f'nested loop (pure Python): {1e3*t_nested:9.2f} ms   ({t_nested/t_vec:.0f}× the vectorised time)')
    print(f'largest difference between the four: {err:.2e} nats')
    mc = {}
    for n in a.mc_points:
        mc[n] = median_time(lambda: kl_decomposition(mu[:n], lv[:n], n_samples=1), min(a.reps, 3) if n <= 2000 else 1, warmup=n <= 2000)
        print(f'Monte-Carlo MI, exact finite mixture, M = {n:>6,}: {mc[n]:8.3f} s   ({mc[n]/mi_indicator(mu[:n], lv[:n]).numel():.2e} s per factor; '
              f'{1e9*mc[n]/(n*n*a.h):.2f} ns per M²H)')
    summary = dict(m=a.m, h=a.h, threads=torch.get_num_threads(), vectorised_ms=1e3*t_vec, streamed_ms=1e3*t_stream, loop_ms=1e3*t_loop,
                   nested_ms=1e3*t_nested, loop_over_vectorised=t_loop/t_vec, nested_over_vectorised=t_nested/t_vec, max_difference=float(err), monte_carlo_s={str(k): v for k, v in mc.items()})
    print(json.dumps(summary))


if __name__ == '__main__': main()
