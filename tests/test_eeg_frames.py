"""`drl_notes.eeg.frames` where a notebook is the wrong place: a frame-cache write killed half-way, and a damaged cache
file, with `$DRL_NOTES_CACHE` pointed at a temporary folder. Behaviour is checked on the page (nbs/03b_eeg_frames.ipynb)."""
import numpy as np
import pytest

from drl_notes.eeg.data import EEGMMIDB_CLASSES, DEAP_CHANNELS, EEGTrials
from drl_notes.eeg.frames import preprocess


def _toy_trials(n=12, seed=0):
    x = np.random.default_rng(seed).normal(0, 20, (n, 32, 256))
    return EEGTrials(x, np.arange(n) % 4, np.arange(n), np.zeros(n), DEAP_CHANNELS, 128., EEGMMIDB_CLASSES, 'toy')


def test_interrupted_cache_write_leaves_no_file_that_loads(tmp_path, monkeypatch, capsys):
    monkeypatch.setenv('DRL_NOTES_CACHE', str(tmp_path/'cache'))
    t = _toy_trials()
    def broken(f, **arrays):
        f.write(b'PK\x03\x04' + b'\0'*100); raise KeyboardInterrupt                  # killed half-way through the write
    monkeypatch.setattr(np, 'savez', broken)
    with pytest.raises(KeyboardInterrupt): preprocess(t, np.arange(8))
    assert list((tmp_path/'cache'/'eeg').iterdir()) == []                              # neither the file nor its temporary
    monkeypatch.undo(); monkeypatch.setenv('DRL_NOTES_CACHE', str(tmp_path/'cache'))
    frames, _ = preprocess(t, np.arange(8))
    (path,) = (tmp_path/'cache'/'eeg').glob('frames_*.npz')
    path.write_bytes(path.read_bytes()[:500])                                         # a damaged file (not ours) is recomputed
    capsys.readouterr()
    again, _ = preprocess(t, np.arange(8))
    assert 'unusable cache file' in capsys.readouterr().out
    np.testing.assert_array_equal(again, frames)
    with np.load(path, allow_pickle=False) as z: np.testing.assert_array_equal(z['frames'], frames)


