"""Render the Summary layout (core/report/summary_layout.py) into the workbook package: cells, styles, links, charts."""

from __future__ import annotations

import math
import re

import numpy as np
import pandas as pd

from ...core.model import Evaluation
from ...core.report.present import HEADER_FILL, SUMMARY
from ...core.report.summary import summarise
from ...core.report.summary_layout import ACCENT, TITLE_ROWS, ChartSpec, SummaryLayout, print_setup, summary_layout
from ...core.values.parse import EXCEL_EPOCH
from ..edit import PackageEdit
from ..package import CT_CHART, CT_DRAWING, REL_CHART, REL_DRAWING, col_letter, xml_attr, xml_text
from ..sheetxml import cap_text, code_name, sheet_xml
from ..styles import StyleBook
from . import CHART_PREFIX, DRAWING, chart_part


def _cell_xml(ref: str, v, s: int) -> str:
    if v is None:
        return f'<c r="{ref}" s="{s}"/>'
    if isinstance(v, (bool, np.bool_)):
        return f'<c r="{ref}" s="{s}" t="b"><v>{int(v)}</v></c>'
    if isinstance(v, (int, float, np.integer, np.floating)):
        if not math.isfinite(float(v)):         # Excel has no inf or nan: such a cell stays blank
            return f'<c r="{ref}" s="{s}"/>'
        return f'<c r="{ref}" s="{s}"><v>{float(v)!r}</v></c>'
    if isinstance(v, pd.Timestamp):
        serial = (v - EXCEL_EPOCH) / pd.Timedelta(days=1)
        serial = int(serial) if serial == int(serial) else repr(serial)     # keeps the time of day
        return f'<c r="{ref}" s="{s}"><v>{serial}</v></c>'
    return f'<c r="{ref}" s="{s}" t="inlineStr"><is><t xml:space="preserve">{xml_text(cap_text(str(v)))}</t></is></c>'


def rows_xml(page: SummaryLayout, xf) -> str:
    """The <row> elements of a laid-out page; `xf(**format)` turns a style token into an xf index."""
    index = {st: xf(**st.as_dict()) for st in page.styles()}
    rows: dict[int, list[str]] = {}
    for (r, c), (v, st) in sorted(page.cells.items()):
        rows.setdefault(r, []).append(_cell_xml(f"{col_letter(c)}{r}", v, index[st]))
    out = []
    for r in sorted(set(rows) | set(page.heights)):
        h = f' ht="{page.heights[r]}" customHeight="1"' if r in page.heights else ""
        out.append(f'<row r="{r}"{h}>{"".join(rows.get(r, []))}</row>')
    return "".join(out)


def _num_points(values) -> str:
    """A chart cache's points; a value that is not finite has no point (Excel repairs a file holding inf or nan)."""
    return "".join(f'<c:pt idx="{i}"><c:v>{float(v)!r}</c:v></c:pt>' for i, v in enumerate(values)
                   if v is not None and math.isfinite(float(v)))


def _chart_start(title: str) -> str:
    """A chart part up to its plot area: the namespaces and the title."""
    return ('<?xml version="1.0" encoding="UTF-8" standalone="yes"?>\n'
            '<c:chartSpace xmlns:c="http://schemas.openxmlformats.org/drawingml/2006/chart" '
            'xmlns:a="http://schemas.openxmlformats.org/drawingml/2006/main" '
            'xmlns:r="http://schemas.openxmlformats.org/officeDocument/2006/relationships">'
            '<c:roundedCorners val="0"/><c:chart>'
            f'<c:title><c:tx><c:rich><a:bodyPr/><a:p><a:pPr><a:defRPr sz="1200" b="1"/></a:pPr><a:r><a:rPr lang="en-US" '
            f'sz="1200" b="1"/><a:t>{xml_text(title)}</a:t></a:r></a:p></c:rich></c:tx><c:overlay val="0"/></c:title>'
            '<c:autoTitleDeleted val="0"/><c:plotArea><c:layout/>')


