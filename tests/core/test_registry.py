"""The registry: one class per name, built-in discovery, outside steps through a real entry point."""

import importlib
import sys
import textwrap

import pytest

from kllama.core import registry
from kllama.core.steps import Filter, GlobalStep, Source, Step


@pytest.fixture
def isolated_registry(monkeypatch):
    """The registry's tables copied, so that what a test registers is gone afterwards."""
    registry._discover()
    monkeypatch.setattr(registry, "_STEPS", dict(registry._STEPS))
    monkeypatch.setattr(registry, "_SOURCES", dict(registry._SOURCES))
    return registry


def test_a_second_class_with_a_taken_name_is_refused(isolated_registry):
    class Other(Filter):
        name = "c4_rules"  # kllama's own C4 rules hold this name

        def keep(self, doc):
            return True

    with pytest.raises(ValueError, match=r"two steps named 'c4_rules': kllama\.filters\.c4_rules\.C4Rules and"):
        registry.register(Other)
    assert registry.step_class("c4_rules").__module__ == "kllama.filters.c4_rules"


def test_a_source_and_a_step_have_separate_names_and_reregistering_one_class_is_harmless(isolated_registry):
    c4 = registry.source_class("c4")
    assert registry.register(c4) is c4  # the same class again (a module imported twice): no error
    with pytest.raises(ValueError, match="two sources named 'c4'"):
        registry.register(type("C4Copy", (c4,), {"__module__": "elsewhere"}))


def test_unknown_names_list_the_known_ones():
    with pytest.raises(KeyError, match="unknown step 'nope'; known: .*c4_rules"):
        registry.step_class("nope")
    with pytest.raises(KeyError, match="unknown source 'nope'; known: .*commoncrawl"):
        registry.source_class("nope")


PLUGIN = '''
from kllama.core.registry import register
from kllama.core.steps import Filter


class ShoutFilter(Filter):
    """Keep only documents written in capitals (an outside step, registered by its entry point)."""

    name = "test_plugin_shout"
    drop_reasons = ("not_shouting",)

    def __init__(self, min_chars: int = 1) -> None:
        self.min_chars = min_chars

    def keep(self, doc):
        return True if doc.text.isupper() and len(doc.text) >= self.min_chars else "not_shouting"


@register
class WhisperFilter(Filter):
    """Registered by importing this module (an entry point may name a module)."""

    name = "test_plugin_whisper"
    drop_reasons = ("not_whispering",)

    def keep(self, doc):
        return True if doc.text.islower() else "not_whispering"
'''


def test_outside_steps_load_through_a_real_entry_point(tmp_path, monkeypatch, isolated_registry):
    """A distribution on sys.path (its ``*.dist-info`` with ``entry_points.txt``) adds steps to the
    ``kllama.plugins`` group: one entry point names a class, another a module whose classes register."""
    (tmp_path / "kllama_test_plugin.py").write_text(PLUGIN)
    info = tmp_path / "kllama_test_plugin-0.1.dist-info"
    info.mkdir()
    (info / "METADATA").write_text("Metadata-Version: 2.1\nName: kllama-test-plugin\nVersion: 0.1\n")
    (info / "entry_points.txt").write_text(textwrap.dedent("""\
        [kllama.plugins]
        shout = kllama_test_plugin:ShoutFilter
        whisper = kllama_test_plugin
        """))
    monkeypatch.syspath_prepend(str(tmp_path))
    importlib.invalidate_caches()
    monkeypatch.setattr(registry, "_DISCOVERED", False)
    try:
        shout = registry.step_class("test_plugin_shout")
        assert shout.__module__ == "kllama_test_plugin"
        assert registry.step_class("test_plugin_whisper").drop_reasons == ("not_whispering",)
        step = registry.build_step({"step": "test_plugin_shout", "min_chars": 2})
        from kllama.core.document import Document
        from kllama.core.ledger import Ledger

        ledger = Ledger()
        kept = step.process([Document(id="a", text="HEY", source="s"), Document(id="b", text="hey", source="s")],
                            ledger)
        assert [d.id for d in kept] == ["a"] and ledger.dropped == {"not_shouting": 1}
        assert registry.describe(shout)["options"] == {"min_chars": "1"}
    finally:
        sys.modules.pop("kllama_test_plugin", None)


def test_every_registered_class_declares_its_drop_reasons():
    """Each source and step says in its own class body which reasons it drops documents for (an empty tuple
    when it drops none), so that `kllama steps` can list them."""
    registry._discover()
    missing = [f"{cls.__module__}.{cls.__qualname__}"
               for cls in [*registry._STEPS.values(), *registry._SOURCES.values()]
               if "drop_reasons" not in cls.__dict__]
    assert not missing, f"classes without their own drop_reasons: {missing}"
    for cls in [*registry._STEPS.values(), *registry._SOURCES.values()]:
        assert isinstance(cls.drop_reasons, tuple) and all(isinstance(r, str) for r in cls.drop_reasons), cls
        assert issubclass(cls, (Step, GlobalStep, Source))
