"""The council: the pure steps (build a request, parse a reply), the verdict, the model
pool and the store-first caller, and ``Council``, which judges one candidate.
"""
