"""`wengert train`: training runs on data that ships with a package (`digits`: scikit-learn's
8x8 handwritten digits) or with Python itself (`charlm`: a character-level transformer on the
standard library's source), with a progress bar, a final report, PNG curves and checkpoints
that resume exactly. The task modules import their dependencies lazily; import them by name
(`wengert.train.digits`, `wengert.train.charlm`)."""
