"""Background estimation, resampling, cropping and the model's input transform."""

from pigmentmap.preprocess.preprocessor import Preprocessor, check_counts, resample
from pigmentmap.preprocess.snip import snip_background

__all__ = ["Preprocessor", "check_counts", "resample", "snip_background"]
