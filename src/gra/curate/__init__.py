"""Work on existing datasets: review, judge scores, select (IFD, judge, diversity-aware
subsets), dedup (exact, MinHash, embeddings), diversity metrics, embeddings and calibration.
"""
