"""The pure engine: rules, operators, scoring, qualification, stages, summary.

Nothing here imports openpyxl, xlwings or a CLI library, or opens a workbook.
"""
