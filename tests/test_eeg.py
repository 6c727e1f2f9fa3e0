"""Chapter 03, data and preprocessing (`drl_notes.eeg`): the restricted unpickler against crafted files, DEAP's format
(generated files), the labels, band power against its closed form, the projection against hand-computed points, the
interpolation operator against per-frame griddata, training-only normalisation, the atomic cache, and the EEGMMIDB and
eye-state loaders on the real files in $DRL_NOTES_DATA."""
import os, pickle, pickletools

import numpy as np
import pandas as pd
import pytest
from scipy import signal

from drl_notes.core import DATA_ENV, DataNotFoundError, data_dir
from drl_notes.eeg import (DEAP_CHANNELS, DEAP_RATINGS, DEAP_TARGETS, EEG_BANDS, EEGMMIDB_CLASSES, EYE_STATE_CHANNELS, FRAME_BANDS,
                           BandNormalizer, EEGTrials, azimuthal_equidistant, band_bins, band_powers, deap_labels, deap_like_subject,
                           electrode_positions, eegmmidb_run_task, find_spikes, griddata_frames, label_segments, load_deap,
                           load_deap_subject, load_eegmmidb, load_eye_state, make_deap_like, preprocess, read_eye_state,
                           read_numpy_pickle, topo_frames, topo_grid, write_deap_subject)

HAVE_DATA = data_dir(required=False) is not None
needs_data = pytest.mark.skipif(not HAVE_DATA, reason=f'${DATA_ENV} is not set: the EEGMMIDB and eye-state files are not shipped with the package')


class _Call:
    "Pickles as the call f(arg): what a malicious file contains."
    def __init__(self, f, arg): self.f, self.arg = f, arg
    def __reduce__(self): return self.f, (self.arg,)


def _dump(path, obj, protocol=2):
    path.write_bytes(pickle.dumps(obj, protocol=protocol)); return path


# ---------------------------------------------------------------- the restricted unpickler

@pytest.mark.parametrize('kind', ['os.system', 'builtins.eval', 'builtins.exec'])
@pytest.mark.parametrize('protocol', [0, 2, 4])
def test_malicious_pickle_is_refused_without_running(tmp_path, kind, protocol):
    marker = tmp_path/'marker'
    f, arg = {'os.system': (os.system, f'touch {marker}'), 'builtins.eval': (eval, f"open({str(marker)!r}, 'w')"),
              'builtins.exec': (exec, f"open({str(marker)!r}, 'w').write('x')")}[kind]
    path = _dump(tmp_path/'s01.dat', {'data': _Call(f, arg), 'labels': np.ones((40, 4))}, protocol)
    with pytest.raises(pickle.UnpicklingError) as e: load_deap_subject(path)
    msg = str(e.value)
    assert msg.startswith(str(path)) and 'refused global' in msg and f.__name__ in msg, msg
    assert not marker.exists()


def test_codecs_encode_is_allowed_for_latin1_only(tmp_path):
    import codecs
    assert read_numpy_pickle(_dump(tmp_path/'b.dat', b'\x00\xff raw', protocol=2)) == b'\x00\xff raw'   # _codecs.encode(…, 'latin1')
    path = _dump(tmp_path/'rot13.dat', _Call(codecs.encode, 'abc'))
    with pytest.raises(pickle.UnpicklingError, match=r"rot13.dat: refused _codecs.encode\(str, None\)"): read_numpy_pickle(path)

    class _Rot:
        def __reduce__(self): return codecs.encode, ('abc', 'rot13')
    path = _dump(tmp_path/'rot13.dat', _Rot())
    with pytest.raises(pickle.UnpicklingError, match=r"rot13.dat: refused _codecs.encode\(str, 'rot13'\)"): read_numpy_pickle(path)


@pytest.mark.parametrize('protocol', range(6))
def test_arrays_pickled_by_python3_load_exactly(tmp_path, protocol):
    d = {'data': np.random.default_rng(protocol).normal(size=(3, 4, 5)), 'labels': np.arange(8, dtype=np.float32).reshape(2, 4), 'n': [1, 'x']}
    back = read_numpy_pickle(_dump(tmp_path/'a.dat', d, protocol))
    np.testing.assert_array_equal(back['data'], d['data']); np.testing.assert_array_equal(back['labels'], d['labels'])
    assert back['labels'].dtype == np.float32 and back['n'] == [1, 'x']


def test_numpy_scalars_and_truncated_files_are_refused(tmp_path):
    with pytest.raises(pickle.UnpicklingError, match='multiarray.scalar'): read_numpy_pickle(_dump(tmp_path/'s.dat', np.float64(1.)))
    good = _dump(tmp_path/'g.dat', {'data': np.zeros(100)})
    (tmp_path/'cut.dat').write_bytes(good.read_bytes()[:60])
    with pytest.raises(pickle.UnpicklingError, match='cut.dat: not a readable pickle'): read_numpy_pickle(tmp_path/'cut.dat')
    with pytest.raises(DataNotFoundError, match='nope.dat does not exist'): read_numpy_pickle(tmp_path/'nope.dat')


# ---------------------------------------------------------------- DEAP's format

def test_generated_deap_subject_is_python2_format_and_loads_exactly(tmp_path):
    path, = make_deap_like(tmp_path, n_subjects=1, seed=3)
    data, labels = deap_like_subject(40, (3, 1))
    ops = [(op.name, arg) for op, arg, _ in pickletools.genops(path.read_bytes())]
    assert {a for o, a in ops if o == 'GLOBAL'} == {'numpy.core.multiarray _reconstruct', 'numpy ndarray', 'numpy dtype'}
    assert not any('UNICODE' in o or 'BINBYTES' in o for o, _ in ops)               # opcodes Python 2 cannot read
    assert ops[0] == ('PROTO', 2)
    eeg, lab = load_deap_subject(path)
    assert eeg.shape == (40, 32, 8064) and eeg.dtype == np.float32 and lab.shape == (40, 4) and lab.dtype == np.float32
    np.testing.assert_array_equal(eeg, data[:, :32].astype(np.float32)); np.testing.assert_array_equal(lab, labels.astype(np.float32))
    assert ((lab >= 1) & (lab <= 9)).all() and 5 < eeg.std() < 50


