"""table_frame(): 2-D cell values (as xlwings returns them) to a DataFrame that knows its cells."""

from addin.core.values.table import table_frame
from addin.udfs import frame


def test_rows_and_letters_follow_the_table_position():
    values = [["Lead ID", None, "Email", None],
              ["A", None, "a@x.fr", None],
              [None, None, None, None],            # a blank row inside keeps its place
              ["B", 3, "b@x.fr", None],
              [None, None, "", None]]              # blank rows at the end are dropped
    df = table_frame(values, "Leads", top_row=3, first_col=1)
    assert list(df.columns) == ["Lead ID", "Column 2", "Email"]
    assert df["Lead ID"].tolist() == ["A", None, "B"]
    origin = df.attrs["leadq_origin"]
    assert origin["sheet"] == "Leads" and list(origin["rows"]) == [4, 5, 6]
    assert origin["letters"] == {"Lead ID": "B", "Column 2": "C", "Email": "D"}


def test_a_udf_table_is_read_by_the_same_code():
    rows = [["Lead ID", "Email"], ["A", "a@x.fr"], [None, None]]
    df = frame(rows)
    assert df.to_dict("list") == {"Lead ID": ["A"], "Email": ["a@x.fr"]}
    assert list(df.attrs["leadq_origin"]["rows"]) == [2] and "sheet" not in df.attrs["leadq_origin"]
