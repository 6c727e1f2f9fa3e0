#!/usr/bin/env python
"""How fast is chapter 03's EEG preprocessing, and where does its time go?

1. Interpolation. EEGLearn draws every topographic frame with `scipy.interpolate.griddata(points, values, grid,
   method='cubic')`: a Delaunay triangulation, an iterative gradient estimate and a point location per call.
   `drl_notes.eeg.topo_grid` computes that Clough–Tocher interpolation once, as a (1024 × 32) matrix, and applies it to
   all frames with one float32 matrix product. A frame here is one band's image: 32 electrode values → 32×32 pixels
   (DEAP's 1280 trials × 63 s × 3 bands make 241,920). Both sides get the same frames of 32 electrode values (DEAP's
   electrodes, standardised-band-power-like random values): griddata on the first `--griddata-frames` of them (time per
   frame), the operator on all `--frames` (time per frame, median of `--reps`, written into a preallocated output; the
   time with a freshly allocated output, which pays for the first touch of its pages, is printed too). Printed: the
   speed-up (target >= 200x), the largest difference relative to the largest value (target <= 1e-6), and what fraction
   of this machine's dense float32 matmul throughput (numpy, and PyTorch for comparison, `--matmul`-sized square
   matrices, the same thread count) the operator reaches, counting 2·frames·1024·32 FLOPs.
2. End-to-end DEAP-size preprocessing. `--subjects` DEAP-format files (`make_deap_like`: Python-2 pickles of
   40 trials × 40 channels × 8064 samples in float64, 103 MB each; generation not counted) are written to a temporary
   folder; then a fresh Python process times: loading each file with the restricted unpickler (`load_deap_subject`),
   band log-powers of 1-s windows (alpha, beta, gamma), the per-band normaliser fitted on a trial-wise training split
   (8 of every subject's 40 videos held out) and applied to all trials, and the frames (trials × 63 × 3 × 32 × 32,
   float32), subject by subject so that at most one subject's raw EEG is in memory. Printed: the time of each stage and
   the total (target < 60 s), and the process's peak resident memory next to its size after the imports. The files
   were just written, so they are read from the page cache; a cold disk adds its read time.

Run from the repository root:  python benchmarks/eeg_preprocessing.py [--frames 100000] [--griddata-frames 200]
[--matmul 2048] [--subjects 32] [--trials 40] [--reps 3] [--threads 1] [--folder DIR]
"""
import argparse, json, os, shutil, statistics, subprocess, sys, tempfile, time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))    # use this checkout's drl_notes

TARGET_SPEEDUP = 200.       # operator vs per-frame griddata, per frame
TARGET_REL_DIFF = 1e-6      # max |operator − griddata| / max |values|
TARGET_TOTAL_S = 60.        # end-to-end DEAP-size preprocessing, seconds
TEST_VIDEOS = 8             # videos per subject held out of the normaliser's statistics in part 2


def parse_args(argv=None):
    p = argparse.ArgumentParser(description="Time chapter 03's preprocessing: the interpolation operator against per-frame griddata, "
                                            "and DEAP-size loading, band powers, normalisation and frames end to end.")
    p.add_argument('--frames', type=int, default=100_000, help='frames given to the operator (default 100000)')
    p.add_argument('--griddata-frames', type=int, default=200, help='of those, frames also drawn with griddata (default 200)')
    p.add_argument('--matmul', type=int, default=2048, help='side of the square float32 matrices of the dense matmul reference (default 2048)')
    p.add_argument('--subjects', type=int, default=32, help='DEAP-format subject files for the end-to-end run (default 32, as DEAP)')
    p.add_argument('--trials', type=int, default=40, help='trials per subject file (default 40, as DEAP; fewer for a smoke run)')
    p.add_argument('--reps', type=int, default=3, help='repetitions of each timed operator and matmul run; the median is reported (default 3)')
    p.add_argument('--threads', type=int, default=1,
                   help="threads of numpy's BLAS and PyTorch (default 1: stable timings on a shared machine; 0 keeps the libraries' defaults)")
    p.add_argument('--folder', help='read existing sXX.dat files from this folder instead of generating them (it is not deleted)')
    p.add_argument('--stage', choices=['e2e'], help=argparse.SUPPRESS)   # internal: part 2's timed run, in a fresh process
    a = p.parse_args(argv)
    for k in ('frames', 'griddata_frames', 'matmul', 'subjects', 'trials', 'reps'):
        if getattr(a, k) < 1: p.error(f"--{k.replace('_', '-')} must be at least 1")
    if a.threads < 0: p.error('--threads must be 0 or more')
    if a.griddata_frames > a.frames: p.error('--griddata-frames must not exceed --frames')
    if a.trials <= TEST_VIDEOS: p.error(f'--trials must be more than {TEST_VIDEOS} (that many videos per subject are held out)')
    if a.folder and not Path(a.folder).is_dir(): p.error(f'--folder {a.folder} is not a folder')
    return a


