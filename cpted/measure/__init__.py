"""Stage 3, measure: one module per CPTED principle (plus lighting and activity support).

A principle module calls the engines (:mod:`cpted.engines`), never another principle. Each
returns a :class:`~cpted.measure._result.MeasureResult` and turns a missing input into NaN with
its reason through :func:`~cpted.measure._result.need` (known, known empty or unknown layers).
"""
