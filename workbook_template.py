"""Called by every button of workbook_template.xlsm (xlwings runs `import workbook_template; workbook_template.main()`): Refresh on
Leads and Summary refreshes; Run on Settings runs the job chosen beside it (Settings > Job to run)."""

from addin.macros import refresh  # noqa: F401  (the one job of earlier versions' shim)
from addin.macros import run_button


def main():
    run_button()
