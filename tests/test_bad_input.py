"""Bad input through every `drl-notes` subcommand (runoff, vae, mi, eeg, rnn, rbm, ae, gan): each case must end with exit status 2 before anything trains, with
one message that names the flag, or the file with its column and line.

Every case runs `drl_notes.cli.main` in this process (importing torch, fastai and MNE once, not once per case) with
fastai's `Learner.fit` replaced by a tripwire, so a case whose error would come only after training starts fails
loudly; its time to fail is asserted too. A few cases run the installed `drl-notes` script as a real subprocess. The
tests of transactional outputs (a failing `--overwrite` run, SIGTERM and Ctrl-C during training and during report
writing) are at the end."""
import os, signal, subprocess, sys, time
from pathlib import Path

import pandas as pd
import pytest

from conftest import run_cli

EXE = Path(sys.executable).parent/'drl-notes'
SECONDS = 20          # the slowest case loads and validates a data set; none may train
LEAF = ['1974-01-01', '1983-12-31'], ['1984-01-01', '1984-12-31'], ['1985-01-01', '1987-12-31']


def _periods(train=LEAF[0], valid=LEAF[1], test=LEAF[2]):
    return ['--train', *train, '--valid', *valid, '--test', *test]


class Files:
    "Bad files for the cases, written into one test's folder; `path(name)` is where a case's file lies."
    def __init__(self, tmp:Path, leaf_frame:pd.DataFrame):
        self.tmp, self.leaf = tmp, leaf_frame

    def path(self, name): return self.tmp/name

    def text(self, name, text, encoding='utf-8'):
        p = self.tmp/name
        p.write_bytes(text.encode(encoding))
        return p

    def daily(self, name='flows.csv', n=400, edit=None, extra=''):
        "A daily CSV (date, flow) of `n` days from 2000-01-01 with varying flows; `edit(lines)` may spoil its lines."
        days = pd.date_range('2000-01-01', periods=n, freq='D').strftime('%Y-%m-%d')
        lines = ['date,flow'] + [f'{d},{1 + 0.1*(k % 50):.1f}' for k, d in enumerate(days)]
        if edit is not None: lines = edit(lines)
        return self.text(name, '\n'.join(lines) + '\n' + extra)

    def leaf_csv(self, name='leaf.csv', edit=None):
        "Leaf River 1978…1985 as a user CSV with columns date, flow, P, E0; `edit(df)` may change it."
        df = self.leaf[(self.leaf.Date >= '1978-01-01') & (self.leaf.Date <= '1985-12-31')]
        df = df.rename(columns={'Date': 'date', 'Qo': 'flow'})[['date', 'flow', 'P', 'E0']].reset_index(drop=True)
        if edit is not None: df = edit(df)
        p = self.tmp/name
        df.to_csv(p, index=False)
        return p


def _set(lines, k, text):
    lines = list(lines)
    lines[k] = text
    return lines


def _leaf_set(col, first, last, value):
    def edit(df):
        df = df.copy()
        df.loc[df.date.between(first, last), col] = value
        return df
    return edit


