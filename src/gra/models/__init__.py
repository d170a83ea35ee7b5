"""Models: the packaged-model registry, model settings, weight conversion, the CPU probe,
loading a backend from settings, and the backends themselves (embedded, batched, OpenAI-
compatible server).
"""
