"""Evaluation of extractors on labelled receipt sets: readers, normalisation, scoring, runner and report.

``receiptcore eval DATASET_DIR --extractor NAME`` (``receiptcore.entrypoints.cli_eval``) is the front end.
"""
