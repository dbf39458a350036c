"""Stand-ins for numpy, pandas, lxml, pyarrow (and scikit-learn, SciPy), for the offline Pyodide test only: the npm `pyodide` package does
not carry Pyodide's numpy and pandas builds, and PyPI has none Pyodide can load. They let the Lite
entry points be imported and dispatched (the data parts are never run through them): any attribute,
call, index or arithmetic gives another stand-in, and subclassing one works. Never part of LeadQ's wheel.
"""

import sys
import types


class _Meta(type):
    def __getattr__(cls, name):
        if name.startswith("__") and name.endswith("__"):
            raise AttributeError(name)
        return _stub(f"{cls.__name__}.{name}")

    def __getitem__(cls, item):
        return cls

    def __call__(cls, *a, **k):
        return cls

    def __or__(cls, other):
        return cls

    __ror__ = __add__ = __radd__ = __sub__ = __mul__ = __rmul__ = __truediv__ = __neg__ = __or__

    def __iter__(cls):
        return iter(())


def _stub(name):
    return _Meta(name, (), {})


class _Module(types.ModuleType):
    def __getattr__(self, name):
        if name.startswith("__") and name.endswith("__"):
            raise AttributeError(name)
        value = _stub(f"{self.__name__}.{name}")
        setattr(self, name, value)
        return value


class _Finder:
    """Makes every numpy.* and pandas.* import a stand-in module."""

    roots = ("numpy", "pandas", "lxml", "pyarrow", "sklearn", "scipy")   # all in Pyodide's distribution, none in the npm package

    def find_spec(self, name, path=None, target=None):
        if name.split(".")[0] in self.roots:
            import importlib.machinery
            return importlib.machinery.ModuleSpec(name, self, is_package=True)
        return None

    def create_module(self, spec):
        module = _Module(spec.name)
        module.__path__ = []
        module.__stub__ = True
        return module

    def exec_module(self, module):
        pass


def install():
    sys.meta_path.insert(0, _Finder())
