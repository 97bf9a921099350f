"""Second seed (Gerodimos et al., EXRS 2022): spectra -> RGB colour, spectra -> element maps."""