# Each case: id -> (subcommand arguments as a function of `Files`, fragments the message must hold). A fragment
# may be a function of `Files` too (the path of the case's file). '--out' is added by the test.
F = Files
CASES = {
    # ---- runoff: numbers and counts, refused by argparse and named
    **{f'runoff --lr {v}': (lambda f, v=v: ['runoff', '--lr', v], ['argument --lr:', m]) for v, m in
       [('nan', "finite number, got 'nan'"), ('inf', 'finite'), ('-1', '> 0, got -1'), ('0', '> 0, got 0'), ('fast', 'expected a number')]},
    **{f'runoff --min-obs={v}': (lambda f, v=v: ['runoff', f'--min-obs={v}'], ['argument --min-obs:', m]) for v, m in
       [('nan', 'finite'), ('-1', '≥ 0, got -1'), ('-inf', 'finite')]},
    **{f'runoff --{k} 0': (lambda f, k=k: ['runoff', f'--{k}', '0'], [f'argument --{k}:', 'whole number ≥ 1, got 0'])
       for k in ('hidden', 'layers', 'seq-len', 'n-pred', 'stride', 'bs', 'epochs', 'patience')},
    'runoff --epochs 2.5': (lambda f: ['runoff', '--epochs', '2.5'], ['argument --epochs:', "whole number, got '2.5'"]),
    'runoff --seeds -1': (lambda f: ['runoff', '--seeds', '-1'], ['argument --seeds:', 'whole number ≥ 0, got -1']),
    'runoff --seeds 0 0': (lambda f: ['runoff', '--seeds', '0', '0'], ['--seeds: 0 given more than once']),
    'runoff --seeds 1 2 1': (lambda f: ['runoff', '--seeds', '1', '2', '1'], ['--seeds: 1 given more than once']),
    'runoff --models twice': (lambda f: ['runoff', '--models', 'ar', 'lstm', 'ar'], ['--models: ar given more than once']),
    'runoff --inputs twice': (lambda f: ['runoff', '--inputs', 'P', 'P'], ['--inputs: P given more than once']),
    'runoff --skip-rows -1': (lambda f: ['runoff', '--skip-rows', '-1'], ['argument --skip-rows:', '≥ 0, got -1']),
    'runoff --n-pred above --seq-len': (lambda f: ['runoff', '--n-pred', '90'], ['n_pred (--n-pred) must be in 1…seq_len-1']),
    'runoff unknown model': (lambda f: ['runoff', '--models', 'transformer'], ["argument --models: invalid choice: 'transformer'"]),
    'runoff unknown --gaps': (lambda f: ['runoff', '--gaps', 'zero'], ["argument --gaps: invalid choice: 'zero'"]),
    'runoff unknown series': (lambda f: ['runoff', '--series', 'nile'], ["unknown series 'nile'; choose one of"]),
    'runoff --series and --csv': (lambda f: ['runoff', '--series', 'leaf', '--csv', 'x.csv'], ['not allowed with argument']),
    'runoff --train alone': (lambda f: ['runoff', '--train', *LEAF[0]], ['give all of --train, --valid and --test']),
    'runoff --simulate without inputs': (lambda f: ['runoff', '--simulate'], ['--simulate needs --inputs']),
    'runoff --simulate with a BPNN': (lambda f: ['runoff', '--simulate', '--inputs', 'P', '--models', 'bpnn'], ['need past flow']),
    'runoff unknown input': (lambda f: ['runoff', '--inputs', 'T'], ["has no input(s) ['T'] (--inputs)"]),
    'runoff unknown encoding': (lambda f: ['runoff', '--csv', f.daily(), '--encoding', 'klingon'],
                                ["encoding='klingon' (--encoding) is not a text encoding"]),
    'runoff series from an unset data folder': (lambda f: ['runoff', '--series', 'cuntan'], ['$DRL_NOTES_DATA']),
    # ---- runoff: periods (named --train / --valid / --test)
    'periods overlap': (lambda f: ['runoff', *_periods(valid=['1983-06-01', '1984-12-31'])],
                        ['valid period (--valid) must start after the train period ends (1983-12-31), it starts 1983-06-01']),
    'period outside the series': (lambda f: ['runoff', *_periods(test=['1985-01-01', '1999-12-31'])],
                                  ['test period (--test) 1985-01-01…1999-12-31 is outside the series (1957-01-01…1987-12-31)']),
    'period reversed': (lambda f: ['runoff', *_periods(train=['1983-12-31', '1974-01-01'])],
                        ['train period (--train) 1983-12-31…1974-01-01 ends before it starts']),
    'period month 13': (lambda f: ['runoff', *_periods(train=['1974-13-01', '1983-12-31'])],
                        ["train period (--train): '1974-13-01' is not a date (month must be in 1..12)"]),
    'period 30 February': (lambda f: ['runoff', *_periods(valid=['1984-01-01', '1984-02-30'])], ["valid period (--valid): '1984-02-30' is not a date"]),
    'period not ISO': (lambda f: ['runoff', *_periods(test=['01/01/1985', '1987-12-31'])],
                       ["test period (--test): '01/01/1985' is not a date in ISO form YYYY-MM-DD"]),
    'period with a time': (lambda f: ['runoff', *_periods(test=['1985-01-01T12:00', '1987-12-31'])], ['is not a date in ISO form']),
    'test period of one day': (lambda f: ['runoff', *_periods(test=['1985-01-01', '1985-01-01'])],
                               ['test period (--test) 1985-01-01…1985-01-01 has 1 day(s), at least 30 are needed']),
    'valid period of ten days': (lambda f: ['runoff', *_periods(valid=['1984-01-01', '1984-01-10'])], ['valid period (--valid)', 'has 10 day(s)']),
    'train period of 100 days': (lambda f: ['runoff', *_periods(train=['1983-09-23', '1983-12-31'])], ['train period (--train)', 'at least 365']),
    'constant test period': (lambda f: ['runoff', '--csv', f.leaf_csv(edit=_leaf_set('flow', '1983-01-01', '1985-12-31', '1'))],
                             ['test period (--test) 1983-01-01…1985-12-31: every flow is 1, so there is nothing to score']),
    'constant valid period': (lambda f: ['runoff', '--csv', f.leaf_csv(edit=_leaf_set('flow', '1982-01-01', '1982-12-31', '0'))],
                              ['valid period (--valid)', 'every flow is 0']),
    'min-obs above every test flow': (lambda f: ['runoff', '--min-obs', '1e6'], ['min_obs=1000000.0 (--min-obs)']),
    'series too short for automatic periods': (lambda f: ['runoff', '--csv', f.daily()], ['too short for 1 validation and 3 test', '--train, --valid, --test']),
    # ---- runoff: CSV files (named with the column and the line)
    'csv missing': (lambda f: ['runoff', '--csv', f.path('nope.csv')], [lambda f: f'{f.path("nope.csv")}: no such file']),
    'csv is a folder': (lambda f: ['runoff', '--csv', f.tmp], [lambda f: f'{f.tmp}: no such file']),
    'csv empty': (lambda f: ['runoff', '--csv', f.text('e.csv', '')], [lambda f: f'{f.path("e.csv")}: the file is empty']),
    'csv blank lines only': (lambda f: ['runoff', '--csv', f.text('b.csv', '\n \n')], ['the file is empty']),
    'csv header only': (lambda f: ['runoff', '--csv', f.text('h.csv', 'date,flow\n')], [lambda f: f'{f.path("h.csv")}: no data lines under the header']),
    'csv header and skipped units row only': (lambda f: ['runoff', '--csv', f.text('u.csv', 'date,flow\nday,m3/s\n'), '--skip-rows', '1'],
                                              ['no data lines under the header (after skipping 1)']),
    'csv not UTF-8': (lambda f: ['runoff', '--csv', f.text('l.csv', 'date,flow,note\n2000-01-01,1,\n2000-01-02,2,débit\n', 'latin-1')],
                      [lambda f: f'{f.path("l.csv")}: line 3 is not utf-8 text (byte 0xe9)', '--encoding latin-1']),
    'csv UTF-16': (lambda f: ['runoff', '--csv', f.text('w.csv', 'date,flow\n2000-01-01,1\n', 'utf-16')], ['line 1 is not utf-8 text (byte 0xff)']),
    'csv long row': (lambda f: ['runoff', '--csv', f.daily(edit=lambda l: _set(l, 5, '2000-01-05,1.4,7'))],
                     ['line 6 has 3 field(s), the header has 2 (date,flow)']),
    'csv short row': (lambda f: ['runoff', '--csv', f.daily(edit=lambda l: _set(l, 9, '2000-01-09'))], ['line 10 has 1 field(s)']),
    'csv semicolons': (lambda f: ['runoff', '--csv', f.text('s.csv', 'date;flow\n2000-01-01;1\n')], ["no column 'date'; the columns are ['date;flow']"]),
    'csv missing date column': (lambda f: ['runoff', '--csv', f.daily(), '--date-col', 'day'], ["no column 'day'; the columns are ['date', 'flow']"]),
    'csv missing flow column': (lambda f: ['runoff', '--csv', f.daily(), '--flow-col', 'Q'], ["no column 'Q'"]),
    'csv missing forcing column': (lambda f: ['runoff', '--csv', f.leaf_csv(), '--inputs', 'T'], ["no column 'T'"]),
    'csv unparsable date': (lambda f: ['runoff', '--csv', f.daily(edit=lambda l: _set(l, 2, '2000-02-30,1.1'))],
                            ['[date]', "line 3: cannot read '2000-02-30' as a date"]),
    'csv date with UTC offset': (lambda f: ['runoff', '--csv', f.daily(edit=lambda l: _set(l, 3, '2000-01-03T00:00:00+08:00,1.2'))],
                                 ['[date]', "line 4: '2000-01-03T00:00:00+08:00' carries a time zone"]),
    'csv dates in UTC (Z)': (lambda f: ['runoff', '--csv', f.daily(edit=lambda l: [l[0]] + [x.replace(',', 'T00:00Z,', 1) for x in l[1:]])],
                             ["line 2: '2000-01-01T00:00Z' carries a time zone"]),
    'csv times of day': (lambda f: ['runoff', '--csv', f.daily(edit=lambda l: _set(l, 4, '2000-01-04 06:00,1.3'))], ['dates must be whole days']),
    'csv mixed date formats': (lambda f: ['runoff', '--csv', f.daily(edit=lambda l: _set(l, 4, '04/01/2000,1.3'))], ["line 5: cannot read '04/01/2000' as a date"]),
    'csv units row': (lambda f: ['runoff', '--csv', f.daily(edit=lambda l: [l[0], '#,m3/s'] + l[1:])], ["line 2: cannot read '#' as a date", '--skip-rows 1']),
    'csv non-numeric flow': (lambda f: ['runoff', '--csv', f.daily(edit=lambda l: _set(l, 3, '2000-01-03,n/a'))], ['[flow]', "line 4: 'n/a' is not a number"]),
    'csv decimal comma': (lambda f: ['runoff', '--csv', f.daily(edit=lambda l: _set(l, 3, '2000-01-03,"1,5"'))], ["line 4: '1,5' is not a number"]),
    'csv negative flow': (lambda f: ['runoff', '--csv', f.daily(edit=lambda l: _set(l, 6, '2000-01-06,-1'))], ['1 negative flow(s), first -1.0 on 2000-01-06']),
    'csv infinite flow': (lambda f: ['runoff', '--csv', f.daily(edit=lambda l: _set(l, 6, '2000-01-06,inf'))], ['infinite flow values']),
    'csv absurd flow 1e300': (lambda f: ['runoff', '--csv', f.daily(edit=lambda l: _set(l, 6, '2000-01-06,1e300'))],
                              ['1 flow(s) above 1e+09, first 1e+300 on 2000-01-06']),
    'csv constant flow': (lambda f: ['runoff', '--csv', f.daily(edit=lambda l: [l[0]] + [x.split(',')[0] + ',3' for x in l[1:]])],
                          ['every flow is 3: a constant series']),
    'csv all-zero flow': (lambda f: ['runoff', '--csv', f.daily(edit=lambda l: [l[0]] + [x.split(',')[0] + ',0' for x in l[1:]])], ['every flow is 0']),
    'csv all flows blank': (lambda f: ['runoff', '--csv', f.daily(edit=lambda l: [l[0]] + [x.split(',')[0] + ',' for x in l[1:]])],
                            ['400 missing day(s)']),
    'csv duplicate date': (lambda f: ['runoff', '--csv', f.daily(edit=lambda l: _set(l, 4, '2000-01-03,1.3'))], ['1 duplicate date(s), first 2000-01-03']),
    'csv unsorted dates': (lambda f: ['runoff', '--csv', f.daily(edit=lambda l: [l[0], l[1], l[2], l[4], l[3]] + l[5:])],
                           ['dates are not in increasing order: 2000-01-04 is followed by 2000-01-03']),
    'csv gap': (lambda f: ['runoff', '--csv', f.daily(edit=lambda l: l[:10] + l[13:])], ['3 missing day(s)', 'first 2000-01-10, longest gap 3 day(s)', '--gaps interpolate']),
    'csv blank flow': (lambda f: ['runoff', '--csv', f.daily(edit=lambda l: _set(l, 20, '2000-01-20,'))], ['1 missing day(s)', 'first 2000-01-20']),
    'csv gap too long to interpolate': (lambda f: ['runoff', '--csv', f.daily(edit=lambda l: l[:10] + l[15:]), '--gaps', 'interpolate'],
                                        ['a gap of 5 day(s) from 2000-01-10 is longer than max_gap=3']),
    'csv leading gap to interpolate': (lambda f: ['runoff', '--csv', f.daily(edit=lambda l: _set(l, 1, '2000-01-01,')), '--gaps', 'interpolate'],
                                       ['the series starts with 1 missing day(s) (2000-01-01…2000-01-01)']),
    'csv trailing gap to interpolate': (lambda f: ['runoff', '--csv', f.daily(edit=lambda l: l[:-2] + [x.split(',')[0] + ',' for x in l[-2:]]),
                                                    '--gaps', 'interpolate'], ['the series ends with 2 missing day(s) (2001-02-02…2001-02-03)']),
    'csv too short': (lambda f: ['runoff', '--csv', f.daily(n=200)], ['series has 200 days, at least 365 are needed']),
    'csv forcing not a number': (lambda f: ['runoff', '--csv', f.leaf_csv(edit=_leaf_set('P', '1980-05-05', '1980-05-05', 'wet')), '--inputs', 'P'],
                                 ['[P]', "'wet' is not a number"]),
    'csv forcing infinite': (lambda f: ['runoff', '--csv', f.leaf_csv(edit=_leaf_set('E0', '1980-05-05', '1980-05-05', 'inf')), '--inputs', 'E0'],
                             ['[E0]: infinite values']),
    'csv forcing gap': (lambda f: ['runoff', '--csv', f.leaf_csv(edit=_leaf_set('P', '1980-05-05', '1980-05-06', '')), '--inputs', 'P'],
                        ['[P]: 2 missing day(s)']),
    'csv forcing leading gap to interpolate': (lambda f: ['runoff', '--csv', f.leaf_csv(edit=_leaf_set('P', '1978-01-01', '1978-01-02', '')),
                                                          '--inputs', 'P', '--gaps', 'interpolate'], ['[P]: the series starts with 2 missing day(s)']),
    # ---- vae
    **{f'vae --{k} {v}': (lambda f, k=k, v=v: ['vae', f'--{k}', v], [f'argument --{k}:', m]) for k, v, m in
       [('beta', 'nan', 'finite'), ('beta', '-1', '≥ 0, got -1'), ('beta', 'inf', 'finite'), ('lr', 'nan', 'finite'), ('lr', '0', '> 0'),
        ('latent', '0', '≥ 1'), ('epochs', '0', '≥ 1'), ('patience', '0', '≥ 1'), ('bs', '0', '≥ 1'), ('seed', '-1', '≥ 0'), ('bs', 'many', 'whole number')]},
    'vae unknown data set': (lambda f: ['vae', '--data', 'imagenet'], ["argument --data: invalid choice: 'imagenet'"]),
    'vae unknown likelihood': (lambda f: ['vae', '--likelihood', 'poisson'], ["argument --likelihood: invalid choice"]),
    'vae celeba without --source': (lambda f: ['vae', '--data', 'celeba'], ['celeba: pass the CelebA folder']),
    'vae unknown MNIST source': (lambda f: ['vae', '--data', 'mnist', '--source', 'nowhere'], ["MNIST source 'nowhere'"]),
    'vae batch larger than the training set': (lambda f: ['vae', '--data', 'shapes', '--quick', '--bs', '100000'],
                                               ['less than one batch of 100000 (--bs)']),
    # ---- mi
    **{f'mi --{k} {v}': (lambda f, k=k, v=v: ['mi', 'vae.pt', f'--{k}', v], [f'argument --{k}:', m]) for k, v, m in
       [('threshold', 'nan', 'finite'), ('threshold', '-0.5', '≥ 0'), ('threshold', 'inf', 'finite'), ('mc-samples', '-1', '≥ 0'),
        ('points', '0', '≥ 1'), ('split-seed', '-1', '≥ 0')]},
    'mi unknown split': (lambda f: ['mi', 'vae.pt', '--split', 'all'], ["argument --split: invalid choice: 'all'"]),
    'mi no checkpoint argument': (lambda f: ['mi'], ['the following arguments are required: checkpoint']),
    'mi checkpoint missing': (lambda f: ['mi', f.path('none/vae.pt')], [lambda f: str(f.path('none/vae.pt'))]),
    # ---- eeg
    **{f'eeg --{k} {v}': (lambda f, k=k, v=v: ['eeg', f'--{k}', v], [f'argument --{k}:', m]) for k, v, m in
       [('folds', '1', '≥ 2, got 1'), ('folds', '0', '≥ 2'), ('seeds', '-1', '≥ 0'), ('subjects', '0', '≥ 1'), ('deap-trials', '-1', '≥ 0'),
        ('lr', 'nan', 'finite'), ('lr', '-1', '> 0'), ('beta', '-1', '≥ 0'), ('beta', 'nan', 'finite'), ('clf-weight', '0', '> 0'),
        ('epochs', '0', '≥ 1'), ('patience', '0', '≥ 1'), ('bs', '0', '≥ 1')]},
    'eeg --seeds twice': (lambda f: ['eeg', '--seeds', '3', '3'], ['--seeds: 3 given more than once']),
    'eeg --models twice': (lambda f: ['eeg', '--models', 'cnn', 'cnn'], ['--models: cnn given more than once']),
    'eeg --subjects twice': (lambda f: ['eeg', '--data', 'deap', '--deap-dir', f.tmp, '--subjects', '2', '2'], ['--subjects: 2 given more than once']),
    'eeg unknown model': (lambda f: ['eeg', '--models', 'lstm'], ["argument --models: invalid choice: 'lstm'"]),
    'eeg unknown target': (lambda f: ['eeg', '--target', 'mood'], ["argument --target: invalid choice"]),
    'eeg deap without --deap-dir': (lambda f: ['eeg', '--data', 'deap'], ['needs the folder', '--deap-dir']),
    'eeg --deap-dir for eegmmidb': (lambda f: ['eeg', '--deap-dir', f.tmp], ['--deap-dir and --subjects are for --data deap']),
    'eeg --deap-dir missing': (lambda f: ['eeg', '--data', 'deap', '--deap-dir', f.path('no_deap')], [lambda f: str(f.path('no_deap'))]),
    'eeg --deap-dir without files': (lambda f: ['eeg', '--data', 'deap', '--deap-dir', f.tmp], [lambda f: str(f.tmp)]),
    # ---- rnn
    **{f'rnn --{k} {v}': (lambda f, k=k, v=v: ['rnn', f'--{k}', v], [f'argument --{k}:', m]) for k, v, m in
       [('T', '1', '≥ 2, got 1'), ('T', '0', '≥ 2'), ('T', 'long', 'whole number'), ('seeds', '-1', '≥ 0'), ('hidden', '0', '≥ 1'),
        ('n-train', '0', '≥ 1'), ('lr', 'nan', 'finite'), ('lr', '0', '> 0'), ('bs', '0', '≥ 1'), ('epochs', '0', '≥ 1'), ('patience', '0', '≥ 1')]},
    'rnn unknown cell': (lambda f: ['rnn', '--cells', 'lstm'], ["argument --cells: invalid choice: 'lstm'"]),
    'rnn --cells twice': (lambda f: ['rnn', '--cells', 'gru', 'gru'], ['--cells: gru given more than once']),
    'rnn --seeds twice': (lambda f: ['rnn', '--seeds', '1', '1'], ['--seeds: 1 given more than once']),
    'rnn --T twice': (lambda f: ['rnn', '--T', '20', '20'], ['--T: 20 given more than once']),
    'rnn batch larger than the training set': (lambda f: ['rnn', '--T', '10', '--cells', 'gru', '--n-train', '10'],
                                               ['n_train (--n-train) 10 is less than one batch of 64 (--bs)']),
    # ---- rbm
    **{f'rbm --{k} {v}': (lambda f, k=k, v=v: ['rbm', f'--{k}', v], [f'argument --{k}:', m]) for k, v, m in
       [('k', '0', '≥ 1, got 0'), ('hidden', '0', '≥ 1'), ('hidden', '2.5', 'whole number'), ('seeds', '-1', '≥ 0'),
        ('lr', 'inf', 'finite'), ('bs', '0', '≥ 1'), ('epochs', '0', '≥ 1'), ('patience', '0', '≥ 1')]},
    'rbm unknown method': (lambda f: ['rbm', '--method', 'cd-1'], ["argument --method: invalid choice: 'cd-1'"]),
    'rbm unknown data': (lambda f: ['rbm', '--data', 'cifar'], ["argument --data: invalid choice: 'cifar'"]),
    'rbm --seeds twice': (lambda f: ['rbm', '--seeds', '2', '2'], ['--seeds: 2 given more than once']),
    'rbm batch larger than the training set': (lambda f: ['rbm', '--data', 'digits', '--bs', '5000'],
                                               ['the training split holds 1078 images, less than one batch of 5000 (--bs)']),
    # ---- ae
    **{f'ae --{k} {v}': (lambda f, k=k, v=v: ['ae', f'--{k}', v], [f'argument --{k}:', m]) for k, v, m in
       [('k', '0', '≥ 1, got 0'), ('k', '2.5', 'whole number'), ('seeds', '-1', '≥ 0'), ('level', '-0.1', '≥ 0'),
        ('rho', '0', '> 0'), ('lr', 'nan', 'finite'), ('bs', '0', '≥ 1'), ('epochs', '0', '≥ 1'), ('patience', '0', '≥ 1')]},
    'ae --level 1': (lambda f: ['ae', '--kind', 'denoising', '--level', '1'], ['--level must lie in [0, 1), got 1']),
    'ae --rho 1.5': (lambda f: ['ae', '--kind', 'sparse', '--rho', '1.5'], ['--rho must lie in (0, 1), got 1.5']),
    'ae unknown kind': (lambda f: ['ae', '--kind', 'vae'], ["argument --kind: invalid choice: 'vae'"]),
    'ae unknown corruption': (lambda f: ['ae', '--corruption', 'blur'], ["argument --corruption: invalid choice: 'blur'"]),
    'ae conv on 8×8 digits': (lambda f: ['ae', '--data', 'digits', '--kind', 'conv'],
                              ['--kind conv needs 28×28 (mnist) or 64×64 (faces) images; digits images are 8×8']),
    'ae --seeds twice': (lambda f: ['ae', '--seeds', '2', '2'], ['--seeds: 2 given more than once']),
    'ae batch larger than the training set': (lambda f: ['ae', '--data', 'digits', '--bs', '5000'],
                                              ['the training split holds 1078 images, less than one batch of 5000 (--bs)']),
    # ---- gan
    **{f'gan --{k} {v}': (lambda f, k=k, v=v: ['gan', '--data', 'mnist', f'--{k}', v], [f'argument --{k}:', m]) for k, v, m in
       [('seeds', '-1', '≥ 0'), ('lr', 'nan', 'finite'), ('lr', '0', '> 0'), ('bs', '0', '≥ 1'), ('epochs', '0', '≥ 1'),
        ('patience', '0', '≥ 1'), ('steps', '0', '≥ 1'), ('steps', '1.5', 'whole number')]},
    'gan unknown data': (lambda f: ['gan', '--data', 'cifar'], ["argument --data: invalid choice: 'cifar'"]),
    'gan unknown loss': (lambda f: ['gan', '--loss', 'hinge'], ["argument --loss: invalid choice: 'hinge'"]),
    'gan unknown arch': (lambda f: ['gan', '--arch', 'resnet'], ["argument --arch: invalid choice: 'resnet'"]),
    'gan dcgan on the ring': (lambda f: ['gan', '--arch', 'dcgan'], ["--arch dcgan needs --data mnist: the ring's GAN is an MLP"]),
    'gan conditional on the ring': (lambda f: ['gan', '--conditional'], ['--conditional needs --data mnist and --arch mlp']),
    'gan conditional dcgan': (lambda f: ['gan', '--data', 'mnist', '--arch', 'dcgan', '--conditional'],
                              ['--conditional needs --data mnist and --arch mlp']),
    'gan --bs on the ring': (lambda f: ['gan', '--bs', '32', '--epochs', '5'], ["--bs, --epochs apply to --data mnist only; the ring's budget is --steps"]),
    'gan --steps on mnist': (lambda f: ['gan', '--data', 'mnist', '--steps', '100'], ['--steps applies to --data ring only']),
    'gan --seeds twice': (lambda f: ['gan', '--seeds', '1', '1'], ['--seeds: 1 given more than once']),
    'gan --critic without --conditional': (lambda f: ['gan', '--data', 'mnist', '--critic', 'projection'], ['--critic applies to --conditional only']),
    'gan --patience with --conditional': (lambda f: ['gan', '--data', 'mnist', '--conditional', '--patience', '5'],
                                          ['--patience does not apply to --conditional']),
    'gan unknown critic': (lambda f: ['gan', '--data', 'mnist', '--conditional', '--critic', 'hinge'], ["argument --critic: invalid choice: 'hinge'"]),
    'gan batch larger than the training set': (lambda f: ['gan', '--data', 'mnist', '--bs', '7000'],
                                               ['the training split holds 6000 images, less than one batch of 7000 (--bs)']),
}
# ---- every subcommand: --out checked before any work
MINIMAL = {'runoff': ['runoff'], 'vae': ['vae', '--data', 'shapes'], 'mi': ['mi', 'vae.pt'], 'eeg': ['eeg'], 'rnn': ['rnn'], 'rbm': ['rbm'], 'ae': ['ae'],
           'gan': ['gan']}
