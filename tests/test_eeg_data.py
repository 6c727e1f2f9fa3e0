"""`drl_notes.eeg.data` where a notebook is the wrong place: crafted (malicious) pickles, damaged DEAP files, a data
folder without the files, and the loaders' import without PyTorch (a subprocess). Behaviour is checked on the page
(nbs/03a_eeg_data.ipynb)."""
import os, pickle, subprocess, sys

import numpy as np
import pytest

from drl_notes.core import DATA_ENV, DataNotFoundError, data_dir
from drl_notes.eeg.data import load_deap_subject, load_eegmmidb, load_eye_state, read_numpy_pickle

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


def test_numpy_scalars_and_truncated_files_are_refused(tmp_path):
    with pytest.raises(pickle.UnpicklingError, match='multiarray.scalar'): read_numpy_pickle(_dump(tmp_path/'s.dat', np.float64(1.)))
    good = _dump(tmp_path/'g.dat', {'data': np.zeros(100)})
    (tmp_path/'cut.dat').write_bytes(good.read_bytes()[:60])
    with pytest.raises(pickle.UnpicklingError, match='cut.dat: not a readable pickle'): read_numpy_pickle(tmp_path/'cut.dat')
    with pytest.raises(DataNotFoundError, match='nope.dat does not exist'): read_numpy_pickle(tmp_path/'nope.dat')




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
    path = _deap_file(tmp_path, 'two.dat')
    with pytest.raises(ValueError, match=r"'data' has shape \(2, 40, 8064\), expected \(40, 40, 8064\)"): load_deap_subject(path)
    with pytest.raises(ValueError, match='holds a list, expected a dict'): load_deap_subject(_dump(tmp_path/'l.dat', [1, 2]))



@needs_data
def test_eegmmidb_bad_requests(tmp_path, monkeypatch):
    with pytest.raises(DataNotFoundError, match='S001R11.edf does not exist'): load_eegmmidb(runs=[11], folder=data_dir()/'eegmmidb_S001')
    monkeypatch.setenv(DATA_ENV, str(tmp_path))
    with pytest.raises(DataNotFoundError, match=r'eegmmidb_S001/S001R03.edf in \$DRL_NOTES_DATA'): load_eegmmidb()
    with pytest.raises(DataNotFoundError, match=r'eeg_eye_state/EEG Eye State.arff in \$DRL_NOTES_DATA'): load_eye_state()


def test_loaders_import_without_torch_fastai_or_sklearn():
    code = ("import sys, drl_notes.eeg.data, drl_notes.eeg.frames; "
            "print(sorted(m for m in ('torch', 'fastai', 'sklearn') if m in sys.modules))")
    out = subprocess.run([sys.executable, '-c', code], capture_output=True, text=True, check=True).stdout
    assert out.strip() == '[]', out


def test_package_reexports_every_module_lazily():
    code = ("import sys, drl_notes.eeg as e; from drl_notes.eeg import load_deap; a = 'torch' in sys.modules; "
            "from drl_notes.eeg import cross_validate, eeg_report; print(a, 'torch' in sys.modules, e.load_deap is load_deap)")
    out = subprocess.run([sys.executable, '-c', code], capture_output=True, text=True, check=True).stdout
    assert out.split() == ['False', 'True', 'True'], out
    import drl_notes.eeg as e
    with pytest.raises(AttributeError, match="has no attribute 'nothing_here'"): e.nothing_here


@needs_data
def test_truncated_or_damaged_edf_is_refused_before_mne_reads_it(tmp_path):
    src = data_dir()/'eegmmidb_S001'/'S001R03.edf'
    (tmp_path/'S001R03.edf').write_bytes(src.read_bytes()[:-100_000])                   # a download cut short
    with pytest.raises(ValueError, match=r'S001R03.edf: truncated: its header promises 125 records of 10320 samples \(2,596,896 bytes\), the file has 2,496,896'):
        load_eegmmidb(runs=[3], folder=tmp_path)
    (tmp_path/'S001R03.edf').write_bytes(b'not an EDF file at all')
    with pytest.raises(ValueError, match='not an EDF file'): load_eegmmidb(runs=[3], folder=tmp_path)
    damaged = bytearray(src.read_bytes()); damaged[-1] ^= 1                             # one bit flipped, length intact
    (tmp_path/'S001R03.edf').write_bytes(bytes(damaged))
    (tmp_path/'SHA256SUMS').write_text((src.parent/'SHA256SUMS').read_text())
    with pytest.raises(ValueError, match=r'S001R03.edf: SHA-256 [0-9a-f]{64}, but .*SHA256SUMS lists 3427c8d0'):
        load_eegmmidb(runs=[3], folder=tmp_path)
