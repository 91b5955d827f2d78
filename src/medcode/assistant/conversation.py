"""CasePilot conversations: the last question of each conversation, kept in this process (an LRU of
10,000 conversations, each forgotten an hour after its last question).

A server with several worker processes keeps one store per worker: a follow-up that reaches another
worker than the question before is answered as a new question."""

from __future__ import annotations

import threading
import time
import uuid
from collections import OrderedDict

from medcode.assistant.model import Question

__all__ = ["MAX_CONVERSATIONS", "TTL_SECONDS", "Conversations", "STORE", "new_id"]

MAX_CONVERSATIONS = 10_000
TTL_SECONDS = 3600.0


def new_id() -> str:
    return uuid.uuid4().hex


class Conversations:
    """Conversation id -> its last question; least recently used dropped beyond ``size``."""

    def __init__(self, size: int = MAX_CONVERSATIONS, ttl: float = TTL_SECONDS) -> None:
        self.size = size
        self.ttl = ttl
        self._items: OrderedDict[str, tuple[float, Question]] = OrderedDict()
        self._lock = threading.Lock()

    def recall(self, conversation_id: str, now: float | None = None) -> Question | None:
        now = time.monotonic() if now is None else now
        with self._lock:
            found = self._items.get(conversation_id)
            if found is None:
                return None
            if now - found[0] > self.ttl:
                del self._items[conversation_id]
                return None
            self._items.move_to_end(conversation_id)
            return found[1]

    def remember(self, conversation_id: str, question: Question, now: float | None = None) -> None:
        now = time.monotonic() if now is None else now
        with self._lock:
            self._items[conversation_id] = (now, question)
            self._items.move_to_end(conversation_id)
            while len(self._items) > self.size:
                self._items.popitem(last=False)

    def __len__(self) -> int:
        return len(self._items)


STORE = Conversations()
