"""Sweeps: many runs of ``simulate``, ``bench`` or ``plan`` over a grid or a sample of scenario variants, on the
executor interface (:mod:`wattbit.parallel`), one Parquet row per run (:mod:`wattbit.sweep.store`)."""
