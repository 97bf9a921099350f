"""Models (registry; the paper's CNN), training, finetuning and model files. Needs torch."""