def limit_threads(n:int):
    "Ask every numerical library of this process (and its children) for n threads; 0 changes nothing."
    if not n: return
    for v in ('OMP_NUM_THREADS', 'OPENBLAS_NUM_THREADS', 'MKL_NUM_THREADS'): os.environ[v] = str(n)
    from threadpoolctl import threadpool_limits
    threadpool_limits(n)
    import torch
    torch.set_num_threads(n)


def peak_rss_mb()->float|None:
    """The process's peak resident memory so far, MB: VmHWM from /proc/self/status on Linux (getrusage's ru_maxrss would
    carry over the parent's size at the fork that started this process), else ru_maxrss; None where neither exists."""
    try:
        for line in Path('/proc/self/status').read_text().splitlines():
            if line.startswith('VmHWM:'): return int(line.split()[1])/2**10
    except OSError: pass
    try: import resource
    except ImportError: return None
    r = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    return r/2**20 if sys.platform == 'darwin' else r/2**10     # bytes on macOS, KiB elsewhere


def median_time(f, reps:int)->float:
    "Median wall time of f() over reps calls."
    ts = []
    for _ in range(reps):
        t = time.perf_counter(); f(); ts.append(time.perf_counter() - t)
    return statistics.median(ts)


def interpolation(a)->dict:
    "Part 1: the operator against per-frame griddata, and the machine's dense matmul throughput."
    import numpy as np, torch
    from drl_notes.eeg import DEAP_CHANNELS, griddata_frames, topo_grid
    t = time.perf_counter(); grid = topo_grid(DEAP_CHANNELS); t_build = time.perf_counter() - t
    C, P = len(DEAP_CHANNELS), grid.size**2
    rng = np.random.default_rng(0)
    v = (rng.normal(size=(a.frames, C))*rng.uniform(0.5, 2, (a.frames, 1)) + rng.normal(0, 1, (a.frames, 1))).astype(np.float32)
    g = a.griddata_frames
    t = time.perf_counter(); ref = griddata_frames(grid, v[:g]); t_gd = (time.perf_counter() - t)/g
    out = np.empty((a.frames, grid.size, grid.size), np.float32)
    grid(v, out=out)                                                        # warm-up; touches the output's pages
    t_op = median_time(lambda: grid(v, out=out), a.reps)/a.frames
    t = time.perf_counter(); fresh = grid(v); t_alloc = (time.perf_counter() - t)/a.frames
    assert np.array_equal(fresh, out); del fresh
    rel = float(np.abs(out[:g] - ref).max()/np.abs(v[:g]).max())
    m = a.matmul
    A, B = rng.standard_normal((m, m), dtype=np.float32), rng.standard_normal((m, m), dtype=np.float32)
    A @ B
    gf_np = 2*m**3/median_time(lambda: A @ B, a.reps)/1e9
    At, Bt = torch.from_numpy(A), torch.from_numpy(B)
    At @ Bt
    gf_torch = 2*m**3/median_time(lambda: At @ Bt, a.reps)/1e9
    gf_op = 2*P*C/t_op/1e9
    return dict(build_s=t_build, griddata_ms=t_gd*1e3, operator_us=t_op*1e6, operator_alloc_us=t_alloc*1e6, speedup=t_gd/t_op,
                speedup_alloc=t_gd/t_alloc, max_rel_diff=rel, matmul_numpy_gflops=gf_np, matmul_torch_gflops=gf_torch,
                operator_gflops=gf_op, fraction_of_numpy_matmul=gf_op/gf_np)


def end_to_end(a)->dict:
    "Part 2's timed run (in a fresh process): load → band powers → normalisation → frames, subject by subject."
    import numpy as np
    from drl_notes.eeg import DEAP_CHANNELS, DEAP_SFREQ, BandNormalizer, band_powers, load_deap_subject, topo_grid
    base = peak_rss_mb()
    files = sorted(Path(a.folder).glob('s[0-9][0-9].dat'))
    if not files: raise SystemExit(f'{a.folder}: no sXX.dat files')
    t0 = time.perf_counter()
    grid = topo_grid(DEAP_CHANNELS)
    t_load = t_bp = 0.
    bps = []
    for f in files:
        t = time.perf_counter(); eeg, _ = load_deap_subject(f, a.trials); t_load += time.perf_counter() - t
        t = time.perf_counter(); bps.append(band_powers(eeg, DEAP_SFREQ)); t_bp += time.perf_counter() - t
        del eeg
    bp = np.concatenate(bps); del bps
    t = time.perf_counter()
    rng = np.random.default_rng(0)
    test = np.concatenate([s*a.trials + rng.choice(a.trials, TEST_VIDEOS, replace=False) for s in range(len(files))])
    train = np.setdiff1d(np.arange(len(bp)), test)
    z = BandNormalizer().fit(bp[train]).transform(bp)
    t_norm = time.perf_counter() - t
    t = time.perf_counter()
    frames = np.empty(z.shape[:3] + (grid.size, grid.size), np.float32)
    grid(z, out=frames)
    t_frames = time.perf_counter() - t
    total = time.perf_counter() - t0
    assert np.isfinite(frames).all()
    return dict(subjects=len(files), load_s=t_load, band_powers_s=t_bp, normalise_s=t_norm, frames_s=t_frames, total_s=total,
                peak_rss_mb=peak_rss_mb(), rss_after_imports_mb=base, frames_shape=list(frames.shape), frames_mb=frames.nbytes/2**20)


