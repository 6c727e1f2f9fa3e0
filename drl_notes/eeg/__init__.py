"""Chapter 03's EEG package: `data` (loaders), `frames` (topographic frames), `models` (Theorem 4.1, the networks, the
PSD-SVM), `evaluation` (splits, cross-validation), `experiment` (the chapter's tables) and `report` (`drl-notes eeg`).

Every public name of these modules can also be imported from `drl_notes.eeg` itself (`from drl_notes.eeg import
load_deap`); a module is imported the first time one of its names is asked for, so `drl_notes.eeg.data` and
`drl_notes.eeg.frames` load without PyTorch."""
import importlib

_MODULES = ('data', 'frames', 'models', 'evaluation', 'experiment', 'report')   # in the order of their imports

def __getattr__(name:str):
    "The public name `name` of the first module in `_MODULES` that defines it."
    if name.startswith('_'): raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    for m in _MODULES:
        mod = importlib.import_module(f'{__name__}.{m}')
        if name in getattr(mod, '__all__', ()): return getattr(mod, name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r} (looked in drl_notes.eeg.{', .'.join(_MODULES)})")

def __dir__(): return sorted(set(globals()) | {n for m in _MODULES for n in importlib.import_module(f'{__name__}.{m}').__all__})
