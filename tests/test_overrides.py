"""Manual overrides (issue 25): the Overrides sheet, a typed probability, and every door giving one result."""

import datetime as dt
import io
import shutil

import openpyxl
import pandas as pd
import pytest
from conftest import AS_OF, ROOT, gate

import addin.macros as macros
from addin.cli import run
from addin.core.evaluate import evaluate
from addin.core.report.explain import explain
from addin.core.report.summary import summarise
from addin.core.report.summary_layout import summary_layout
from addin.io.ledger_file import kind_totals
from addin.refresh import new_workbook

OV_HEADERS = ["Lead ID", "Kind", "Value", "Reason", "Author", "Until"]


def _leads():
    return pd.DataFrame({
        "Lead ID": ["L1", "L2", "L3", "L4"],
        "Email": ["a@acme.example", "b@acme.example", "c@beta.example", ""],
        "Job title": ["CEO", "Analyst", "Directeur", ""],
        "Deal stage": ["", "Proposal", "Negotiation", ""],
        "Amount": [None, 1000, 2000, None],
    })


def _ov(rows):
    return pd.DataFrame(rows, columns=OV_HEADERS)


def _ev(base_rules, overrides=None, leads=None):
    return evaluate(leads if leads is not None else _leads(), None, base_rules, as_of=AS_OF, overrides=overrides)


def test_points_override_is_its_own_ledger_row_and_the_ledger_sums_to_the_score(base_rules):
    before = _ev(base_rules)
    ev = _ev(base_rules, _ov([["L1", "points", 15, "CFO called", "Léa", "2027-01-31"],
                              ["L1", "Points", "-2,5", "duplicate of L1203", "Bob", None]]))
    row = ev.leads.set_index("Lead ID").loc["L1"]
    old = before.leads.set_index("Lead ID").loc["L1"]
    assert row["Score"] == old["Score"] + 12.5
    assert (row["Fit score"], row["Engagement score"]) == (old["Fit score"], old["Engagement score"])
    ex = explain(ev, "L1")
    lines = ex.ledger[ex.ledger["Rule"] == "override"]
    assert list(lines["Matched"]) == ['+15 — "CFO called" — Léa, until 2027-01-31', '-2.5 — "duplicate of L1203" — Bob']
    assert list(lines["Kind"].astype(str)) == ["override", "override"]
    assert ex.total == row["Score"]
    assert not ev.problems or all(not p.code.startswith("override") for p in ev.problems)


def test_points_override_is_clipped_like_any_points(base_rules):
    ev = _ev(base_rules, _ov([["L1", "points", 500, "whale", "Léa", None]]))
    ex = explain(ev, "L1")
    assert ex.lead["Score"] == 100 and ex.total == 100
    assert "clip" in set(ex.ledger["Kind"].astype(str))


def test_stage_override_sets_the_stage_and_a_disqualified_one_carries_its_reason(base_rules):
    ev = _ev(base_rules, _ov([["L4", "stage", "SQL", "met at the fair", "Léa", None],
                              ["L1", "stage", "disqualified", "duplicate of L1203", "Bob", None]]))
    ctx = ev.context.set_index("Lead ID")
    assert ctx.loc["L4", "Stage"] == "SQL"
    assert ctx.loc["L1", "Stage"] == "Disqualified" and ctx.loc["L1", "Reason"] == "duplicate of L1203"
    ex = explain(ev, "L4")
    assert list(ex.ledger.loc[ex.ledger["Rule"] == "override", "Matched"]) == ['stage → SQL — "met at the fair" — Léa']
    assert ex.total == ex.lead["Score"]


def test_a_typed_probability_wins_over_the_stage_and_an_override_wins_over_both(base_rules):
    leads = _leads().assign(Probability=[None, "60 %", 0.5, None])
    ev = _ev(base_rules, _ov([["L3", "probability", 90, "signed LOI", "Léa", None]]), leads)
    ctx = ev.context.set_index("Lead ID")
    assert ctx.loc["L2", "Probability"] == pytest.approx(0.6) and ctx.loc["L2", "Weighted"] == pytest.approx(600)
    assert ctx.loc["L3", "Probability"] == pytest.approx(0.9) and ctx.loc["L3", "Weighted"] == pytest.approx(1800)
    s = summarise(ev)
    assert s.kpis["Weighted pipeline"] == pytest.approx(2400)
    assert s.kpis["Manual probabilities"] == 2
    texts = [v for v, _ in summary_layout(s, ev.rules, "2026-11-22 09:00").cells.values() if isinstance(v, str)]
    assert any(t.startswith("Weighted forecast (open deals) — holds 2 probabilities set by hand") for t in texts)
    # Without the override, the stage's probability (Negotiation 80 %) would lose to the typed 0.5 only.
    plain = _ev(base_rules, None, leads).context.set_index("Lead ID")
    assert plain.loc["L3", "Probability"] == pytest.approx(0.5)