def main(argv=None):
    a = parse_args(argv)
    limit_threads(a.threads)
    if a.stage == 'e2e':
        print(json.dumps(end_to_end(a))); return
    import numpy as np, scipy, torch
    from drl_notes.eeg import make_deap_like
    threads = torch.get_num_threads()
    print(f"EEG preprocessing benchmark (chapter 03): {a.threads or 'default'} thread(s) asked (PyTorch uses {threads}), "
          f"numpy {np.__version__}, scipy {scipy.__version__}, torch {torch.__version__}")

    r1 = interpolation(a)
    print(f"1. interpolation onto 32×32, DEAP's 32 electrodes: the precomputed operator (built in {r1['build_s']*1e3:.0f} ms) "
          f"vs one griddata(..., method='cubic') per frame")
    print(f"griddata : {r1['griddata_ms']:.3f} ms per frame ({a.griddata_frames} frames)")
    print(f"operator : {r1['operator_us']:.3f} µs per frame ({a.frames} frames into a preallocated float32 array, median of {a.reps}); "
          f"{r1['operator_alloc_us']:.3f} µs with a freshly allocated output")
    ok_speed, ok_diff = r1['speedup'] >= TARGET_SPEEDUP, r1['max_rel_diff'] <= TARGET_REL_DIFF
    print(f"speed-up: {r1['speedup']:.0f}x -> {'meets' if ok_speed else 'MISSES'} the target (>= {TARGET_SPEEDUP:g}x); "
          f"{r1['speedup_alloc']:.0f}x with a freshly allocated output")
    print(f"max |operator - griddata| / max |values|: {r1['max_rel_diff']:.1e} -> {'meets' if ok_diff else 'MISSES'} the target (<= {TARGET_REL_DIFF:g})")
    print(f"dense float32 matmul {a.matmul}×{a.matmul}: numpy {r1['matmul_numpy_gflops']:.1f} GFLOP/s, torch {r1['matmul_torch_gflops']:.1f} GFLOP/s")
    print(f"operator: {r1['operator_gflops']:.1f} GFLOP/s (2·frames·1024·32 FLOPs) = {100*r1['fraction_of_numpy_matmul']:.0f} % of numpy's dense matmul")

    print(f"2. end-to-end DEAP-size preprocessing: {a.subjects} subject(s) × {a.trials} trials × 63 s × 40 channels, timed in a fresh process")
    folder = Path(a.folder) if a.folder else Path(tempfile.mkdtemp(prefix='drl_notes_deap_'))
    try:
        if not a.folder:
            t = time.perf_counter(); files = make_deap_like(folder, a.subjects, a.trials, seed=0); t_gen = time.perf_counter() - t
            print(f"generated {len(files)} DEAP-format file(s) ({sum(f.stat().st_size for f in files)/1e9:.2f} GB) in {t_gen:.1f} s (not counted)")
        else: t_gen = None
        r = subprocess.run([sys.executable, __file__, '--stage', 'e2e', '--folder', str(folder), '--trials', str(a.trials),
                            '--threads', str(a.threads)], capture_output=True, text=True)
        if r.returncode: raise SystemExit(f'the end-to-end run failed:\n{r.stderr}')
        r2 = json.loads(r.stdout.strip().splitlines()[-1])
    finally:
        if not a.folder: shutil.rmtree(folder, ignore_errors=True)
    ok_total = r2['total_s'] < TARGET_TOTAL_S
    print(f"load (restricted unpickler) {r2['load_s']:.1f} s | band powers {r2['band_powers_s']:.1f} s | normalisation {r2['normalise_s']:.2f} s | "
          f"frames {r2['frames_s']:.2f} s")
    print(f"total: {r2['total_s']:.1f} s -> {'meets' if ok_total else 'MISSES'} the target (< {TARGET_TOTAL_S:g} s)")
    rss = lambda x: 'n/a' if x is None else f'{x:.0f} MB'
    print(f"peak memory: {rss(r2['peak_rss_mb'])} resident ({rss(r2['rss_after_imports_mb'])} after the imports); "
          f"frames {tuple(r2['frames_shape'])} float32 = {r2['frames_mb']:.0f} MB")
    summary = dict(threads=a.threads, torch_threads=threads, frames=a.frames, griddata_frames=a.griddata_frames, reps=a.reps,
                   **{k: float(f'{v:.6g}') if isinstance(v, float) else v for k, v in r1.items()},
                   meets_speedup=ok_speed, meets_diff=ok_diff, trials=a.trials, generate_s=None if t_gen is None else round(t_gen, 2),
                   **{f'e2e_{k}': float(f'{v:.6g}') if isinstance(v, float) else v for k, v in r2.items()}, meets_total=ok_total)
    print(json.dumps(summary))
    return summary


if __name__ == '__main__':
    main()
