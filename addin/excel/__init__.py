"""The xlwings adapter: read an open book into the application layer's input (`read`); the macros
(`addin.macros`), the worksheet functions (`addin.udfs`) and xlwings Lite render the jobs' results."""
