"""Called by the Refresh button of workbook_template.xlsm (xlwings runs `import workbook_template; workbook_template.main()`)."""

from addin.macros import refresh


def main():
    refresh()
