"""Models (registry; the paper's CNN; fast-cnn), training, finetuning and model files. Needs torch
(except the constants here and :mod:`pigmentmap.ml.augment`)."""

#: The shipped model used when none is named: one model for every instrument (fast-cnn on the
#: canonical 1-41 keV input, trained on the universal design).
DEFAULT_MODEL = "universal"
