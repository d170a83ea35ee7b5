"""``gra synth``: one candidate from index to outcome (pipeline), the run directory (run), the
written results (writer) and the progress display.
"""