def test_a_probability_only_weighs_an_open_deal(base_rules):
    leads = _leads().assign(Probability=[0.7, None, None, None])
    ev = _ev(base_rules, _ov([["L4", "probability", 0.5, "hunch", "Léa", None]]), leads)
    ctx = ev.context.set_index("Lead ID")
    assert ctx.loc["L1", "Weighted"] == 0 and not ctx.loc["L1", "Manual probability"]
    # A Leads column is silently unused there (CRM exports carry one on every row); an override is reported.
    p = next(p for p in ev.problems if p.code == "probability-without-deal")
    assert p.sheet == "Overrides" and "L4" in p.message


def test_an_expired_override_is_ignored_and_listed(base_rules):
    base = _ev(base_rules).leads.set_index("Lead ID")
    ev = _ev(base_rules, _ov([["L1", "points", 15, "CFO called", "Léa", "2026-11-21"],
                              ["L1", "points", 5, "still true", "Léa", AS_OF]]))      # until the as-of day: in force
    assert ev.leads.set_index("Lead ID").loc["L1", "Score"] == base.loc["L1", "Score"] + 5
    p = next(p for p in ev.problems if p.code == "override-expired")
    assert p.where == 'Overrides!F2 (column "Until")' and "ended on 2026-11-21" in p.message
    assert ev.overrides_expired == 1
    assert summarise(ev).kpis["Overrides expired"] == 1
    assert "override-expired" in set(summarise(ev).quality["Problem"])


def test_an_override_without_a_reason_is_refused_with_its_cell(base_rules):
    base = _ev(base_rules).leads.set_index("Lead ID")
    ev = _ev(base_rules, _ov([["L1", "points", 15, "CFO called", "Léa", None],
                              ["L2", "points", 40, "  ", "Léa", None],
                              ["L4", "stage", "SQL", None, "Bob", None]]))
    refused = [p for p in ev.problems if p.code == "override-no-reason"]
    assert [p.where for p in refused] == ['Overrides!D3 (column "Reason")', 'Overrides!D4 (column "Reason")']
    assert all(p.severity == "error" for p in refused)
    got = ev.leads.set_index("Lead ID")
    assert got.loc["L2", "Score"] == base.loc["L2", "Score"]
    assert ev.context.set_index("Lead ID").loc["L4", "Stage"] != "SQL"


@pytest.mark.parametrize("row, code, cell", [
    (["L9", "points", 5, "x", "", None], "override-unknown-lead", "A2"),
    (["L1", "bonus", 5, "x", "", None], "override-bad-kind", "B2"),
    (["L1", "points", "lots", "x", "", None], "override-bad-value", "C2"),
    (["L1", "stage", "Hot", "x", "", None], "override-bad-value", "C2"),
    (["L1", "probability", 150, "x", "", None], "override-bad-value", "C2"),
    (["L1", "points", 5, "x", "", "someday"], "override-bad-date", "F2"),
])
def test_a_bad_override_is_ignored_with_its_cell(base_rules, row, code, cell):
    base = _ev(base_rules)
    ev = _ev(base_rules, _ov([row]))
    p = next(p for p in ev.problems if p.code == code)
    assert p.cell == cell and p.sheet == "Overrides"
    assert ev.leads["Score"].tolist() == base.leads["Score"].tolist()
    assert (ev.details["Rule"] == "override").sum() == 0


def test_a_users_own_sheet_named_overrides_is_left_alone_with_a_warning(base_rules):
    ev = _ev(base_rules, pd.DataFrame({"Customer": ["x"], "Discount": [0.1]}))
    p = next(p for p in ev.problems if p.code == "override-sheet-not-read")
    assert p.where == "Overrides!1:1" and "Lead ID" in p.message
    assert ev.leads["Score"].tolist() == _ev(base_rules).leads["Score"].tolist()


def test_kind_totals_keep_the_score_base_and_overrides_apart(base_rules):
    """The sheet's per-kind totals (ledger too big for a sheet): a score-base row used to be folded
    into the previous lead's clip total; each kind now has its own line and the totals sum to the score."""
    rules = {**base_rules, "score": {"min": 0, "max": 100, "base": 3}}
    ev = _ev(rules, _ov([["L2", "points", 7, "CFO called", "Léa", None]]))
    totals = kind_totals(ev.details, "x.parquet")
    per_lead = totals.groupby("Lead ID")["Points"].sum()
    scores = ev.leads.set_index("Lead ID")["Score"]
    assert per_lead.reindex(scores.index).tolist() == pytest.approx(scores.tolist())
    assert set(totals.loc[totals["Lead ID"] == "L2", "Kind"]) >= {"base", "override"}


# ---- real workbooks: the CLI and the Refresh macro give the same result -------------------------------------

def _workbook_with_overrides(path, rows):
    new_workbook(path, sample=True, as_of=AS_OF)
    source = path.with_name(path.stem + ".source.xlsm")
    wb = openpyxl.load_workbook(path, keep_vba=True)
    ws = wb.create_sheet("Overrides")
    ws.append(OV_HEADERS)
    for r in rows:
        ws.append(r)
    wb.save(path)
    shutil.copy(path, source)
    return source


