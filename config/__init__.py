"""Configuration: one settings tree (environment, prefix WEERTHUIS_) and the regions as data files."""
