"""Short CPU trainings of a small LSTM on the shipped Leaf River series: `fit_learner`'s best-weights checkpoint is
reloaded with weights_only=True and leaves nothing behind in the temporary folder, also when training fails.
(Determinism under one seed is checked in chapter 00.)"""
import tempfile

import numpy as np
import pytest
import torch

from drl_notes.core import seed_everything
from drl_notes.runoff import PERIODS, LastNMSE, RunoffData, RunoffLSTM, TrainConfig, fit_learner, load_series


@pytest.fixture(scope='module')
def data():
    return RunoffData(load_series('leaf'), PERIODS['leaf'])


def train(data, seed, epochs=1, lr=1e-3, loss_func=None):
    seed_everything(seed)
    model = RunoffLSTM(2, 16)
    return fit_learner(model, data.dls(64), loss_func or LastNMSE(data.n_pred),
                       TrainConfig(max_epochs=epochs, patience=5, lr=lr))


@pytest.fixture
def own_tempdir(tmp_path, monkeypatch):
    """A private temporary folder for `tempfile`, and a record of the folders `mkdtemp` made in it.

    Private because another process on this machine (a notebook run) may be creating and removing its own
    drl_notes_* folders in the shared temporary folder at the same time."""
    d = tmp_path/'tmp'; d.mkdir()
    monkeypatch.setattr(tempfile, 'tempdir', str(d))
    made, real = [], tempfile.mkdtemp
    def mkdtemp(*a, **k):
        p = real(*a, **k); made.append(p); return p
    monkeypatch.setattr(tempfile, 'mkdtemp', mkdtemp)
    assert tempfile.gettempdir() == str(d)
    return d, made


def test_checkpoint_is_reloaded_weights_only_and_removed(data, own_tempdir, monkeypatch):
    d, made = own_tempdir
    loads, real_load = [], torch.load
    def load(*a, **k):
        loads.append(k.get('weights_only')); return real_load(*a, **k)
    monkeypatch.setattr(torch, 'load', load)

    learn = train(data, 0, epochs=3, lr=1e-2)

    assert len(made) == 1 and made[0].startswith(str(d/'drl_notes_'))   # fit_learner used a drl_notes_* folder …
    assert list(d.iterdir()) == []                                      # … and removed it with the checkpoint
    assert loads == [True]                                              # the best weights came back weights_only
    # the weights kept are those of the epoch with the lowest validation loss
    valid = np.array(learn.recorder.values)[:, 1]
    assert learn.best_epoch == int(np.argmin(valid))
    assert learn.validate()[0] == pytest.approx(valid.min(), rel=1e-5)


def test_checkpoint_removed_when_training_fails(data, own_tempdir):
    d, made = own_tempdir
    calls = 0
    def failing_loss(pred, targ):                 # an epoch has 11 training and 1 validation batch: fail in epoch 2,
        nonlocal calls; calls += 1                # after the first best.pth was written
        if calls > 15: raise RuntimeError('boom')
        return LastNMSE(data.n_pred)(pred, targ)
    with pytest.raises(RuntimeError, match='boom'):
        train(data, 0, epochs=3, loss_func=failing_loss)
    assert len(made) == 1 and list(d.iterdir()) == []