ROWS = [["L1001", "points", 15, "CFO called", "Léa", dt.datetime(2027, 1, 31)],
        ["L1005", "probability", "90 %", "signed LOI", "Hugo", None],
        ["L1002", "stage", "SQL", "met at the fair", "Léa", None],
        ["L1006", "points", 30, "old news", "Bob", dt.datetime(2026, 1, 1)],
        ["L1007", "points", 10, None, "Bob", None]]


def _summary_texts(path):
    ws = openpyxl.load_workbook(path, data_only=True)["Summary"]
    return [c.value for row in ws.iter_rows() for c in row if isinstance(c.value, str)]


def _lead_cols(path):
    ws = openpyxl.load_workbook(path, data_only=True)["Leads"]
    header = [c.value for c in ws[3]]
    cols = [header.index(n) for n in ("Lead ID", "Score", "Stage", "Why")]
    return {r[cols[0]]: [r[i] for i in cols[1:]] for r in ws.iter_rows(min_row=4, values_only=True) if r[0]}


def test_cli_and_macro_refresh_give_the_same_overridden_workbook(tmp_path):
    cli_path, macro_path = tmp_path / "cli.xlsm", tmp_path / "macro.xlsm"
    source = _workbook_with_overrides(cli_path, ROWS)
    shutil.copy(cli_path, macro_path)
    shutil.copy(ROOT / "rules.json", tmp_path / "rules.json")
    plain = tmp_path / "plain.xlsm"
    new_workbook(plain, sample=True, as_of=AS_OF)
    out, err = io.StringIO(), io.StringIO()
    assert run(["refresh", str(plain), "--as-of", AS_OF, "--rules", str(ROOT / "rules.json")], out, err) == 0
    assert run(["refresh", str(cli_path), "--as-of", AS_OF, "--rules", str(ROOT / "rules.json")], out, err) == 0, err.getvalue()
    gate(cli_path, "refresh with an Overrides sheet", source=source)

    wb = openpyxl.load_workbook(macro_path, keep_vba=True)
    wb["Settings"]["B3"] = dt.datetime(2026, 11, 22)
    wb.save(macro_path)
    from xlengine import open_as_caller
    book = open_as_caller(macro_path)
    macros.refresh(now="2026-11-22 09:00")
    book.impl.save()

    cli, macro, before = _lead_cols(cli_path), _lead_cols(macro_path), _lead_cols(plain)
    assert cli == macro
    assert cli["L1001"][0] == pytest.approx(min(before["L1001"][0] + 15, 100))
    assert cli["L1006"][0] == before["L1006"][0]                     # expired
    assert cli["L1007"][0] == before["L1007"][0]                     # no reason: refused
    assert cli["L1002"][1] == "SQL"
    for path in (cli_path, macro_path):
        texts = _summary_texts(path)
        assert any(t.startswith("Weighted forecast (open deals) — holds 1 probability set by hand") for t in texts)
        assert any("ended on 2026-01-01" in t for t in texts)
        assert any("an override needs a reason" in t for t in texts)
        details = list(openpyxl.load_workbook(path, data_only=True)["Score details"].iter_rows(values_only=True))
        assert ("L1001", "override", "override", '+15 — "CFO called" — Léa, until 2027-01-31') in {r[:4] for r in details}
    # The user's Overrides sheet is input: never written.
    a = [list(r) for r in openpyxl.load_workbook(source)["Overrides"].iter_rows(values_only=True)]
    for path in (cli_path, macro_path):
        assert [list(r) for r in openpyxl.load_workbook(path)["Overrides"].iter_rows(values_only=True)] == a


def test_explain_on_the_cli_shows_the_override_row(tmp_path):
    path = tmp_path / "w.xlsm"
    _workbook_with_overrides(path, ROWS[:1])
    out, err = io.StringIO(), io.StringIO()
    assert run(["explain", str(path), "L1001", "--as-of", AS_OF, "--rules", str(ROOT / "rules.json")], out, err) == 0
    assert '+15 — "CFO called" — Léa, until 2027-01-31' in out.getvalue()


def test_forget_erases_the_persons_overrides_rows_too(tmp_path, monkeypatch):
    """A rep's reason is about the person: GDPR erasure removes their Overrides rows (and only theirs)."""
    from addin.forget import forget
    monkeypatch.setenv("LEADQ_SALT", "test-salt")
    path = tmp_path / "w.xlsm"
    source = _workbook_with_overrides(path, ROWS)
    result = forget(path, lead="L1001", rules=str(ROOT / "rules.json"), as_of=AS_OF)
    gate(path, "forget with an Overrides sheet", source=source)
    rows = [list(r) for r in openpyxl.load_workbook(path)["Overrides"].iter_rows(values_only=True)]
    assert [r[0] for r in rows] == ["Lead ID", "L1005", "L1002", "L1006", "L1007"]
    assert result.rows["Overrides"] == 1
