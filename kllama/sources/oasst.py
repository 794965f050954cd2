"""OpenAssistant message trees (G2 A.5): the ``*.trees.jsonl(.gz)`` export layout, one tree per line.

A line is ``{"message_tree_id", "tree_state", "prompt": MESSAGE}``; a message has ``message_id``, ``text``,
``role`` (``prompter`` or ``assistant``), ``lang``, ``rank`` (0 = best among its siblings, ``null`` when not
ranked), ``deleted``, ``review_result``, ``synthetic`` and ``replies`` (a list of messages). Each tree becomes one
conversation: the prompt, then at every level the best-ranked usable reply, as ``User: ...`` / ``Assistant: ...``
lines (:mod:`kllama.text.dialogue`, docs/dialogue.md).
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from typing import Any

from kllama.core.document import Document, make_id
from kllama.core.ledger import Ledger
from kllama.core.registry import register
from kllama.core.steps import Source
from kllama.formats.jsonlines import is_utf8, iter_json_records
from kllama.text.dialogue import format_turns

DEFAULT_SPEAKERS = {"prompter": "User", "assistant": "Assistant"}
#: deepest conversation followed (the export's trees are far shallower)
MAX_DEPTH = 256


def _rank_key(msg: dict[str, Any]) -> tuple:
    """Best first: a rank before no rank, lower rank, more reviews, then the earliest and smallest id."""
    rank = msg.get("rank")
    ranked = isinstance(rank, int | float) and not isinstance(rank, bool)
    return (0 if ranked else 1, rank if ranked else 0, -(msg.get("review_count") or 0),
            str(msg.get("created_date") or ""), str(msg.get("message_id") or ""))


@register
class OasstSource(Source):
    """OpenAssistant message trees as conversations along the best-ranked replies.

    ``languages``: keep trees whose prompt has one of these ``lang`` codes (``None``: all); ``tree_states``: the
    ``tree_state`` values kept (the export's finished trees are ``ready_for_export``); ``speakers``: the label of
    each role. Messages that are deleted, failed review (``review_result`` false), synthetic (unless
    ``synthetic = true``) or empty are never followed. Drops: ``invalid_json``, ``invalid_utf8``,
    ``line_too_long``, ``truncated_file``, ``not_a_tree``, ``tree_state``, ``language``, ``bad_prompt`` (the prompt
    itself unusable), ``no_reply`` (fewer than ``min_turns`` turns).
    """

    name = "oasst"
    drop_reasons = ("invalid_json", "invalid_utf8", "line_too_long", "truncated_file", "not_a_tree", "tree_state",
                    "language", "bad_prompt", "no_reply")
    patterns = ("*.jsonl", "*.jsonl.gz", "*.jsonl.zst", "*.json.gz")

    def __init__(self, languages: list[str] | None = None, tree_states: list[str] | None = ("ready_for_export",),
                 speakers: dict[str, str] | None = None, synthetic: bool = False, min_turns: int = 2,
                 max_line_bytes: int = 64 << 20, **options: Any) -> None:
        super().__init__(**options)
        self.languages = frozenset(languages) if languages else None
        self.tree_states = frozenset(tree_states) if tree_states else None
        self.speakers = {**DEFAULT_SPEAKERS, **(speakers or {})}
        self.synthetic = bool(synthetic)
        self.min_turns = int(min_turns)
        self.max_line_bytes = int(max_line_bytes)

    def usable(self, msg: Any) -> bool:
        """A message the conversation may go through."""
        return (isinstance(msg, dict) and isinstance(msg.get("text"), str) and bool(msg["text"].strip())
                and msg.get("role") in self.speakers and not msg.get("deleted")
                and msg.get("review_result") is not False and (self.synthetic or not msg.get("synthetic")))

    def conversation(self, prompt: dict[str, Any]) -> list[dict[str, Any]]:
        """The prompt and, level by level, the best-ranked usable reply."""
        path = [prompt]
        msg = prompt
        while len(path) < MAX_DEPTH:
            replies = [r for r in (msg.get("replies") or []) if self.usable(r)]
            if not replies:
                break
            msg = min(replies, key=_rank_key)
            path.append(msg)
        return path

    def tree_document(self, tree: Any) -> Document | str:
        """The document of one tree, or the drop reason."""
        if not isinstance(tree, dict) or not isinstance(tree.get("prompt"), dict):
            return "not_a_tree"
        if self.tree_states is not None and tree.get("tree_state") not in self.tree_states:
            return "tree_state"
        prompt = tree["prompt"]
        lang = prompt.get("lang")
        if self.languages is not None and lang not in self.languages:
            return "language"
        if not self.usable(prompt):
            return "bad_prompt"
        path = self.conversation(prompt)
        if len(path) < self.min_turns:
            return "no_reply"
        tree_id = str(tree.get("message_tree_id") or prompt.get("message_id") or "")
        text = format_turns([(self.speakers[m["role"]], m["text"]) for m in path])
        meta = {"message_tree_id": tree_id, "turns": len(path), "message_ids": [m.get("message_id") for m in path],
                "ranks": [m.get("rank") for m in path]}
        return Document(id=make_id(self.source_name, tree_id), text=text, source=self.source_name,
                        lang=lang if isinstance(lang, str) else None, meta=meta)

    def read(self, path: str, ledger: Ledger) -> Iterator[Document]:
        base = os.path.basename(path)
        for line_no, tree, nbytes in iter_json_records(path, ledger, self.max_line_bytes):
            doc = self.tree_document(tree)
            if isinstance(doc, str):
                ledger.drop(doc, 1, nbytes)
                continue
            if not doc.meta["message_tree_id"]:
                doc.id = make_id(self.source_name, f"{base}:{line_no}")
            if not is_utf8(doc.text):
                ledger.drop("invalid_utf8", 1, nbytes)
                continue
            doc.meta["file"] = base
            yield doc