def _deap_file(tmp_path, name='s01.dat', n=2, **changes):
    d = {'data': np.zeros((n, 40, 8064)), 'labels': np.full((n, 4), 5.)}
    d.update(changes)
    return _dump(tmp_path/name, {k: v for k, v in d.items() if v is not None})


@pytest.mark.parametrize('changes,message', [
    (dict(data=None, eeg=np.zeros((2, 40, 8064))), "no key 'data' (found keys [\"'eeg'\", \"'labels'\"])"),
    (dict(labels=None), "no key 'labels'"),
    (dict(data=np.zeros((2, 32, 8064))), "'data' has shape (2, 32, 8064), expected (2, 40, 8064): 2 trials × 40 channels (32 EEG + 8 peripheral)"),
    (dict(data=np.zeros((2, 40, 8000))), "'data' has shape (2, 40, 8000), expected (2, 40, 8064)"),
    (dict(data=np.zeros((3, 40, 8064))), "'data' has shape (3, 40, 8064), expected (2, 40, 8064)"),
    (dict(labels=np.full((2, 2), 5.)), "'labels' has shape (2, 2), expected (2, 4): 2 trials × 4 ratings (valence, arousal, dominance, liking)"),
    (dict(data=[[1.]]), "'data' is list, expected a numeric array"),
    (dict(labels=np.array([['a'] * 4] * 2)), "'labels' is ndarray of <U1, expected a numeric array"),
    (dict(labels=np.array([[5., 5, 5, 5], [5, 9.5, 5, 5]])), "1 rating(s) outside [1, 9], the first 9.5 (arousal of trial 1)"),
])
def test_bad_deap_files_fail_clearly(tmp_path, changes, message):
    path = _deap_file(tmp_path, **changes)
    with pytest.raises(ValueError) as e: load_deap_subject(path, n_trials=2)
    assert str(e.value).startswith(f'{path}: ') and message in str(e.value), str(e.value)


def test_deap_non_finite_values_and_wrong_trial_count(tmp_path):
    data = np.zeros((2, 40, 8064)); data[1, 3, 10] = np.inf
    with pytest.raises(ValueError, match=r"'data' holds 1 non-finite value\(s\), the first at index \(1, 3, 10\)"):
        load_deap_subject(_deap_file(tmp_path, data=data), n_trials=2)
    data[1, 3, 10] = 0; data[0, 35, 0] = np.nan                                      # a peripheral channel: not used, not checked
    assert load_deap_subject(_deap_file(tmp_path, data=data), n_trials=2)[0].shape == (2, 32, 8064)
    path = _deap_file(tmp_path, 'two.dat')
    with pytest.raises(ValueError, match=r"'data' has shape \(2, 40, 8064\), expected \(40, 40, 8064\)"): load_deap_subject(path)
    assert load_deap_subject(path, n_trials=None)[0].shape == (2, 32, 8064)
    with pytest.raises(ValueError, match='holds a list, expected a dict'): load_deap_subject(_dump(tmp_path/'l.dat', [1, 2]))


def test_write_deap_subject_checks_shapes(tmp_path):
    with pytest.raises(ValueError, match=r'data has shape \(2, 32, 8064\), expected \(n_trials, 40, 8064\)'):
        write_deap_subject(tmp_path/'s.dat', np.zeros((2, 32, 8064)), np.ones((2, 4)))
    with pytest.raises(ValueError, match=r'labels has shape \(3, 4\), expected \(2, 4\)'):
        write_deap_subject(tmp_path/'s.dat', np.zeros((2, 40, 8064)), np.ones((3, 4)))
    assert not (tmp_path/'s.dat').exists()


def test_load_deap_folder(tmp_path):
    make_deap_like(tmp_path, n_subjects=2, n_trials=4, seed=0)
    d = load_deap(tmp_path, n_trials=4)
    assert isinstance(d, EEGTrials) and d.x.shape == (8, 32, 8064) and d.channels == DEAP_CHANNELS and d.sfreq == 128
    assert d.group.tolist() == [1]*4 + [2]*4 and len(np.unique(d.trial)) == 8 and d.class_names == DEAP_TARGETS['quadrant']
    np.testing.assert_array_equal(d.y, deap_labels(d.meta[list(DEAP_RATINGS)].to_numpy()))
    assert d.meta.video.tolist() == [1, 2, 3, 4]*2
    assert load_deap(tmp_path, subjects=[2], target='valence', n_trials=4).class_names == ('low valence', 'high valence')
    with pytest.raises(DataNotFoundError, match=r'no s05.dat \(it holds s01.dat, s02.dat\)'): load_deap(tmp_path, subjects=[5], n_trials=4)
    (tmp_path/'empty').mkdir()
    with pytest.raises(DataNotFoundError, match='no files named sXX.dat'): load_deap(tmp_path/'empty')
    with pytest.raises(DataNotFoundError, match='is not a folder'): load_deap(tmp_path/'missing')


def test_deap_labels_convention_at_the_threshold():
    r = np.array([[7, 8, 1, 1], [6, 2, 1, 1], [1, 9, 1, 1], [3, 3, 1, 1], [5, 5.01, 1, 1], [5.01, 5, 1, 1], [5, 5, 1, 1]], float)
    assert deap_labels(r).tolist() == [0, 1, 2, 3, 2, 1, 3]          # HVHA HVLA LVHA LVLA; exactly 5 is low
    assert deap_labels(r, 'valence').tolist() == [1, 1, 0, 0, 0, 1, 0] and deap_labels(r, 'arousal').tolist() == [1, 0, 1, 0, 1, 0, 0]
    with pytest.raises(ValueError, match='expected one of'): deap_labels(r, 'dominance')
    with pytest.raises(ValueError, match=r'labels has shape \(7, 2\)'): deap_labels(r[:, :2])


