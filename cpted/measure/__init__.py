"""Stage 3, measure: one module per CPTED principle (plus lighting and activity support).

A principle module calls the engines (:mod:`cpted.engines`), never another principle.
"""