OLD_FILE = {'runoff': 'metrics.csv', 'vae': 'vae.pt', 'mi': 'indicators.csv', 'eeg': 'scores.csv', 'rnn': 'results.csv', 'rbm': 'results.csv', 'ae': 'results.csv',
            'gan': 'results.csv'}
for cmd, args in MINIMAL.items():
    CASES[f'{cmd} --out is a file'] = (lambda f, a=args: [*a, '--out', f.text('taken', 'x')], ['is a file, not a folder'])
    CASES[f'{cmd} --out under a file'] = (lambda f, a=args: [*a, '--out', f.text('taken', 'x')/'sub'], [lambda f: f"{f.path('taken')} is a file, not a folder"])
    CASES[f'{cmd} --out not writable'] = (lambda f, a=args: [*a, '--out', '/proc/drl_notes_out'], ['--out /proc/drl_notes_out: cannot write into /proc'])
    CASES[f'{cmd} --out holds a report'] = (lambda f, a=args, c=cmd: [*a, '--out', f.text(f'old/{OLD_FILE[c]}', 'old').parent],
                                            [f'already holds {OLD_FILE[cmd]}; pass --overwrite'])


@pytest.fixture
def no_training(monkeypatch):
    "Any training that starts fails the test."
    from fastai.learner import Learner
    def tripwire(self, *args, **kwargs): raise AssertionError('training started: this error should have come before it')
    monkeypatch.setattr(Learner, 'fit', tripwire)


