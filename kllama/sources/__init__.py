"""One module per source: raw dump -> Documents. Each registers a ``Source`` subclass with ``@register``."""
