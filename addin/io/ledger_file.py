"""The full Score details beside the workbook, as Parquet, when they pass what a sheet can hold.

The sheet then keeps each lead's totals by kind of rule (fit, activity, page, score range), and
the file holds every row; `leadq explain --saved` reads whichever the last refresh wrote.
"""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np
import pandas as pd

from ..core.report.present import EXCEL_MAX_ROWS
from ..core.scoring import LEDGER_COLUMNS
from ..core.values.text import key
from ..errors import Problem, WorkbookError
from ..problems import SCORE_DETAILS_FILE
from ..settings import DETAILS_FILE, trusted_path

SUFFIX = ".score-details.parquet"
ROOM = EXCEL_MAX_ROWS - 1        # data rows under the Score details header


def details_where(settings_rows: dict) -> str:
    row = settings_rows.get(key(DETAILS_FILE))
    return f"Settings!B{row} ({DETAILS_FILE})" if row else f"Settings ({DETAILS_FILE})"


def details_path(workbook: Path, settings: dict, settings_rows: dict) -> Path:
    """Settings > Score details file (relative to the workbook's folder, inside it or an allowed folder:
    settings.trusted_path), else WORKBOOK.score-details.parquet."""
    workbook = Path(workbook)
    value = settings.get(key(DETAILS_FILE))
    if value is None or not str(value).strip():
        return workbook.with_name(workbook.stem + SUFFIX)
    path = Path(str(value).strip())
    where = details_where(settings_rows)
    if path.suffix.lower() != ".parquet":
        p = Problem(SCORE_DETAILS_FILE, where, f'"{value}" must be a .parquet file, e.g. {workbook.stem}{SUFFIX}', "error")
        raise WorkbookError(str(p), [p])
    return trusted_path(workbook, str(value), where)


def details_temporary(path: Path, where: str) -> tuple[int, Path]:
    """The temporary the ledger is written to: created exclusively beside `path` (O_EXCL, no link
    followed, so a planted link at its name cannot redirect the write), before the workbook is touched."""
    tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    try:
        fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL | getattr(os, "O_NOFOLLOW", 0), 0o644)
    except FileExistsError:
        p = Problem(SCORE_DETAILS_FILE, where, f"{tmp} already exists (a file or a link LeadQ did not make); remove it "
                    "and refresh again", "error")
        raise WorkbookError(str(p), [p]) from None
    except OSError as e:
        p = Problem(SCORE_DETAILS_FILE, where, f"cannot write beside {path} ({e.strerror}); name a folder you can write "
                    "to, or free the space", "error")
        raise WorkbookError(str(p), [p]) from None
    return fd, tmp


def write_details_file(fd: int, tmp: Path, details: pd.DataFrame) -> Path:
    """The whole ledger written into the temporary `details_temporary` opened; returns it.
    `commit_details_file` moves it into place once the workbook is written, `discard_details_file`
    removes it when the workbook was not."""
    frame = details[LEDGER_COLUMNS].assign(**{c: _as_str(details[c]) for c in ("Rule", "Kind")})
    frame.attrs = {}
    try:
        with os.fdopen(fd, "wb") as f:
            frame.to_parquet(f, index=False, row_group_size=1_000_000)
            f.flush()
            os.fsync(f.fileno())
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise
    return tmp


def _as_str(values: pd.Series) -> pd.Series:
    """values.astype(str); a categorical of text with no missing value is cast in Arrow (no Python string per
    row), where astype(str) gives Arrow-backed text (pandas 3; else, or on any doubt, astype(str) itself)."""
    want = values.iloc[:0].astype(str).dtype            # what astype(str) gives with this pandas
    if isinstance(values.dtype, pd.CategoricalDtype) and isinstance(want, pd.StringDtype) and want.storage == "pyarrow" \
            and pd.api.types.infer_dtype(values.cat.categories, skipna=False) == "string":
        codes = values.cat.codes.to_numpy()
        if not (codes < 0).any():                        # astype(str) writes a missing value as "nan"
            import pyarrow as pa
            import pyarrow.compute as pc
            text = pa.array(values.cat.categories.astype(object), pa.large_string())
            try:
                out = pd.Series(pd.arrays.ArrowStringArray(pc.take(text, pa.array(codes)), dtype=want),
                                index=values.index, name=values.name)
            except TypeError:                            # a pandas whose ArrowStringArray takes no dtype
                return values.astype(str)
            if out.dtype == want:
                return out
    return values.astype(str)