@pytest.mark.parametrize('case', list(CASES))
def test_bad_input_fails_at_once(case, tmp_path, leaf_frame, no_training, monkeypatch):
    if case == 'runoff series from an unset data folder': monkeypatch.delenv('DRL_NOTES_DATA', raising=False)
    (tmp_path/'old').mkdir()
    f = Files(tmp_path, leaf_frame)
    make, fragments = CASES[case]
    args = make(f)
    if '--out' not in args: args = [*args, '--out', tmp_path/'out']
    before = {p: p.read_bytes() for p in tmp_path.rglob('*') if p.is_file()}
    t = time.time()
    code, stdout, err = run_cli(*args)
    took = time.time() - t
    assert code == 2, (code, err)
    assert stdout == '', stdout
    for frag in fragments:
        frag = frag(f) if callable(frag) else frag
        assert frag in err, (frag, err)
    assert 'Traceback' not in err
    cmd = args[0]
    usage = err.startswith('usage:')           # argparse: the usage line, then the error naming the argument
    assert usage or (err.startswith(f'drl-notes {cmd}: error: ') and err.count('\n') == 1), err
    assert took < SECONDS, f'{took:.1f} s to fail'
    assert not (tmp_path/'out').exists()
    assert {p: p.read_bytes() for p in tmp_path.rglob('*') if p.is_file()} == before     # nothing written or changed
    assert not list(tmp_path.glob('**/.*.partial'))