def test_eegtrials_checks_and_subset():
    t = EEGTrials(np.zeros((3, 2, 4)), [0, 1, 0], [5, 5, 6], [1, 1, 1], ('Cz', 'Pz'), 128., ('a', 'b'), 'toy', pd.DataFrame({'k': [7, 8, 9]}))
    s = t.subset(np.array([False, True, True]))
    assert len(s) == 2 and s.meta.k.tolist() == [8, 9] and s.trial.tolist() == [5, 6]
    assert 'toy: 3 trials × 2 channels × 4 samples' in repr(t)
    with pytest.raises(ValueError, match=r'trial has shape \(2,\), expected \(3,\)'): EEGTrials(np.zeros((3, 2, 4)), [0]*3, [0, 1], [0]*3, ('Cz', 'Pz'), 128., ('a',))
    with pytest.raises(ValueError, match='meta has 1 rows'): EEGTrials(np.zeros((3, 2, 4)), [0]*3, [0]*3, [0]*3, ('Cz', 'Pz'), 128., ('a',), meta=pd.DataFrame({'k': [1]}))


# ---------------------------------------------------------------- band power, projection, interpolation

def test_band_power_of_a_sine_is_its_mean_square():
    fs, n = 128., np.arange(4*128)
    x = np.stack([12*np.sin(2*np.pi*9*n/fs + 1), 5*np.sin(2*np.pi*30*n/fs), 2*np.sin(2*np.pi*4*n/fs)])[None]
    bp = band_powers(x, fs, ('theta', 'alpha', 'beta', 'gamma'))
    assert bp.shape == (1, 4, 4, 3) and bp.dtype == np.float32
    np.testing.assert_allclose(bp[0, :, 1, 0], np.log(12**2/2), atol=1e-5)
    np.testing.assert_allclose(bp[0, :, 3, 1], np.log(5**2/2), atol=1e-5)     # 30 Hz: gamma's first bin, not beta's
    np.testing.assert_allclose(bp[0, :, 0, 2], np.log(2**2/2), atol=1e-5)      # 4 Hz: theta's first bin
    assert (bp[0, :, 2, 1] < -15).all() and (bp[0, :, 1, 2] < -15).all()
    assert band_bins(128., 128) == {'alpha': slice(8, 13), 'beta': slice(13, 30), 'gamma': slice(30, 45)}
    assert band_bins(256., 512, {'a': (8, 13)}) == {'a': slice(16, 26)}        # 2-s windows at 256 Hz: bins every 0.5 Hz


def test_band_power_matches_scipy_periodogram_and_parseval():
    x = np.random.default_rng(0).normal(0, 10, (3, 5, 2*128)).astype(np.float32)
    bp = band_powers(x, 128., {'all': (0.5, 64)})                              # every bin but DC and Nyquist
    X = np.fft.rfft(x.reshape(3, 5, 2, 128), axis=-1)
    ms = (x.reshape(3, 5, 2, 128).astype(np.float64)**2).mean(-1) - np.abs(X[..., 0])**2/128**2 - np.abs(X[..., 64])**2/128**2
    np.testing.assert_allclose(bp[:, :, 0, :].transpose(0, 2, 1), np.log(ms), rtol=1e-5)     # Parseval
    f, P = signal.periodogram(x.reshape(3, 5, 2, 128), fs=128., window='boxcar', scaling='spectrum', detrend=False)
    ref = np.stack([np.log(1e-10 + P[..., (f >= lo) & (f < hi)].sum(-1)) for lo, hi in (EEG_BANDS[b] for b in FRAME_BANDS)], -1)
    np.testing.assert_allclose(band_powers(x, 128.), ref.transpose(0, 2, 3, 1), atol=1e-4)


def test_band_power_refuses_partial_windows_and_bad_bands():
    x = np.zeros((1, 2, 300))
    with pytest.raises(ValueError, match='300 samples is not a whole number of 128-sample'): band_powers(x, 128.)
    with pytest.raises(ValueError, match=r"bands \['delta'\]"): band_powers(np.zeros((1, 2, 256)), 128., ('delta',))
    with pytest.raises(ValueError, match='reaches the DC or Nyquist bin'): band_powers(np.zeros((1, 2, 256)), 128., {'x': (60, 70)})
    with pytest.raises(ValueError, match='holds no frequency bin'): band_powers(np.zeros((1, 2, 256)), 128., {'x': (8.2, 8.5)})


def test_azimuthal_equidistant_on_hand_computed_points():
    pts = np.array([[0, 0, 1], [1, 0, 0], [0, 1, 0], [-1, 0, 0], [0, -1, 0], [1, 0, 1], [0, 3, -3], [0, 0, 0.2], [1, 1, 0]])
    want = [[0, 0], [np.pi/2, 0], [0, np.pi/2], [-np.pi/2, 0], [0, -np.pi/2], [np.pi/4, 0], [0, 3*np.pi/4], [0, 0],
            [np.pi/2/np.sqrt(2), np.pi/2/np.sqrt(2)]]
    np.testing.assert_allclose(azimuthal_equidistant(pts), want, atol=1e-12)
    xyz = electrode_positions(DEAP_CHANNELS)
    uv = azimuthal_equidistant(xyz)
    np.testing.assert_allclose(np.linalg.norm(uv, axis=1), np.arccos(xyz[:, 2]/np.linalg.norm(xyz, axis=1)), atol=1e-12)
    np.testing.assert_allclose(uv[DEAP_CHANNELS.index('Cz')], [0, 0], atol=1e-12)
    assert uv[DEAP_CHANNELS.index('Fz')][1] > 0 > uv[DEAP_CHANNELS.index('Pz')][1] and uv[DEAP_CHANNELS.index('C3')][0] < 0
    with pytest.raises(ValueError, match='no direction'): azimuthal_equidistant(np.zeros((1, 3)))
    with pytest.raises(ValueError, match=r"\['A1'\] are not in MNE's 'biosemi32' montage"): electrode_positions(('Cz', 'A1'))
    assert electrode_positions(EYE_STATE_CHANNELS).shape == (14, 3)


