"""What the engine tells a user, in English and Chinese: a catalogue of texts and the two values that carry a text's
key and parameters, so that the web app says them in the visitor's language while the CLI, logs and tests read
English.

* `Message(key, **params)` is a `str` - its English text - that remembers its key and parameters: everything that
  reads it as text (comparisons, joins, logs, `str(problem)`) keeps working, and `say(message, "zh")` says it in
  Chinese.
* `UserError(key, **params)` is a `ValueError` whose `str()` is the English text and whose `.message` is that
  Message: every `except ValueError` keeps working.

A parameter is data (a name, a number, a path, a quoted error: shown as given), or itself a Message or UserError (a
nested reason, said in the same language), or a list of Messages (joined as they are: each item carries its own
separator, e.g. "\n- {problem}"). The catalogue is one dict {key: (English, 中文)} merged from one module per
engine area; the texts use `str.format` fields, `{n:,}` included.

>>> str(Message("run.busy", run="r1"))
'Run r1 is busy: another action on it is in progress. Try again in a moment.'
>>> say(UserError("run.busy", run="r1"), "zh")
'运行 r1 正忙：另一个操作正在进行。请稍后再试。'
"""

from __future__ import annotations

from promptlab.messages import data, models, prompts, runs, scoring, tuning

LANGUAGES = ("en", "zh")


def _merged(*parts: dict) -> dict[str, tuple[str, str]]:
    """The areas' catalogues as one; a key in two of them is a mistake, caught at import."""
    merged: dict[str, tuple[str, str]] = {}
    for part in parts:
        twice = merged.keys() & part.keys()
        if twice:
            raise KeyError(f"message keys defined twice: {sorted(twice)}")
        merged.update(part)
    return merged


CATALOGUE = _merged(prompts.MESSAGES, data.MESSAGES, models.MESSAGES, scoring.MESSAGES, runs.MESSAGES,
                    tuning.MESSAGES)


class Message(str):
    """A catalogue text in English (the str itself) that can be said in another language (`say`)."""

    key: str
    params: dict

    def __new__(cls, key: str, /, **params):
        self = super().__new__(cls, _fill(key, params, "en"))
        self.key, self.params = key, params
        return self

    def __reduce__(self):  # pickle and deepcopy (gradio's states, the model process) rebuild it from key and params
        return (_message, (self.key, self.params))

    def say(self, lang: str | None) -> str:
        return _fill(self.key, self.params, lang)


def _message(key: str, params: dict) -> Message:
    return Message(key, **params)


class UserError(ValueError):
    """A ValueError a user can act on: str() is its English text, `.message` the Message (`say` it in a language).

    Subclasses may carry more (a RenderError its Problem); they pass their Message to `UserError.__init__`."""

    def __init__(self, key: str | Message, /, **params):
        self.message = key if isinstance(key, Message) else Message(key, **params)
        super().__init__(str(self.message))

    def __reduce__(self):
        return (_user_error, (type(self), self.message), self.__dict__)

    @property
    def key(self) -> str:
        return self.message.key

    @property
    def params(self) -> dict:
        return self.message.params


def _user_error(cls, message: Message) -> UserError:
    error = Exception.__new__(cls)
    UserError.__init__(error, message)
    return error


def say(value, lang: str | None) -> str:
    """`value` in `lang` ("en" or "zh"): a Message or UserError from the catalogue, anything else as its str() (a
    KeyError as its bare key, not its repr)."""
    if isinstance(value, UserError):
        value = value.message
    if isinstance(value, Message):
        return value.say(lang)
    if isinstance(value, KeyError) and value.args:
        return str(value.args[0])
    return str(value)


def message_of(error: BaseException) -> Message | str:
    """What an error says: its Message when it has one, else its text (a KeyError's without quotes)."""
    return error.message if isinstance(error, UserError) else say(error, "en")


def to_dict(value) -> dict | str:
    """A Message (nested ones included) as JSON-ready data, e.g. for a run's status file; other values as text."""
    if not isinstance(value, Message):
        return str(value)
    return {"key": value.key, "params": {k: _param_to_data(v) for k, v in value.params.items()}}


def _param_to_data(value):
    if isinstance(value, UserError):
        value = value.message
    if isinstance(value, Message):
        return {"message": to_dict(value)}
    if isinstance(value, (list, tuple)):
        return [_param_to_data(v) for v in value]
    return value if isinstance(value, (int, float, bool, type(None))) else str(value)


def from_dict(data) -> Message | str | None:
    """A Message written by `to_dict` (None for nothing; a text, or anything not a known key, as text)."""
    if data is None or isinstance(data, str):
        return data
    try:
        key, params = data["key"], data.get("params") or {}
        if key not in CATALOGUE or not isinstance(params, dict):
            raise KeyError(key)
        return Message(key, **{str(k): _param_from_data(v) for k, v in params.items()})
    except (KeyError, TypeError, ValueError, IndexError, AttributeError):
        return str(data)


def _param_from_data(value):
    if isinstance(value, dict) and "message" in value:
        return from_dict(value["message"])
    if isinstance(value, list):
        return [_param_from_data(v) for v in value]
    return value


def _fill(key: str, params: dict, lang: str | None) -> str:
    english, chinese = CATALOGUE[key]
    text = chinese if lang == "zh" else english
    return text.format(**{name: _param(value, lang) for name, value in params.items()})


def _param(value, lang: str | None):
    if isinstance(value, (Message, UserError)):
        return say(value, lang)
    if isinstance(value, (list, tuple)) and value and all(isinstance(v, (Message, UserError)) for v in value):
        return "".join(say(v, lang) for v in value)
    return value
