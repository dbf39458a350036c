"""Workbook I/O: reading sheets into DataFrames, writing LeadQ's parts back, building the template."""