@pytest.mark.parametrize('channels', [DEAP_CHANNELS, EYE_STATE_CHANNELS])
def test_operator_equals_per_frame_griddata_on_random_values(channels):
    grid = topo_grid(channels)
    rng = np.random.default_rng(0)
    v = (rng.normal(size=(60, len(channels)))*rng.uniform(0.1, 20, (60, 1)) + rng.uniform(-100, 100, (60, 1))).astype(np.float32)
    ref = griddata_frames(grid, v)
    assert np.abs(grid(v) - ref).max() <= 1e-6*np.abs(v).max()
    assert ((ref[0] != 0) == grid.inside).all() and 0 < grid.inside.sum() < 1024
    np.testing.assert_allclose(grid.op.sum(1)[grid.inside.ravel()], 1, atol=1e-5)      # reproduces constants
    out = np.empty((60, 32, 32), np.float32)
    assert grid(v, out=out) is out and np.array_equal(out, grid(v))
    with pytest.raises(ValueError, match='C-contiguous float32'): grid(v, out=np.empty((60, 32, 32)))
    with pytest.raises(ValueError, match='at least 3 distinct'): topo_grid(('Cz', 'Cz', 'Pz'))


def test_normaliser_uses_training_statistics_only():
    rng = np.random.default_rng(0)
    bp = rng.normal(3, 2, (20, 5, 3, 32)) + np.arange(3)[:, None]
    train, test = np.arange(14), np.arange(14, 20)
    norm = BandNormalizer().fit(bp[train])
    other = bp.copy(); other[test] = rng.normal(100, 50, other[test].shape)       # the test trials change completely …
    norm2 = BandNormalizer().fit(other[train])
    np.testing.assert_array_equal(norm.mean, norm2.mean); np.testing.assert_array_equal(norm.std, norm2.std)   # … the statistics do not
    np.testing.assert_allclose(norm.mean[:, 0], bp[train].mean(axis=(0, 1, 3))); np.testing.assert_allclose(norm.std[:, 0], bp[train].std(axis=(0, 1, 3)))
    z = norm.transform(bp)
    np.testing.assert_allclose(z[train].mean(axis=(0, 1, 3)), 0, atol=1e-5); assert z.dtype == np.float32
    assert BandNormalizer(per_channel=True).fit(bp[train]).mean.shape == (3, 32)
    with pytest.raises(RuntimeError, match='call fit'): BandNormalizer().transform(bp)
    with pytest.raises(ValueError, match='zero spread'): BandNormalizer().fit(np.ones((2, 1, 3, 4)))


def _toy_trials(n=12, seed=0):
    x = np.random.default_rng(seed).normal(0, 20, (n, 32, 256))
    return EEGTrials(x, np.arange(n) % 4, np.arange(n), np.zeros(n), DEAP_CHANNELS, 128., EEGMMIDB_CLASSES, 'toy')


def test_preprocess_matches_its_steps_and_caches(tmp_path, monkeypatch, capsys):
    monkeypatch.setenv('DRL_NOTES_CACHE', str(tmp_path/'cache'))
    t, train = _toy_trials(), np.arange(8)
    frames, norm = preprocess(t, train)
    assert frames.shape == (12, 2, 3, 32, 32) and frames.dtype == np.float32
    bp = band_powers(t.x, 128.)
    np.testing.assert_array_equal(frames, topo_frames(BandNormalizer().fit(bp[:8]).transform(bp), DEAP_CHANNELS))
    assert 'computed and cached' in capsys.readouterr().out
    again, norm2 = preprocess(t, np.arange(12) < 8)                                     # the same split as a mask: the same entry
    assert 'read from the cache' in capsys.readouterr().out
    np.testing.assert_array_equal(again, frames); np.testing.assert_array_equal(norm2.std, norm.std)
    preprocess(t, np.arange(6)); assert 'computed' in capsys.readouterr().out          # another split, another entry
    assert len(list((tmp_path/'cache'/'eeg').glob('frames_*.npz'))) == 2
    with pytest.raises(ValueError, match='selects no trials'): preprocess(t, np.zeros(12, bool))
    with pytest.raises(ValueError, match='outside 0 … 11'): preprocess(t, [3, 12])


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


# ---------------------------------------------------------------- the real files

@pytest.fixture(scope='module')
def mmi():
    if not HAVE_DATA: pytest.skip(f'${DATA_ENV} is not set')
    return load_eegmmidb()


@needs_data
def test_eegmmidb_s001_trials(mmi):
    assert mmi.x.shape == (120, 32, 512) and mmi.channels == DEAP_CHANNELS and mmi.sfreq == 128. and mmi.x.dtype == np.float32
    assert np.bincount(mmi.y, minlength=4).tolist() == [32, 28, 30, 30]
    assert mmi.meta.columns.tolist() == ['run', 'imagined', 'cue', 'onset_s'] and mmi.meta.imagined.sum() == 60
    assert set(mmi.y[mmi.meta.run.isin([3, 4, 7, 8])]) == {0, 1} and set(mmi.y[mmi.meta.run.isin([5, 6, 9, 10])]) == {2, 3}
    assert 10 < mmi.x.std() < 200 and np.isfinite(mmi.x).all()
    assert (np.diff(mmi.meta.onset_s[mmi.meta.run == 3]) > 7).all()                       # T1/T2 cues alternate with T0 (~4.2 s each)
    one = load_eegmmidb(runs=[4])
    assert len(one) == 15 and one.meta.imagined.all() and set(one.y) == {0, 1}
    np.testing.assert_array_equal(one.x, mmi.x[mmi.meta.run.to_numpy() == 4])


@needs_data
def test_eegmmidb_bad_requests(tmp_path, monkeypatch):
    with pytest.raises(ValueError, match='runs 1 and 2 are eyes-open'): load_eegmmidb(runs=[1])
    with pytest.raises(ValueError, match='runs is empty'): load_eegmmidb(runs=[])
    assert eegmmidb_run_task(13) == ((2, 3), False) and eegmmidb_run_task(12) == ((0, 1), True)
    with pytest.raises(DataNotFoundError, match='S001R11.edf does not exist'): load_eegmmidb(runs=[11], folder=data_dir()/'eegmmidb_S001')
    monkeypatch.setenv(DATA_ENV, str(tmp_path))
    with pytest.raises(DataNotFoundError, match=r'eegmmidb_S001/S001R03.edf in \$DRL_NOTES_DATA'): load_eegmmidb()
    with pytest.raises(DataNotFoundError, match=r'eeg_eye_state/EEG Eye State.arff in \$DRL_NOTES_DATA'): load_eye_state()


