"""Figures and the HTML report of a ``map`` results folder."""
