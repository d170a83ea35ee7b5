"""What every layer shares: records, a model call as data, errors, prompt templates, the
process lock and the SQLite store. Imports nothing else from gra.
"""
