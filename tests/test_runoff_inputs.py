"""Input checks of the runoff chapter: `read_flow_csv`, `validate_flow`, `Periods.check`, `auto_periods`, and the
scores of `runoff_metrics` against values worked out by hand."""
import math, os, re

import numpy as np
import pandas as pd
import pytest

from drl_notes.core import DATA_ENV, package_data
from drl_notes.runoff import (PERIODS, Periods, auto_periods, load_series, read_flow_csv, runoff_metrics,
                              validate_flow)


def raises(exc, *fragments):
    "pytest.raises for `exc` whose message contains every fragment literally, in order."
    return pytest.raises(exc, match='(?s)' + '.*'.join(re.escape(f) for f in fragments))


def drop(*rows):
    return lambda df: df.drop(index=list(rows)).reset_index(drop=True)


def setcell(row, col, value):
    def edit(df): df = df.copy(); df.loc[row, col] = value; return df
    return edit


# ---------------------------------------------------------------- read_flow_csv: what a valid file gives

def test_valid_csv_reads_as_daily_float_series(daily_csv):
    s = read_flow_csv(daily_csv())
    assert isinstance(s.index, pd.DatetimeIndex) and s.index.freqstr == 'D'
    assert len(s) == 400 and s.dtype == 'float64' and s.name == 'flow'
    assert s.index[0] == pd.Timestamp('2000-01-01') and s.iloc[3] == pytest.approx(1.3)
    assert s.attrs['filled_days'] == 0


def test_shipped_leaf_file_reads_with_its_own_columns():
    s = read_flow_csv(package_data('holmes_hydro', 'Leaf_Observations.csv'), 'Date', 'Qo')
    assert (s.index[0], s.index[-1], len(s)) == (pd.Timestamp('1957-01-01'), pd.Timestamp('1987-12-31'), 11322)
    assert (s > 0).all() and s.attrs['filled_days'] == 0


def test_custom_column_names(daily_csv):
    s = read_flow_csv(daily_csv(date_col='Datum', flow_col='Q'), date_col='Datum', flow_col='Q')
    assert s.name == 'Q' and len(s) == 400


# ---------------------------------------------------------------- read_flow_csv: what a broken file says

def test_missing_file(tmp_path):
    with raises(FileNotFoundError, 'nope.csv', 'no such file'):
        read_flow_csv(tmp_path/'nope.csv')


def test_missing_column_lists_the_columns():
    path = package_data('holmes_hydro', 'Leaf_Observations.csv')
    with raises(ValueError, "no column 'date'; the columns are ['Date', 'E0', 'P', 'Qo']"):
        read_flow_csv(path)                          # default date_col='date'
    with raises(ValueError, "no column 'Q'; the columns are ['Date', 'E0', 'P', 'Qo']"):
        read_flow_csv(path, 'Date', 'Q')


def test_unparsable_date_names_row_and_value(daily_csv):
    path = daily_csv(edit=setcell(1, 'date', 'not-a-date'))   # second data row = line 3 of the file
    with raises(ValueError, '[date]', "line 3: cannot read 'not-a-date' as a date"):
        read_flow_csv(path)


def test_non_numeric_flow_names_line_and_value(daily_csv):
    path = daily_csv(edit=setcell(2, 'flow', '12,5'))          # third data row = line 4 of the file
    with raises(ValueError, '[flow]', "line 4: '12,5' is not a number"):
        read_flow_csv(path)


def test_negative_flow(daily_csv):
    with raises(ValueError, '1 negative flow(s), first -2.5 on 2000-01-06'):
        read_flow_csv(daily_csv(edit=setcell(5, 'flow', '-2.5')))


def test_duplicate_date(daily_csv):
    with raises(ValueError, '1 duplicate date(s), first 2000-01-03'):
        read_flow_csv(daily_csv(edit=setcell(3, 'date', '2000-01-03')))