def _line_chart_xml(spec: ChartSpec) -> bytes:
    """A native line chart, one series per column of a table on the Summary."""
    c0, r1, r2 = spec.cats
    n = len(spec.labels)
    cat_ref = f"'{SUMMARY}'!${col_letter(c0)}${r1}:${col_letter(c0)}${r2}"
    pts = _num_points(spec.serials)
    series = []
    for k, (name, col, color, values) in enumerate(spec.series):
        ref = f"'{SUMMARY}'!${col_letter(col)}${r1}:${col_letter(col)}${r2}"
        name_ref = f"'{SUMMARY}'!${col_letter(col)}${r1 - 1}"
        vals = _num_points(values)
        rgb = color.lstrip("#")
        series.append(
            f'<c:ser><c:idx val="{k}"/><c:order val="{k}"/><c:tx><c:strRef><c:f>{xml_text(name_ref)}</c:f><c:strCache>'
            f'<c:ptCount val="1"/><c:pt idx="0"><c:v>{xml_text(name)}</c:v></c:pt></c:strCache></c:strRef></c:tx>'
            f'<c:spPr><a:ln w="28575" cap="rnd"><a:solidFill><a:srgbClr val="{rgb}"/></a:solidFill><a:round/></a:ln></c:spPr>'
            f'<c:marker><c:symbol val="circle"/><c:size val="5"/><c:spPr><a:solidFill><a:srgbClr val="{rgb}"/></a:solidFill>'
            f'<a:ln><a:solidFill><a:srgbClr val="{rgb}"/></a:solidFill></a:ln></c:spPr></c:marker>'
            f'<c:cat><c:numRef><c:f>{xml_text(cat_ref)}</c:f><c:numCache><c:formatCode>yyyy-mm-dd hh:mm</c:formatCode>'
            f'<c:ptCount val="{n}"/>{pts}</c:numCache></c:numRef></c:cat>'
            f'<c:val><c:numRef><c:f>{xml_text(ref)}</c:f><c:numCache><c:formatCode>General</c:formatCode>'
            f'<c:ptCount val="{n}"/>{vals}</c:numCache></c:numRef></c:val><c:smooth val="0"/></c:ser>')
    txt = '<c:txPr><a:bodyPr/><a:lstStyle/><a:p><a:pPr><a:defRPr sz="900"/></a:pPr><a:endParaRPr lang="en-US"/></a:p></c:txPr>'
    return (
        _chart_start(spec.title) +
        '<c:lineChart><c:grouping val="standard"/><c:varyColors val="0"/>' + "".join(series) +
        '<c:marker val="1"/><c:axId val="50030"/><c:axId val="50040"/></c:lineChart>'
        '<c:catAx><c:axId val="50030"/><c:scaling><c:orientation val="minMax"/></c:scaling><c:delete val="0"/>'
        '<c:axPos val="b"/><c:numFmt formatCode="yyyy-mm-dd" sourceLinked="0"/><c:majorTickMark val="none"/>'
        f'<c:minorTickMark val="none"/><c:tickLblPos val="nextTo"/>{txt}<c:crossAx val="50040"/><c:crosses val="autoZero"/>'
        '<c:auto val="1"/><c:lblAlgn val="ctr"/><c:lblOffset val="100"/><c:noMultiLvlLbl val="0"/></c:catAx>'
        '<c:valAx><c:axId val="50040"/><c:scaling><c:orientation val="minMax"/></c:scaling><c:delete val="0"/>'
        '<c:axPos val="l"/><c:majorGridlines><c:spPr><a:ln><a:solidFill><a:srgbClr val="E7E6E6"/></a:solidFill></a:ln>'
        f'</c:spPr></c:majorGridlines><c:numFmt formatCode="{xml_attr(spec.fmt)}" sourceLinked="0"/>'
        f'<c:majorTickMark val="none"/><c:minorTickMark val="none"/><c:tickLblPos val="nextTo"/>{txt}'
        '<c:crossAx val="50030"/><c:crosses val="autoZero"/><c:crossBetween val="between"/></c:valAx>'
        '<c:spPr><a:noFill/></c:spPr></c:plotArea><c:legend><c:legendPos val="r"/><c:overlay val="0"/>'
        f'{txt}</c:legend><c:plotVisOnly val="1"/><c:dispBlanksAs val="gap"/></c:chart>'
        '<c:spPr><a:solidFill><a:srgbClr val="FFFFFF"/></a:solidFill><a:ln><a:solidFill><a:srgbClr val="D9D9D9"/>'
        '</a:solidFill></a:ln></c:spPr></c:chartSpace>').encode()