@needs_data
def test_operator_equals_griddata_on_real_band_powers(mmi):
    bp = band_powers(mmi.x[:25], mmi.sfreq)                   # (25, 4, 3, 32): 300 frames
    grid = topo_grid(DEAP_CHANNELS)
    v = bp.reshape(-1, 32)
    assert np.abs(grid(v) - griddata_frames(grid, v)).max() <= 1e-6*np.abs(v).max()


@needs_data
def test_eye_state_spikes_segments_and_pieces(capsys):
    x, y = read_eye_state()
    assert x.shape == (14980, 14) and np.bincount(y).tolist() == [8257, 6723]
    spikes = find_spikes(x)
    assert np.flatnonzero(spikes).tolist() == [898, 10386, 11509, 13179]
    seg = label_segments(y)
    assert len(seg) == 24 and seg[0].tolist() == [0, 188] and seg[-1, 1] == 14980
    eye = load_eye_state()
    out = capsys.readouterr().out
    assert '24 same-label segments -> 47 pieces of 2 s' in out and '4 piece(s) containing one dropped' in out
    assert eye.x.shape == (43, 14, 256) and eye.channels == EYE_STATE_CHANNELS and eye.class_names == ('open', 'closed')
    for s, k, c in zip(eye.meta.start, eye.trial, eye.y):
        a, b = seg[k]
        assert a <= s and s + 256 <= b and (y[s:s + 256] == c).all() and not spikes[s:s + 256].any()
    np.testing.assert_array_equal(eye.x[0], x[eye.meta.start[0]:eye.meta.start[0] + 256].T.astype(np.float32))
    assert len(load_eye_state(piece_s=4., verbose=False)) < len(eye)


def test_eye_state_reader_refuses_other_files(tmp_path):
    (tmp_path/'a.arff').write_text('@RELATION x\n@ATTRIBUTE AF3 NUMERIC\n@ATTRIBUTE eyeDetection {0,1}\n@DATA\n4000,0\n')
    with pytest.raises(ValueError, match=r"a.arff: attributes \('AF3', 'eyeDetection'\), expected \('AF3', 'F7'"): read_eye_state(tmp_path/'a.arff')
    head = ''.join(f'@ATTRIBUTE {c} NUMERIC\n' for c in EYE_STATE_CHANNELS)
    (tmp_path/'b.arff').write_text('@RELATION x\n' + head + '@ATTRIBUTE eyeDetection {0,1}\n@DATA\n' + ','.join(['4000']*14) + ',0\n'
                                   + ','.join(['?'] + ['4000']*13) + ',1\n')
    with pytest.raises(ValueError, match=r'b.arff: 1 data row\(s\) with a missing or non-numeric value, the first is data row 2'): read_eye_state(tmp_path/'b.arff')
    (tmp_path/'c.arff').write_text('not an arff file')
    with pytest.raises(ValueError, match='c.arff: not a readable ARFF file'): read_eye_state(tmp_path/'c.arff')


# ================================================================ §4–5: models, the joint loss, Theorem 4.1, honest splits, one fold
# (imports of these sections kept here, beside the tests that use them)
import math

import torch
import torch.nn.functional as F

from drl_notes.core import seed_everything
from drl_notes.vae import LinearGaussian
from drl_notes.eeg import (FOLD_KINDS, MODEL_KINDS, SPLIT_PARTS, EEGConfig, FrameSequenceModel, JointLoss, ProbitTrial, check_disjoint,
                           class_scores, cut_trials, eeg_splits, fit_eval_fold, psd_features, psd_svm, split_summary, window_split)


def _pieces(n_subjects=4, n_trials=8, n_pieces=3, n_classes=4):
    "Rows = pieces: n_pieces rows per trial, trial ids unique across subjects, classes balanced within each subject."
    s, t, _ = np.meshgrid(np.arange(n_subjects), np.arange(n_trials), np.arange(n_pieces), indexing='ij')
    s, t = s.ravel(), t.ravel()
    return EEGTrials(np.zeros((len(s), 2, 16)), t % n_classes, 100*s + t, s + 1, ('Cz', 'Pz'), 128., tuple('abcdefgh'[:n_classes]), 'pieces')


def _ids(trials, split, part, what='trial'):
    return set(getattr(trials, what)[np.asarray(split[part])].tolist())


@pytest.mark.parametrize('n_folds', [2, 3, 5])
@pytest.mark.parametrize('seed', [0, 1])
def test_trialwise_splits_keep_every_trial_on_one_side(n_folds, seed):
    t = _pieces()
    splits = eeg_splits(t, n_folds, 'trial', seed=seed)
    assert len(splits) == n_folds
    np.testing.assert_array_equal(np.sort(np.concatenate([s['test'] for s in splits])), np.arange(len(t)))   # every row tested once
    for s in splits:
        assert sorted(np.concatenate([s[p] for p in SPLIT_PARTS]).tolist()) == list(range(len(t)))        # a partition of the rows
        assert all(len(s[p]) and (np.diff(s[p]) > 0).all() for p in SPLIT_PARTS)                        # non-empty, sorted
        for a, b in (('train', 'valid'), ('train', 'test'), ('valid', 'test')): assert not _ids(t, s, a) & _ids(t, s, b), (a, b)
        assert set(t.y[s['train']]) == set(range(4))                                                   # stratified: every class trains
        assert check_disjoint(s, t) is s
    assert eeg_splits(t, n_folds, seed=seed)[0]['test'].tolist() == splits[0]['test'].tolist()            # reproducible


@pytest.mark.parametrize('n_folds,valid_by', [(5, 'subject'), (5, 'trial'), (3, 'subject'), (2, 'trial')])
def test_subjectwise_splits_keep_every_subject_on_one_side(n_folds, valid_by):
    t = _pieces(n_subjects=5)
    splits = eeg_splits(t, n_folds, 'subject', seed=2, valid_by=valid_by)
    assert len(splits) == n_folds
    np.testing.assert_array_equal(np.sort(np.concatenate([s['test'] for s in splits])), np.arange(len(t)))
    for s in splits:
        assert not _ids(t, s, 'test', 'group') & (_ids(t, s, 'train', 'group') | _ids(t, s, 'valid', 'group'))
        for a, b in (('train', 'valid'), ('train', 'test'), ('valid', 'test')): assert not _ids(t, s, a) & _ids(t, s, b)
        if valid_by == 'subject': assert not _ids(t, s, 'valid', 'group') & _ids(t, s, 'train', 'group')
        else: assert _ids(t, s, 'valid', 'group') <= _ids(t, s, 'train', 'group')                       # validation trials of training subjects
        if n_folds == 5: assert len(_ids(t, s, 'test', 'group')) == 1                                    # leave one subject out
        assert set(t.y[s['train']]) == set(range(4))
        check_disjoint(s, t, 'subject', valid_by)
    summary = split_summary(splits, t)
    assert summary.loc[(0, 'test'), 'rows'] == len(splits[0]['test']) and list(summary.columns[-4:]) == list('abcd')