def test_every_subcommand_has_its_cases():
    per = pd.Series([c.split()[0] if c.split()[0] in MINIMAL else 'runoff' for c in CASES]).value_counts()
    assert len(CASES) >= 120 and set(per.index) == set(MINIMAL) and per.min() >= 10, per


# ---------------------------------------------------------------- a handful as real subprocesses

needs_exe = pytest.mark.skipif(not EXE.exists(), reason=f'console script not installed next to the interpreter ({EXE})')


@needs_exe
@pytest.mark.parametrize('args, fragment', [(['runoff', '--lr', 'nan'], "argument --lr: expected a finite number, got 'nan'"),
                                            (['eeg', '--folds', '1'], 'argument --folds: expected a whole number ≥ 2, got 1'),
                                            (['vae', '--beta', '-1'], 'argument --beta: expected a number ≥ 0, got -1')],
                         ids=['runoff --lr nan', 'eeg --folds 1', 'vae --beta -1'])
def test_installed_script_refuses_bad_flags(args, fragment, tmp_path):
    r = subprocess.run([EXE, *args, '--out', tmp_path/'out'], capture_output=True, text=True, timeout=120)
    assert r.returncode == 2 and fragment in r.stderr and r.stdout == '' and not (tmp_path/'out').exists()


@needs_exe
def test_installed_script_names_the_bad_line(tmp_path):
    p = tmp_path/'z.csv'
    p.write_text('date,flow\n2000-01-01T00:00+01:00,1\n')
    r = subprocess.run([EXE, 'runoff', '--csv', p, '--out', tmp_path/'out'], capture_output=True, text=True, timeout=120)
    assert r.returncode == 2 and r.stderr == f"drl-notes runoff: error: {p} [date]: line 2: '2000-01-01T00:00+01:00' carries a time zone; " \
                                             "daily flows need plain dates (YYYY-MM-DD) of the station's own calendar\n"