def _chart_xml(spec: ChartSpec) -> bytes:
    if spec.kind == "line":
        return _line_chart_xml(spec)
    c0, r1, r2 = spec.cats
    v0 = spec.vals[0]
    n = len(spec.labels)
    cat_ref = f"'{SUMMARY}'!${col_letter(c0)}${r1}:${col_letter(c0)}${r2}"
    val_ref = f"'{SUMMARY}'!${col_letter(v0)}${r1}:${col_letter(v0)}${r2}"
    pts = "".join(f'<c:pt idx="{i}"><c:v>{xml_text(str(x))}</c:v></c:pt>' for i, x in enumerate(spec.labels))
    vals = _num_points(spec.values)
    dpts = "".join(f'<c:dPt><c:idx val="{i}"/><c:invertIfNegative val="0"/><c:bubble3D val="0"/><c:spPr><a:solidFill>'
                   f'<a:srgbClr val="{col.lstrip("#")}"/></a:solidFill><a:ln><a:solidFill><a:srgbClr val="7F7F7F"/>'
                   f'</a:solidFill></a:ln></c:spPr></c:dPt>' for i, col in enumerate(spec.colors))
    fmt = xml_attr(spec.fmt)
    horizontal = spec.horizontal
    return (
        _chart_start(spec.title) +
        f'<c:barChart><c:barDir val="{"bar" if horizontal else "col"}"/><c:grouping val="clustered"/>'
        '<c:varyColors val="0"/><c:ser><c:idx val="0"/><c:order val="0"/><c:tx><c:v>Value</c:v></c:tx>'
        f'<c:spPr><a:solidFill><a:srgbClr val="{ACCENT.lstrip("#")}"/></a:solidFill></c:spPr>'
        f'<c:invertIfNegative val="0"/>{dpts}'
        f'<c:dLbls><c:numFmt formatCode="{fmt}" sourceLinked="0"/><c:spPr><a:noFill/><a:ln><a:noFill/></a:ln></c:spPr>'
        '<c:txPr><a:bodyPr/><a:lstStyle/><a:p><a:pPr><a:defRPr sz="900"/></a:pPr><a:endParaRPr lang="en-US"/></a:p></c:txPr>'
        '<c:showLegendKey val="0"/><c:showVal val="1"/><c:showCatName val="0"/><c:showSerName val="0"/>'
        '<c:showPercent val="0"/><c:showBubbleSize val="0"/></c:dLbls>'
        f'<c:cat><c:strRef><c:f>{xml_text(cat_ref)}</c:f><c:strCache><c:ptCount val="{n}"/>{pts}</c:strCache></c:strRef></c:cat>'
        f'<c:val><c:numRef><c:f>{xml_text(val_ref)}</c:f><c:numCache><c:formatCode>General</c:formatCode>'
        f'<c:ptCount val="{n}"/>{vals}</c:numCache></c:numRef></c:val></c:ser>'
        '<c:gapWidth val="50"/><c:axId val="50010"/><c:axId val="50020"/></c:barChart>'
        f'<c:catAx><c:axId val="50010"/><c:scaling><c:orientation val="{"maxMin" if horizontal else "minMax"}"/></c:scaling>'
        f'<c:delete val="0"/><c:axPos val="{"l" if horizontal else "b"}"/><c:numFmt formatCode="General" sourceLinked="0"/>'
        '<c:majorTickMark val="none"/><c:minorTickMark val="none"/><c:tickLblPos val="nextTo"/>'
        '<c:txPr><a:bodyPr/><a:lstStyle/><a:p><a:pPr><a:defRPr sz="900"/></a:pPr><a:endParaRPr lang="en-US"/></a:p></c:txPr>'
        '<c:crossAx val="50020"/><c:crosses val="autoZero"/><c:auto val="1"/><c:lblAlgn val="ctr"/><c:lblOffset val="100"/>'
        '<c:noMultiLvlLbl val="0"/></c:catAx>'
        f'<c:valAx><c:axId val="50020"/><c:scaling><c:orientation val="minMax"/></c:scaling><c:delete val="1"/>'
        f'<c:axPos val="{"t" if horizontal else "l"}"/><c:numFmt formatCode="{fmt}" sourceLinked="0"/>'
        '<c:majorTickMark val="none"/><c:minorTickMark val="none"/><c:tickLblPos val="nextTo"/><c:crossAx val="50010"/>'
        '<c:crosses val="autoZero"/><c:crossBetween val="between"/></c:valAx>'
        '<c:spPr><a:noFill/></c:spPr></c:plotArea><c:plotVisOnly val="1"/><c:dispBlanksAs val="gap"/></c:chart>'
        '<c:spPr><a:solidFill><a:srgbClr val="FFFFFF"/></a:solidFill><a:ln><a:solidFill><a:srgbClr val="D9D9D9"/>'
        '</a:solidFill></a:ln></c:spPr></c:chartSpace>').encode()