def test_split_errors_say_what_is_wrong():
    t = _pieces()                                                   # 4 subjects, 32 trial ids, 96 rows
    with pytest.raises(ValueError, match=r'n_folds=33 is larger than the 32 trial ids of pieces; a trial-wise split needs 2 ≤ n_folds ≤ 32'):
        eeg_splits(t, 33)
    with pytest.raises(ValueError, match=r'n_folds=5 is larger than the 4 subjects of pieces'): eeg_splits(t, 5, 'subject')
    with pytest.raises(ValueError, match=r'n_folds=9 is larger than the number of trial ids of every class of pieces \(at most 8\)'): eeg_splits(t, 9)
    one = _pieces(n_subjects=1)
    with pytest.raises(ValueError, match=r"by='subject' needs at least 2 subjects, pieces has 1; use by='trial'"): eeg_splits(one, 2, 'subject')
    with pytest.raises(ValueError, match=r'n_folds=1: expected an integer >= 2'): eeg_splits(t, 1)
    with pytest.raises(ValueError, match=r'valid_share=1.0'): eeg_splits(t, 3, valid_share=1.)
    with pytest.raises(ValueError, match=r"by='window': expected 'trial' or 'subject'"): eeg_splits(t, 3, 'window')
    with pytest.raises(ValueError, match=r"valid_by='subject': expected 'trial', or 'subject' when by='subject'"): eeg_splits(t, 3, valid_by='subject')
    rare = t.subset((t.y != 3) | (t.trial == 3))                   # class 'd' left with one trial id (3 pieces)
    with pytest.raises(ValueError, match=r"class\(es\) \['d'\] missing from the training part \(trial ids of that class in the whole data set: \{'d': 1\}\)"):
        eeg_splits(rare, 4)
    two = _pieces(n_subjects=2)
    with pytest.raises(ValueError, match=r"valid_by='subject' needs at least 2 training subjects, the training part has 1; use valid_by='trial'"):
        eeg_splits(two, 2, 'subject')
    assert len(eeg_splits(two, 2, 'subject', valid_by='trial')) == 2


def test_check_disjoint_catches_leaks_and_window_split_is_leaky():
    t = _pieces()
    leaky = window_split(t, 4, seed=0)
    assert any(_ids(t, s, 'train') & _ids(t, s, 'test') for s in leaky)
    with pytest.raises(ValueError, match=r'share \d+ trial id\(s\)'): check_disjoint(leaky[0], t)
    for s in leaky: assert check_disjoint(s, t, 'row') is s                                   # rows themselves never repeat
    rows = lambda m: np.flatnonzero(m)
    split = dict(train=rows((t.group == 1) & (t.trial % 100 < 6)), valid=rows(t.group == 2), test=rows((t.group == 1) & (t.trial % 100 >= 6)))
    check_disjoint(split, t)                                                                 # trial-wise: fine
    with pytest.raises(ValueError, match=r'pieces: test and train \+ valid share 1 subject\(s\), e\.g\. \[1\]'): check_disjoint(split, t, 'subject')
    split['valid'] = rows((t.group == 1) & (t.trial % 100 == 0))
    with pytest.raises(ValueError, match=r'train and valid share 3 row\(s\)'): check_disjoint(split, t)
    with pytest.raises(ValueError, match=r"split has no part\(s\) \['valid'\]"): check_disjoint(dict(train=[0], test=[1]), t)
    with pytest.raises(ValueError, match=r"split\['test'\] is empty"): check_disjoint(dict(train=[0], valid=[3], test=[]), t)
    with pytest.raises(ValueError, match=r"outside 0 … 95"): check_disjoint(dict(train=[0], valid=[3], test=[96]), t)


def test_cut_trials_keeps_ids_and_samples():
    x = np.random.default_rng(0).normal(size=(3, 2, 300))
    t = EEGTrials(x, [0, 1, 1], [7, 8, 9], [1, 1, 2], ('Cz', 'Pz'), 100., ('a', 'b'), 'toy', pd.DataFrame({'k': [10, 11, 12]}))
    p = cut_trials(t, 0.7)                                          # 70 samples: 4 pieces per trial, 20 samples unused
    assert p.x.shape == (12, 2, 70) and p.trial.tolist() == [7]*4 + [8]*4 + [9]*4 and p.group.tolist() == [1]*8 + [2]*4
    assert p.y.tolist() == [0]*4 + [1]*8 and p.meta.k.tolist() == [10]*4 + [11]*4 + [12]*4 and p.meta.piece.tolist() == [0, 1, 2, 3]*3
    np.testing.assert_array_equal(p.x[6], x[1, :, 140:210].astype(np.float32))
    with pytest.raises(ValueError, match='expected between 1/100 s and the trial length, 3 s'): cut_trials(t, 4.)


# ---------------------------------------------------------------- the models and the loss