def test_unsorted_dates(daily_csv):
    def swap(df):
        df = df.copy(); df.loc[[3, 4], 'date'] = df.loc[[4, 3], 'date'].to_numpy(); return df
    with raises(ValueError, 'dates are not in increasing order: 2000-01-05 is followed by 2000-01-04; sort the file'):
        read_flow_csv(daily_csv(edit=swap))


def test_times_of_day_are_rejected(daily_csv):
    with raises(ValueError, 'dates must be whole days'):
        read_flow_csv(daily_csv(edit=setcell(0, 'date', '2000-01-01 12:00')))


@pytest.mark.parametrize('edit', [drop(4), setcell(4, 'flow', ''), setcell(4, 'flow', 'NA')],
                         ids=['missing row', 'blank flow', 'NA flow'])
def test_gap_raises_by_default_naming_the_first_missing_day(daily_csv, edit):
    with raises(ValueError, '1 missing day(s) (missing dates or NaN), first 2000-01-05, longest gap 1 day(s)',
                "gaps='interpolate'", 'at most 3 days'):
        read_flow_csv(daily_csv(edit=edit))


def test_interpolate_fills_short_gaps_and_records_them(daily_csv):
    s = read_flow_csv(daily_csv(edit=drop(4, 5, 6)), gaps='interpolate')   # 2000-01-05 … 01-07, between 1.3 and 1.7
    assert len(s) == 400 and s.index.freqstr == 'D' and s.attrs['filled_days'] == 3
    np.testing.assert_allclose(s['2000-01-04':'2000-01-08'].to_numpy(), [1.3, 1.4, 1.5, 1.6, 1.7])


def test_interpolate_refuses_a_longer_gap(daily_csv):
    path = daily_csv(edit=drop(4, 5, 6, 7))                                # 4 missing days
    with raises(ValueError, 'a gap of 4 day(s) from 2000-01-05 is longer than max_gap=3'):
        read_flow_csv(path, gaps='interpolate')
    assert read_flow_csv(path, gaps='interpolate', max_gap=4).attrs['filled_days'] == 4


def test_too_short_series(daily_csv):
    with raises(ValueError, 'series has 100 days, at least 365 are needed'):
        read_flow_csv(daily_csv(n=100))
    assert len(read_flow_csv(daily_csv(n=100), min_days=100)) == 100


# ---------------------------------------------------------------- validate_flow on in-memory series

def _series(n=400):
    return pd.Series(np.linspace(1, 2, n), index=pd.date_range('2000-01-01', periods=n, freq='D'))


def test_validate_flow_names_the_source_and_checks_its_arguments():
    s = _series(); s.iloc[10] = np.nan
    with raises(ValueError, 'gauge X: 1 missing day(s)', 'first 2000-01-11'):
        validate_flow(s, where='gauge X')
    with raises(ValueError, "gaps must be 'raise' or 'interpolate', got 'drop'"):
        validate_flow(_series(), gaps='drop')
    with raises(ValueError, 'index must be a DatetimeIndex, got RangeIndex'):
        validate_flow(pd.Series([1.0, 2.0]))
    s = _series(); s.iloc[3] = np.inf
    with raises(ValueError, 'infinite flow values'):
        validate_flow(s)


def test_validate_flow_keeps_attrs_and_sets_daily_frequency():
    s = _series().astype('float32'); s.attrs['unit'] = 'm³/s'
    v = validate_flow(s)
    assert v.dtype == 'float64' and v.index.freqstr == 'D' and v.attrs == {'unit': 'm³/s', 'filled_days': 0}


# ---------------------------------------------------------------- periods

@pytest.fixture(scope='module')
def leaf():
    return load_series('leaf')


def test_standard_periods_fit_the_shipped_series(leaf):
    assert PERIODS['leaf'].check(leaf) is PERIODS['leaf']
    assert PERIODS['baskatong'].check(load_series('baskatong')) is PERIODS['baskatong']


