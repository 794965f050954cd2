"""Quality steps (per-document filters and mappers), each registered by name with ``@register``."""
