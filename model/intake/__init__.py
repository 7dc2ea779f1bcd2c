"""File intake: the office's tables (XLSX, CSV, JSONL) read within limits, cleaned, and mapped to proposals.

Kept apart from the inference runtime beside it: training reads last year's file through it and the service
reads uploads through it, while `Router` never sees a file.
"""