def _drawing_xml(charts: list[ChartSpec]) -> bytes:
    anchors = []
    for i, spec in enumerate(charts, start=1):
        c1, r1, c2, r2 = spec.anchor
        anchors.append(
            f'<xdr:twoCellAnchor editAs="oneCell"><xdr:from><xdr:col>{c1}</xdr:col><xdr:colOff>0</xdr:colOff>'
            f'<xdr:row>{r1 - 1}</xdr:row><xdr:rowOff>0</xdr:rowOff></xdr:from><xdr:to><xdr:col>{c2}</xdr:col>'
            f'<xdr:colOff>0</xdr:colOff><xdr:row>{r2 - 1}</xdr:row><xdr:rowOff>0</xdr:rowOff></xdr:to>'
            f'<xdr:graphicFrame macro=""><xdr:nvGraphicFramePr><xdr:cNvPr id="{i + 1}" name="{xml_attr(spec.title)}"/>'
            '<xdr:cNvGraphicFramePr/></xdr:nvGraphicFramePr><xdr:xfrm><a:off x="0" y="0"/><a:ext cx="0" cy="0"/></xdr:xfrm>'
            '<a:graphic><a:graphicData uri="http://schemas.openxmlformats.org/drawingml/2006/chart">'
            '<c:chart xmlns:c="http://schemas.openxmlformats.org/drawingml/2006/chart" '
            f'xmlns:r="http://schemas.openxmlformats.org/officeDocument/2006/relationships" r:id="rId{i}"/>'
            '</a:graphicData></a:graphic></xdr:graphicFrame><xdr:clientData/></xdr:twoCellAnchor>')
    return ('<?xml version="1.0" encoding="UTF-8" standalone="yes"?>\n'
            '<xdr:wsDr xmlns:xdr="http://schemas.openxmlformats.org/drawingml/2006/spreadsheetDrawing" '
            'xmlns:a="http://schemas.openxmlformats.org/drawingml/2006/main">' + "".join(anchors) + "</xdr:wsDr>"
            ).encode("utf-8")


def summary_writer(ev: Evaluation, refreshed_at: str):
    """A callback for write_results: called, it computes the Summary's tables (summarise) and returns the
    function that rebuilds the Summary sheet (write_results calls it once the sheets' workers are started)."""
    return lambda: _sheet_writer(ev, summarise(ev), refreshed_at)


def _sheet_writer(ev: Evaluation, s, refreshed_at: str):
    def write(edit: PackageEdit, styles: StyleBook) -> None:
        from ..ownership import claim_sheet
        page = summary_layout(s, ev.rules, refreshed_at)
        claim_sheet(edit, SUMMARY)
        part = edit.ensure_sheet(SUMMARY)
        # Keep what the sheet had that is not ours (the Refresh button's VML, comments); charts are ours.
        kept = [(rid, typ, target) for rid, (typ, target) in edit.pkg.read_rels(part).items()
                if typ not in (REL_DRAWING,)] if part in edit.pkg.names else []
        old = edit.pkg.read(part).decode("utf-8") if part in edit.pkg.names else ""
        legacy = re.search(r"<legacyDrawing\b[^>]*/>", old)
        used = {rid for rid, _, _ in kept}
        rid = next(f"rId{i}" for i in range(1, 99) if f"rId{i}" not in used)
        links = [(link.ref, link.location, link.text) for link in page.links]
        printed = print_setup(page)
        xml = sheet_xml(rows_xml(page, styles.xf), page.last_col, page.last_row, page.widths, hyperlinks=links,
                        drawing_rid=rid, tab_color=HEADER_FILL, show_grid=False, zoom=90, code_name=code_name(edit, part),
                        fit_to=printed.fit, landscape=True, row_breaks=printed.breaks,
                        scale=printed.scale)
        if legacy:
            xml = xml.replace(b"</worksheet>", legacy.group(0).encode("utf-8") + b"</worksheet>")
        edit.put(part, xml)
        # printed as a report (core.report.page): its print area, one page wide, the title on every page
        local = edit.sheet_index(SUMMARY)
        edit.defined_name("_xlnm.Print_Titles", f"'{SUMMARY}'!$1:${TITLE_ROWS}", local_sheet=local, hidden=False)
        edit.defined_name("_xlnm.Print_Area", f"'{SUMMARY}'!{printed.area}" if printed.area else None, local_sheet=local,
                          hidden=False)
        edit.set_part_rels(part, kept + [(rid, REL_DRAWING, DRAWING)])
        edit.put(DRAWING, _drawing_xml(page.charts), CT_DRAWING)
        edit.set_part_rels(DRAWING, [(f"rId{i}", REL_CHART, chart_part(spec.name))
                                     for i, spec in enumerate(page.charts, start=1)])
        for spec in page.charts:
            edit.put(chart_part(spec.name), _chart_xml(spec), CT_CHART)
        drawn = {chart_part(spec.name) for spec in page.charts}
        for chart in [n for n in edit.pkg.names if n.startswith(CHART_PREFIX) and n not in drawn]:
            if edit.exists(chart):            # a chart an earlier refresh drew and this one does not
                edit.remove(chart)

    return write
