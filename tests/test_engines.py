"""The activity log outside the workbook: sources, problems, the CLI and Settings; engine equality is test_engine_contract.py."""

from pathlib import Path

import numpy as np
import pandas as pd
import pytest

import addin
from addin.engines.external import activities_for
from addin.engines.source import parse_source

AS_OF = "2026-11-22"
TYPES = ["signup", "white_paper", "webinar", "page_visit", "unsub"]
LABELS = {"signup": "Newsletter signup", "white_paper": "Livre blanc téléchargé"}
# Details chosen to stress LeadQ's folding (case, accents, spaces) and glob semantics (? * and
# characters that are special in SQL LIKE or regex, which must stay literal here).
DETAILS = ["https://Ex.fr/Pricing", "/tarifs-été", "/TARIFS-ETE", "cas client", "  Cas   Client ", "/blog/crm",
           "ÉTUDE de cas", "a?b", "axb", "a*b", "x_y%z", "xAyBz", "ﬁnance", "", None]
PATTERNS = ["*pricing*", "*tarifs*", "*été*", "cas client", "*?as*", "a?b", "a*b", "*crm", "x_y%z", "*", "??",
            "*É*", "x?y?z", "[ab]*", "*fi*", "CAS CLIENT"]


def _write(frame: pd.DataFrame, path: Path) -> Path:
    frame = frame.copy()
    frame.attrs = {}      # a sheet's origin (row numbers) is no part of an export
    frame.to_parquet(path, index=False, coerce_timestamps="us", allow_truncated_timestamps=True)  # Spark reads no nanoseconds
    return path


def _same(a, b):
    """Two evaluations give the same leads (scores to the hundredth, interests, why), ledger and context."""
    pd.testing.assert_frame_equal(a.leads, b.leads)
    pd.testing.assert_frame_equal(a.details.reset_index(drop=True), b.details.reset_index(drop=True))
    pd.testing.assert_frame_equal(a.context, b.context)


