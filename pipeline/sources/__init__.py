"""Where bars come from: ``demo`` (generated, offline), ``yahoo`` (the network) and ``file`` (a
vendor file). The only code that talks to the network or reads the user's files."""

#: The bar sources by name (`callbook --source`, CALLBOOK_SOURCE); flows/sources.py builds them.
SOURCE_NAMES: tuple[str, ...] = ("demo", "yahoo", "file")
