"""Text normalisation shared by header matching, operators and answer parsing."""

from __future__ import annotations

import difflib
import re
import unicodedata
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    import pandas as pd

# numpy, pandas and pyarrow are imported inside the column functions: `leadq check-rules` and
# `leadq --help` use the text functions and must start without loading them.

_NON_ALNUM = re.compile(r"[^0-9a-z]+")


def fold(text: object) -> str:
    """Casefold, strip accents and trim: 'Étudiant ' -> 'etudiant'."""
    if text is None or (isinstance(text, float) and text != text):
        return ""
    if isinstance(text, str) and text.isascii():
        return " ".join(text.lower().split())
    s = unicodedata.normalize("NFKD", str(text).lower())
    s = "".join(ch for ch in s if not unicodedata.combining(ch))
    return " ".join(s.split())


def key(text: object) -> str:
    """Fold and drop everything but letters and digits: 'No. of Employees' -> 'noofemployees'."""
    return _NON_ALNUM.sub("", fold(text))


def map_unique(values: pd.Series, fn, missing="", dtype=object) -> pd.Series:
    """Apply fn to each distinct value once (columns repeat a lot), then spread the results."""
    import numpy as np
    import pandas as pd
    codes, uniques = pd.factorize(values.astype(object) if values.dtype != object else values, use_na_sentinel=True)
    table = np.array([fn(u) for u in uniques] + [missing], dtype=dtype)
    return pd.Series(table[codes], index=values.index, dtype=dtype)


def fold_series(values: pd.Series) -> pd.Series:
    """Fold a whole column like fold(), in Arrow's C kernels when the column holds text."""
    import pandas as pd
    import pyarrow as pa
    import pyarrow.compute as pc
    if len(values) < 1000 or not (pd.api.types.is_string_dtype(values.dtype) or values.dtype == object):
        return map_unique(values, fold)
    arrow = arrow_text(values)
    try:
        arr = arrow if arrow is not None else pa.array(values.to_numpy(object), type=pa.string(), from_pandas=True)
    except (pa.ArrowInvalid, pa.ArrowTypeError):      # numbers or dates mixed into text
        return map_unique(values, fold)
    coded = pc.dictionary_encode(arr)          # each distinct value folded once (columns repeat a lot)
    folded = pc.utf8_normalize(pc.utf8_lower(coded.dictionary), "NFKD")
    if not pc.all(pc.string_is_ascii(folded)).as_py():        # ASCII text has no combining mark to drop
        folded = pc.replace_substring_regex(folded, r"\p{Mn}", "")
    folded = pc.utf8_trim_whitespace(folded)
    if _has_spaces_to_squeeze(folded):
        folded = pc.replace_substring_regex(folded, r"\s+", " ")
    return pd.Series(pd.array(folded.take(coded.indices).fill_null(""), dtype="str"), index=values.index)


def _has_spaces_to_squeeze(texts) -> bool:
    """Whether replacing each run of spaces (RE2's \\s) by one space changes any of these (trimmed) texts:
    only two spaces in a row or another space than " " are changed (literal searches, no regex)."""
    import pyarrow.compute as pc
    if not pc.all(pc.string_is_ascii(texts)).as_py():
        return True
    return any(pc.any(pc.match_substring(texts, s)).as_py() for s in ("  ", "\t", "\n", "\f", "\r", "\v"))


def text_or_empty(values: pd.Series) -> pd.Series:
    """`values` as text, blanks as "": a column of numbers, dates or only blanks is cast to objects first
    (pandas refuses "" as a fill value of a float column; a text column is filled as it is)."""
    if values.dtype.kind in "biufcmM":
        values = values.astype(object)
    return values.fillna("").astype(str)


def arrow_text(values: pd.Series):
    """The Arrow strings (nulls where blank) behind a pandas text column held in Arrow, as one pa.string()
    array, without going through Python objects; None for any other column."""
    import pandas as pd
    import pyarrow as pa
    if not (isinstance(values.dtype, pd.StringDtype) and values.dtype.storage == "pyarrow"):
        return None
    arr = pa.array(values.array)
    if isinstance(arr, pa.ChunkedArray):
        arr = arr.combine_chunks()
    return arr.cast(pa.string())


def suggest(word: str, choices, cutoff: float = 0.75) -> str | None:
    """Return the closest choice to a misspelt word, or None."""
    choices = [c for c in choices if isinstance(c, str)]
    by_key = {key(c): c for c in choices}
    hit = difflib.get_close_matches(key(word), list(by_key), n=1, cutoff=cutoff)
    return by_key[hit[0]] if hit else None


def did_you_mean(word: str, choices) -> str:
    """' (did you mean "x"?)' or ''."""
    hit = suggest(word, choices)
    return f' (did you mean "{hit}"?)' if hit else ""


def column_letter(index: int) -> str:
    """Excel's column name of a 0-based index: 0 -> A, 25 -> Z, 26 -> AA."""
    s = ""
    index += 1
    while index:
        index, rem = divmod(index - 1, 26)
        s = chr(65 + rem) + s
    return s


def category_codes(values, categories):
    """Each value's position in `categories` (-1: none of them), as pd.Categorical(values, categories).codes
    gives it, found once per distinct value (stage and status columns hold a handful over many rows)."""
    import numpy as np
    import pandas as pd
    cats = {c: i for i, c in reversed(list(enumerate(categories)))}      # the first position of each
    return map_unique(pd.Series(np.asarray(values, dtype=object)), lambda u: cats.get(u, -1), missing=-1,
                      dtype=np.int64).to_numpy()


def is_in(values, choices):
    """np.isin(values, choices) for a column of a few distinct texts, each distinct value compared once."""
    import numpy as np
    import pandas as pd
    choices = set(choices)
    return map_unique(pd.Series(np.asarray(values, dtype=object)), lambda u: u in choices, missing=False,
                      dtype=bool).to_numpy()