@pytest.mark.parametrize('kind', MODEL_KINDS)
def test_frame_sequence_model_shapes_and_modes(kind):
    seed_everything(0)
    net = FrameSequenceModel(kind, n_classes=3, n_latent=16, hidden=8)
    x = torch.randn(2, 5, 3, 32, 32)
    logits, out, mu, lv = net(x)
    assert logits.shape == (2, 3) and mu.shape == lv.shape == (2, 5, 16)
    assert (out is None) == (kind == 'cnn') and (out is None or out.shape == x.shape)
    assert any(k.startswith('vae.decoder') for k in net.state_dict()) == (kind != 'cnn')
    net.eval()
    a = net(x)[0]
    assert torch.equal(a, net(x)[0]) and torch.equal(net(x, keep=np.ones(16, bool))[0], a)      # eval: deterministic, all kept = no mask
    h, _ = net.lstm(net.vae.encode(x.flatten(0, 1))[0].view(2, 5, -1))
    torch.testing.assert_close(a, net.head(h[:, -1]))                                           # eval reads μ
    none = net.classify(x, keep=[])
    torch.testing.assert_close(none[0], none[1])                                                # all factors at the prior mean
    net.train()
    assert torch.equal(net(x)[0], net(x)[0]) == (kind != 'vae')                                 # only a training 'vae' samples
    if kind == 'vae':
        mu_all, lv_all = net.posteriors(x.numpy(), bs=1)
        assert mu_all.shape == lv_all.shape == (10, 16) and net.training                        # mode restored
    else:
        with pytest.raises(ValueError, match=f"kind='{kind}' has no posterior"): net.posteriors(x)
    with pytest.raises(ValueError, match=r'expected \(trials, frames, 3, 32, 32\)'): net(x[:, 0])
    with pytest.raises(ValueError, match=r'boolean mask of shape \(3,\), expected \(16,\)'): net(x, keep=np.ones(3, bool))


@pytest.mark.parametrize('kind', MODEL_KINDS)
def test_joint_loss_equals_its_parts(kind):
    seed_everything(1)
    net = FrameSequenceModel(kind, n_classes=4, n_latent=8, hidden=8)
    x, y = torch.randn(3, 2, 3, 32, 32), torch.tensor([0, 3, 1])
    logits, out, mu, lv = pred = net(x)
    ce = F.cross_entropy(logits, y, reduction='none')
    nll = (torch.zeros(3) if kind == 'cnn' else
           torch.stack([-(-0.5*(math.log(2*math.pi) + net.vae.likelihood.logvar + (x[i] - out[i])**2/net.vae.likelihood.logvar.exp())).sum()
                        for i in range(3)]))
    kl = 0.5*(mu**2 + lv.exp() - lv - 1).sum((1, 2)) if kind == 'vae' else torch.zeros(3)
    parts = JointLoss(net).parts(pred, x, y)
    for k, v in (('ce', ce), ('nll', nll), ('kl', kl)): torch.testing.assert_close(parts[k], v, rtol=1e-5, atol=1e-3)
    torch.testing.assert_close(JointLoss(net, beta=6.)(pred, x, y), (ce + nll + 6*kl).mean(), rtol=1e-5, atol=1e-3)
    torch.testing.assert_close(JointLoss(net, beta=2., clf_weight=5.)(pred, x, y), (5*ce + nll + 2*kl).mean(), rtol=1e-5, atol=1e-3)
    if kind == 'cnn': torch.testing.assert_close(JointLoss(net)(pred, x, y), F.cross_entropy(logits, y))


def test_class_scores_by_hand():
    s = class_scores([0, 0, 0, 0, 1, 1, 2, 2], [0, 0, 0, 1, 1, 0, 2, 1], 4, logits=torch.zeros(8, 4))
    assert s['accuracy'] == 5/8 and math.isclose(s['balanced_accuracy'], (3/4 + 1/2 + 1/2)/3)
    assert math.isclose(s['macro_f1'], np.mean([6/8, 2/5, 2/3])) and math.isclose(s['ce'], math.log(4), rel_tol=1e-6)
    assert s['confusion'].tolist() == [[3, 1, 0, 0], [1, 1, 0, 0], [0, 1, 1, 0], [0, 0, 0, 0]]
    assert class_scores([0, 1], [1, 1], 2)['ce'] is None


def test_theorem_4_1_bound_for_beta_at_least_1_and_counterexample_below():
    seed_everything(0)
    f64 = dict(dtype=torch.float64)
    lg = LinearGaussian(torch.randn(5, 2, **f64), torch.randn(5, **f64), 0.4)
    pt, blind = ProbitTrial(lg, torch.randn(3, 2, **f64), -0.2), ProbitTrial(lg, torch.zeros(3, 2, **f64), -0.2)
    X, _ = lg.sample(3)
    m, S = lg.posterior(X)
    for y in (0, 1):
        logp = pt.log_joint(X, y)
        z = m + torch.randn(200_000, 3, 2, **f64) @ torch.linalg.cholesky(S).T
        a = (z*pt.w).sum((1, 2)) + pt.c
        mc = lg.log_marginal(X).sum() + torch.special.ndtr((2*y - 1)*a).mean().log()
        assert abs(mc - logp) < 1e-2                                                      # exact log p(X, y) against Monte Carlo
        g = torch.Generator().manual_seed(y)
        for _ in range(100):                                                             # β ≥ 1: a lower bound for every Gaussian q
            A = torch.randn(2, 2, generator=g, **f64)
            mq, Sq = m + torch.randn(m.shape, generator=g, **f64), A @ A.T + 0.01*torch.eye(2, **f64)
            for beta in (1., 1.5, 6.): assert pt.objective(X, y, mq, Sq, beta) <= logp
        gap = logp - pt.objective(X, y, m, S)
        assert 0 < gap < abs(logp)                                                        # exact frame posteriors: the classifier's Jensen gap
        kl = sum(torch.distributions.kl_divergence(torch.distributions.MultivariateNormal(m[t], S), torch.distributions.MultivariateNormal(
                 torch.zeros(2, **f64), torch.eye(2, **f64))) for t in range(3))
        torch.testing.assert_close(blind.objective(X, y, m, S), blind.log_joint(X, y))   # Z-blind classifier: tight at β = 1 …
        for beta in (0.1, 0.5, 0.9):                                                      # … and above log p(X, y) for β < 1
            d = blind.objective(X, y, m, S, beta) - blind.log_joint(X, y)
            torch.testing.assert_close(d, (1 - beta)*kl)
            assert d > 0
        beta_star = 1 - gap/kl
        assert pt.objective(X, y, m, S, beta_star - 0.05) > logp > pt.objective(X, y, m, S, beta_star + 0.01)


def test_psd_features_and_svm_use_training_statistics():
    t = _toy_trials(16)
    f = psd_features(t)
    assert f.shape == (16, 2*3*32) and np.array_equal(f, band_powers(t.x, 128.).reshape(16, -1))
    assert psd_features(t, mean_windows=True).shape == (16, 3*32)
    svm = psd_svm().fit(f[:12], t.y[:12])
    np.testing.assert_allclose(svm['scale'].mean_, f[:12].mean(0), rtol=1e-5)
    assert svm['svm'].class_weight == 'balanced' and svm.predict(f[12:]).shape == (4,)