# ---------------------------------------------------------------- failed and interrupted runs keep the earlier results

def _snapshot(folder:Path)->dict:
    return {p.name: p.read_bytes() for p in sorted(folder.iterdir())}


@pytest.fixture
def old_report(tmp_path):
    "A complete earlier runoff report (persistence only: no training) in tmp_path/'run', and its bytes."
    out = tmp_path/'run'
    code, _, err = run_cli('runoff', '--models', 'persistence', '--quiet', '--out', out)
    assert code == 0, err
    return out, _snapshot(out)


def test_diverging_overwrite_run_names_the_failure_and_keeps_the_old_report(old_report, tmp_path, cli):
    out, before = old_report
    code, stdout, err = cli('runoff', '--models', 'lstm', '--lr', '1e30', '--quick', '--quiet', '--overwrite', '--out', out)
    assert code == 2 and stdout == ''
    assert err.startswith('drl-notes runoff: error: training diverged at epoch 1 (loss ') and 'try a smaller learning rate (--lr)' in err
    assert _snapshot(out) == before and [p.name for p in tmp_path.iterdir()] == ['run']


def test_sigterm_while_the_report_is_written_keeps_the_old_report(old_report, tmp_path, monkeypatch):
    import drl_notes.runoff_report as rr
    out, before = old_report
    write = rr._write
    def write_then_sigterm(folder, *args):
        write(folder, *args)
        assert (folder/'metrics.csv').exists()             # half of the new report is on disk now
        os.kill(os.getpid(), signal.SIGTERM)
        time.sleep(5)                                      # the handler raises here
    monkeypatch.setattr(rr, '_write', write_then_sigterm)
    t = time.time()
    code, _, err = run_cli('runoff', '--models', 'ar', 'persistence', '--quiet', '--overwrite', '--out', out)
    assert code == 143 and err == 'drl-notes runoff: terminated (SIGTERM)\n' and time.time() - t < 5
    assert _snapshot(out) == before and [p.name for p in tmp_path.iterdir()] == ['run']
    assert signal.getsignal(signal.SIGTERM) is signal.SIG_DFL          # main put the handler back


