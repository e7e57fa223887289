# The library version this package is written for (checked at import against tg_version()).
__version__ = "0.3.0"