@pytest.mark.parametrize('periods, fragments', [
    (Periods(('1974-01-01', '1984-06-30'), ('1984-01-01', '1984-12-31'), ('1985-01-01', '1987-12-31')),
     ['valid period must start after the train period ends (1984-06-30), it starts 1984-01-01']),
    (Periods(('1974-01-01', '1983-12-31'), ('1984-01-01', '1985-03-31'), ('1985-01-01', '1987-12-31')),
     ['test period must start after the valid period ends (1985-03-31), it starts 1985-01-01']),
    (Periods(('1950-01-01', '1983-12-31'), ('1984-01-01', '1984-12-31'), ('1985-01-01', '1987-12-31')),
     ['train period 1950-01-01…1983-12-31 is outside the series (1957-01-01…1987-12-31)']),
    (Periods(('1974-01-01', '1983-12-31'), ('1984-01-01', '1984-12-31'), ('1985-01-01', '1990-12-31')),
     ['test period 1985-01-01…1990-12-31 is outside the series (1957-01-01…1987-12-31)']),
    (Periods(('1974-01-01', '1983-12-31'), ('1984-12-31', '1984-01-01'), ('1985-01-01', '1987-12-31')),
     ['valid period 1984-12-31…1984-01-01 ends before it starts']),
], ids=['train overlaps valid', 'valid overlaps test', 'train before the series', 'test after the series', 'reversed'])
def test_bad_periods(leaf, periods, fragments):
    with raises(ValueError, *fragments):
        periods.check(leaf)


def test_auto_periods_takes_whole_years_from_the_end(leaf):
    s = leaf['1978-01-01':'1986-06-30']                            # ends mid-year: 1986 is not a whole test year
    assert auto_periods(s) == Periods(('1978-01-01', '1981-12-31'), ('1982-01-01', '1982-12-31'),
                                      ('1983-01-01', '1985-12-31'))
    with raises(ValueError, 'series 1982-01-01…1986-06-30 is too short for 1 validation and 3 test year(s)',
                'pass periods explicitly'):
        auto_periods(leaf['1982-01-01':'1986-06-30'])


def test_yangtze_series_from_the_data_folder():
    if not os.environ.get(DATA_ENV):
        pytest.skip(f'${DATA_ENV} is not set: the Yangtze series are not shipped with the package')
    s = load_series('cuntan')
    assert s.name == 'cuntan' and s.attrs['unit'] == 'm³/s' and s.index.freqstr == 'D'
    assert PERIODS['cuntan'].check(s) is PERIODS['cuntan']


# ---------------------------------------------------------------- runoff_metrics by hand

def test_runoff_metrics_against_hand_computed_values():
    # obs x = (1, 2, 4, 5), pred y = (2, 2, 3, 5)
    # relative errors e = 100 (y - x) / x = (100, 0, -25, 0) %
    #   m = mean e = 75/4 = 18.75;  s (ddof 1) = sqrt(((81.25)² + 2·(18.75)² + (43.75)²) / 3) = sqrt(9218.75 / 3)
    #   MAX+ = 100, MAX- = -25, r = MAX+ - MAX- = 125
    # y - x = (1, 0, -1, 0): SSE = 2, mean x = 3, Σ(x - 3)² = 4+1+1+4 = 10  ->  NSE = 1 - 2/10 = 0.8, RMSE = sqrt(2/4)
    # KGE: x - 3 = (-2,-1,1,2), y - 3 = (-1,-1,0,2); Σ(x-3)(y-3) = 7, Σ(y-3)² = 6  ->  ρ = 7/sqrt(60)
    #   α = σ_y/σ_x = sqrt(6/10), β = mean y / mean x = 3/3 = 1  ->  KGE = 1 - sqrt(0.0092744 + 0.0508067) ≈ 0.7548855
    got = runoff_metrics([1, 2, 4, 5], [2, 2, 3, 5])
    want = {'m': 18.75, 's': math.sqrt(9218.75/3), 'MAX+': 100., 'MAX-': -25., 'r': 125., 'NSE': 0.8,
            'KGE': 1 - math.sqrt((7/math.sqrt(60) - 1)**2 + (math.sqrt(0.6) - 1)**2), 'RMSE': math.sqrt(0.5),
            'n': 4, 'n_rel': 4}
    assert got.keys() == want.keys()
    for k, v in want.items(): assert got[k] == pytest.approx(v, rel=1e-12), k
    assert got['KGE'] == pytest.approx(0.7548855, abs=1e-7)