def _leads(n: int) -> pd.DataFrame:
    return pd.DataFrame({"Lead ID": [f"L{i}" for i in range(n)],
                         "Email": [f"l{i}@EX.fr" if i % 3 else "" for i in range(n)],
                         "Job title": ["CEO", "Dev", ""] * (n // 3) + ["CEO"] * (n % 3)})


def _activities(rng: np.random.Generator, n: int, n_leads: int, text_dates: bool) -> pd.DataFrame:
    ids = np.array([f"L{i}" for i in range(n_leads)] + [" L1 ", "L999", "", None], dtype=object)
    lead = ids[np.minimum(rng.integers(0, len(ids) + 3, n), len(ids) - 1)]
    email = np.where(pd.isna(lead) | (lead == ""), np.array([f"L{i}@ex.FR" for i in range(n_leads)] + ["nobody@x.fr"],
                                                            dtype=object)[rng.integers(0, n_leads + 1, n)], None)
    kinds = np.array(TYPES + [LABELS["signup"], "WEBINAR", " Page Visit ", "webinr", "", None], dtype=object)
    act = kinds[rng.integers(0, len(kinds), n)]
    age = rng.integers(-20, 400, n)
    age[rng.random(n) < 0.3] = rng.integers(0, 4)       # many activities on the same few days: ties
    dates = pd.Timestamp(AS_OF) - pd.to_timedelta(age, unit="D")
    details = np.array(DETAILS, dtype=object)[rng.integers(0, len(DETAILS), n)]
    if text_dates:
        date = np.where(rng.random(n) < 0.5, dates.strftime("%Y-%m-%d"), dates.strftime("%d/%m/%Y")).astype(object)
        date[rng.random(n) < 0.03] = "someday"
    else:
        date = pd.Series(dates.to_numpy(), dtype="datetime64[ns]")
    frame = pd.DataFrame({"Lead ID": lead, "E-mail": email, "Date": date, "Type": act, "URL": details})
    frame.loc[rng.random(n) < 0.02, "Date"] = None
    return frame


# The DuckDB and Spark engines equal to the pandas engine on generated rules and logs: test_engine_contract.py.


@pytest.fixture
def sample(base_rules):
    rng = np.random.default_rng(3)
    return _leads(30), _activities(rng, 3000, 30, text_dates=False), {
        **base_rules, "decay": {"half_life_days": 30},
        "pages": [{"id": "pricing", "match": "*pricing*", "points": 10, "max_count": 2, "tags": ["Pricing"]},
                  {"id": "cas", "match": "*cas*client*", "points": 4, "tags": ["Cas"]}]}


def test_a_glob_of_parquet_files_is_read_in_name_order(tmp_path, sample):
    leads, acts, rules = sample
    (tmp_path / "events").mkdir()
    for k, part in enumerate(np.array_split(np.arange(len(acts)), 3)):
        _write(acts.iloc[part], tmp_path / "events" / f"part-{k}.parquet")
    src = parse_source("events/*.parquet", tmp_path)
    assert src.kind == "parquet" and [Path(p).name for p in src.paths] == ["part-0.parquet", "part-1.parquet", "part-2.parquet"]
    _same(addin.evaluate(leads, acts, rules, as_of=AS_OF), addin.evaluate(leads, activities_for(src), rules, as_of=AS_OF))


def test_csv_and_duckdb_table_sources_score_like_the_sheet(tmp_path, sample):
    import duckdb
    leads, acts, rules = sample
    acts = acts.assign(Date=acts["Date"].dt.strftime("%Y-%m-%d"))
    acts.to_csv(tmp_path / "events.csv", index=False)
    with duckdb.connect(str(tmp_path / "crm.duckdb")) as con:
        con.register("acts", acts)
        con.execute("CREATE TABLE events AS SELECT * FROM acts")
    expected = addin.evaluate(leads, acts, rules, as_of=AS_OF)
    for text in ("events.csv", "crm.duckdb#events"):
        src = parse_source(text, tmp_path)
        _same(expected, addin.evaluate(leads, activities_for(src), rules, as_of=AS_OF))


def test_the_pandas_engine_reads_a_file_source_too(tmp_path, sample):
    leads, acts, rules = sample
    src = parse_source(str(_write(acts, tmp_path / "e.parquet")))
    _same(addin.evaluate(leads, acts, rules, as_of=AS_OF), addin.evaluate(leads, activities_for(src, "pandas"), rules, as_of=AS_OF))


def test_log_problems_are_counted_with_examples(tmp_path, base_rules):
    leads = _leads(3)
    acts = pd.DataFrame({"Lead ID": ["L1", "L7", "L7", "L1", "L2"], "Date": ["2026-11-01", "2026-11-01", "x", "huh", "2026-11-02"],
                         "Activity": ["webinr", "webinar", "webinar", "webinar", "webinar"]})
    src = parse_source(str(_write(acts, tmp_path / "e.parquet")))
    ev = addin.evaluate(leads, activities_for(src), base_rules, as_of=AS_OF)
    msgs = {p.code: str(p) for p in ev.problems}
    where = f'{tmp_path / "e.parquet"}'
    assert msgs["unknown-lead"] == (f'{where} (column "Lead ID"): 2 activities name no lead of the Leads sheet, '
                                    'e.g. "L7" ×2; they are skipped')
    assert msgs["unknown-activity"].endswith('1 activities have an unknown type, e.g. "webinr" ×1 (did you mean "webinar"?); '
                                             "they are skipped — add it to rules.json or fix the spelling")
    assert msgs["not-a-date"].startswith(f'{where} (column "Date"): 1 activities have a date LeadQ cannot read, e.g.')
    assert ev.leads.set_index("Lead ID").loc["L2", "Engagement score"] == 20


@pytest.mark.parametrize("text, message", [
    ("nowhere.parquet", '"nowhere.parquet": no such file'),
    ("logs/*.parquet", '"logs/*.parquet": no file matches'),
    ("crm.sqlite#events", "a database source is FILE.duckdb#TABLE"),
    ("crm.duckdb#drop table", '"drop table" is not a table name'),
    ("notes.xlsx", "is neither Parquet (.parquet) nor CSV (.csv)"),
])
def test_bad_sources_are_one_line_errors_naming_the_place(tmp_path, text, message):
    (tmp_path / "notes.xlsx").write_bytes(b"x")
    (tmp_path / "crm.duckdb").write_bytes(b"")
    with pytest.raises(addin.WorkbookError) as e:
        parse_source(text, tmp_path, "Settings!B6 (Activities source)")
    assert str(e.value).startswith("Settings!B6 (Activities source): ") and message in str(e.value)
    assert "\n" not in str(e.value)


def test_sheet_words_mean_the_activities_sheet():
    for text in (None, "", "  ", "Sheet", "Activities"):
        assert parse_source(text).is_sheet


def test_a_log_without_a_date_column_is_a_clear_error(tmp_path, base_rules):
    src = parse_source(str(_write(pd.DataFrame({"Lead ID": ["L1"], "Activity type": ["webinar"], "Dte": ["2026-01-01"]}),
                                  tmp_path / "e.parquet")))
    with pytest.raises(addin.WorkbookError, match=r'e.parquet: no "Date" column \(did you mean "Dte"\?\)'):
        addin.evaluate(_leads(3), activities_for(src), base_rules, as_of=AS_OF)


# ---- through the CLI, on real workbooks

def _call(*argv):
    import io

    from addin.cli import run
    out, err = io.StringIO(), io.StringIO()
    code = run([str(a) for a in argv], out, err)
    return code, out.getvalue(), err.getvalue()


def _scores(path) -> pd.DataFrame:
    import openpyxl
    ws = openpyxl.load_workbook(path, read_only=True)["Leads"]
    rows = list(ws.values)
    top = next(i for i, r in enumerate(rows) if "Lead ID" in r)     # below the sheet's title rows
    frame = pd.DataFrame(rows[top + 1:], columns=list(rows[top]))
    return frame[["Lead ID", "Fit score", "Engagement score", "Score", "Grade", "Stage", "Interests", "Why"]]


def _set_setting(path, label: str, value: str) -> None:
    import openpyxl
    wb = openpyxl.load_workbook(path, keep_vba=True)
    ws = wb["Settings"]
    row = next(c.row for c in ws["A"] if c.value == label)
    ws.cell(row, 2).value = value
    wb.save(path)


@pytest.fixture
def exported(tmp_path):
    """A sample workbook refreshed from its sheet, and a copy whose Activities sheet is exported to Parquet."""
    import shutil

    from addin.io.reader import read_workbook
    sheet_wb, file_wb = tmp_path / "sheet.xlsm", tmp_path / "file.xlsm"
    assert _call("new", sheet_wb, "--sample")[0] == 0
    shutil.copyfile(sheet_wb, file_wb)
    acts = read_workbook(sheet_wb).activities
    _write(acts, tmp_path / "events.parquet")
    assert len(acts) > 100
    assert _call("refresh", sheet_wb, "--as-of", AS_OF)[0] == 0
    return sheet_wb, file_wb


def test_a_workbook_whose_activities_source_is_parquet_refreshes_to_the_same_scores(exported):
    sheet_wb, file_wb = exported
    _set_setting(file_wb, "Activities source", "events.parquet")
    code, out, err = _call("refresh", file_wb, "--as-of", AS_OF)
    assert code == 0, err
    scores = _scores(file_wb)
    pd.testing.assert_frame_equal(_scores(sheet_wb), scores)
    busy = scores.sort_values("Engagement score").iloc[-1]["Lead ID"]
    code, by_sheet, _ = _call("explain", sheet_wb, busy, "--as-of", AS_OF)
    code2, by_file, _ = _call("explain", file_wb, busy, "--as-of", AS_OF)
    assert code == code2 == 0 and by_sheet == by_file and "engagement" in by_file


def test_activities_option_and_engine_choice(exported, tmp_path):
    sheet_wb, file_wb = exported
    code, out, err = _call("refresh", file_wb, "--as-of", AS_OF, "--activities", tmp_path / "events.parquet", "--engine", "pandas")
    assert code == 0, err
    pd.testing.assert_frame_equal(_scores(sheet_wb), _scores(file_wb))
    code, out, err = _call("refresh", file_wb, "--as-of", AS_OF, "--engine", "duckdb")
    assert code == 1 and "--engine duckdb scores an activity log in files or a database" in err
    _set_setting(file_wb, "Activities source", "missing/*.parquet")
    code, out, err = _call("refresh", file_wb, "--as-of", AS_OF)
    assert code == 1 and err.startswith("Settings!B") and '(Activities source): "missing/*.parquet": no file matches' in err


def test_a_ledger_past_the_sheet_goes_to_parquet_and_explain_reads_either(exported, monkeypatch):
    from addin.io import ledger_file
    sheet_wb, file_wb = exported
    busy = _scores(sheet_wb).sort_values("Engagement score").iloc[-1]["Lead ID"]
    code, saved_sheet, err = _call("explain", sheet_wb, busy, "--saved")
    assert code == 0 and "read from the Score details sheet of sheet.xlsm" in saved_sheet
    full = pd.read_excel(sheet_wb, sheet_name="Score details")
    monkeypatch.setattr(ledger_file, "ROOM", len(full) - 1)       # one row too many for "the sheet"
    _set_setting(file_wb, "Activities source", "events.parquet")
    code, out, err = _call("refresh", file_wb, "--as-of", AS_OF)
    assert code == 0, err
    path = file_wb.with_name("file.score-details.parquet")
    assert f"all {len(full):,} ledger rows are in {path}" in out
    saved = pd.read_parquet(path)
    pd.testing.assert_frame_equal(saved, full.astype({"Matched": object}), check_dtype=False)
    totals = pd.read_excel(file_wb, sheet_name="Score details")
    assert set(totals["Rule"]) <= {"all fit rules", "all activity rules", "all page rules", "all clip rules"}
    by_lead = totals.groupby("Lead ID")["Points"].sum().round(2)
    assert by_lead.to_dict() == full.groupby("Lead ID")["Points"].sum().round(2).to_dict()
    code, saved_file, err = _call("explain", file_wb, busy, "--saved")
    assert code == 0 and f"read from {path}" in saved_file
    assert saved_file.splitlines()[1:] == saved_sheet.splitlines()[1:]


HUBSPOT_NAMES = {"page_visit": ["Page View", "Visite", "page_visit"], "newsletter_open": ["Email Open"],
                 "form_submit": ["Form Submission"], "email_click": ["Email Clicked"], "webinar": ["Webinar Attended"]}


def test_every_engine_reads_activity_aliases_in_a_parquet_log(exported, tmp_path):
    """HubSpot (and French) names of the default rules' aliases, in a Parquet log: the DuckDB engine
    (the default for files) once dropped them as unknown types; it must score like the sheet."""
    from addin.io.reader import read_workbook
    sheet_wb, file_wb = exported
    acts = read_workbook(sheet_wb).activities.copy()
    rng = np.random.default_rng(5)
    renamed = acts["Activity"].astype(object).copy()
    for t, names in HUBSPOT_NAMES.items():
        rows = np.flatnonzero((acts["Activity"] == t).to_numpy())
        renamed.iloc[rows] = np.array(names, dtype=object)[rng.integers(0, len(names), len(rows))]
    assert (renamed != acts["Activity"]).sum() > 50
    acts["Activity"] = renamed
    log = _write(acts, tmp_path / "hubspot-events.parquet")
    for engine in [[], ["--engine", "pandas"]]:
        code, out, err = _call("refresh", file_wb, "--as-of", AS_OF, "--activities", log, *engine)
        assert code == 0, err
        assert not [n for names in HUBSPOT_NAMES.values() for n in names if f'"{n}"' in out + err]   # none is "unknown"
        pd.testing.assert_frame_equal(_scores(sheet_wb), _scores(file_wb))


def test_duckdb_memory_limit_is_a_checked_setting(exported, tmp_path, monkeypatch):
    """LEADQ_DUCKDB_MEMORY bounds DuckDB's memory (it spills past it); a value that is not a size is one sentence."""
    sheet_wb, file_wb = exported
    monkeypatch.setenv("LEADQ_DUCKDB_MEMORY", "lots")
    code, out, err = _call("refresh", file_wb, "--as-of", AS_OF, "--activities", tmp_path / "events.parquet")
    assert code == 1 and "Traceback" not in err
    assert 'LEADQ_DUCKDB_MEMORY="lots" is not a size: write it like 3GB or 500MB' in err
    monkeypatch.setenv("LEADQ_DUCKDB_MEMORY", "64MB")       # small, still scores alike (spilling if it must)
    code, out, err = _call("refresh", file_wb, "--as-of", AS_OF, "--activities", tmp_path / "events.parquet")
    assert code == 0, err
    pd.testing.assert_frame_equal(_scores(sheet_wb), _scores(file_wb))
    from addin.engines.duck import locked_connection
    con = locked_connection([])
    assert con.execute("SELECT current_setting('memory_limit')").fetchone()[0] == "61.0 MiB"     # 64 MB as DuckDB shows it


def _hashed_path(monkeypatch) -> list[int]:
    """Record what Plan._hash_bits decides (0: leads joined by their id, else hashed keys)."""
    from addin.engines.plan import Plan
    seen, plain = [], Plan._hash_bits
    monkeypatch.setattr(Plan, "_hash_bits", lambda self, diag: seen.append(plain(self, diag)) or seen[-1])
    return seen


@pytest.mark.parametrize("case", ["one spelling", "two spellings", "many unknown", "colliding hashes"])
def test_hashed_lead_keys_score_like_the_sheet_or_are_not_taken(tmp_path, sample, monkeypatch, case):
    """A log with a Lead ID and no Email column is scored on hashed lead keys (no join of every row) only when that is
    exact: one spelling per lead, distinct hashes, few rows naming no lead; else by the join. Both give the sheet's scores."""
    from addin.engines.duck import DuckBackend
    leads, acts, rules = sample
    acts = acts.drop(columns=["E-mail"])
    ids = acts["Lead ID"]
    if case != "many unknown":       # a few rows of no lead (blank, missing, unknown id) stay: under 1/16
        acts = acts[ids.str.fullmatch(r"L\d{1,2}").fillna(False) | (np.arange(len(acts)) % 40 == 0)]
    if case == "one spelling":
        acts = acts[acts["Lead ID"] != " L1 "]
    else:
        acts = pd.concat([acts, acts.head(5).assign(**{"Lead ID": " L1 "})], ignore_index=True)
    if case == "colliding hashes":
        numbers = DuckBackend.fetch_numbers
        monkeypatch.setattr(DuckBackend, "fetch_numbers", lambda self, sql: (
            {**numbers(self, sql), "h": np.zeros(len(numbers(self, sql)["h"]), dtype=np.int64)}
            if sql.endswith("AS h, pos FROM dim_lead") else numbers(self, sql)))
        acts = acts[acts["Lead ID"] != " L1 "]
    seen = _hashed_path(monkeypatch)
    src = parse_source(str(_write(acts, tmp_path / "e.parquet")))
    _same(addin.evaluate(leads, acts, rules, as_of=AS_OF), addin.evaluate(leads, activities_for(src), rules, as_of=AS_OF))
    assert (seen[0] > 0) == (case == "one spelling")


def test_an_activities_column_named_like_an_engine_method_is_still_a_sheet(base_rules):
    """A sheet column named "engagement" made evaluate take the frame for an engine (a TypeError on the Series):
    an engine is told by its class."""
    rng = np.random.default_rng(5)
    leads, acts = _leads(20), _activities(rng, 500, 20, text_dates=False)
    plain = addin.evaluate(leads, acts, base_rules, as_of=AS_OF)
    _same(plain, addin.evaluate(leads, acts.assign(engagement="y", start="x"), base_rules, as_of=AS_OF))
