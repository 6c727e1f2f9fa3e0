"""The part every benchmark script shares: common arguments, timing a fastai Learner against a plain PyTorch loop
(alternating which side goes first, medians of repetitions), and the printed report ending in one JSON line."""
import json, statistics, time

TARGET_OVERHEAD = 15.  # percent: the Learner may cost at most this much more time than the plain loop


def add_common_args(p, epochs:int, bs:int):
    "--epochs, --reps, --bs and --threads."
    p.add_argument('--epochs', type=int, default=epochs, help=f'timed epochs per repetition and side (default {epochs})')
    p.add_argument('--reps', type=int, default=3, help='repetitions, alternating which side runs first (default 3)')
    p.add_argument('--bs', type=int, default=bs, help=f'batch size (default {bs})')
    p.add_argument('--threads', type=int, default=1,
                   help="PyTorch CPU threads (default 1: stable timings on a shared machine; 0 keeps PyTorch's default)")


def check_positive(p, a, *names):
    "Exit with a usage error unless each named argument is at least 1 and --threads is not negative."
    for k in names:
        if getattr(a, k) < 1: p.error(f"--{k.replace('_', '-')} must be at least 1")
    if a.threads < 0: p.error('--threads must be 0 or more')


def set_threads(n:int):
    "Give PyTorch and numpy's BLAS alike `n` CPU threads (0 keeps the defaults)."
    if not n: return
    import torch
    from threadpoolctl import threadpool_limits
    torch.set_num_threads(n)
    threadpool_limits(n)


def time_sides(run_learner, run_plain, epochs:int, reps:int, sync=lambda: None)->dict:
    "Seconds per `epochs` epochs for each side, `reps` times, after one warm-up epoch each, order alternating."
    def timed(run):
        sync(); t = time.perf_counter(); run(epochs); sync(); return time.perf_counter() - t
    run_learner(1); run_plain(1)
    times = {'learner': [], 'plain': []}
    for r in range(reps):
        for side in (('learner', 'plain') if r % 2 == 0 else ('plain', 'learner')):
            times[side].append(timed(run_learner if side == 'learner' else run_plain))
    return times


def report(title:str, context:list, times:dict, per_epoch:int, unit:str, epochs:int, summary:dict)->float:
    "Print the comparison (throughput in `unit`/s, ratio, overhead against the target) and a JSON summary; return the ratio."
    med = {k: statistics.median(v) for k, v in times.items()}
    rate = {k: per_epoch * epochs / v for k, v in med.items()}
    ratio = med['learner'] / med['plain']
    overhead = 100 * (ratio - 1)
    ok = overhead <= TARGET_OVERHEAD
    print(title)
    for line in context: print(line)
    print(f'fastai Learner: {med["learner"]:8.3f} s per {epochs} epoch(s) = {rate["learner"]:8.1f} {unit}/s')
    print(f'plain PyTorch : {med["plain"]:8.3f} s per {epochs} epoch(s) = {rate["plain"]:8.1f} {unit}/s')
    print(f'ratio (Learner / plain): {ratio:.3f}')
    print(f'overhead: {overhead:+.1f} % -> {"meets" if ok else "MISSES"} the target (overhead <= {TARGET_OVERHEAD:g} %)')
    print(json.dumps(dict(**summary, epochs=epochs, reps=len(times['learner']), **{f'{unit}_per_epoch': per_epoch},
                          learner_s=[round(t, 4) for t in times['learner']], plain_s=[round(t, 4) for t in times['plain']],
                          **{f'learner_{unit}_per_s': round(rate['learner'], 1), f'plain_{unit}_per_s': round(rate['plain'], 1)},
                          ratio=round(ratio, 4), overhead_pct=round(overhead, 2), meets_target=ok)))
    return ratio