def test_runoff_metrics_one_sided_errors_clip_max_at_zero():
    # all predictions too high: e = (50, 25) %, so MAX- = 0 (no underestimate) and r = MAX+ = 50
    got = runoff_metrics([2, 4], [3, 5])
    assert (got['MAX+'], got['MAX-'], got['r'], got['m']) == pytest.approx((50., 0., 50., 37.5))


def test_runoff_metrics_min_obs_guard():
    obs, pred = [0., 1, 2, 4, 5], [9., 2, 2, 3, 5]
    with raises(ValueError, '1 observed value(s) are ≤ 0', 'pass min_obs>0'):
        runoff_metrics(obs, pred)
    got = runoff_metrics(obs, pred, min_obs=0.5)
    # relative scores come from the last four days only (the hand-worked example above) …
    assert (got['m'], got['MAX+'], got['MAX-'], got['n'], got['n_rel']) == pytest.approx((18.75, 100., -25., 5, 4))
    # … the others from all five days: SSE = 81 + 2, mean obs = 2.4, Σ(obs - 2.4)² = 17.2
    assert got['NSE'] == pytest.approx(1 - 83/17.2) and got['RMSE'] == pytest.approx(math.sqrt(83/5))
    with raises(ValueError, 'fewer than 2 days have obs > min_obs=4.5'):
        runoff_metrics(obs, pred, min_obs=4.5)


def test_runoff_metrics_rejects_bad_shapes_and_values():
    with raises(ValueError, 'obs and pred differ in shape: (3,) vs (2,)'):
        runoff_metrics([1., 2, 3], [1., 2])
    with raises(ValueError, 'need at least 2 days to score, got 1'):
        runoff_metrics([1.], [1.])
    with raises(ValueError, 'obs and pred must be finite'):
        runoff_metrics([1., 2, 3], [1., np.nan, 3])


def test_line_numbers_count_blank_lines(daily_csv, tmp_path):
    text = daily_csv().read_text().splitlines()
    text.insert(2, '')                                                    # a blank line 3
    text[4] = text[4].split(',')[0] + ',oops'                             # line 5 of the file
    path = tmp_path/'blank.csv'; path.write_text('\n'.join(text) + '\n\n')
    with raises(ValueError, "line 5: 'oops' is not a number"):
        read_flow_csv(path)


def test_long_gap_error_names_the_long_gap_not_an_earlier_short_one(daily_csv):
    path = daily_csv(edit=drop(2, 10, 11, 12, 13, 14))                    # 1 day missing on 01-03, 5 days from 01-11
    with raises(ValueError, 'a gap of 5 day(s) from 2000-01-11 is longer than max_gap=3'):
        read_flow_csv(path, gaps='interpolate')


def test_dates_must_share_the_first_dates_format(daily_csv):
    with raises(ValueError, "line 4: cannot read '01/03/2000' as a date", 'or all in the format of the first date; else pass date_format'):
        read_flow_csv(daily_csv(edit=setcell(2, 'date', '01/03/2000')))
    s = read_flow_csv(daily_csv(edit=lambda df: df.assign(date=pd.to_datetime(df.date).dt.strftime('%d/%m/%Y'))),
                      date_format='%d/%m/%Y')
    assert s.index[0] == pd.Timestamp('2000-01-01') and s.index[12] == pd.Timestamp('2000-01-13')


def test_negative_min_obs_is_refused():
    with raises(ValueError, 'min_obs must be ≥ 0'):
        runoff_metrics([0., 1, 2], [1., 1, 2], min_obs=-1)
