"""`drl-notes eeg` (`drl_notes.eeg.report`) as a user runs it: a subprocess in quick mode on generated DEAP-format
files, and its errors, each before any training."""
import json

import pandas as pd
import pytest


@pytest.fixture(scope='module')
def deap_folder(tmp_path_factory):
    from drl_notes.eeg import make_deap_like
    d = tmp_path_factory.mktemp('deap')
    make_deap_like(d, n_subjects=3, n_trials=8, seed=1)      # every class in every training part of the quick run's folds
    return d


def test_cli_eeg_quick_on_generated_deap(cli, deap_folder, tmp_path):
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


def test_cli_eeg_refuses_one_class_deap_before_training(cli, tmp_path):
    from drl_notes.eeg.data import deap_like_subject, write_deap_subject
    for s in (1, 2):
        data, labels = deap_like_subject(40, (s, 1))
        labels[:, :2] = 7.                                                               # every trial high valence, high arousal
        write_deap_subject(tmp_path/f's{s:02d}.dat', data, labels)
    code, out, err = cli('eeg', '--data', 'deap', '--deap-dir', tmp_path, '--quick', '--out', tmp_path/'o')
    assert code == 2 and "every one of its 80 rows has the class 'HVHA'" in err, err
    assert 'fold' not in out and not (tmp_path/'o').exists()
