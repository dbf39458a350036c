"""The application layer: each job LeadQ does, once.

A job takes a `WorkbookInput` (the tables, Settings, Lead history and the problems found while
reading, built from a file by `inputs.from_file` or from an open book by `addin.excel.read`) and
the caller's explicit choices, and returns a result. The doors — the `leadq` command line, the
Excel buttons (`addin.macros`), the worksheet functions (`addin.udfs`), xlwings Lite and the
Python API (`addin`) — only read their inputs, call a job and render what it returns; none of them
resolves settings or calls the engine itself (tests/test_doors.py walks them to keep it so).

| job | module | file door | book door |
|---|---|---|---|
| refresh | app.refresh | `refresh(workbook, …)` writes the file | `compute(inp, …)` then the door renders |
| preview | app.preview | `preview(workbook, new_rules, …)` | `preview_input(inp, new_rules, …)` |
| explain | app.explain | `explain_file(workbook, lead_id, …)`, `explain_saved` | `explain_input(inp, lead_id, …)` |
| calibrate | app.calibrate | `calibrate_file(workbook, …)` | `calibrate_input(inp, …)`, `write_suggested` |
| check rules | app.check | `check_file(path)` | `check_input(inp)` |
| new | app.new | `new_workbook(out, …)` | |
| import | app.imports | `import_files(workbook, {sheet: export})` | |
| export | app.export | `export_for_crm`, `export_pseudonymised` | `export_for_crm_input(inp)` (the Run button's Export for CRM) |
| forget | app.forget | `forget(workbook, lead=…, email=…)` erases one person everywhere | |
"""
