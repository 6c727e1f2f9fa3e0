#!/usr/bin/env python
"""What does each way of computing an RNN's gradient cost? Chapter 04's hand-written BPTT, autograd's, and RTRL.

Input: chapter 04's RNN (`drl_notes.rnn.init_rnn`, d = 4 inputs, 5 classes, W with singular values 0.9) on random
sequences, float64. Two sweeps:

* state size n at fixed length T: BPTT's work grows as n² per step, RTRL's as n⁴ (W times the n × (n² + nd + n)
  sensitivities), so their ratio should grow about as n²;
* length T at fixed n: all three grow linearly in T (RTRL stores nothing per step, BPTT stores the T states).

Each cell is the fastest of `--reps` timings (a Python loop over time sets the times for small n). Printed: both tables,
the growth exponents (slope of log time against log n or log T) and one JSON line with everything. Run from the
repository root:
    python benchmarks/rnn_gradients.py [--ns 8 16 32 64] [--T 50] [--Ts 25 50 100 200] [--n 16] [--reps 3] [--threads 1]
"""
import argparse, json, sys, warnings
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))    # use this checkout's drl_notes
warnings.filterwarnings('ignore', message='`torch.jit.script` is deprecated')


def parse_args(argv=None):
    p = argparse.ArgumentParser(description="Time chapter 04's hand-written BPTT, autograd and RTRL as the state size and the length grow.")
    p.add_argument('--ns', type=int, nargs='+', default=[8, 16, 32, 64], help='state sizes n of the first sweep (default 8 16 32 64)')
    p.add_argument('--T', type=int, default=50, help='sequence length of the first sweep (default 50)')
    p.add_argument('--Ts', type=int, nargs='+', default=[25, 50, 100, 200], help='lengths of the second sweep (default 25 50 100 200)')
    p.add_argument('--n', type=int, default=16, help='state size of the second sweep (default 16)')
    p.add_argument('--reps', type=int, default=3, help='timings per cell, the fastest counts (default 3)')
    p.add_argument('--threads', type=int, default=1, help="PyTorch CPU threads (default 1; 0 keeps PyTorch's default)")
    a = p.parse_args(argv)
    for k in ('T', 'n', 'reps'):
        if getattr(a, k) < 1: p.error(f'--{k} must be at least 1')
    if any(v < 1 for v in a.ns + a.Ts): p.error('--ns and --Ts must be at least 1 each')
    if len(a.ns) < 2 or len(a.Ts) < 2: p.error('--ns and --Ts need at least two values each (a growth exponent needs two points)')
    if a.threads < 0: p.error('--threads must be 0 or more')
    return a


def main(argv=None):
    a = parse_args(argv)
    import pandas as pd, torch
    if a.threads: torch.set_num_threads(a.threads)
    torch.set_default_dtype(torch.float64)
    from drl_notes.rnn import gradient_costs, growth_exponent
    by_n = gradient_costs(tuple(a.ns), a.T, a.reps)
    by_T = pd.concat([gradient_costs((a.n,), T, a.reps).assign(T=T).set_index('T') for T in a.Ts])
    cols = ['bptt_s', 'autograd_s', 'rtrl_s', 'rtrl / bptt']
    print(f'seconds per gradient, T = {a.T}:')
    print(by_n[cols].to_string(float_format=lambda v: f'{v:.4g}'))
    print(f'\nseconds per gradient, n = {a.n}:')
    print(by_T[cols].to_string(float_format=lambda v: f'{v:.4g}'))
    exps = {f'{k} vs n': growth_exponent(by_n.index, by_n[f'{k}_s']) for k in ('bptt', 'autograd', 'rtrl')}
    exps.update({f'{k} vs T': growth_exponent(by_T.index, by_T[f'{k}_s']) for k in ('bptt', 'autograd', 'rtrl')})
    print('\ngrowth exponents (time ∝ size^e): ' + ', '.join(f'{k} {v:.2f}' for k, v in exps.items()))
    print(json.dumps(dict(T=a.T, n=a.n, ns=a.ns, Ts=a.Ts, reps=a.reps, threads=a.threads, exponents=exps,
                          by_n=by_n[cols].reset_index().to_dict('records'), by_T=by_T[cols].reset_index().to_dict('records'))))


if __name__ == '__main__': main()
