"""Files in and out: seed and dataset readers (JSON, JSONL, CSV) with file:line errors, output
formats and atomic writes.
"""
