#!/usr/bin/env python
"""How much does training the runoff chapter's deep LSTM through a fastai `Learner` cost, compared with a plain
PyTorch loop doing the same work?

Both sides train the same architecture (`RunoffLSTM(2, hidden)`, from the same initial weights) on the same
`WindowDataset`s of a series (default: the shipped Leaf River series with `PERIODS['leaf']`), with the same batch
size, loss (`LastNMSE(n_pred)`), learning rate and Adam settings, and one validation pass per epoch:

* Learner: `Learner(data.dls(bs), model, loss_func=LastNMSE(n_pred), opt_func=partial(Adam, sqr_mom=0.999, eps=1e-8,
  wd=0.))` and `learn.fit(epochs, lr)` inside `learn.no_bar()` and `learn.no_logging()` (fastai's own Adam and
  DataLoader, its callbacks and loss recording: everything `fit_learner` pays for except the checkpoint and early
  stopping callbacks).
* plain: `torch.utils.data.DataLoader`s over the same datasets (training shuffled and, as fastai does, without the
  last partial batch; num_workers=0), `torch.optim.Adam(betas=(0.9, 0.999), eps=1e-8)`, `model.train()` for the
  training batches and `model.eval()` + `torch.no_grad()` for the validation pass, the mean validation loss read once
  per epoch.

After one warm-up epoch each, `--epochs` epochs are timed for each side, `--reps` times, alternating which side goes
first; the medians are compared. Throughput counts the windows that pass through the network per second (training
windows, forward and backward, plus validation windows, forward only). The target: the Learner costs at most 15 %
more time than the plain loop.

Run from the repository root:  python benchmarks/runoff_learner_overhead.py [--epochs 5] [--reps 3] [--bs 64]
[--hidden 128] [--series leaf] [--threads 1]
"""
import argparse, sys, warnings
from functools import partial
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))    # use this checkout's drl_notes
sys.path.insert(0, str(Path(__file__).resolve().parent))        # and the shared harness beside this script
warnings.filterwarnings('ignore', message='`torch.jit.script` is deprecated')  # printed when fastai is imported

from _compare import add_common_args, check_positive, report, time_sides


def parse_args(argv=None):
    p = argparse.ArgumentParser(description='Time deep-LSTM runoff training through a fastai Learner against a plain '
                                            'PyTorch loop on the same data and model.')
    add_common_args(p, epochs=5, bs=64)
    p.add_argument('--hidden', type=int, default=128, help='LSTM units per layer of RunoffLSTM(2, HIDDEN) (default 128)')
    p.add_argument('--series', default='leaf', help="a named series of drl_notes.runoff.SERIES (default: leaf, shipped)")
    a = p.parse_args(argv)
    check_positive(p, a, 'epochs', 'reps', 'bs', 'hidden')
    return a


def main(argv=None):
    a = parse_args(argv)
    import torch
    if a.threads: torch.set_num_threads(a.threads)
    from torch.utils.data import DataLoader
    from fastai.learner import Learner
    from fastai.optimizer import Adam
    from drl_notes.core import default_device, seed_everything
    from drl_notes.runoff import PERIODS, LastNMSE, RunoffData, RunoffLSTM, WindowDataset, auto_periods, load_series

    s = load_series(a.series)
    data = RunoffData(s, PERIODS.get(a.series) or auto_periods(s))
    device, lr = default_device(), 1e-3
    sync = torch.cuda.synchronize if device.type == 'cuda' else (lambda: None)

    seed_everything(0)
    init = RunoffLSTM(2, a.hidden).state_dict()

    def fresh_model():
        m = RunoffLSTM(2, a.hidden); m.load_state_dict(init); return m

    # --- fastai Learner
    dls = data.dls(a.bs)
    learn = Learner(dls, fresh_model(), loss_func=LastNMSE(data.n_pred),
                    opt_func=partial(Adam, sqr_mom=0.999, eps=1e-8, wd=0.))

    def run_learner(epochs):
        with learn.no_bar(), learn.no_logging(): learn.fit(epochs, lr)

    # --- plain PyTorch on the same datasets
    train_ds = WindowDataset(data.x, data.z, data.train_starts(), data.seq_len)
    valid_ds = WindowDataset(data.x, data.z, data.valid_starts(), data.seq_len)
    train_dl = DataLoader(train_ds, batch_size=a.bs, shuffle=True, drop_last=True, num_workers=0)
    valid_dl = DataLoader(valid_ds, batch_size=a.bs, shuffle=False, num_workers=0)
    model = fresh_model().to(device)
    loss_func = LastNMSE(data.n_pred)
    opt = torch.optim.Adam(model.parameters(), lr=lr, betas=(0.9, 0.999), eps=1e-8, weight_decay=0.)
    plain_losses = []                                                 # (train, valid) loss per epoch, as fastai's Recorder keeps

    def run_plain(epochs):
        for _ in range(epochs):
            model.train()
            for xb, yb in train_dl:
                xb, yb = xb.to(device), yb.to(device)
                loss = loss_func(model(xb), yb)
                loss.backward(); opt.step(); opt.zero_grad()
            model.eval()
            total, n = torch.zeros((), device=device), 0
            with torch.no_grad():
                for xb, yb in valid_dl:
                    xb, yb = xb.to(device), yb.to(device)
                    total += loss_func(model(xb), yb) * len(xb); n += len(xb)
            plain_losses.append((loss.item(), (total / n).item()))

    n_train = len(train_dl) * a.bs
    windows = n_train + len(valid_ds)                                 # through the network per epoch
    assert len(dls.train) == len(train_dl) and len(dls.valid.dataset) == len(valid_ds)

    times = time_sides(run_learner, run_plain, a.epochs, a.reps, sync)
    p = data.periods
    return report('deep-LSTM runoff training: fastai Learner vs plain PyTorch loop',
                  [f'series {a.series} (train {p.train[0]}…{p.train[1]}, valid {p.valid[0]}…{p.valid[1]}), RunoffLSTM(2, {a.hidden}), '
                   f'batch size {a.bs}, device {device.type}, {torch.get_num_threads()} torch thread(s)',
                   f'per epoch {n_train} training windows ({len(train_dl)} batches) + {len(valid_ds)} validation windows; '
                   f'median of {a.reps} repetition(s) of {a.epochs} epoch(s), after 1 warm-up epoch each, order alternating'],
                  times, windows, 'windows', a.epochs,
                  dict(series=a.series, hidden=a.hidden, bs=a.bs, device=device.type, threads=torch.get_num_threads()))


if __name__ == '__main__':
    main()
