"""The `rawan` command line. Each sub-command lives in `rawan/commands/<name>.py` and imports its heavy
dependencies inside the handler, so `rawan --help` stays fast."""

__version__ = "0.1.0"