# ---------------------------------------------------------------- one fold, end to end

@pytest.fixture(scope='module')
def tiny_deap():
    "4 DEAP-like subjects × 4 trials, the first 2 s of each: 16 trials of 2 frames, each class on 4 trials (one per subject)."
    x = np.concatenate([deap_like_subject(4, (0, s))[0][:, :32, :256] for s in range(4)])
    return EEGTrials(x, np.arange(16) % 4, np.arange(16), np.repeat(np.arange(1, 5), 4), DEAP_CHANNELS, 128., DEAP_TARGETS['quadrant'], 'tiny DEAP-like')


@pytest.mark.parametrize('kind', FOLD_KINDS)
def test_fit_eval_fold_runs_and_scores(tiny_deap, kind):
    split = eeg_splits(tiny_deap, 4, 'subject', valid_by='trial')[0]
    r = fit_eval_fold(tiny_deap, split, kind, EEGConfig(n_latent=16, hidden=8, max_epochs=1, patience=1, bs=4), cache=False, by='subject')
    for k in ('accuracy', 'balanced_accuracy', 'macro_f1'): assert 0 <= r[k] <= 1, (k, r[k])
    assert r['confusion'].shape == (4, 4) and r['confusion'].sum() == len(split['test']) == r['n_test'] == 4
    assert r['predictions'].row.tolist() == split['test'].tolist() and set(r['predictions'].pred) <= set(range(4))
    np.testing.assert_array_equal(r['confusion'].sum(1), np.bincount(tiny_deap.y[split['test']], minlength=4))
    if kind == 'psd_svm': assert r['ce'] is None and r['history'] is None
    else:
        assert len(r['history']) == 1 and r['ce'] > 0 and r['best_epoch'] == 0
        assert list(r['history'].columns) == ['train_loss', 'valid_loss', 'ce', 'accuracy', 'balanced_accuracy', 'macro_f1']
        np.testing.assert_allclose(r['predictions'].filter(like='p_').sum(axis=1), 1, rtol=1e-5)
        assert isinstance(r['model'], FrameSequenceModel) and r['model'].kind == kind and not r['model'].training


def test_fit_eval_fold_refuses_leaky_splits(tiny_deap):
    leaky = window_split(cut_trials(tiny_deap, 1.), 2)[0]
    pieces = cut_trials(tiny_deap, 1.)
    with pytest.raises(ValueError, match='share'): fit_eval_fold(pieces, leaky, 'psd_svm')
    assert fit_eval_fold(pieces, leaky, 'psd_svm', by='row')['n_test'] == len(leaky['test'])
    with pytest.raises(ValueError, match=r"kind='svm': expected one of \('vae', 'ae', 'cnn', 'psd_svm'\)"):
        fit_eval_fold(tiny_deap, eeg_splits(tiny_deap, 2)[0], 'svm')


# ---------------------------------------------------------------- `drl-notes eeg` in quick mode on generated DEAP files

@pytest.fixture(scope='module')
def deap_folder(tmp_path_factory):
    from drl_notes.eeg import make_deap_like
    d = tmp_path_factory.mktemp('deap')
    make_deap_like(d, n_subjects=3, n_trials=8, seed=1)      # every class in every training part of the quick run's folds
    return d


def test_cli_eeg_quick_on_generated_deap(cli, deap_folder, tmp_path):
    import json
    out = tmp_path/'o'
    code, stdout, err = cli('eeg', '--data', 'deap', '--deap-dir', deap_folder, '--deap-trials', 8, '--quick', '--out', out)
    assert code == 0, err
    files = ('scores.csv', 'table_4_1.md', 'summary.json', 'confusion.png', 'curves.png', 'topk.csv')
    for f in files: assert (out/f).stat().st_size > 0 and f in stdout
    scores = pd.read_csv(out/'scores.csv')
    assert len(scores) == 2*4 and set(scores.kind) == {'psd_svm', 'cnn', 'ae', 'vae'} and (scores.split == 'subject-wise').all()
    assert scores[['accuracy', 'balanced_accuracy', 'macro_f1']].apply(lambda c: c.between(0, 1)).all().all()
    assert scores.groupby('kind').n_test.sum().eq(3*8).all()                    # every (first 4-s piece of a) trial tested once
    s = json.loads((out/'summary.json').read_text())
    assert s['subjects'] == 3 and s['split'] == 'subject-wise' and s['quick'] and s['config']['max_epochs'] == 2
    table = (out/'table_4_1.md').read_text()
    assert 'thesis (DEAP, split not described)' in table and 'β-VAE-LSTM' in table
    topk = pd.read_csv(out/'topk.csv')
    assert set(topk.k) == {100, 50, 10, 7, 5, 3, 1, 0} and (topk[topk.k == 0].I_used == 0).all()
    code, _, err = cli('eeg', '--data', 'deap', '--deap-dir', deap_folder, '--deap-trials', 8, '--quick', '--out', out)
    assert code == 2 and 'already holds' in err                                 # never overwrites silently


@pytest.mark.parametrize('args,msg', [
    (('--data', 'deap'), 'needs the folder'),
    (('--data', 'deap', '--deap-dir', 'DEAP'), "'data' has shape (8, 40, 8064), expected (40, 40, 8064)"),
    (('--data', 'deap', '--deap-dir', 'DEAP', '--deap-trials', '8', '--subjects', '9'), 'no s09.dat'),
    (('--data', 'deap', '--deap-dir', 'DEAP', '--deap-trials', '8', '--folds', '4', '--by', 'subject'), 'n_folds=4 is larger than the 3 subjects'),
    (('--data', 'eyestate', '--deap-dir', 'DEAP'), '--deap-dir and --subjects are for --data deap'),
])
def test_cli_eeg_errors(cli, deap_folder, tmp_path, args, msg):
    args = [deap_folder if a == 'DEAP' else a for a in args]
    code, _, err = cli('eeg', *args, '--out', tmp_path/'o')
    assert code == 2 and msg in err, err
