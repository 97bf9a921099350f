"""From a scan to maps: elemental maps by a fast linear fit, pigment maps by chunked inference."""
