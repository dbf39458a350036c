"""A pure-Python stand-in for rpds-py, for the offline Pyodide test only.

rpds-py (persistent maps, sets and lists, used by jsonschema's `referencing`) is a Rust extension:
Pyodide's distribution carries a WebAssembly build of it, but the npm `pyodide` package does not,
and PyPI has no wheel Pyodide can load. This module gives the few operations jsonschema and
referencing call, with the same persistent (copy-on-write) meaning, so that the real jsonschema
runs inside real Pyodide offline. It is never part of LeadQ's wheel; xlwings Lite loads the real
rpds-py from Pyodide's distribution.
"""

from collections.abc import Mapping, Set


class HashTrieMap(Mapping):
    def __init__(self, value=(), **kw):
        self._d = dict(value, **kw)

    @classmethod
    def convert(cls, value):
        return value if isinstance(value, cls) else cls(value)

    def __getitem__(self, k):
        return self._d[k]

    def __iter__(self):
        return iter(self._d)

    def __len__(self):
        return len(self._d)

    def __repr__(self):
        return f"HashTrieMap({self._d!r})"

    def __hash__(self):
        return hash(frozenset(self._d.items()))

    def insert(self, k, v):
        return HashTrieMap({**self._d, k: v})

    def remove(self, k):
        d = dict(self._d)
        del d[k]
        return HashTrieMap(d)

    def discard(self, k):
        return self.remove(k) if k in self._d else self

    def update(self, *maps, **kw):
        d = dict(self._d)
        for m in maps:
            d.update(m)
        d.update(kw)
        return HashTrieMap(d)


class HashTrieSet(Set):
    def __init__(self, value=()):
        self._s = frozenset(value)

    def __contains__(self, x):
        return x in self._s

    def __iter__(self):
        return iter(self._s)

    def __len__(self):
        return len(self._s)

    def __hash__(self):
        return hash(self._s)

    def __repr__(self):
        return f"HashTrieSet({set(self._s)!r})"

    def insert(self, x):
        return HashTrieSet(self._s | {x})

    def discard(self, x):
        return HashTrieSet(self._s - {x})

    def remove(self, x):
        if x not in self._s:
            raise KeyError(x)
        return self.discard(x)

    def update(self, *sets):
        s = set(self._s)
        for other in sets:
            s |= set(other)
        return HashTrieSet(s)


class List:
    def __init__(self, value=()):
        self._t = tuple(value)

    def __iter__(self):
        return iter(self._t)

    def __len__(self):
        return len(self._t)

    def __eq__(self, other):
        return isinstance(other, List) and other._t == self._t

    def __hash__(self):
        return hash(self._t)

    def __repr__(self):
        return f"List({list(self._t)!r})"

    @property
    def first(self):
        return self._t[0]

    @property
    def rest(self):
        return List(self._t[1:])

    def push_front(self, x):
        return List((x,) + self._t)