@needs_exe
@pytest.mark.parametrize('sig, code, line', [(signal.SIGTERM, 143, 'drl-notes runoff: terminated (SIGTERM)'),
                                             (signal.SIGINT, 130, 'drl-notes runoff: interrupted')], ids=['SIGTERM', 'Ctrl-C'])
def test_signal_during_training_keeps_the_old_report_and_no_temporary_folder(sig, code, line, old_report, tmp_path):
    out, before = old_report
    tmp = tmp_path/'system_tmp'
    tmp.mkdir()
    env = {**os.environ, 'TMPDIR': str(tmp)}
    p = subprocess.Popen([EXE, 'runoff', '--models', 'deep_lstm', '--epochs', '50', '--patience', '50', '--overwrite', '--out', out],
                         stderr=subprocess.PIPE, stdout=subprocess.PIPE, text=True, env=env)
    seen = []
    for l in p.stderr:                                    # wait until training is under way
        seen.append(l)
        if l.startswith('  epoch 1/50'): break
    assert list(tmp.glob('drl_notes_*')), 'the best-weights folder should exist while training'
    p.send_signal(sig)
    rest, _ = p.communicate(timeout=60)[::-1]
    assert p.returncode == code, (seen, rest)
    assert rest.strip().splitlines()[-1] == line and 'Traceback' not in rest
    assert _snapshot(out) == before
    assert list(tmp.iterdir()) == [] and sorted(x.name for x in tmp_path.iterdir()) == ['run', 'system_tmp']