def commit_details_file(tmp: Path, path: Path) -> None:
    """Move a written ledger into place (atomic: a reader never sees half a file)."""
    os.replace(tmp, path)


def discard_details_file(tmp: Path | None) -> None:
    if tmp is not None:
        tmp.unlink(missing_ok=True)


def check_not_input(path: Path, inputs, where: str) -> None:
    """The Score details file is never the workbook or an input (the Activities source, the rules)."""
    real = path.resolve()
    for p in inputs:
        if p is not None and Path(p).resolve() == real:
            problem = Problem(SCORE_DETAILS_FILE, where,
                              f'"{path.name}" is one of this refresh\'s inputs ({p}); LeadQ would overwrite it: name '
                              "another file, e.g. WORKBOOK.score-details.parquet", "error")
            raise WorkbookError(str(problem), [problem])


def read_details_file(path: Path, lead_id: str) -> pd.DataFrame:
    """One lead's rows of a saved ledger (Parquet filters skip the other row groups)."""
    return pd.read_parquet(path, filters=[("Lead ID", "==", lead_id)])


def kind_totals(details: pd.DataFrame, file_name: str) -> pd.DataFrame:
    """Each lead's totals by kind of rule, in ledger order: what the sheet keeps when the full ledger is in a file."""
    lead_codes, leads = pd.factorize(details["Lead ID"], sort=False)        # Arrow text stays Arrow: no Python objects
    kind_names = ["fit", "activity", "page", "override", "base", "clip"]
    kind_codes = pd.Categorical(details["Kind"], categories=kind_names).codes.astype(np.int64)
    group = lead_codes.astype(np.int64) * len(kind_names) + kind_codes
    g_codes, g = pd.factorize(group, sort=True)

    def total(column: str) -> np.ndarray:
        return np.bincount(g_codes, weights=details[column].to_numpy(float), minlength=len(g))

    raw, cap, points = total("Raw points"), total("Cap"), total("Points")
    with np.errstate(divide="ignore", invalid="ignore"):
        factor = np.where(raw != 0, (points - cap) / np.where(raw == 0, 1, raw), 1.0)
    # The kinds' texts are categories (written once per kind, not once per row: io.sheetxml.esc).
    kind = g % len(kind_names)
    return pd.DataFrame({
        "Lead ID": pd.Series(np.asarray(leads, dtype=object)[g // len(kind_names)], dtype=object),
        "Rule": pd.Categorical.from_codes(kind, [f"all {k} rules" for k in kind_names]),
        "Kind": pd.Categorical.from_codes(kind, kind_names),
        "Matched": pd.Categorical.from_codes(np.zeros(len(g), np.int8), [f"every rule in {file_name}"]),
        "Count": np.bincount(g_codes, weights=details["Count"].to_numpy(float), minlength=len(g)).astype(np.int64),
        "Raw points": np.round(raw, 2), "Decay factor": np.round(factor, 4), "Cap": np.round(cap, 2),
        "Points": np.round(points, 2),
    })


def saved_ledger(workbook: Path, settings: dict, settings_rows: dict, lead_id: str) -> tuple[pd.DataFrame, str]:
    """One lead's ledger as the last refresh saved it: from the Score details sheet, or from the
    Parquet file when the sheet holds only totals. Returns (rows, where they were read)."""
    import fastexcel

    from .package import Package
    pkg = Package(Path(workbook))
    try:
        sheet = pkg.real_sheet_name("Score details")
    finally:
        pkg.close()
    if sheet is None:
        raise WorkbookError(f"{Path(workbook).name}: no Score details sheet yet; run `leadq refresh` first")
    frame = fastexcel.read_excel(str(workbook)).load_sheet(sheet).to_pandas()
    mine = frame[frame["Lead ID"].astype(str) == lead_id]
    mine = mine.assign(Count=mine["Count"].fillna(0).astype(np.int64))     # a sheet's numbers read back as floats
    if not frame["Matched"].astype(str).str.startswith("every rule in ").any():
        return mine.reset_index(drop=True), f"the Score details sheet of {Path(workbook).name}"
    path = details_path(workbook, settings, settings_rows)
    if not path.exists():
        raise WorkbookError(f"{path}: the full Score details file is missing; run `leadq refresh` again to rebuild it")
    return read_details_file(path, lead_id), str(path)
