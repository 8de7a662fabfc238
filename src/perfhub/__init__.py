"""perfhub: open performance hub."""

__version__ = "0.1.0"