FAILS_AFTER_THE_OUT_CHECK = {   # a run that gets past the --out check and then fails, for every subcommand
    'runoff': (['runoff', '--csv', 'no_such.csv'], 'REPORT_FILES', 'drl_notes.runoff_report'),
    'vae': (['vae', '--data', 'celeba'], 'VAE_REPORT_FILES', 'drl_notes.vae'),
    'mi': (['mi', 'no_such/vae.pt'], 'MI_REPORT_FILES', 'drl_notes.mi'),
    'eeg': (['eeg', '--data', 'deap'], 'EEG_REPORT_FILES', 'drl_notes.eeg.report'),
    'rnn': (['rnn', '--T', '10', '--cells', 'gru', '--n-train', '10'], 'RNN_REPORT_FILES', 'drl_notes.rnn_report'),
    'rbm': (['rbm', '--data', 'digits', '--bs', '5000'], 'RBM_REPORT_FILES', 'drl_notes.rbm_report'),
    'ae': (['ae', '--data', 'digits', '--bs', '5000'], 'AE_REPORT_FILES', 'drl_notes.ae_report'),
    'gan': (['gan', '--data', 'mnist', '--bs', '7000'], 'GAN_REPORT_FILES', 'drl_notes.gan_report'),
}


@pytest.mark.parametrize('cmd', list(FAILS_AFTER_THE_OUT_CHECK))
def test_failing_overwrite_run_leaves_every_old_file(cmd, tmp_path, cli):
    import importlib
    args, names, module = FAILS_AFTER_THE_OUT_CHECK[cmd]
    out = tmp_path/'old'
    out.mkdir()
    for n in getattr(importlib.import_module(module), names): (out/n).write_text(f'old {n}')
    (out/'notes.txt').write_text('mine')                       # a file of the user's own is never touched
    before = _snapshot(out)
    code, _, err = cli(*args, '--overwrite', '--out', out)
    assert code == 2 and err.startswith(f'drl-notes {cmd}: error: '), err
    assert _snapshot(out) == before and [p.name for p in tmp_path.iterdir()] == ['old']
